from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from linli.shared.tables import outbox, timers

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
WRITER = "rotation:write rotation:read"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def _committee(sut, district=YONGCHUAN, name="星光社区大党委", time_zone="Asia/Shanghai", version=1, **extra):
    data = {"id": str(uuid.uuid4()), "district_id": district, "community_id": str(uuid.uuid4()), "name": name,
            "time_zone": time_zone, "version": version, **extra}
    assert sut.deliver("registry.committee.created", data) == "applied"
    return data


def _rotation(sut, committee, term_months=1, starts_on="2024-01-01"):
    r = sut.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": term_months,
                                               "starts_on": starts_on},
                        headers=sut.as_(committee["district_id"], WRITER))
    assert r.status_code == 201, r.json
    return r.json


def _events(sut, key):
    with sut.rt.factory() as s:
        rows = s.execute(select(outbox.c.body).where(outbox.c.routing_key == key).order_by(outbox.c.seq))
        return [json.loads(row.body) for row in rows]


def _pending_timers(sut):
    with sut.rt.factory() as s:
        rows = s.execute(select(timers.c.kind, timers.c.subject_id, timers.c.due_at, timers.c.payload)
                         .where(timers.c.fired_at.is_(None)))
        return [(row.kind, row.subject_id, row.due_at, json.loads(row.payload)) for row in rows]


def test_committee_events_feed_the_read_model_once(make_service):
    sut = make_service("rotation")
    event_id = uuid.uuid4()
    data = {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "community_id": str(uuid.uuid4()),
            "name": "星光社区大党委", "time_zone": "Asia/Shanghai", "version": 1, "added_later": "ignored"}
    assert sut.deliver("registry.committee.created", data, event_id=event_id) == "applied"
    assert sut.deliver("registry.committee.created", {**data, "name": "renamed"}, event_id=event_id) == "duplicate"
    _committee(sut, name="棠城社区大党委")
    _committee(sut, district=BISHAN, name="璧城社区大党委")
    listed = sut.client.get("/v1/committees", headers=sut.as_(YONGCHUAN, "rotation:read")).json
    assert [c["name"] for c in listed["items"]] == ["星光社区大党委", "棠城社区大党委"]
    assert listed["items"][0] == {k: v for k, v in data.items() if k != "added_later"}
    assert listed["next_cursor"] is None


def test_create_rotation_emits_event_and_schedules_term_zero(make_service):
    sut = make_service("rotation")
    committee = _committee(sut, time_zone="Europe/Berlin")
    r = sut.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": 3,
                                               "starts_on": "2024-03-01"}, headers=sut.as_(YONGCHUAN, WRITER))
    assert r.status_code == 201, r.json
    rotation = r.json
    assert r.headers["Location"] == f"/v1/rotations/{rotation['id']}"
    assert r.headers["ETag"] == '"1"'
    assert {k: rotation[k] for k in ("district_id", "committee_id", "term_months", "starts_on", "time_zone",
                                     "state", "version")} == {
        "district_id": YONGCHUAN, "committee_id": committee["id"], "term_months": 3, "starts_on": "2024-03-01",
        "time_zone": "Europe/Berlin", "state": "active", "version": 1}
    [event] = _events(sut, "rotation.rotation.created")
    assert event["subject"] == rotation["id"] and event["district"] == YONGCHUAN
    assert event["data"]["starts_on"] == "2024-03-01" and event["data"]["version"] == 1
    assert _pending_timers(sut) == [("rotation.milestone", rotation["id"], utc(2024, 2, 29, 23),
                                     {"index": 0, "part": 0, "milestone": "started"})]


def test_unknown_or_foreign_committee_is_422_naming_committee_id(make_service):
    sut = make_service("rotation")
    foreign = _committee(sut, district=BISHAN)
    for committee_id in (str(uuid.uuid4()), foreign["id"]):
        r = sut.client.post("/v1/rotations", json={"committee_id": committee_id, "term_months": 1,
                                                   "starts_on": "2024-01-01"}, headers=sut.as_(YONGCHUAN, WRITER))
        assert r.status_code == 422
        assert r.content_type == "application/problem+json"
        assert "committee_id" in r.json["errors"]
    assert _events(sut, "rotation.rotation.created") == []


def test_second_rotation_of_a_committee_is_409(make_service):
    sut = make_service("rotation")
    committee = _committee(sut)
    _rotation(sut, committee)
    r = sut.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": 3,
                                               "starts_on": "2024-02-01"}, headers=sut.as_(YONGCHUAN, WRITER))
    assert r.status_code == 409
    assert r.json["type"] == "/problems/conflict"
    assert len(_events(sut, "rotation.rotation.created")) == 1


def test_term_months_other_than_1_2_3_6_or_12_is_422_naming_it(make_service):
    sut = make_service("rotation")
    committee = _committee(sut)
    for bad in (4, 0, 24, "3"):
        r = sut.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": bad,
                                                   "starts_on": "2024-01-01"}, headers=sut.as_(YONGCHUAN, WRITER))
        assert r.status_code == 422, bad
        assert list(r.json["errors"]) == ["term_months"]


