"""The tickets lifecycle on real PostgreSQL and RabbitMQ: every move's event reaches the exchange, and the units a
ticket goes to are learnt from registry's own organization events."""

from __future__ import annotations

import json
import uuid

from linli.services.tickets.models import Compound, Organization
from tests.support.collector import Collector
from tests.support.waiting import wait_for

PHONE = "13812345678"
DISTRICT = str(uuid.uuid4())
WRITE = "tickets:read tickets:write"


def _ticket(tickets, compound_id: str, **fields) -> str:
    body = {"compound_id": compound_id, "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
            "category": "facilities", "reporter_name": "王阿姨", "reporter_phone": PHONE, **fields}
    r = tickets.client.post("/v1/tickets", json=body, headers=tickets.as_(DISTRICT, WRITE))
    assert r.status_code == 201, r.json
    return r.json["id"]


def _moves(tickets, ticket_id: str, *steps: tuple[str, dict]) -> dict:
    answer: dict = {}
    for verb, body in steps:
        r = tickets.client.post(f"/v1/tickets/{ticket_id}/{verb}", json=body, headers=tickets.as_(DISTRICT, WRITE))
        assert r.status_code == 200, (verb, r.json)
        answer = r.json
    return answer


def test_every_lifecycle_event_is_published_with_the_ticket_after_its_move(live, bus, run_threads):
    tickets = live("tickets", bus)
    collector = Collector(bus, binding="tickets.ticket.*")
    run_threads(tickets.rt.relay().run)
    compound = {"id": str(uuid.uuid4()), "district_id": DISTRICT, "parent_id": str(uuid.uuid4()),
                "level": "compound", "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    assert tickets.deliver("registry.area.created", compound) == "applied"
    police, school, hospital = (str(uuid.uuid4()) for _ in range(3))
    for unit, name in ((police, "中山路派出所"), (school, "永川中学"), (hospital, "永川区人民医院")):
        assert tickets.deliver("registry.organization.created", {
            "id": unit, "district_id": DISTRICT, "kind": "agency", "name": name, "version": 1}) == "applied"
    member = str(uuid.uuid4())

    main = _ticket(tickets, compound["id"])
    duplicate = _ticket(tickets, compound["id"])
    refused = _ticket(tickets, compound["id"])
    _moves(tickets, duplicate, ("merge", {"master_id": main}))
    _moves(tickets, refused, ("reject", {"reason": "不属于小区事务"}))
    r = tickets.client.post(f"/v1/tickets/{main}/comments", json={"text": "已联系物业"},
                            headers=tickets.as_(DISTRICT, WRITE))
    assert r.status_code == 201, r.json
    closed = _moves(
        tickets, main,
        ("accept", {}), ("escalate", {"note": "小区解决不了"}), ("list", {}), ("claim", {"unit_id": police}),
        ("dispatch", {"units": [{"unit_id": school}]}), ("start", {"unit_id": police}),
        ("reroute", {"category": "environment", "units": [{"unit_id": hospital, "lead": True}]}),
        ("resolve", {"unit_id": hospital}), ("review", {"passed": False, "note": "没修好"}),
        ("resolve", {"unit_id": hospital, "participants": [{"member_id": member, "hours": 2.5}]}),
        ("review", {"passed": True}), ("rate", {"rating": "satisfied", "comment": "满意"}))
    assert closed["state"] == "closed"

    verbs = ("accepted", "rejected", "started", "escalated", "listed", "dispatched", "claimed", "resolved",
             "rerouted", "reviewed", "rated", "closed", "merged", "reopened", "commented")
    wait_for(lambda: all(collector.of_type(f"tickets.ticket.{verb}") for verb in verbs)
             and len(collector.of_type("tickets.ticket.closed")) == 2, timeout=30,
             message="an event of every lifecycle verb")
    of_main = [e["type"].removeprefix("linli.tickets.ticket.") for e in collector.events
               if e["subject"] == main and e["type"] != "linli.tickets.ticket.submitted"]
    assert of_main == ["commented", "accepted", "escalated", "listed", "claimed", "dispatched", "started", "rerouted",
                       "resolved", "reviewed", "reopened", "resolved", "reviewed", "rated", "closed"]
    [rerouted] = collector.of_type("tickets.ticket.rerouted")
    assert (rerouted["data"]["previous_unit_ids"], rerouted["data"]["previous_category"]) == (
        [police, school], "facilities")
    assert [p["unit_id"] for p in rerouted["data"]["parts"]] == [police, school, hospital]
    closes = {e["subject"]: e["data"] for e in collector.of_type("tickets.ticket.closed")}
    assert closes[main]["participants"] == [{"member_id": member, "hours": 2.5}]
    assert (closes[main]["closed_reason"], closes[duplicate]["closed_reason"]) == (None, "duplicate")
    assert closes[main]["compound_name"] == "星光小区" and closes[main]["community_id"] == compound["parent_id"]
    [rejected] = collector.of_type("tickets.ticket.rejected")
    assert rejected["data"]["move"]["reason"] == "不属于小区事务" and rejected["district"] == DISTRICT
    versions = [e["data"]["version"] for e in collector.events if e["subject"] == main
                and e["type"] not in ("linli.tickets.ticket.rated", "linli.tickets.ticket.reopened",
                                      "linli.tickets.ticket.commented")]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert all(PHONE not in json.dumps(event, ensure_ascii=False) for event in collector.events)
    collector.close()


def test_tickets_learns_units_and_compounds_from_registry_s_events_and_dispatches_to_them(live, bus, run_threads):
    registry = live("registry", bus)
    tickets = live("tickets", bus)
    worker = tickets.rt.worker()
    run_threads(registry.rt.relay().run, worker.run)
    assert worker.ready.wait(10)
    district = registry.client.post("/v1/areas", json={"level": "district", "name": "永川区"},
                                    headers=registry.as_("*", "registry:admin")).json
    h = registry.as_(district["id"], "registry:write registry:read")
    street = registry.client.post("/v1/areas", json={"level": "street", "name": "中山路街道",
                                                     "parent_id": district["id"]}, headers=h).json
    community = registry.client.post("/v1/areas", json={"level": "community", "name": "星光社区",
                                                        "parent_id": street["id"]}, headers=h).json
    compound = registry.client.post("/v1/areas", json={"level": "compound", "name": "星光小区", "kind": "old",
                                                       "parent_id": community["id"]}, headers=h).json
    hospital = registry.client.post("/v1/organizations", json={"kind": "hospital", "name": "永川区人民医院"},
                                    headers=h)
    assert hospital.status_code == 201, hospital.json
    renamed = registry.client.patch(f"/v1/organizations/{hospital.json['id']}", json={"name": "永川区中医院"},
                                    headers={**h, "If-Match": '"1"'})
    assert renamed.status_code == 200, renamed.json

    def learnt():
        with tickets.rt.factory() as s:
            unit = s.get(Organization, uuid.UUID(hospital.json["id"]))
            known = s.get(Compound, uuid.UUID(compound["id"]))
            return unit is not None and unit.version == 2 and known is not None and (unit, known)

    unit, known = wait_for(learnt, timeout=30, message="the organization and compound in tickets' read models")
    assert (unit.name, unit.kind, unit.district_id) == ("永川区中医院", "hospital", district["id"])
    assert known.community_id == uuid.UUID(community["id"])
    th = tickets.as_(district["id"], WRITE)
    body = {"compound_id": compound["id"], "title": "老人突发疾病", "description": "需要医生上门",
            "reporter_name": "王阿姨", "reporter_phone": PHONE, "urgency": "urgent"}
    ticket = tickets.client.post("/v1/tickets", json=body, headers=th)
    assert ticket.status_code == 201, ticket.json
    r = tickets.client.post(f"/v1/tickets/{ticket.json['id']}/dispatch",
                            json={"units": [{"unit_id": hospital.json["id"], "lead": True}]}, headers=th)
    assert r.status_code == 200, r.json
    assert [(p["unit_id"], p["lead"]) for p in r.json["parts"]] == [(hospital.json["id"], True)]
