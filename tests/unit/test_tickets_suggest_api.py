"""Dispatch suggestions, possible duplicates and the reporter's private contact, over HTTP, with registry's
events handed to tickets' handlers as its worker would."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import event, select

from linli.services.tickets.models import CommitteeUnit, Pairing, Resource, Ticket
from linli.shared.db import utcnow
from linli.shared.events import CATALOGUE
from linli.shared.tables import outbox

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
PHONE = "13812345678"
READ, WRITE = "tickets:read", "tickets:read tickets:write"
TODAY = utcnow().date()


def _compound(sut, district=YONGCHUAN, community=None):
    data = {"id": str(uuid.uuid4()), "district_id": district, "parent_id": community or str(uuid.uuid4()),
            "level": "compound", "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    assert sut.deliver("registry.area.created", data) == "applied"
    return data


def _organization(sut, name, district=YONGCHUAN, kind="enterprise"):
    data = {"id": str(uuid.uuid4()), "district_id": district, "kind": kind, "name": name, "version": 1}
    assert sut.deliver("registry.organization.created", data) == "applied"
    return data["id"]


def _pairing(sut, organization, compound, *, key="registry.pairing.created", version=1, state="active",
             starts_on=None, ends_on=None, pairing_id=None, district=YONGCHUAN, name="结对单位"):
    data = {"id": pairing_id or str(uuid.uuid4()), "district_id": district, "organization_id": organization,
            "organization_name": name, "compound_id": compound, "starts_on": str(starts_on or TODAY - timedelta(30)),
            "ends_on": None if ends_on is None else str(ends_on), "state": state, "reason": None,
            "version": version}
    return sut.deliver(key, data), data["id"]


def _resource(sut, organization, category, *, key="registry.resource.added", version=1, resource_id=None,
              district=YONGCHUAN):
    data = {"id": resource_id or str(uuid.uuid4()), "district_id": district, "organization_id": organization,
            "organization_name": "单位", "kind": "staff", "category": category, "description": "队伍",
            "quantity": 1, "state": "removed" if key.endswith("removed") else "available",
            "organization_categories": [category], "version": version}
    return sut.deliver(key, data), data["id"]


def _committee(sut, committee_id, community, units, *, key="registry.committee.created", version=1,
               district=YONGCHUAN, **extra):
    data = {"id": committee_id, "district_id": district, "community_id": community, "name": "星光社区大党委",
            "time_zone": "Asia/Shanghai", "convenor_name": None, "convenor_member_id": None, "version": version,
            "units": [{"organization_id": unit, "organization_name": name, "organization_kind": "enterprise",
                       "joined_on": "2025-01-01"} for unit, name in units], **extra}
    return sut.deliver(key, data)


def _submit(sut, compound, district=YONGCHUAN, scopes=WRITE, **fields):
    body = {"compound_id": compound["id"], "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
            "reporter_name": "王阿姨", "reporter_phone": PHONE, "category": "facilities", **fields}
    r = sut.client.post("/v1/tickets", json=body, headers=sut.as_(district, scopes))
    assert r.status_code == 201, r.json
    return r.json


def _suggestions(sut, ticket, district=YONGCHUAN):
    r = sut.client.get(f"/v1/tickets/{ticket['id']}/suggestions", headers=sut.as_(district, READ))
    assert r.status_code == 200, r.json
    assert r.json["next_cursor"] is None
    return r.json["items"]


def _world(sut):
    """星光小区 of 星光社区, whose committee has three units; a fourth unit is paired with the compound."""
    community = str(uuid.uuid4())
    compound = _compound(sut, community=community)
    school, plumbers, tax, cleaners = (_organization(sut, name) for name in ("永川中学", "水电维修公司", "区税务局",
                                                                             "环卫所"))
    assert _pairing(sut, school, compound["id"], name="永川中学")[0] == "applied"
    assert _resource(sut, plumbers, "repairs")[0] == "applied"
    assert _resource(sut, cleaners, "sanitation")[0] == "applied"
    committee = str(uuid.uuid4())
    assert _committee(sut, committee, community, [(tax, "区税务局"), (plumbers, "水电维修公司"),
                                                  (cleaners, "环卫所")]) == "applied"
    return {"compound": compound, "community": community, "committee": committee, "school": school,
            "plumbers": plumbers, "tax": tax, "cleaners": cleaners}


def test_suggestions_rank_the_paired_unit_then_matching_resources_then_the_committee_s_others(make_service):
    sut = make_service("tickets")
    w = _world(sut)
    items = _suggestions(sut, _submit(sut, w["compound"]))
    assert [(i["organization_id"], i["rank"]) for i in items] == [
        (w["school"], 1), (w["plumbers"], 2), (w["tax"], 3), (w["cleaners"], 4)]
    assert [r["code"] for r in items[0]["reasons"]] == ["paired"]
    assert items[0]["reasons"][0]["zh"] == "与本小区结对共建，负责本小区" and items[0]["kind"] == "enterprise"
    assert items[1]["reasons"][0] == {"code": "resource_match", "zh": "资源清单与诉求类别相符",
                                      "en": "Offers resources of the ticket's category", "categories": ["repairs"]}
    assert (items[1]["name"], items[1]["kind"]) == ("水电维修公司", "enterprise")
    # Another category, other units match: the cleaners serve the environment.
    environment = _suggestions(sut, _submit(sut, w["compound"], category="environment"))
    assert [i["organization_id"] for i in environment] == [w["school"], w["cleaners"], w["tax"], w["plumbers"]]


def test_units_dispatched_already_are_left_out_of_the_suggestions(make_service):
    sut = make_service("tickets")
    w = _world(sut)
    ticket = _submit(sut, w["compound"], urgency="urgent")
    r = sut.client.post(f"/v1/tickets/{ticket['id']}/dispatch", json={"units": [{"unit_id": w["school"],
                                                                                 "lead": True}]},
                        headers=sut.as_(YONGCHUAN, WRITE))
    assert r.status_code == 200, r.json
    assert [i["organization_id"] for i in _suggestions(sut, ticket)] == [w["plumbers"], w["tax"], w["cleaners"]]


def test_a_unit_leaving_a_removed_resource_and_an_ended_pairing_change_the_suggestions(make_service):
    sut = make_service("tickets")
    w = _world(sut)
    ticket = _submit(sut, w["compound"])
    assert _committee(sut, w["committee"], w["community"], [(w["tax"], "区税务局"), (w["cleaners"], "环卫所")],
                      key="registry.committee.unit_left", version=2, organization_id=w["plumbers"],
                      organization_name="水电维修公司", organization_kind="enterprise", joined_on="2025-01-01",
                      left_on=str(TODAY), left_reason="合同到期") == "applied"
    assert [i["organization_id"] for i in _suggestions(sut, ticket)] == [w["school"], w["tax"], w["cleaners"]]
    with sut.rt.factory() as s:
        row = s.get(CommitteeUnit, (uuid.UUID(w["committee"]), uuid.UUID(w["plumbers"])))
        assert (row.current, row.left_on) == (False, TODAY)
    with sut.rt.factory() as s:
        pairing = s.scalars(select(Pairing)).one()
    assert _pairing(sut, w["school"], w["compound"]["id"], key="registry.pairing.removed", version=2,
                    state="removed", ends_on=TODAY - timedelta(days=1), pairing_id=str(pairing.id))[0] == "applied"
    assert [i["organization_id"] for i in _suggestions(sut, ticket)] == [w["tax"], w["cleaners"]]
    # The cleaners' only resource goes: on an environment ticket they no longer match, and go by name.
    with sut.rt.factory() as s:
        [cleaning] = s.scalars(select(Resource.id).where(Resource.organization_id == uuid.UUID(w["cleaners"])))
    environment = _submit(sut, w["compound"], category="environment")
    assert [i["organization_id"] for i in _suggestions(sut, environment)] == [w["cleaners"], w["tax"]]
    assert _resource(sut, w["cleaners"], "sanitation", key="registry.resource.removed", version=2,
                     resource_id=str(cleaning))[0] == "applied"
    assert [i["organization_id"] for i in _suggestions(sut, environment)] == [w["tax"], w["cleaners"]]


def test_stale_and_repeated_registry_events_leave_the_read_models_as_the_newest_told(make_service):
    sut = make_service("tickets")
    w = _world(sut)
    ticket = _submit(sut, w["compound"])
    # A unit joined (version 3) before the committee's rename (version 2) arrived: the rename is dropped.
    newcomer = _organization(sut, "新单位")
    everyone = [(w["tax"], "区税务局"), (w["plumbers"], "水电维修公司"), (w["cleaners"], "环卫所"),
                (newcomer, "新单位")]
    assert _committee(sut, w["committee"], w["community"], everyone, key="registry.committee.unit_joined",
                      version=3, organization_id=newcomer, organization_name="新单位", organization_kind="enterprise",
                      joined_on="2025-01-01", left_on=None, left_reason=None) == "applied"
    assert _committee(sut, w["committee"], w["community"], everyone[:3], key="registry.committee.updated",
                      version=2) == "applied"
    assert newcomer in [i["organization_id"] for i in _suggestions(sut, ticket)]
    # A pairing's removal (2) came before its creation (1): it stays removed, so the tax office is not paired.
    outcome, pairing_id = _pairing(sut, w["tax"], w["compound"]["id"], key="registry.pairing.removed", version=2,
                                   state="removed", ends_on=TODAY - timedelta(days=1))
    assert outcome == "applied"
    assert _pairing(sut, w["tax"], w["compound"]["id"], pairing_id=pairing_id)[0] == "applied"
    with sut.rt.factory() as s:
        assert s.get(Pairing, uuid.UUID(pairing_id)).state == "removed"
    # Unmatched committee units by name: 区 (U+533A), 新 (U+65B0), 环 (U+73AF).
    assert [i["organization_id"] for i in _suggestions(sut, ticket)] == [
        w["school"], w["plumbers"], w["tax"], newcomer, w["cleaners"]]


def test_another_district_s_ticket_is_404_and_its_units_are_never_suggested(make_service):
    sut = make_service("tickets")
    w = _world(sut)
    ticket = _submit(sut, w["compound"])
    r = sut.client.get(f"/v1/tickets/{ticket['id']}/suggestions", headers=sut.as_(BISHAN, READ))
    assert r.status_code == 404 and r.json["type"].endswith("/not-found")
    assert sut.client.get(f"/v1/tickets/{uuid.uuid4()}/suggestions", headers=sut.as_(YONGCHUAN, READ)
                          ).status_code == 404
    # Rows of Bishan naming Yongchuan's compound and community (a broken producer, or ids reused) stay out.
    foreign = _organization(sut, "璧山单位", district=BISHAN)
    assert _pairing(sut, foreign, w["compound"]["id"], district=BISHAN)[0] == "applied"
    assert _committee(sut, str(uuid.uuid4()), w["community"], [(foreign, "璧山单位")], district=BISHAN) == "applied"
    assert foreign not in [i["organization_id"] for i in _suggestions(sut, ticket)]
    # The operator sees every district's tickets.
    r = sut.client.get(f"/v1/tickets/{ticket['id']}/suggestions", headers=sut.as_("*", READ))
    assert r.status_code == 200 and len(r.json["items"]) == 4


def test_a_ticket_of_a_compound_nobody_told_of_gets_no_suggestions(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    assert _suggestions(sut, ticket) == []


# --- Possible duplicates --------------------------------------------------------------------------------------

def _similar(sut, ticket, query="", district=YONGCHUAN):
    r = sut.client.get(f"/v1/tickets/{ticket['id']}/similar{query}", headers=sut.as_(district, READ))
    assert r.status_code == 200, r.json
    return r.json["items"]


def _age(sut, ticket, days):
    """As if the ticket had been submitted `days` earlier."""
    with sut.rt.factory() as s:
        row = s.get(Ticket, uuid.UUID(ticket["id"]))
        row.created_at -= timedelta(days=days)
        s.commit()


def test_intake_names_up_to_three_recent_alike_tickets_of_the_compound_and_category(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    first = _submit(sut, compound)
    assert first["similar"] == []
    alike = _submit(sut, compound, title="3栋2单元楼道灯不亮", description="楼道里的灯坏了好几天，晚上看不见")
    assert alike["similar"] == [{"id": first["id"], "score": 0.321}]
    _submit(sut, compound, title="垃圾没人清运", description="2栋旁边的垃圾桶满了三天没人清运")  # unlike
    _submit(sut, compound, category="environment")  # another category
    _submit(sut, _compound(sut))  # another compound
    old = _submit(sut, compound)
    _age(sut, old, 31)  # out of the window
    same = [_submit(sut, compound)["id"] for _ in range(2)]
    latest = _submit(sut, compound)
    # The same text scores 1 (newest first), before the reworded one; three at most.
    assert latest["similar"] == [{"id": same[1], "score": 1.0}, {"id": same[0], "score": 1.0},
                                 {"id": first["id"], "score": 1.0}]


def test_similar_lists_open_tickets_first_within_the_window_either_side(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    ticket = _submit(sut, compound)
    closed = _submit(sut, compound)
    r = sut.client.post(f"/v1/tickets/{closed['id']}/reject", json={"reason": "重复"},
                        headers=sut.as_(YONGCHUAN, WRITE))
    assert r.status_code == 200, r.json
    reworded = _submit(sut, compound, title="3栋2单元楼道灯不亮", description="楼道里的灯坏了好几天，晚上看不见")
    duplicate = _submit(sut, compound)
    r = sut.client.post(f"/v1/tickets/{duplicate['id']}/merge", json={"master_id": reworded["id"]},
                        headers=sut.as_(YONGCHUAN, WRITE))
    assert r.status_code == 200, r.json
    _age(sut, ticket, 10)  # the others came ten days after it: still within 30 days
    items = _similar(sut, ticket)
    assert [(i["id"], i["state"], i["score"]) for i in items] == [
        (duplicate["id"], "submitted", 1.0), (reworded["id"], "submitted", 0.321), (closed["id"], "rejected", 1.0)]
    assert items[0]["master_id"] == reworded["id"] and items[1]["master_id"] is None
    assert items[0]["title"] == "楼道灯坏了" and items[0]["created_at"]
    assert [i["id"] for i in _similar(sut, ticket, "?days=9")] == []
    assert [i["id"] for i in _similar(sut, ticket, "?min_score=0.5")] == [duplicate["id"], closed["id"]]
    assert [i["id"] for i in _similar(sut, ticket, "?limit=1")] == [duplicate["id"]]


def test_similar_is_404_for_another_district_and_422_for_a_bad_window(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    r = sut.client.get(f"/v1/tickets/{ticket['id']}/similar", headers=sut.as_(BISHAN, READ))
    assert r.status_code == 404
    for query, field in (("?days=0", "days"), ("?days=366", "days"), ("?min_score=0", "min_score"),
                         ("?min_score=1.5", "min_score"), ("?limit=51", "limit"), ("?days=x", "days")):
        r = sut.client.get(f"/v1/tickets/{ticket['id']}/similar{query}", headers=sut.as_(YONGCHUAN, READ))
        assert r.status_code == 422 and field in json.dumps(r.json["errors"]), (query, r.json)


def test_intake_looks_for_duplicates_in_one_bounded_query(make_service):
    sut = make_service("tickets")
    compound = _compound(sut)
    for _ in range(25):
        _submit(sut, compound)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(sut.rt.engine, "before_cursor_execute", seen)
    try:
        answer = _submit(sut, compound)
    finally:
        event.remove(sut.rt.engine, "before_cursor_execute", seen)
    assert len(answer["similar"]) == 3
    [query] = [s for s in statements if "substr" in s.lower()]
    assert "LIMIT" in query and "compound_id" in query and "category" in query and "created_at >=" in query


# --- The reporter's contact -----------------------------------------------------------------------------------

def test_the_reporter_s_full_contact_goes_out_privately_and_public_events_mask_it(make_service):
    sut = make_service("tickets")
    ticket = _submit(sut, _compound(sut))
    with sut.rt.factory() as s:
        rows = [(key, json.loads(body)) for key, body in s.execute(
            select(outbox.c.routing_key, outbox.c.body).order_by(outbox.c.seq))]
    [contact] = [event for key, event in rows if key == "tickets.ticket.contact"]
    assert CATALOGUE["tickets.ticket.contact"].private
    assert contact["subject"] == ticket["id"] and contact["district"] == YONGCHUAN
    assert contact["data"] == {"id": ticket["id"], "district_id": YONGCHUAN, "reporter_name": "王阿姨",
                               "reporter_phone": PHONE, "address": None, "lat": None, "lon": None, "version": 1}
    public = [event for key, event in rows if not CATALOGUE[key].private]
    assert [e["type"] for e in public] == ["linli.tickets.ticket.submitted"]
    assert all(PHONE not in json.dumps(event) for event in public)


def test_a_pairing_that_starts_later_is_not_in_force_yet(make_service):
    sut = make_service("tickets")
    w = _world(sut)
    ticket = _submit(sut, w["compound"])
    later = _organization(sut, "下月结对单位")
    assert _pairing(sut, later, w["compound"]["id"], starts_on=TODAY + timedelta(days=2))[0] == "applied"
    assert later not in [i["organization_id"] for i in _suggestions(sut, ticket)]
