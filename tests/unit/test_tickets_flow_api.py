"""tickets' lifecycle over HTTP: one POST per verb answering the ticket with its parts, the history and comments."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from linli.services.tickets.models import Organization
from linli.shared.events import InvalidEvent
from linli.shared.tables import outbox

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
PHONE = "13812345678"
WRITE = "tickets:read tickets:write"


def _compound(sut, district=YONGCHUAN, name="星光小区"):
    data = {"id": str(uuid.uuid4()), "district_id": district, "parent_id": str(uuid.uuid4()), "level": "compound",
            "name": name, "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    assert sut.deliver("registry.area.created", data) == "applied"
    return data


def _unit(sut, name, district=YONGCHUAN, version=1, unit_id=None):
    data = {"id": unit_id or str(uuid.uuid4()), "district_id": district, "kind": "agency", "name": name,
            "address": None, "version": version}
    assert sut.deliver("registry.organization.created", data) == "applied"
    return data["id"]


def _submit(sut, compound, district=YONGCHUAN, **fields):
    body = {"compound_id": compound["id"], "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
            "reporter_name": "王阿姨", "reporter_phone": PHONE, "category": "facilities", **fields}
    r = sut.client.post("/v1/tickets", json=body, headers=sut.as_(district, WRITE))
    assert r.status_code == 201, r.json
    return r.json


def _post(sut, ticket, verb, body=None, district=YONGCHUAN, scopes=WRITE, headers=None):
    return sut.client.post(f"/v1/tickets/{ticket['id']}/{verb}", json=body if body is not None else {},
                           headers={**sut.as_(district, scopes), **(headers or {})})


def _walk(sut, ticket, *steps):
    """Each (verb, body) in turn, every one answered 200; the last answer."""
    answer = None
    for verb, body in steps:
        r = _post(sut, ticket, verb, body)
        assert r.status_code == 200, (verb, r.json)
        answer = r.json
    return answer


def _events(sut, prefix="tickets.ticket."):
    with sut.rt.factory() as s:
        rows = s.execute(select(outbox.c.routing_key, outbox.c.body).order_by(outbox.c.seq))
        return [(row.routing_key, json.loads(row.body)) for row in rows if row.routing_key.startswith(prefix)]


def _keys(sut):
    return [key.removeprefix("tickets.ticket.") for key, _ in _events(sut)
            if key not in ("tickets.ticket.submitted", "tickets.ticket.contact")]


def _history(sut, ticket, query=""):
    r = sut.client.get(f"/v1/tickets/{ticket['id']}/history{query}", headers=sut.as_(YONGCHUAN, "tickets:read"))
    assert r.status_code == 200, r.json
    return r.json


def test_the_compound_handles_it_itself_from_intake_to_a_content_resident(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    r = _post(sut, ticket, "accept", {"note": "物业已知悉"})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert (r.json["state"], r.json["version"], r.json["reporter_phone"]) == ("accepted", 2, "138****5678")
    closed = _walk(sut, ticket, ("start", {}), ("resolve", {"note": "换了灯泡"}), ("review", {"passed": True}),
                   ("rate", {"rating": "satisfied", "comment": "很快"}))
    assert (closed["state"], closed["rating"], closed["rating_comment"], closed["close_reason"]) == (
        "closed", "satisfied", "很快", None)
    assert closed["closed_at"] is not None and closed["parts"] == [] and closed["version"] == 6
    assert _keys(sut) == ["accepted", "started", "resolved", "reviewed", "rated", "closed"]
    moves = _history(sut, ticket)["items"]
    assert [(m["verb"], m["from_state"], m["to_state"]) for m in moves] == [
        ("accept", "submitted", "accepted"), ("start", "accepted", "in_progress"),
        ("resolve", "in_progress", "resolved"), ("review", "resolved", "reviewed"), ("rate", "reviewed", "closed")]
    assert (moves[0]["actor"], moves[0]["note"], moves[3]["reason"], moves[4]["reason"]) == (
        "test-client", "物业已知悉", "passed", "satisfied")


def test_the_whistle_path_sends_two_units_and_the_lead_resolves_it(make_service):
    sut = make_service("tickets")
    police, school = _unit(sut, "中山路派出所"), _unit(sut, "永川中学")
    ticket = _submit(sut, _compound(sut))
    listed = _walk(sut, ticket, ("accept", {}), ("escalate", {"note": "小区解决不了"}), ("list", {}))
    assert listed["state"] == "listed"
    due = "2099-01-01T00:00:00+00:00"
    dispatched = _walk(sut, ticket, ("dispatch", {"units": [{"unit_id": police, "lead": True},
                                                            {"unit_id": school, "due_at": due}]}))
    assert dispatched["state"] == "dispatched"
    [lead, helper] = dispatched["parts"]
    assert (lead["unit_id"], lead["lead"], lead["state"]) == (police, True, "dispatched")
    created = datetime.fromisoformat(dispatched["updated_at"])
    assert abs(datetime.fromisoformat(lead["due_at"]) - (created + timedelta(days=10))) < timedelta(seconds=5)
    assert (helper["unit_id"], helper["lead"], datetime.fromisoformat(helper["due_at"])) == (
        school, False, datetime.fromisoformat(due))
    member = str(uuid.uuid4())
    helped = _walk(sut, ticket, ("resolve", {"unit_id": school}))
    assert helped["state"] == "dispatched" and [p["state"] for p in helped["parts"]] == ["dispatched", "resolved"]
    resolved = _walk(sut, ticket, ("start", {"unit_id": police}),
                     ("resolve", {"unit_id": police, "participants": [{"member_id": member, "hours": 3}]}))
    assert resolved["state"] == "resolved" and resolved["participants"] == [{"member_id": member, "hours": 3.0}]
    closed = _walk(sut, ticket, ("review", {"passed": True}), ("close", {}))
    assert closed["state"] == "closed"
    [(_, event)] = [e for e in _events(sut) if e[0] == "tickets.ticket.closed"]
    assert event["data"]["participants"] == [{"member_id": member, "hours": 3.0}]
    assert event["data"]["compound_name"] == "星光小区" and len(event["data"]["parts"]) == 2
    history = _history(sut, ticket)["items"]
    assert [(m["verb"], m["unit_id"]) for m in history if m["verb"] in ("start", "resolve")] == [
        ("resolve", school), ("start", police), ("resolve", police)]


def test_an_urgent_ticket_goes_straight_to_a_department(make_service):
    sut = make_service("tickets")
    hospital = _unit(sut, "永川区人民医院")
    ticket = _submit(sut, _compound(sut), urgency="urgent")
    dispatched = _walk(sut, ticket, ("dispatch", {"units": [{"unit_id": hospital, "lead": True}]}))
    assert dispatched["state"] == "dispatched"
    due = datetime.fromisoformat(dispatched["parts"][0]["due_at"])
    assert abs(due - (datetime.fromisoformat(dispatched["updated_at"]) + timedelta(hours=24))) < timedelta(seconds=5)
    normal = _submit(sut, _compound(sut, name="阳光小区"))
    r = _post(sut, normal, "dispatch", {"units": [{"unit_id": hospital, "lead": True}]})
    assert r.status_code == 409


def test_a_wish_is_claimed_by_a_member_and_credits_them(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    wish = _submit(sut, compound, kind="wish", title="想要一辆轮椅")
    _submit(sut, compound)
    member = str(uuid.uuid4())
    claimed = _walk(sut, wish, ("accept", {}), ("claim", {"member_id": member}))
    assert (claimed["state"], claimed["member_id"]) == ("in_progress", member)
    wishes = sut.client.get("/v1/tickets?kind=wish", headers=sut.as_(YONGCHUAN, "tickets:read")).json["items"]
    assert [t["id"] for t in wishes] == [wish["id"]]
    r = _post(sut, wish, "resolve", {})
    assert r.status_code == 422 and "participants" in r.json["errors"]
    r = _post(sut, wish, "claim", {"unit_id": str(uuid.uuid4())})
    assert r.status_code == 409
    closed = _walk(sut, wish, ("resolve", {"participants": [{"member_id": member, "hours": 1.5}]}),
                   ("review", {"passed": True}), ("rate", {"rating": "satisfied"}))
    assert closed["state"] == "closed"
    [(_, event)] = [e for e in _events(sut) if e[0] == "tickets.ticket.closed"]
    assert event["data"]["participants"] == [{"member_id": member, "hours": 1.5}]
    assert event["data"]["member_id"] == member


def test_a_failed_review_reopens_the_lead_s_part(make_service):
    sut = make_service("tickets")
    police = _unit(sut, "中山路派出所")
    ticket = _submit(sut, _compound(sut), urgency="urgent")
    _walk(sut, ticket, ("dispatch", {"units": [{"unit_id": police, "lead": True}]}),
          ("resolve", {"unit_id": police}))
    reopened = _walk(sut, ticket, ("review", {"passed": False, "note": "灯还是不亮"}))
    assert reopened["state"] == "dispatched" and reopened["parts"][0]["state"] == "dispatched"
    assert _keys(sut)[-2:] == ["reviewed", "reopened"]
    again = _walk(sut, ticket, ("resolve", {"unit_id": police}), ("review", {"passed": True}),
                  ("rate", {"rating": "dissatisfied", "comment": "又坏了"}))
    assert again["state"] == "dispatched" and again["rating"] is None
    assert _keys(sut)[-2:] == ["rated", "reopened"]
    assert [m["reason"] for m in _history(sut, ticket)["items"] if m["verb"] in ("review", "rate")] == [
        "failed", "passed", "dissatisfied"]


def test_closing_the_master_closes_the_merged_duplicates(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    master, duplicate = _submit(sut, compound), _submit(sut, compound)
    merged = _walk(sut, duplicate, ("merge", {"master_id": master["id"], "note": "同一盏灯"}))
    assert (merged["master_id"], merged["state"]) == (master["id"], "submitted")
    r = _post(sut, master, "merge", {"master_id": duplicate["id"]})
    assert r.status_code == 422 and "master_id" in r.json["errors"]
    _walk(sut, master, ("close", {"reason": "referred", "note": "转交12345"}))
    h = sut.as_(YONGCHUAN, "tickets:read")
    after = sut.client.get(f"/v1/tickets/{duplicate['id']}", headers=h).json
    assert (after["state"], after["close_reason"]) == ("closed", "duplicate")
    closes = [(e["subject"], e["data"]["closed_reason"]) for k, e in _events(sut) if k == "tickets.ticket.closed"]
    assert closes == [(master["id"], "referred"), (duplicate["id"], "duplicate")]
    assert [m["verb"] for m in _history(sut, duplicate)["items"]] == ["merge", "close"]
    listed = sut.client.get(f"/v1/tickets?master_id={master['id']}", headers=h).json["items"]
    assert [t["id"] for t in listed] == [duplicate["id"]]


def test_an_illegal_move_is_409_naming_the_state_and_the_allowed_verbs(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    r = _post(sut, ticket, "review", {"passed": True})
    assert r.status_code == 409 and r.content_type == "application/problem+json"
    assert r.json["type"] == "/problems/invalid-transition" and r.json["status"] == 409
    assert r.json["errors"] == {"state": ["is submitted; allowed: accept, reject, close, merge"]}
    assert "submitted" in r.json["detail"] and "accept" in r.json["detail"]
    assert _keys(sut) == [] and _history(sut, ticket)["items"] == []


def test_if_match_is_honoured_when_sent(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    stale = _post(sut, ticket, "accept", headers={"If-Match": '"7"'})
    assert stale.status_code == 412 and stale.json["errors"]["If-Match"]
    assert _post(sut, ticket, "accept", headers={"If-Match": '"1"'}).status_code == 200
    assert _post(sut, ticket, "escalate", headers={"If-Match": '"1"'}).status_code == 412


def test_another_districts_ticket_is_404_and_the_write_scope_is_needed(make_service):
    sut = make_service("tickets")
    theirs = _submit(sut, _compound(sut, BISHAN), district=BISHAN)
    for verb, body in (("accept", {}), ("reject", {"reason": "x"}), ("close", {"reason": "referred"}),
                       ("merge", {"master_id": theirs["id"]})):
        assert _post(sut, theirs, verb, body).status_code == 404, verb
    for path in ("history", "comments"):
        r = sut.client.get(f"/v1/tickets/{theirs['id']}/{path}", headers=sut.as_(YONGCHUAN, "tickets:read"))
        assert r.status_code == 404
    assert _post(sut, theirs, "comments", {"text": "x"}).status_code == 404
    ours = _submit(sut, _compound(sut))
    r = _post(sut, ours, "accept", scopes="tickets:read")
    assert r.status_code == 403 and r.json["type"] == "/problems/insufficient-scope"
    r = _post(sut, ours, "merge", {"master_id": theirs["id"]})
    assert r.status_code == 422 and "master_id" in r.json["errors"]
    assert _post(sut, theirs, "accept", district="*", scopes="tickets:admin").status_code == 200


def test_a_unit_registry_has_not_told_of_yet_is_not_yet_known(make_service):
    sut = make_service("tickets")
    foreign = _unit(sut, "璧山区医院", district=BISHAN)
    ticket = _submit(sut, _compound(sut), urgency="urgent")
    for unit in (str(uuid.uuid4()), foreign):
        r = _post(sut, ticket, "dispatch", {"units": [{"unit_id": unit, "lead": True}]})
        assert r.status_code == 422 and r.json["type"] == "/problems/reference-not-yet-known"
        assert "units" in r.json["errors"] and r.headers["Retry-After"]
    late = str(uuid.uuid4())
    _unit(sut, "迟到的单位", unit_id=late)
    assert _post(sut, ticket, "dispatch", {"units": [{"unit_id": late, "lead": True}]}).status_code == 200


def test_bad_verb_bodies_name_the_field(make_service):
    sut = make_service("tickets")
    police = _unit(sut, "中山路派出所")
    ticket = _submit(sut, _compound(sut), urgency="urgent")
    for verb, body, field in (
            ("reject", {}, "reason"), ("reject", {"reason": " "}, "reason"),
            ("dispatch", {"units": []}, "units"), ("dispatch", {"units": [{"lead": True}]}, "units"),
            ("dispatch", {"units": [{"unit_id": police}]}, "units"),
            ("dispatch", {"units": [{"unit_id": police, "lead": True, "due_at": "2001-01-01T00:00:00Z"}]}, "units"),
            ("dispatch", {"units": [{"unit_id": police, "lead": True}] * 2}, "units"),
            ("review", {}, "passed"), ("rate", {"rating": "meh"}, "rating"), ("close", {"reason": "bored"}, "reason"),
            ("close", {}, "reason"), ("merge", {}, "master_id"),
            ("reroute", {"category": "x", "units": []}, "category"),
            ("resolve", {"participants": [{"member_id": str(uuid.uuid4()), "hours": 0}]}, "participants"),
            ("accept", {"note": "x" * 1001}, "note")):
        r = _post(sut, ticket, verb, body)
        assert r.status_code in (409, 422), (verb, body, r.status_code)
        if r.status_code == 422:
            assert any(key.split(".")[0] == field for key in r.json["errors"]), (verb, body, r.json)
    assert _keys(sut) == []


def test_rerouting_answers_both_sides(make_service):
    sut = make_service("tickets")
    police, hospital = _unit(sut, "中山路派出所"), _unit(sut, "永川区人民医院")
    ticket = _submit(sut, _compound(sut), urgency="urgent")
    _walk(sut, ticket, ("dispatch", {"units": [{"unit_id": police, "lead": True}]}))
    rerouted = _walk(sut, ticket, ("reroute", {"category": "environment", "units": [{"unit_id": hospital,
                                                                                     "lead": True}]}))
    assert rerouted["category"] == "environment"
    assert [(p["unit_id"], p["state"]) for p in rerouted["parts"]] == [(police, "withdrawn"), (hospital, "dispatched")]
    [(_, event)] = [e for e in _events(sut) if e[0] == "tickets.ticket.rerouted"]
    assert (event["data"]["previous_unit_ids"], event["data"]["previous_category"]) == ([police], "facilities")


def test_history_is_paginated_oldest_first(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    _walk(sut, ticket, ("accept", {}), ("escalate", {}), ("list", {}), ("close", {"reason": "referred"}))
    seen, cursor = [], None
    while True:
        page = _history(sut, ticket, "?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += [m["verb"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["accept", "escalate", "list", "close"]
    assert sut.client.get(f"/v1/tickets/{ticket['id']}/history?cursor=nonsense",
                          headers=sut.as_(YONGCHUAN, "tickets:read")).status_code == 422


def test_comments_are_listed_oldest_first_and_leave_the_version(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    for text in ("已联系物业", "明天上门"):
        r = _post(sut, ticket, "comments", {"text": text})
        assert r.status_code == 201 and r.json["author"] == "test-client" and r.json["ticket_id"] == ticket["id"]
    assert _post(sut, ticket, "comments", {"text": "  "}).status_code == 422
    r = sut.client.get(f"/v1/tickets/{ticket['id']}/comments", headers=sut.as_(YONGCHUAN, "tickets:read"))
    assert [c["text"] for c in r.json["items"]] == ["已联系物业", "明天上门"]
    got = sut.client.get(f"/v1/tickets/{ticket['id']}", headers=sut.as_(YONGCHUAN, "tickets:read"))
    assert got.json["version"] == 1
    assert [e["data"]["text"] for k, e in _events(sut) if k == "tickets.ticket.commented"] == ["已联系物业", "明天上门"]


def test_organization_events_keep_the_read_model_and_a_stale_one_is_dropped(make_service):
    sut = make_service("tickets")
    unit = _unit(sut, "旧名", version=2)
    data = {"id": unit, "district_id": YONGCHUAN, "kind": "agency", "name": "更旧的名", "version": 1}
    assert sut.deliver("registry.organization.updated", data) == "applied"
    assert sut.deliver("registry.organization.updated", {**data, "name": "新名", "version": 3}) == "applied"
    with sut.rt.factory() as s:
        row = s.get(Organization, uuid.UUID(unit))
        assert (row.name, row.version, row.district_id) == ("新名", 3, YONGCHUAN)
    with pytest.raises(InvalidEvent):
        sut.deliver("registry.organization.created", {"id": "not-a-uuid", "name": "x"})
