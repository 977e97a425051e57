from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select

from linli.shared.tables import inbox, outbox, timers

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
PHONE = "13812345678"


def _area(district=YONGCHUAN, *, level="compound", name="星光小区", version=1, area_id=None, parent_id=None):
    return {"id": area_id or str(uuid.uuid4()), "district_id": district, "parent_id": parent_id or str(uuid.uuid4()),
            "level": level, "name": name, "kind": "three_no" if level == "compound" else None,
            "time_zone": "Asia/Shanghai", "version": version}


def _compound(sut, district=YONGCHUAN, **kwargs):
    data = _area(district, **kwargs)
    assert sut.deliver("registry.area.created", data) == "applied"
    return data


def _submit(sut, compound_id, district=YONGCHUAN, scopes="tickets:write", **fields):
    body = {"compound_id": compound_id, "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
            "reporter_name": "王阿姨", "reporter_phone": PHONE, **fields}
    return sut.client.post("/v1/tickets", json=body, headers=sut.as_(district, scopes))


def _events(sut, key):
    with sut.rt.factory() as s:
        rows = s.execute(select(outbox.c.body).where(outbox.c.routing_key == key).order_by(outbox.c.seq))
        return [json.loads(row.body) for row in rows]


def _compounds(sut, district=YONGCHUAN, query=""):
    r = sut.client.get(f"/v1/compounds{query}", headers=sut.as_(district, "tickets:read"))
    assert r.status_code == 200, r.json
    return r.json


