"""Term reports over HTTP: tickets' and registry's events feed the figures, the chair submits once, late and
missing reports are listed, other districts see nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests.support.ticket_events import moved_ticket
from tests.unit.test_rotation_plan_api import BISHAN, READ, WRITE, YONGCHUAN, Committee, _events

UNIT_IDS = ("A", "B", "C")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def _world(sut, **extra):
    committee = Committee(sut)
    for letter in UNIT_IDS:
        committee.join(letter)
    r = sut.client.post("/v1/rotations", json={"committee_id": committee.data["id"], "term_months": 1,
                                               "starts_on": "2024-01-01", **extra}, headers=sut.as_(YONGCHUAN, WRITE))
    assert r.status_code == 201, r.json
    return committee, r.json


def _ticket(sut, committee, verb, state, ticket_id, version, at):
    data = moved_ticket(verb, state, ticket_id=ticket_id, district_id=YONGCHUAN, compound_id=str(uuid.uuid4()),
                        community_id=committee.data["community_id"], version=version, at=at)
    assert sut.deliver(f"tickets.ticket.{verb}", data) == "applied"


def _activity(sut, committee, host, held_at, attendees):
    data = {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "host_organization_id": committee.ids[host],
            "host_organization_name": "永川区人民医院", "area_id": committee.data["community_id"],
            "community_id": committee.data["community_id"], "title": "健康义诊", "description": None,
            "category": "medical", "place": "社区广场", "starts_at": held_at, "ends_at": held_at, "capacity": None,
            "sign_up_count": attendees, "state": "held", "held_at": held_at, "attendee_count": attendees,
            "cancelled_at": None, "reason": None, "version": 3}
    assert sut.deliver("registry.activity.held", data) == "applied"


def test_the_chair_reports_once_with_the_terms_figures_and_others_cannot(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut)
    writer, reader = sut.as_(YONGCHUAN, WRITE), sut.as_(YONGCHUAN, READ)
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    _ticket(sut, committee, "listed", "listed", one, 4, "2024-01-05T02:00:00+00:00")
    _ticket(sut, committee, "dispatched", "dispatched", one, 5, "2024-01-06T02:00:00+00:00")
    _ticket(sut, committee, "closed", "closed", one, 9, "2024-01-20T02:00:00+00:00")
    _ticket(sut, committee, "listed", "listed", two, 4, "2024-02-05T02:00:00+00:00")  # the next term's
    _activity(sut, committee, "A", "2024-01-12T02:00:00+00:00", 25)
    sut.rt.clock(now=lambda: utc(2024, 1, 1)).tick()
    [term] = sut.client.get(f"/v1/terms?rotation_id={rotation['id']}&from=2024-01-01T00:00:00Z&limit=1",
                            headers=reader).json["items"]
    preview = sut.client.get(f"/v1/terms/{term['id']}/figures", headers=reader)
    assert preview.status_code == 200, preview.json
    assert {k: preview.json[k] for k in ("tickets_listed", "tickets_dispatched", "tickets_closed", "tickets_overdue",
                                         "activities_held", "activities_hosted_by_chair", "attendees")} == {
        "tickets_listed": 1, "tickets_dispatched": 1, "tickets_closed": 1, "tickets_overdue": 0,
        "activities_held": 1, "activities_hosted_by_chair": 1, "attendees": 25}
    assert preview.json["from"] == "2023-12-31T16:00:00+00:00" and preview.json["activities"][0]["title"] == "健康义诊"
    body = {"term_id": term["id"], "organization_id": committee.ids["A"], "text": "本任期办结群众诉求一件。"}
    early = sut.client.post("/v1/term-reports", json=body, headers=writer)
    assert early.status_code == 409 and "term_id" in early.json["errors"]

    sut.rt.clock(now=lambda: utc(2024, 2, 1)).tick()
    # Due on February 15, 2024 and not given: missing now (the API's now is today's).
    [missing] = sut.client.get("/v1/term-reports?state=missing", headers=reader).json["items"]
    assert (missing["term_id"], missing["state"], missing["due_on"], missing["figures"]) == (
        term["id"], "missing", "2024-02-15", None)
    wrong = sut.client.post("/v1/term-reports", json={**body, "organization_id": committee.ids["B"]}, headers=writer)
    assert wrong.status_code == 403 and "organization_id" in wrong.json["errors"]
    foreign = sut.client.post("/v1/term-reports", json=body, headers=sut.as_(BISHAN, WRITE))
    assert foreign.status_code == 422 and "term_id" in foreign.json["errors"]
    blank = sut.client.post("/v1/term-reports", json={**body, "text": "\u3000"}, headers=writer)
    assert blank.status_code == 422 and "text" in blank.json["errors"]

    given = sut.client.post("/v1/term-reports", json=body, headers=writer)
    assert given.status_code == 201, given.json
    assert given.headers["Location"] == f"/v1/term-reports/{given.json['id']}"
    # Submitted in 2026 (now), long past February 15, 2024: late.
    assert given.json["state"] == "late" and given.json["figures"]["tickets_closed"] == 1
    again = sut.client.post("/v1/term-reports", json=body, headers=writer)
    assert again.status_code == 409
    [event] = _events(sut, "rotation.term.report_submitted")
    assert event["data"]["figures"]["attendees"] == 25 and event["data"]["state"] == "late"
    assert event["data"]["organization_name"] == "永川区人民医院"

    got = sut.client.get(f"/v1/term-reports/{given.json['id']}", headers=reader)
    assert got.status_code == 200 and got.json["text"] == "本任期办结群众诉求一件。"
    assert sut.client.get(f"/v1/term-reports/{given.json['id']}", headers=sut.as_(BISHAN, READ)).status_code == 404
    assert sut.client.get(f"/v1/terms/{term['id']}/figures", headers=sut.as_(BISHAN, READ)).status_code == 404
    assert sut.client.get("/v1/term-reports", headers=sut.as_(BISHAN, READ)).json["items"] == []


def test_reports_are_listed_by_state_missing_ones_before_the_clock_tells(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, report_due_days=10)
    writer, reader = sut.as_(YONGCHUAN, WRITE), sut.as_(YONGCHUAN, READ)
    sut.rt.clock(now=lambda: utc(2024, 3, 5)).tick()  # terms 0 and 1 ended; their reports are due in 2024
    listed = sut.client.get(f"/v1/term-reports?rotation_id={rotation['id']}", headers=reader).json["items"]
    assert [r["state"] for r in listed] == ["missing", "missing"]
    first = next(r for r in listed if r["organization_id"] == committee.ids["A"])
    assert first["due_on"] == "2024-02-11"
    r = sut.client.post("/v1/term-reports", json={"term_id": first["term_id"], "organization_id": committee.ids["A"],
                                                  "text": "补交"}, headers=writer)
    assert r.status_code == 201
    states = {s: [x["organization_id"] for x in sut.client.get(f"/v1/term-reports?state={s}",
                                                                headers=reader).json["items"]]
              for s in ("missing", "late", "submitted", "pending")}
    assert states == {"missing": [committee.ids["B"]], "late": [committee.ids["A"]], "submitted": [],
                      "pending": []}
    bad = sut.client.get("/v1/term-reports?state=lost", headers=reader)
    assert bad.status_code == 422 and "state" in bad.json["errors"]
