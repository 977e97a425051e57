"""`/v1/categories`: the categories with each stage's deadlines, the suite's defaults or a district's own, set over
the API with If-Match; and the rotating chair and convenor an overdue ticket names, learnt from events."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from linli.shared.tables import outbox

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
READ, ADMIN = "tickets:read", "tickets:admin"
OWN = {"normal": {"accept_hours": 12, "dispatch_hours": 48, "resolve_hours": 120},
       "urgent": {"accept_hours": 0.5, "dispatch_hours": 1, "resolve_hours": 8}, "remind_before_percent": 25}


def _get(sut, path, district=YONGCHUAN, scopes=READ):
    return sut.client.get(path, headers=sut.as_(district, scopes))


def _events(sut, key):
    with sut.rt.factory() as s:
        rows = s.execute(select(outbox.c.body).where(outbox.c.routing_key == key).order_by(outbox.c.seq))
        return [json.loads(row.body) for row in rows]


def test_every_category_is_listed_with_its_names_and_the_default_deadlines(make_service):
    sut = make_service("tickets")
    r = _get(sut, "/v1/categories")
    assert r.status_code == 200, r.json
    assert r.json["next_cursor"] is None
    items = {c["code"]: c for c in r.json["items"]}
    assert list(items) == ["general", "environment", "facilities", "dispute", "fast_track"]
    facilities = items["facilities"]
    assert (facilities["name_zh"], facilities["name_en"]) == ("设施维修", "Facilities and repairs")
    assert facilities["normal"] == {"accept_hours": 24, "dispatch_hours": 72, "resolve_hours": 240}
    assert facilities["urgent"] == {"accept_hours": 1, "dispatch_hours": 2, "resolve_hours": 24}
    assert (facilities["district_id"], facilities["overridden"], facilities["version"]) == (YONGCHUAN, False, 0)
    assert facilities["remind_before_percent"] == 20 and facilities["updated_at"] is None
    assert items["fast_track"]["normal"] == items["fast_track"]["urgent"]
    one = _get(sut, "/v1/categories/facilities")
    assert one.status_code == 200 and one.json == facilities and one.headers["ETag"] == '"0"'
    assert _get(sut, "/v1/categories/juggling").status_code == 404


def test_a_district_sets_its_own_deadlines_with_if_match_and_its_tickets_follow_them(make_service):
    sut = make_service("tickets")
    h = sut.as_(YONGCHUAN, ADMIN)
    r = sut.client.put("/v1/categories/facilities", json=OWN, headers={**h, "If-Match": '"0"'})
    assert r.status_code == 200, r.json
    assert r.headers["ETag"] == '"1"' and r.json["overridden"] is True and r.json["normal"] == OWN["normal"]
    stale = sut.client.put("/v1/categories/facilities", json=OWN, headers={**h, "If-Match": '"0"'})
    assert stale.status_code == 412
    patched = sut.client.patch("/v1/categories/facilities", json={"urgent": {"resolve_hours": 6}},
                               headers={**h, "If-Match": '"1"'})
    assert patched.status_code == 200, patched.json
    assert patched.headers["ETag"] == '"2"' and patched.json["urgent"] == {
        "accept_hours": 0.5, "dispatch_hours": 1, "resolve_hours": 6}
    assert patched.json["normal"] == OWN["normal"] and patched.json["remind_before_percent"] == 25
    assert _get(sut, "/v1/categories/facilities").json == patched.json
    # Bishan still sees the defaults, and an operator sees either district's when naming it.
    assert _get(sut, "/v1/categories/facilities", BISHAN).json["normal"]["resolve_hours"] == 240
    op = _get(sut, f"/v1/categories/facilities?district_id={YONGCHUAN}", "*")
    assert op.json["urgent"]["resolve_hours"] == 6 and op.json["district_id"] == YONGCHUAN
    assert _get(sut, "/v1/categories/facilities", "*").json["district_id"] is None  # the suite's defaults

    compound = {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "parent_id": str(uuid.uuid4()),
                "level": "compound", "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    assert sut.deliver("registry.area.created", compound) == "applied"
    ticket = sut.client.post("/v1/tickets", json={
        "compound_id": compound["id"], "title": "路灯坏了", "description": "小区门口路灯不亮", "category": "facilities",
        "reporter_name": "王阿姨", "reporter_phone": "13812345678"}, headers=sut.as_(YONGCHUAN, "tickets:write"))
    assert ticket.status_code == 201, ticket.json
    due, created = datetime.fromisoformat(ticket.json["due_at"]), datetime.fromisoformat(ticket.json["created_at"])
    assert due - created == timedelta(hours=12)


def test_setting_deadlines_needs_the_admin_scope_and_a_district_and_sound_hours(make_service):
    sut = make_service("tickets")
    path = "/v1/categories/dispute"
    assert sut.client.put(path, json=OWN, headers=sut.as_(YONGCHUAN, "tickets:write")).status_code == 403
    op = sut.as_("*", ADMIN)
    nameless = sut.client.put(path, json=OWN, headers=op)
    assert nameless.status_code == 422 and list(nameless.json["errors"]) == ["district_id"]
    named = sut.client.put(f"{path}?district_id={BISHAN}", json=OWN, headers=op)
    assert named.status_code == 200 and named.json["district_id"] == BISHAN
    foreign = sut.client.patch(f"{path}?district_id={BISHAN}", json={"remind_before_percent": 5},
                               headers=sut.as_(YONGCHUAN, ADMIN))
    assert foreign.status_code == 422 and list(foreign.json["errors"]) == ["district_id"]
    slower = sut.client.put(path, json={**OWN, "urgent": {**OWN["urgent"], "resolve_hours": 200}},
                            headers=sut.as_(YONGCHUAN, ADMIN))
    assert slower.status_code == 422 and list(slower.json["errors"]) == ["urgent.resolve_hours"], slower.json
    for body in ({"normal": {"accept_hours": 0}}, {"urgent": {"dispatch_hours": -1}}, {"remind_before_percent": 100},
                 {"normal": {"accept_hours": True}}, {"normal": None}):
        r = sut.client.patch(path, json=body, headers=sut.as_(YONGCHUAN, ADMIN))
        assert r.status_code == 422 and list(r.json["errors"])[0].split(".")[0] in body, (body, r.json)
    incomplete = sut.client.put(path, json={"normal": OWN["normal"]}, headers=sut.as_(YONGCHUAN, ADMIN))
    assert incomplete.status_code == 422 and "urgent" in incomplete.json["errors"]
    assert sut.client.put("/v1/categories/juggling", json=OWN, headers=sut.as_(YONGCHUAN, ADMIN)).status_code == 404
    assert _get(sut, "/v1/categories/dispute").json["version"] == 0  # Yongchuan's own: never set


def test_the_chair_and_convenor_are_learnt_from_events_and_named_when_dispatched_work_is_overdue(make_service):
    sut = make_service("tickets")
    community, committee, convenor = (str(uuid.uuid4()) for _ in range(3))
    compound = {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "parent_id": community, "level": "compound",
                "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    unit = {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "kind": "hospital", "name": "永川区人民医院",
            "version": 1}
    chair = {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "kind": "school", "name": "永川中学", "version": 1}
    committee_data = {"id": committee, "district_id": YONGCHUAN, "community_id": community, "name": "星光社区大党委",
                      "time_zone": "Asia/Shanghai", "convenor_name": "张书记", "convenor_member_id": None,
                      "units": [], "version": 1}
    started = (datetime.now().astimezone() - timedelta(days=3)).isoformat()
    term = {"rotation_id": str(uuid.uuid4()), "district_id": YONGCHUAN, "committee_id": committee, "index": 2,
            "starts_at": started, "ends_at": "2099-01-01T00:00:00Z"}
    for key, data in (("registry.area.created", compound), ("registry.organization.created", unit),
                      ("registry.organization.created", chair), ("registry.committee.created", committee_data),
                      ("registry.committee.updated", {**committee_data, "name": "星光社区大党委（新）",
                                                      "convenor_name": "李书记", "convenor_member_id": convenor,
                                                      "version": 3}),
                      ("registry.committee.updated", {**committee_data, "version": 2}),  # stale: dropped
                      # Today's term: no chair named; a handover then names the school as chair.
                      ("rotation.term.started", term),
                      ("rotation.term.handed_over", {**term, "organization_id": chair["id"]}),
                      ("rotation.term.ending_soon", {**term, "organization_id": unit["id"]})):
        assert sut.deliver(key, data) in ("applied", "ignored"), key
    h = sut.as_(YONGCHUAN, "tickets:write")
    ticket = sut.client.post("/v1/tickets", json={
        "compound_id": compound["id"], "title": "老人突发疾病", "description": "需要医生上门", "urgency": "urgent",
        "reporter_name": "王阿姨", "reporter_phone": "13812345678"}, headers=h).json
    r = sut.client.post(f"/v1/tickets/{ticket['id']}/dispatch", json={"units": [{"unit_id": unit["id"], "lead": True}]},
                        headers=h)
    assert r.status_code == 200, r.json
    due = datetime.fromisoformat(r.json["due_at"])
    assert sut.rt.clock(now=lambda: due).tick() == 1
    [overdue] = _events(sut, "tickets.ticket.overdue")
    assert overdue["data"]["unit_ids"] == [unit["id"]] and overdue["data"]["stage"] == "resolve"
    escalation = overdue["data"]["escalation"]
    assert (escalation["committee_id"], escalation["committee_name"]) == (committee, "星光社区大党委（新）")
    assert (escalation["chair_unit_id"], escalation["chair_unit_name"], escalation["chair_term_index"]) == (
        chair["id"], "永川中学", 2)
    assert (escalation["convenor_name"], escalation["convenor_member_id"]) == ("李书记", convenor)
    shown = _get(sut, f"/v1/tickets/{ticket['id']}").json
    assert shown["overdue"] is True and shown["parts"][0]["overdue"] is True and shown["stage"] == "resolve"