def test_submitting_a_ticket_emits_it_with_the_phone_masked(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    r = _submit(sut, compound["id"])
    assert r.status_code == 201, r.json
    ticket = r.json
    assert r.headers["Location"] == f"/v1/tickets/{ticket['id']}"
    assert r.headers["ETag"] == '"1"'
    assert ticket["district_id"] == YONGCHUAN
    assert ticket["state"] == "submitted" and ticket["category"] == "general" and ticket["overdue"] is False
    due, created = datetime.fromisoformat(ticket["due_at"]), datetime.fromisoformat(ticket["created_at"])
    assert due - created == timedelta(hours=24)  # to be accepted within a day
    assert (ticket["stage"], ticket["accept_due_at"], ticket["dispatch_due_at"]) == ("accept", ticket["due_at"], None)
    [event] = _events(sut, "tickets.ticket.submitted")
    assert event["subject"] == ticket["id"] and event["district"] == YONGCHUAN
    assert event["data"]["reporter_phone"] == "138****5678"
    assert event["data"]["version"] == 1
    assert PHONE not in json.dumps(event)
    with sut.rt.factory() as s:
        timer = s.execute(select(timers).where(timers.c.subject_id == ticket["id"])).one()
    assert timer.kind == "ticket.due"
    assert timer.due_at == due - timedelta(hours=24) * 0.2  # the reminder comes first


def test_fast_track_tickets_are_to_be_accepted_within_the_hour(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    ticket = _submit(sut, compound["id"], category="fast_track").json
    due, created = datetime.fromisoformat(ticket["due_at"]), datetime.fromisoformat(ticket["created_at"])
    assert due - created == timedelta(hours=1)


def test_an_unknown_or_foreign_compound_is_422_naming_compound_id(make_service):
    sut = make_service("tickets")
    elsewhere = _compound(sut, BISHAN)
    for compound_id in (str(uuid.uuid4()), elsewhere["id"]):
        r = _submit(sut, compound_id)
        assert r.status_code == 422
        assert r.content_type == "application/problem+json"
        assert list(r.json["errors"]) == ["compound_id"]
    assert _events(sut, "tickets.ticket.submitted") == []


def test_bad_input_names_the_field(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    for field, value in (("reporter_phone", "138-1234-5678"), ("reporter_phone", "12345"),
                         ("reporter_phone", "1" * 21), ("category", "gossip"), ("title", "")):
        r = _submit(sut, compound["id"], **{field: value})
        assert r.status_code == 422, (field, value)
        assert field in r.json["errors"], (field, value)
    assert _submit(sut, compound["id"], reporter_phone="+8613812345678").status_code == 201


def test_a_write_needs_the_write_scope(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    r = _submit(sut, compound["id"], scopes="tickets:read")
    assert r.status_code == 403 and r.json["type"] == "/problems/insufficient-scope"


def test_another_districts_ticket_is_404_and_lists_are_scoped(make_service):
    sut = make_service("tickets")
    ours = _submit(sut, _compound(sut)["id"]).json
    theirs = _submit(sut, _compound(sut, BISHAN)["id"], district=BISHAN).json
    r = sut.client.get(f"/v1/tickets/{theirs['id']}", headers=sut.as_(YONGCHUAN, "tickets:read"))
    assert r.status_code == 404
    listed = sut.client.get("/v1/tickets", headers=sut.as_(YONGCHUAN, "tickets:read")).json["items"]
    assert [t["id"] for t in listed] == [ours["id"]]
    everything = sut.client.get("/v1/tickets", headers=sut.as_("*", "tickets:read")).json["items"]
    assert {t["id"] for t in everything} == {ours["id"], theirs["id"]}


def test_the_phone_is_shown_only_to_the_pii_scope(make_service):
    sut = make_service("tickets")
    submitted = _submit(sut, _compound(sut)["id"])
    assert submitted.json["reporter_phone"] == "138****5678"
    url = f"/v1/tickets/{submitted.json['id']}"
    plain = sut.client.get(url, headers=sut.as_(YONGCHUAN, "tickets:read"))
    assert plain.json["reporter_phone"] == "138****5678"
    assert plain.headers["ETag"] == '"1"'
    listed = sut.client.get("/v1/tickets", headers=sut.as_(YONGCHUAN, "tickets:read")).json["items"]
    assert [t["reporter_phone"] for t in listed] == ["138****5678"]
    # Asked after the masked reads: showing a mask must never have written it over the number.
    pii = sut.client.get(url, headers=sut.as_(YONGCHUAN, "tickets:read tickets:pii"))
    assert pii.json["reporter_phone"] == PHONE
    listed = sut.client.get("/v1/tickets", headers=sut.as_(YONGCHUAN, "tickets:read tickets:pii")).json["items"]
    assert [t["reporter_phone"] for t in listed] == [PHONE]


def test_the_name_and_any_phone_number_the_resident_wrote_are_shown_only_to_the_pii_scope(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)["id"]
    written = {"title": "楼道灯坏了 13987654321", "description": "3栋2单元楼道灯一周没亮，请回电 139-8765-4321",
               "address": "星光小区3栋 023-67891234"}
    masked = {"title": "楼道灯坏了 139****4321", "description": "3栋2单元楼道灯一周没亮，请回电 139******4321",
              "address": "星光小区3栋 023*****1234", "reporter_name": "王**", "reporter_phone": "138****5678"}
    first = _submit(sut, compound, **written)
    assert first.status_code == 201, first.json
    second = _submit(sut, compound, **written).json
    assert [s["id"] for s in second["similar"]] == [first.json["id"]]
    plain, pii = sut.as_(YONGCHUAN, "tickets:read"), sut.as_(YONGCHUAN, "tickets:read tickets:pii")
    url = f"/v1/tickets/{first.json['id']}"
    shown = [first.json, sut.client.get(url, headers=plain).json,
             *sut.client.get("/v1/tickets", headers=plain).json["items"]]
    for ticket in shown:
        assert {name: ticket[name] for name in masked} == masked
    [alike] = sut.client.get(f"/v1/tickets/{second['id']}/similar", headers=plain).json["items"]
    assert alike["title"] == masked["title"]
    # And what staff wrote about the resident: a move's note, a comment.
    write = sut.as_(YONGCHUAN, "tickets:write")
    assert sut.client.post(f"{url}/reject", json={"reason": "重复，已电话告知 13987654321", "note": "业主 13987654321"},
                           headers=write).status_code == 200
    comment = sut.client.post(f"{url}/comments", json={"text": "业主电话 139 8765 4321"}, headers=write)
    assert comment.json["text"] == "业主电话 139******4321"
    [move] = sut.client.get(f"{url}/history", headers=plain).json["items"][-1:]
    assert (move["reason"], move["note"]) == ("重复，已电话告知 139****4321", "业主 139****4321")
    [said] = sut.client.get(f"{url}/comments", headers=plain).json["items"]
    assert said["text"] == "业主电话 139******4321"
    # Whoever holds tickets:pii reads what was written, after the masked reads wrote nothing over it.
    whole = sut.client.get(url, headers=pii).json
    assert {name: whole[name] for name in written} == written and whole["reporter_name"] == "王阿姨"
    assert sut.client.get(f"/v1/tickets/{second['id']}/similar", headers=pii).json["items"][0]["title"] == (
        written["title"])
    assert sut.client.get(f"{url}/history", headers=pii).json["items"][-1]["note"] == "业主 13987654321"
    assert sut.client.get(f"{url}/comments", headers=pii).json["items"][0]["text"] == "业主电话 139 8765 4321"


def test_phone_numbers_written_into_a_ticket_or_a_note_never_reach_the_public_exchange(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut)["id"], title="漏水 13987654321", description="请回电 139-8765-4321",
                     address="3栋2单元501", lat=29.356789, lon=105.912345).json
    write = sut.as_(YONGCHUAN, "tickets:write")
    assert sut.client.post(f"/v1/tickets/{ticket['id']}/accept", json={"note": "已联系业主 13987654321"},
                           headers=write).status_code == 200
    assert sut.client.post(f"/v1/tickets/{ticket['id']}/comments", json={"text": "业主电话 139 8765 4321"},
                           headers=write).status_code == 201
    [submitted] = _events(sut, "tickets.ticket.submitted")
    assert (submitted["data"]["title"], submitted["data"]["description"]) == (
        "漏水 139****4321", "请回电 139******4321")
    # Where the resident lives is not public either: no address, the coordinates to about 100 m.
    assert "address" not in submitted["data"]
    assert (submitted["data"]["lat"], submitted["data"]["lon"]) == (29.357, 105.912)
    [accepted] = _events(sut, "tickets.ticket.accepted")
    assert accepted["data"]["move"]["note"] == "已联系业主 139****4321"
    [commented] = _events(sut, "tickets.ticket.commented")
    assert (commented["data"]["text"], commented["data"]["ticket_title"]) == (
        "业主电话 139******4321", "漏水 139****4321")
    public = json.dumps([submitted, accepted, commented], ensure_ascii=False)
    for written in ("13987654321", "139-8765-4321", "139 8765 4321", "8765-4321", "3栋2单元501", "29.356789", PHONE):
        assert written not in public, written
    # The reporter's own number and the ticket's address go whole on the private exchange only.
    [contact] = _events(sut, "tickets.ticket.contact")
    assert (contact["data"]["reporter_phone"], contact["data"]["address"]) == (PHONE, "3栋2单元501")
    assert (contact["data"]["lat"], contact["data"]["lon"]) == (29.356789, 105.912345)


def test_lists_filter_by_compound_and_state(make_service):
    sut = make_service("tickets")
    first, second = _compound(sut, name="甲小区"), _compound(sut, name="乙小区")
    ticket = _submit(sut, first["id"]).json
    _submit(sut, second["id"])
    h = sut.as_(YONGCHUAN, "tickets:read")
    by_compound = sut.client.get(f"/v1/tickets?compound_id={first['id']}", headers=h).json["items"]
    assert [t["id"] for t in by_compound] == [ticket["id"]]
    assert len(sut.client.get("/v1/tickets?state=submitted", headers=h).json["items"]) == 2
    assert sut.client.get("/v1/tickets?state=nonsense", headers=h).status_code == 422


def test_a_stale_area_event_does_not_overwrite_the_compound(make_service):
    sut = make_service("tickets")
    compound_id = str(uuid.uuid4())
    assert sut.deliver("registry.area.updated", _area(name="新名", version=2, area_id=compound_id)) == "applied"
    assert sut.deliver("registry.area.created", _area(name="旧名", version=1, area_id=compound_id)) == "applied"
    [compound] = _compounds(sut)["items"]
    assert (compound["id"], compound["name"], compound["version"]) == (compound_id, "新名", 2)


def test_an_area_update_renames_the_compound(make_service):
    sut = make_service("tickets")
    created = _compound(sut, name="旧名")
    assert sut.deliver("registry.area.updated", {**created, "name": "新名", "version": 2}) == "applied"
    assert [c["name"] for c in _compounds(sut)["items"]] == ["新名"]


def test_the_same_event_twice_is_applied_once(make_service):
    sut = make_service("tickets")
    data, event_id = _area(), uuid.uuid4()
    assert sut.deliver("registry.area.created", data, event_id=event_id) == "applied"
    assert sut.deliver("registry.area.created", data, event_id=event_id) == "duplicate"
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_id == event_id)) == 1
    assert len(_compounds(sut)["items"]) == 1


def test_areas_other_than_compounds_are_not_kept(make_service):
    sut = make_service("tickets")
    community = _area(level="community", name="星光社区")
    assert sut.deliver("registry.area.created", community) == "applied"
    assert _compounds(sut)["items"] == []
    r = _submit(sut, community["id"])
    assert r.status_code == 422 and "compound_id" in r.json["errors"]


def test_compounds_are_listed_by_name_per_district_and_community(make_service):
    sut = make_service("tickets")
    community = str(uuid.uuid4())
    for name in ("丙", "甲", "乙"):
        _compound(sut, name=name, parent_id=community)
    _compound(sut, name="别的社区的小区")
    _compound(sut, BISHAN, name="璧山的小区")
    listed = _compounds(sut, query=f"?community_id={community}")
    assert sorted(c["name"] for c in listed["items"]) == ["丙", "乙", "甲"]
    assert [c["name"] for c in listed["items"]] == sorted(c["name"] for c in listed["items"])
    assert all(c["community_id"] == community and c["kind"] == "three_no" for c in listed["items"])
    assert len(_compounds(sut)["items"]) == 4


def test_compound_pages_walk_every_row_once(make_service):
    sut = make_service("tickets")
    for i in range(7):
        _compound(sut, name="同名小区" if i % 2 else f"小区{i}")
    seen, cursor = [], None
    while True:
        page = _compounds(sut, query="?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    bad = sut.client.get("/v1/compounds?cursor=nonsense", headers=sut.as_(YONGCHUAN, "tickets:read"))
    assert bad.status_code == 422 and "cursor" in bad.json["errors"]


def test_the_clock_marks_a_ticket_overdue_exactly_once(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut)["id"], category="fast_track").json
    due = datetime.fromisoformat(ticket["due_at"])
    soon = sut.rt.clock(now=lambda: due - timedelta(seconds=1))
    assert soon.tick() == 1 and soon.tick() == 0  # the reminder, once
    assert [e["data"]["version"] for e in _events(sut, "tickets.ticket.due_soon")] == [2]
    clock = sut.rt.clock(now=lambda: due + timedelta(seconds=1))
    assert clock.tick() == 1
    h = sut.as_(YONGCHUAN, "tickets:read")
    now = sut.client.get(f"/v1/tickets/{ticket['id']}", headers=h)
    assert now.json["overdue"] is True and now.json["version"] == 3 and now.headers["ETag"] == '"3"'
    [event] = _events(sut, "tickets.ticket.overdue")
    assert event["subject"] == ticket["id"]
    assert event["data"]["overdue"] is True and event["data"]["version"] == 3
    assert event["data"]["reporter_phone"] == "138****5678"
    assert clock.tick() == 0
    assert len(_events(sut, "tickets.ticket.overdue")) == 1
    overdue = sut.client.get("/v1/tickets?overdue=true", headers=h).json["items"]
    assert [t["id"] for t in overdue] == [ticket["id"]]
    assert sut.client.get("/v1/tickets?overdue=false", headers=h).json["items"] == []


def test_a_compound_moved_to_another_community_is_followed(make_service):
    sut = make_service("tickets")
    created = _compound(sut)
    elsewhere = str(uuid.uuid4())
    assert sut.deliver("registry.area.moved", {**created, "parent_id": elsewhere, "version": 2}) == "applied"
    [compound] = _compounds(sut)["items"]
    assert (compound["community_id"], compound["version"]) == (elsewhere, 2)


def test_intake_takes_kind_urgency_source_location_and_attachments_and_defaults_them(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    plain = _submit(sut, compound["id"]).json
    assert (plain["kind"], plain["urgency"], plain["source"], plain["attachments"], plain["parts"]) == (
        "problem", "normal", "resident", [], [])
    assert plain["address"] is None and plain["lat"] is None and plain["building_id"] is None
    building = str(uuid.uuid4())
    r = _submit(sut, compound["id"], kind="wish", urgency="urgent", source="grid_patrol", building_id=building,
                address=" 星光小区3栋 ", lat=29.35, lon=105.93, attachments=["https://img.example/1.jpg"])
    assert r.status_code == 201, r.json
    wish = sut.client.get(f"/v1/tickets/{r.json['id']}", headers=sut.as_(YONGCHUAN, "tickets:read")).json
    assert (wish["kind"], wish["urgency"], wish["source"], wish["building_id"], wish["address"]) == (
        "wish", "urgent", "grid_patrol", building, "星光小区3栋")
    assert (wish["lat"], wish["lon"], wish["attachments"]) == (29.35, 105.93, ["https://img.example/1.jpg"])
    [_, event] = _events(sut, "tickets.ticket.submitted")
    assert (event["data"]["kind"], event["data"]["urgency"], event["data"]["attachments"]) == (
        "wish", "urgent", ["https://img.example/1.jpg"])


def test_bad_intake_fields_are_named(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    for fields, named in (({"kind": "complaint"}, "kind"), ({"urgency": "asap"}, "urgency"),
                          ({"source": "wechat"}, "source"), ({"lat": 29.3}, "lon"), ({"lon": 105.9}, "lat"),
                          ({"lat": 91, "lon": 0}, "lat"), ({"attachments": ["not a url"]}, "attachments"),
                          ({"attachments": ["ftp://x.example/a"]}, "attachments"),
                          ({"attachments": ["https://x.example/a"] * 21}, "attachments"),
                          ({"building_id": "b-3"}, "building_id"), ({"address": "  "}, "address")):
        r = _submit(sut, compound["id"], **fields)
        assert r.status_code == 422, fields
        assert any(key.split(".")[0] == named for key in r.json["errors"]), (fields, r.json)
    assert _events(sut, "tickets.ticket.submitted") == []