def test_foreign_district_is_404_and_lists_are_scoped(make_service):
    sut = make_service("rotation")
    mine = _rotation(sut, _committee(sut))
    theirs = _rotation(sut, _committee(sut, district=BISHAN))
    r = sut.client.get(f"/v1/rotations/{theirs['id']}", headers=sut.as_(YONGCHUAN, "rotation:read"))
    assert r.status_code == 404
    listed = sut.client.get("/v1/rotations", headers=sut.as_(YONGCHUAN, "rotation:read")).json["items"]
    assert [x["id"] for x in listed] == [mine["id"]]
    everyone = sut.client.get("/v1/rotations", headers=sut.as_("*", "rotation:read")).json["items"]
    assert {x["id"] for x in everyone} == {mine["id"], theirs["id"]}


def test_list_filters_by_committee(make_service):
    sut = make_service("rotation")
    first, second = _committee(sut), _committee(sut, name="棠城社区大党委")
    _rotation(sut, first)
    wanted = _rotation(sut, second)
    r = sut.client.get(f"/v1/rotations?committee_id={second['id']}", headers=sut.as_(YONGCHUAN, "rotation:read"))
    assert [x["id"] for x in r.json["items"]] == [wanted["id"]]


def test_read_scope_cannot_create(make_service):
    sut = make_service("rotation")
    committee = _committee(sut)
    r = sut.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": 1,
                                               "starts_on": "2024-01-01"}, headers=sut.as_(YONGCHUAN, "rotation:read"))
    assert r.status_code == 403


def test_item_shows_the_term_running_now(make_service):
    sut = make_service("rotation")
    running = _rotation(sut, _committee(sut), starts_on="2020-01-31")
    future = _rotation(sut, _committee(sut, name="later"), starts_on="2150-01-01")
    h = sut.as_(YONGCHUAN, "rotation:read")
    r = sut.client.get(f"/v1/rotations/{running['id']}", headers=h)
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'
    term = r.json["current_term"]
    now = datetime.now(UTC)
    starts_at, ends_at = datetime.fromisoformat(term["starts_at"]), datetime.fromisoformat(term["ends_at"])
    assert starts_at <= now < ends_at
    assert starts_at.astimezone(ZoneInfo("Asia/Shanghai")).time() == time(0)
    local = starts_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert term["index"] == (local.year - 2020) * 12 + local.month - 1
    assert r.json["committee_id"] == running["committee_id"]
    assert sut.client.get(f"/v1/rotations/{future['id']}", headers=h).json["current_term"] is None


def test_clock_starts_each_term_once_and_catches_up_in_order(make_service):
    sut = make_service("rotation")
    rotation = _rotation(sut, _committee(sut), starts_on="2024-01-01")

    assert sut.rt.clock(now=lambda: utc(2024, 1, 10)).tick() == 1
    [started] = _events(sut, "rotation.term.started")
    assert started["subject"] == rotation["id"] and started["district"] == YONGCHUAN
    assert {k: v for k, v in started["data"].items() if k not in ("term_id", "uid")} == {
        "rotation_id": rotation["id"], "district_id": YONGCHUAN, "committee_id": rotation["committee_id"],
        "committee_name": "星光社区大党委", "index": 0, "part": 0, "organization_id": None,
        "organization_name": None, "starts_at": "2023-12-31T16:00:00Z", "ends_at": "2024-01-31T16:00:00Z",
        "starts_on": "2024-01-01", "ends_on": "2024-01-31"}
    # A chairless term is told ending but not ending soon: there is no chair to remind.
    assert _pending_timers(sut) == [("rotation.milestone", rotation["id"], utc(2024, 1, 31, 16),
                                     {"index": 0, "part": 0, "milestone": "ended"})]

    assert sut.rt.clock(now=lambda: utc(2024, 1, 10)).tick() == 0
    assert len(_events(sut, "rotation.term.started")) == 1

    # Down from January to March: terms 1 and 2 are both overdue; the rotation's one timer tells them in order.
    assert sut.rt.clock(now=lambda: utc(2024, 3, 5)).tick() == 1
    assert [e["data"]["index"] for e in _events(sut, "rotation.term.started")] == [0, 1, 2]
    assert [e["data"]["starts_at"] for e in _events(sut, "rotation.term.started")][1:] == [
        "2024-01-31T16:00:00Z", "2024-02-29T16:00:00Z"]
    assert [e["data"]["index"] for e in _events(sut, "rotation.term.ended")] == [0, 1]
    assert _pending_timers(sut) == [("rotation.milestone", rotation["id"], utc(2024, 3, 31, 16),
                                     {"index": 2, "part": 0, "milestone": "ended"})]
    assert sut.rt.clock(now=lambda: utc(2024, 3, 5)).tick() == 0


def test_starts_on_outside_the_planning_range_is_a_422_naming_it(make_service):
    sut = make_service("rotation")
    committee = _committee(sut)
    for starts_on in ("0001-01-01", "9999-12-31"):
        r = sut.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": 1,
                                                   "starts_on": starts_on},
                            headers=sut.as_(committee["district_id"], "rotation:write"))
        assert r.status_code == 422 and "starts_on" in r.json["errors"], starts_on
