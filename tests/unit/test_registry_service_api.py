"""registry's service records and activities over HTTP, and the credits of closed tickets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from linli import embedded, suite
from linli.services.registry import usecases
from linli.services.registry.models import ServiceRecord
from linli.services.tickets.events import TICKET_CLOSED as CLOSED
from linli.shared.db import transaction
from linli.shared.events import InvalidEvent
from linli.shared.outbox import emit
from tests.support.registry_world import OPERATOR, add_area, yongchuan_over_http
from tests.support.sessions import committed_events
from tests.support.ticket_events import closed_ticket
from tests.support.waiting import wait_for

TICKET_CLOSED = "tickets.ticket.closed"


def _setup(sut) -> dict:
    """Yongchuan with two members and a hospital; Bishan with a compound, a member and a school."""
    w = yongchuan_over_http(sut)
    op = sut.as_("*", "registry:admin")
    street = w["area"]({"level": "street", "name": "璧城街道", "parent_id": w["other"]["id"]})
    community = w["area"]({"level": "community", "name": "东林社区", "parent_id": street["id"]})
    w["far_compound"] = w["area"]({"level": "compound", "name": "东林小区", "kind": "old",
                                   "parent_id": community["id"]})
    w["far_community"] = community
    w["street"] = sut.client.get(f"/v1/areas/{w['community']['parent_id']}", headers=op).json
    w["hospital"] = _post(sut, "/v1/organizations", {"kind": "hospital", "name": "永川区人民医院"}, w["clerk"])
    w["school"] = _post(sut, "/v1/organizations", {"kind": "school", "name": "璧山小学"}, w["stranger"])
    w["member"] = _post(sut, "/v1/members", {"name": "张三", "phone": "13812345678",
                                             "compound_id": w["compound"]["id"]}, w["clerk"])
    w["second_member"] = _post(sut, "/v1/members", {"name": "李四", "phone": "13812345679",
                                                    "compound_id": w["compound"]["id"]}, w["clerk"])
    w["far_member"] = _post(sut, "/v1/members", {"name": "王五", "phone": "13812345670",
                                                 "compound_id": w["far_compound"]["id"]}, w["stranger"])
    return w


def _post(sut, url: str, body: dict | None, headers: dict, status: int = 201) -> dict:
    r = sut.client.post(url, json=body, headers=headers)
    assert r.status_code == status, r.json
    return r.json


def _log(sut, w, status: int = 201, headers: dict | None = None, **fields) -> dict:
    body = {"member_id": w["member"]["id"], "served_on": "2025-03-01", "hours": 1.5, "category": "medical",
            "note": "社区义诊", **fields}
    return _post(sut, "/v1/service-records", body, headers or w["clerk"], status)


def _records(sut, w, headers: dict | None = None, **query) -> list[dict]:
    r = sut.client.get("/v1/service-records", query_string={"limit": 200, **query}, headers=headers or w["clerk"])
    assert r.status_code == 200, r.json
    return r.json["items"]


# --- Logging by hand, verifying, rejecting ----------------------------------------------------------------------

def test_a_logged_record_is_verified_or_rejected_by_the_branch_once(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    logged = _log(sut, w)
    assert (logged["state"], logged["hours"], logged["minutes"], logged["source"], logged["source_id"]) == (
        "logged", 1.5, 90, "other", None)
    url = f"/v1/service-records/{logged['id']}"
    r = sut.client.get(url, headers=w["clerk"])
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    stale = sut.client.post(f"{url}/verify", headers={**w["clerk"], "If-Match": '"7"'})
    assert stale.status_code == 412
    verified = _post(sut, f"{url}/verify", None, {**w["clerk"], "If-Match": '"1"'}, 200)
    assert (verified["state"], verified["decided_by"], verified["version"]) == ("verified", "test-client", 2)
    again = sut.client.post(f"{url}/reject", json={"reason": "重复"}, headers=w["clerk"])
    assert again.status_code == 409 and again.json["type"] == "/problems/invalid-transition"
    assert again.json["errors"] == {"state": ["is verified; allowed: nothing"]}

    other = _log(sut, w, hours=2)
    no_reason = sut.client.post(f"/v1/service-records/{other['id']}/reject", json={}, headers=w["clerk"])
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    rejected = _post(sut, f"/v1/service-records/{other['id']}/reject", {"reason": "当天未到场"}, w["clerk"], 200)
    assert (rejected["state"], rejected["reason"]) == ("rejected", "当天未到场")
    assert [e["subject"] for e in committed_events(sut.rt.factory, "registry.service_record.logged")] == [
        logged["id"], other["id"]]
    [verified_event] = committed_events(sut.rt.factory, "registry.service_record.verified")
    assert verified_event["data"]["minutes"] == 90 and verified_event["data"]["hours"] == 1.5
    [rejected_event] = committed_events(sut.rt.factory, "registry.service_record.rejected")
    assert rejected_event["data"]["reason"] == "当天未到场"
    assert all("13812345678" not in str(e) for e in committed_events(sut.rt.factory) if ".service_record." in e["type"])


@pytest.mark.parametrize(("fields", "field"), [
    ({"hours": 1.1}, "hours"), ({"hours": 0}, "hours"), ({"hours": 24.25}, "hours"), ({"hours": "two"}, "hours"),
    ({"category": "juggling"}, "category"), ({"served_on": "2025-02-30"}, "served_on"),
    ({"member_id": None}, "member_id"), ({"member_id": str(uuid.uuid4())}, "member_id"), ({"note": "  "}, "note"),
])
def test_bad_input_is_refused_naming_the_field(make_service, fields, field):
    sut = make_service("registry")
    w = _setup(sut)
    r = sut.client.post("/v1/service-records", json={"member_id": w["member"]["id"], "served_on": "2025-03-01",
                                                     "hours": 1, "category": "medical", **fields}, headers=w["clerk"])
    assert r.status_code in (400, 422) and field in r.json["errors"], r.json
    assert _records(sut, w) == []


def test_service_is_logged_for_a_current_member_of_the_district_on_a_day_already_served(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    foreign = _log(sut, w, 422, member_id=w["far_member"]["id"])
    assert foreign["errors"] == {"member_id": ["no such member"]}
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert list(_log(sut, w, 422, served_on=tomorrow)["errors"]) == ["served_on"]
    _post(sut, f"/v1/members/{w['member']['id']}/leave", {"left_on": "2025-06-01"}, w["clerk"], 200)
    left = _log(sut, w, 409)
    assert left["type"] == "/problems/invalid-transition"
    assert _records(sut, w) == []


def test_another_district_s_records_are_404_and_lists_are_filtered(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    first = _log(sut, w, served_on="2025-03-01")
    second = _log(sut, w, served_on="2025-04-01", member_id=w["second_member"]["id"])
    for method, path in (("get", ""), ("post", "/verify")):
        r = getattr(sut.client, method)(f"/v1/service-records/{first['id']}{path}", headers=w["stranger"])
        assert r.status_code == 404
    assert _records(sut, w, w["stranger"]) == []
    ids = [r["id"] for r in _records(sut, w)]
    assert ids == [second["id"], first["id"]]
    assert [r["id"] for r in _records(sut, w, member_id=w["member"]["id"])] == [first["id"]]
    assert [r["id"] for r in _records(sut, w, **{"from": "2025-03-02"})] == [second["id"]]
    assert [r["id"] for r in _records(sut, w, to="2025-03-01")] == [first["id"]]
    assert _records(sut, w, state="verified") == [] and _records(sut, w, source="ticket") == []
    page = sut.client.get("/v1/service-records?limit=1", headers=w["clerk"]).json
    rest = sut.client.get(f"/v1/service-records?limit=1&cursor={page['next_cursor']}", headers=w["clerk"]).json
    assert [page["items"][0]["id"], rest["items"][0]["id"]] == [second["id"], first["id"]]


# --- Credits of closed tickets ----------------------------------------------------------------------------------

def _ticket_closed(w, participants: list[dict], **fields) -> dict:
    return closed_ticket(w["district"]["id"], w["compound"]["id"], participants, **fields)


def test_a_closed_ticket_credits_each_participant_of_the_district_once(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    member, second = w["member"]["id"], w["second_member"]["id"]
    ticket = _ticket_closed(w, [{"member_id": member, "hours": 2.5}, {"member_id": str(uuid.uuid4()), "hours": 1},
                                {"member_id": w["far_member"]["id"], "hours": 1}, {"member_id": member, "hours": 9},
                                {"member_id": second, "hours": 0}])
    event_id = uuid.uuid4()
    assert sut.deliver(TICKET_CLOSED, ticket, event_id=event_id) == "applied"
    [credit] = _records(sut, w)
    assert (credit["member_id"], credit["source"], credit["source_id"], credit["state"], credit["minutes"]) == (
        member, "ticket", ticket["id"], "verified", 150)
    # Closed at 01:30 the next morning in Chongqing; `facilities` counts as repairs.
    assert (credit["served_on"], credit["category"], credit["decided_by"]) == (
        "2025-03-02", "repairs", f"ticket:{ticket['id']}")
    assert credit["decided_at"].startswith("2025-03-01T17:30:00")

    # The same event again, and the ticket reopened and closed again, the second member now with hours.
    assert sut.deliver(TICKET_CLOSED, ticket, event_id=event_id) == "duplicate"
    again = {**ticket, "version": 12, "closed_at": "2025-03-05T02:00:00Z",
             "participants": [*ticket["participants"][:4], {"member_id": second, "hours": 1}]}
    assert sut.deliver(TICKET_CLOSED, again) == "applied"
    records = _records(sut, w)
    assert sorted((r["member_id"], r["minutes"], r["served_on"]) for r in records) == sorted([
        (member, 150, "2025-03-02"), (second, 60, "2025-03-05")])
    assert len(committed_events(sut.rt.factory, "registry.service_record.verified")) == 2
    assert _records(sut, w, w["stranger"]) == []


def test_a_ticket_credit_counts_the_day_in_the_district_s_time_zone_and_keeps_a_known_category(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    op = sut.as_("*", "registry:admin")
    r = sut.client.patch(f"/v1/areas/{w['district']['id']}", json={"time_zone": "Asia/Urumqi"}, headers=op)
    assert r.status_code == 200, r.json
    ticket = _ticket_closed(w, [{"member_id": w["member"]["id"], "hours": 4 / 3}], category="legal_aid")
    assert sut.deliver(TICKET_CLOSED, ticket) == "applied"
    [credit] = _records(sut, w)
    assert (credit["served_on"], credit["category"], credit["minutes"]) == ("2025-03-01", "legal_aid", 80)


def test_a_ticket_closed_without_participants_credits_nothing_and_a_broken_payload_is_refused(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    assert sut.deliver(TICKET_CLOSED, _ticket_closed(w, [])) == "applied"
    no_list = _ticket_closed(w, [])
    del no_list["participants"]
    assert sut.deliver(TICKET_CLOSED, no_list) == "applied"
    assert _records(sut, w) == []
    broken = _ticket_closed(w, [{"member_id": "not-an-id", "hours": 1}])
    with pytest.raises(InvalidEvent):
        sut.deliver(TICKET_CLOSED, broken)
    without_time = _ticket_closed(w, [{"member_id": w["member"]["id"], "hours": 1}])
    del without_time["closed_at"]
    with pytest.raises(InvalidEvent):
        sut.deliver(TICKET_CLOSED, without_time)
    assert _records(sut, w) == []


# --- Activities ------------------------------------------------------------------------------------------------

def _schedule(sut, w, status: int = 201, headers: dict | None = None, **fields) -> dict:
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    body = {"host_organization_id": w["hospital"]["id"], "area_id": w["compound"]["id"], "title": "义诊",
            "description": "测血压、量血糖", "category": "medical", "place": "星光小区活动室",
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=3)).isoformat(), **fields}
    return _post(sut, "/v1/activities", body, headers or w["clerk"], status)


def test_an_activity_is_scheduled_in_a_community_or_at_a_compound_and_listed_by_them(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    at_compound = _schedule(sut, w)
    assert (at_compound["state"], at_compound["community_id"], at_compound["host_organization_name"]) == (
        "scheduled", w["community"]["id"], "永川区人民医院")
    assert at_compound["sign_up_count"] == 0 and at_compound["capacity"] is None
    in_community = _schedule(sut, w, area_id=w["community"]["id"], title="法律讲座", category="legal_aid",
                             starts_at="2030-01-01T01:00:00Z", ends_at="2030-01-01T03:00:00Z")
    assert in_community["community_id"] == w["community"]["id"]

    def listed(headers=None, **query) -> list[str]:
        r = sut.client.get("/v1/activities", query_string=query, headers=headers or w["clerk"])
        assert r.status_code == 200, r.json
        return [a["id"] for a in r.json["items"]]

    assert listed(community_id=w["community"]["id"]) == [in_community["id"], at_compound["id"]]
    assert listed(area_id=w["compound"]["id"]) == [at_compound["id"]]
    assert listed(host_organization_id=w["hospital"]["id"], **{"from": "2029-12-31T00:00:00+08:00"}) == [
        in_community["id"]]
    assert listed(to="2029-12-31T00:00:00Z") == [at_compound["id"]]
    assert listed(state="held") == [] and listed(w["stranger"]) == []
    assert sut.client.get(f"/v1/activities/{at_compound['id']}", headers=w["stranger"]).status_code == 404
    [scheduled, _] = committed_events(sut.rt.factory, "registry.activity.scheduled")
    assert (scheduled["subject"], scheduled["data"]["community_id"], scheduled["data"]["area_id"]) == (
        at_compound["id"], w["community"]["id"], w["compound"]["id"])


@pytest.mark.parametrize(("fields", "field"), [
    ({"area_id": "street"}, "area_id"), ({"area_id": "far_compound"}, "area_id"),
    ({"host_organization_id": "school"}, "host_organization_id"), ({"category": "juggling"}, "category"),
    ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"), ({"starts_at": "2025-03-01T10:00:00"}, "starts_at"),
    ({"starts_at": "0001-01-01T00:00:00+08:00"}, "starts_at"), ({"capacity": 0}, "capacity"),
    ({"title": "\u3000"}, "title"), ({"place": None}, "place"),
])
def test_a_bad_activity_is_refused_naming_the_field(make_service, fields, field):
    sut = make_service("registry")
    w = _setup(sut)
    fields = {name: w[value]["id"] if name.endswith("_id") else value for name, value in fields.items()}
    refused = _schedule(sut, w, 422, **fields)
    assert field in refused["errors"], refused
    assert sut.client.get("/v1/activities", headers=w["clerk"]).json["items"] == []


def test_a_scheduled_activity_is_edited_with_if_match_and_not_once_cancelled(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    activity = _schedule(sut, w, capacity=10)
    url = f"/v1/activities/{activity['id']}"
    stale = sut.client.patch(url, json={"title": "大型义诊"}, headers={**w["clerk"], "If-Match": '"9"'})
    assert stale.status_code == 412
    edited = sut.client.patch(url, json={"title": "大型义诊", "capacity": None},
                              headers={**w["clerk"], "If-Match": '"1"'})
    assert edited.status_code == 200 and (edited.json["title"], edited.json["capacity"]) == ("大型义诊", None)
    assert edited.headers["ETag"] == '"2"'
    backwards = sut.client.patch(url, json={"ends_at": activity["starts_at"]}, headers=w["clerk"])
    assert backwards.status_code == 422 and list(backwards.json["errors"]) == ["ends_at"]
    assert sut.client.patch(url, json={"title": "x"}, headers=w["stranger"]).status_code == 404
    cancelled = _post(sut, f"{url}/cancel", {"reason": "暴雨预警"}, w["clerk"], 200)
    assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "暴雨预警")
    late = sut.client.patch(url, json={"title": "改期"}, headers=w["clerk"])
    assert late.status_code == 409 and late.json["errors"] == {"state": ["is cancelled; allowed: nothing"]}
    assert _post(sut, f"{url}/hold", {"member_ids": [], "hours": 1}, w["clerk"], 409)["errors"] == {
        "state": ["is cancelled; allowed: nothing"]}
    assert [e["type"] for e in committed_events(sut.rt.factory) if ".activity." in e["type"]] == [
        "linli.registry.activity.scheduled", "linli.registry.activity.updated", "linli.registry.activity.cancelled"]


def test_members_sign_up_while_there_is_room_and_withdraw_to_free_their_place(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    activity = _schedule(sut, w, capacity=1)
    url = f"/v1/activities/{activity['id']}/sign-ups"
    member, second = w["member"]["id"], w["second_member"]["id"]
    signed = _post(sut, url, {"member_id": member}, w["clerk"])
    assert (signed["member_id"], signed["state"], signed["activity_id"]) == (member, "signed_up", activity["id"])
    twice = _post(sut, url, {"member_id": member}, w["clerk"], 409)
    assert twice["errors"] == {"member_id": ["already signed up"]}
    assert _post(sut, url, {"member_id": second}, w["clerk"], 409)["errors"] == {"capacity": ["full"]}
    assert _post(sut, url, {"member_id": str(uuid.uuid4())}, w["clerk"], 422)["errors"] == {
        "member_id": ["no such member"]}
    assert _post(sut, url, {"member_id": w["far_member"]["id"]}, w["clerk"], 422)["errors"] == {
        "member_id": ["no such member"]}
    assert sut.client.post(url, json={"member_id": member}, headers=w["stranger"]).status_code == 404

    withdrawn = _post(sut, f"{url}/{member}/cancel", None, w["clerk"], 200)
    assert withdrawn["state"] == "cancelled" and withdrawn["cancelled_at"]
    _post(sut, f"{url}/{member}/cancel", None, w["clerk"], 409)
    assert sut.client.post(f"{url}/{second}/cancel", headers=w["clerk"]).status_code == 404
    _post(sut, url, {"member_id": second}, w["clerk"])
    _post(sut, url, {"member_id": member}, w["clerk"], 409)
    listing = sut.client.get(url, headers=w["clerk"]).json["items"]
    assert [(s["member_id"], s["state"]) for s in listing] == [(second, "signed_up"), (member, "cancelled")]
    only = sut.client.get(url, query_string={"state": "signed_up"}, headers=w["clerk"]).json["items"]
    assert [s["member_id"] for s in only] == [second]
    assert sut.client.get(f"/v1/activities/{activity['id']}", headers=w["clerk"]).json["sign_up_count"] == 1
    assert sut.client.get(url, headers=w["stranger"]).status_code == 404

    _post(sut, f"/v1/members/{member}/leave", {"left_on": "2025-06-01"}, w["clerk"], 200)
    _post(sut, f"{url}/{second}/cancel", None, w["clerk"], 200)
    assert _post(sut, url, {"member_id": member}, w["clerk"], 409)["type"] == "/problems/invalid-transition"


def test_holding_an_activity_credits_each_attendee_once(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    activity = _schedule(sut, w, capacity=5)
    url = f"/v1/activities/{activity['id']}"
    member, second = w["member"]["id"], w["second_member"]["id"]
    _post(sut, f"{url}/sign-ups", {"member_id": member}, w["clerk"])
    foreign = _post(sut, f"{url}/hold", {"attendees": [{"member_id": member, "hours": 2},
                                                       {"member_id": w["far_member"]["id"], "hours": 2}]},
                    w["clerk"], 422)
    assert foreign["errors"] == {"attendees.1.member_id": ["no such member in the activity's district"]}
    bad_hours = _post(sut, f"{url}/hold", {"attendees": [{"member_id": member, "hours": 2.1}]}, w["clerk"], 422)
    assert "attendees" in bad_hours["errors"] or "attendees.0.hours" in bad_hours["errors"], bad_hours
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert list(_post(sut, f"{url}/hold", {"member_ids": [member], "hours": 2, "held_at": future}, w["clerk"],
                      422)["errors"]) == ["held_at"]
    assert _records(sut, w) == []
    assert sut.client.post(f"{url}/hold", json={"member_ids": [member], "hours": 2},
                           headers=w["stranger"]).status_code == 404

    # The second member came without signing up.
    held = _post(sut, f"{url}/hold", {"attendees": [{"member_id": member, "hours": 2},
                                                    {"member_id": second, "hours": 1.5}]}, w["clerk"], 200)
    assert (held["state"], held["attendee_count"]) == ("held", 2) and held["held_at"]
    again = _post(sut, f"{url}/hold", {"member_ids": [member], "hours": 3}, w["clerk"], 409)
    assert again["errors"] == {"state": ["is held; allowed: nothing"]}
    _post(sut, f"{url}/cancel", {"reason": "x"}, w["clerk"], 409)
    _post(sut, f"{url}/sign-ups", {"member_id": second}, w["clerk"], 409)
    credits = _records(sut, w, source="activity", source_id=activity["id"])
    assert sorted((c["member_id"], c["minutes"], c["state"], c["category"]) for c in credits) == sorted([
        (member, 120, "verified", "medical"), (second, 90, "verified", "medical")])
    local_day = datetime.fromisoformat(held["held_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert {c["served_on"] for c in credits} == {local_day.isoformat()}
    assert {c["decided_by"] for c in credits} == {f"activity:{activity['id']}"}

    [event] = committed_events(sut.rt.factory, "registry.activity.held")
    data = event["data"]
    assert (data["community_id"], data["host_organization_id"], data["host_organization_name"], data["title"],
            data["attendee_count"], data["held_at"]) == (
        w["community"]["id"], w["hospital"]["id"], "永川区人民医院", "义诊", 2, held["held_at"])
    assert len(committed_events(sut.rt.factory, "registry.service_record.verified")) == 2


def test_attendees_may_all_give_the_same_hours(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    activity = _schedule(sut, w, area_id=w["community"]["id"])
    held_at = activity["starts_at"]
    held = _post(sut, f"/v1/activities/{activity['id']}/hold", {
        "member_ids": [w["member"]["id"], w["second_member"]["id"]], "hours": 0.75, "held_at": held_at},
        w["clerk"], 200)
    assert held["attendee_count"] == 2 and datetime.fromisoformat(held["held_at"]) == datetime.fromisoformat(held_at)
    assert sorted(r["minutes"] for r in _records(sut, w)) == [45, 45]
    twice = _schedule(sut, w)
    dupes = _post(sut, f"/v1/activities/{twice['id']}/hold", {
        "member_ids": [w["member"]["id"], w["member"]["id"]], "hours": 1}, w["clerk"], 422)
    assert dupes["errors"] == {"member_ids.1": ["listed twice"]}


def test_an_activity_not_begun_yet_cannot_be_held(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    later = datetime.now(UTC) + timedelta(days=1)
    activity = _schedule(sut, w, starts_at=later.isoformat(), ends_at=(later + timedelta(hours=1)).isoformat())
    refused = _post(sut, f"/v1/activities/{activity['id']}/hold", {"member_ids": [], "hours": 1}, w["clerk"], 422)
    assert list(refused["errors"]) == ["held_at"]
    assert sut.client.get(f"/v1/activities/{activity['id']}", headers=w["clerk"]).json["state"] == "scheduled"


def test_the_embedded_mode_credits_a_closed_ticket_through_the_in_memory_bus(tmp_path, monkeypatch):
    assert "registry.service-credits" in {s.name for s in suite.subscriptions()}
    for name in ("LINLI_DATA_DIR", "LINLI_BROKER_URL", "REGISTRY_DATABASE_URL", "TICKETS_DATABASE_URL",
                 "ROTATION_DATABASE_URL", "NOTIFY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    running = embedded.start(tmp_path, demo=False)
    try:
        registry = running.runtimes["registry"]
        assert registry.queue_names() == ["registry.service-credits"]
        with transaction(registry.factory) as s:
            district = add_area(s, OPERATOR, "district", "永川区")
            street = add_area(s, OPERATOR, "street", "中山路街道", district)
            community = add_area(s, OPERATOR, "community", "星光社区", street)
            compound = add_area(s, OPERATOR, "compound", "星光小区", community, kind="managed")
            member = usecases.register_member(s, OPERATOR, name="张三", phone="13812345678", compound_id=compound.id)
            w = {"district": {"id": district.district_id}, "compound": {"id": str(compound.id)}}
            member_id = str(member.id)
        ticket = _ticket_closed(w, [{"member_id": member_id, "hours": 2}])
        with transaction(running.runtimes["tickets"].factory) as s:
            emit(s, CLOSED, subject=ticket["id"], data=ticket, district=ticket["district_id"])

        def credited() -> list[ServiceRecord]:
            with registry.factory() as s:
                return list(s.scalars(select(ServiceRecord)))

        [credit] = wait_for(credited, timeout=20, message="the credit of the closed ticket")
        assert (str(credit.member_id), credit.minutes, credit.state) == (member_id, 120, "verified")
    finally:
        running.shutdown()
