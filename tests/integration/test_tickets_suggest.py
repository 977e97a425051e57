"""Dispatch suggestions, possible duplicates and the reporter's contact on real PostgreSQL and RabbitMQ: registry's
own pairing, committee and resource events feed tickets' read models through the broker, and the contact travels on
the private exchange only."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

from sqlalchemy import select

from linli.services.tickets.models import Committee, Compound, Pairing, Resource
from linli.shared.bus import private_exchange
from tests.support.collector import Collector
from tests.support.plans import plan_of, statements_sent
from tests.support.registry_world import yongchuan_over_http
from tests.support.waiting import wait_for

PHONE = "13812345678"
WRITE = "tickets:read tickets:write"


def test_the_reporter_s_contact_goes_to_the_private_exchange_only(live, bus, run_threads):
    tickets = live("tickets", bus)
    public = Collector(bus, binding="tickets.#")
    private = Collector(bus, binding="#", name="test.private", exchange=private_exchange(bus))
    run_threads(tickets.rt.relay().run)
    district = str(uuid.uuid4())
    compound = {"id": str(uuid.uuid4()), "district_id": district, "parent_id": str(uuid.uuid4()),
                "level": "compound", "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    assert tickets.deliver("registry.area.created", compound) == "applied"
    body = {"compound_id": compound["id"], "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
            "reporter_name": "王阿姨", "reporter_phone": PHONE}
    r = tickets.client.post("/v1/tickets", json=body, headers=tickets.as_(district, WRITE))
    assert r.status_code == 201, r.json
    r2 = tickets.client.post(f"/v1/tickets/{r.json['id']}/accept", json={}, headers=tickets.as_(district, WRITE))
    assert r2.status_code == 200, r2.json
    wait_for(lambda: private.of_type("tickets.ticket.contact"), timeout=30, message="the contact, privately")
    wait_for(lambda: public.of_type("tickets.ticket.accepted"), timeout=30, message="the public events")
    [contact] = private.of_type("tickets.ticket.contact")
    assert (contact["subject"], contact["district"]) == (r.json["id"], district)
    assert (contact["data"]["reporter_phone"], contact["data"]["reporter_name"]) == (PHONE, "王阿姨")
    assert public.of_type("tickets.ticket.contact") == []
    assert [e["type"] for e in public.events] == ["linli.tickets.ticket.submitted", "linli.tickets.ticket.accepted"]
    assert all(PHONE not in json.dumps(event, ensure_ascii=False) for event in public.events)
    assert public.of_type("tickets.ticket.submitted")[0]["data"]["reporter_phone"] == "138****5678"
    assert private.of_type("tickets.ticket.submitted") == []
    public.close()
    private.close()


def test_registry_s_pairings_committee_units_and_resources_order_the_suggestions(live, bus, run_threads):
    registry = live("registry", bus)
    tickets = live("tickets", bus)
    worker = tickets.rt.worker()
    run_threads(registry.rt.relay().run, worker.run)
    assert worker.ready.wait(10)
    world = yongchuan_over_http(registry)
    clerk, compound, community = world["clerk"], world["compound"]["id"], world["community"]["id"]

    def post(path: str, body: dict) -> dict:
        r = registry.client.post(path, json=body, headers=clerk)
        assert r.status_code in (200, 201), (path, r.json)
        return r.json

    def organization(kind: str, name: str) -> str:
        return post("/v1/organizations", {"kind": kind, "name": name})["id"]

    school, plumbers, tax, cleaners, leaving, former = (
        organization("school", "永川中学"), organization("enterprise", "水电维修公司"),
        organization("government_agency", "区税务局"), organization("government_agency", "环卫所"),
        organization("enterprise", "搬走的维修队"), organization("enterprise", "原结对单位"))
    today = date.today()
    post(f"/v1/organizations/{plumbers}/resources", {"kind": "staff", "category": "repairs", "description": "水电工"})
    post(f"/v1/organizations/{leaving}/resources", {"kind": "staff", "category": "repairs", "description": "维修队"})
    post(f"/v1/organizations/{cleaners}/resources", {"kind": "staff", "category": "sanitation", "description": "清扫"})
    removed = post(f"/v1/organizations/{tax}/resources", {"kind": "staff", "category": "repairs", "description": "x"})
    post(f"/v1/organizations/{tax}/resources/{removed['id']}/remove", {})
    post("/v1/pairings", {"organization_id": school, "compound_id": compound,
                          "starts_on": str(today - timedelta(days=400))})
    ended = post("/v1/pairings", {"organization_id": former, "compound_id": compound,
                                  "starts_on": str(today - timedelta(days=400))})
    post(f"/v1/pairings/{ended['id']}/remove", {"ends_on": str(today - timedelta(days=2))})
    committee = post("/v1/committees", {"community_id": community, "name": "星光社区大党委"})["id"]
    for unit in (tax, plumbers, cleaners, leaving):
        post(f"/v1/committees/{committee}/units", {"organization_id": unit, "joined_on": str(today - timedelta(30)),
                                                   "member_name": "兼职委员"})
    post(f"/v1/committees/{committee}/units/{leaving}/leave", {"left_on": str(today), "reason": "搬离社区"})

    def learnt():
        with tickets.rt.factory() as s:
            roster = s.get(Committee, uuid.UUID(committee))
            return (roster is not None and roster.version == 6 and s.get(Compound, uuid.UUID(compound)) is not None
                    and len(s.scalars(select(Pairing.id)).all()) == 2
                    and s.scalar(select(Pairing.state).where(Pairing.id == uuid.UUID(ended["id"]))) == "removed"
                    and s.scalar(select(Resource.state).where(Resource.id == uuid.UUID(removed["id"]))) == "removed"
                    and len(s.scalars(select(Resource.id)).all()) == 4)

    wait_for(learnt, timeout=60, message="registry's pairings, committee and resources in tickets' read models")
    th = tickets.as_(world["district"]["id"], WRITE)
    ticket = tickets.client.post("/v1/tickets", json={
        "compound_id": compound, "category": "facilities", "title": "楼道灯坏了", "description": "3栋楼道灯不亮",
        "reporter_name": "王阿姨", "reporter_phone": PHONE}, headers=th)
    assert ticket.status_code == 201, ticket.json
    r = tickets.client.get(f"/v1/tickets/{ticket.json['id']}/suggestions", headers=th)
    assert r.status_code == 200, r.json
    # The paired school; the plumbers, whose repairs serve facilities; then the others by name (区 before 环).
    # Not the unit that left nor the pairing that ended; the tax office's repairs were taken off its list.
    assert [(i["organization_id"], i["name"], i["kind"], [x["code"] for x in i["reasons"]]) for i in r.json["items"]
            ] == [(school, "永川中学", "school", ["paired"]),
                  (plumbers, "水电维修公司", "enterprise", ["resource_match", "committee_unit"]),
                  (tax, "区税务局", "government_agency", ["committee_unit"]),
                  (cleaners, "环卫所", "government_agency", ["committee_unit"])]
    # A second report of the same problem names the first as a possible duplicate, on real PostgreSQL.
    with statements_sent(tickets.rt.engine) as seen:
        again = tickets.client.post("/v1/tickets", json={
            "compound_id": compound, "category": "facilities", "title": "3栋楼道灯坏了", "description": "楼道灯不亮",
            "reporter_name": "李大爷", "reporter_phone": "13900001111"}, headers=th)
    assert again.status_code == 201, again.json
    assert [s["id"] for s in again.json["similar"]] == [ticket.json["id"]]
    similar = tickets.client.get(f"/v1/tickets/{ticket.json['id']}/similar", headers=th)
    assert [s["id"] for s in similar.json["items"]] == [again.json["id"]]
    # Intake's look for duplicates (in the statement that reads the compound) reads the index range of the compound
    # and window, not the table.
    statement, parameters = next((s, p) for s, p in seen if s.lstrip().startswith("SELECT") and "FROM tickets" in s)
    plan = plan_of(tickets.rt.engine, statement, parameters, "enable_seqscan")
    assert "ix_tickets_compound_created" in plan and "Limit" in plan, plan
