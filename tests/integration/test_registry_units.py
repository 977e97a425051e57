"""Organizations and committee units on real PostgreSQL and RabbitMQ: contacts travel on the private exchange only."""

from __future__ import annotations

import json

from linli.shared.bus import private_exchange
from tests.support.collector import Collector
from tests.support.waiting import wait_for

PHONE = "13912345678"


def test_contacts_go_private_and_the_public_events_carry_no_phone(live, bus, run_threads):
    registry = live("registry", bus)
    public = Collector(bus)
    private = Collector(bus, name="test.dupes", exchange=private_exchange(bus))
    run_threads(registry.rt.relay().run)
    district = registry.client.post("/v1/areas", json={"level": "district", "name": "永川区"},
                                    headers=registry.as_("*", "registry:admin")).json
    h = registry.as_(district["id"], "registry:write registry:read")
    street = registry.client.post("/v1/areas", json={"level": "street", "name": "中山路街道",
                                                     "parent_id": district["id"]}, headers=h).json
    community = registry.client.post("/v1/areas", json={"level": "community", "name": "星光社区",
                                                        "parent_id": street["id"]}, headers=h).json
    committee = registry.client.post("/v1/committees", json={"community_id": community["id"], "name": "星光社区大党委",
                                                             "convenor_name": "张书记"}, headers=h).json
    hospital = registry.client.post("/v1/organizations", json={
        "kind": "hospital", "name": "永川区人民医院", "contact_person": "李主任", "contact_phone": PHONE}, headers=h)
    assert hospital.status_code == 201, hospital.json
    joined = registry.client.post(f"/v1/committees/{committee['id']}/units", json={
        "organization_id": hospital.json["id"], "joined_on": "2026-01-01", "member_name": "王医生",
        "member_phone": PHONE}, headers=h)
    assert joined.status_code in (200, 201), joined.json

    wait_for(lambda: public.of_type("registry.committee.unit_joined")
             and public.of_type("registry.organization.created"), timeout=30,
             message="the public organization and unit events")
    wait_for(lambda: private.of_type("registry.organization.contact")
             and private.of_type("registry.committee_unit.contact"), timeout=30, message="the private contact events")
    [contact] = private.of_type("registry.organization.contact")
    assert contact["data"]["contact_phone"] == PHONE and contact["subject"] == hospital.json["id"]
    [unit] = public.of_type("registry.committee.unit_joined")
    assert (unit["subject"], unit["data"]["organization_id"], unit["data"]["organization_name"]) == (
        committee["id"], hospital.json["id"], "永川区人民医院")
    # Nothing public carries the number, in any field, and nothing private leaks onto the public exchange.
    assert all(PHONE not in json.dumps(event, ensure_ascii=False) for event in public.events)
    assert not [e for e in public.events if e["type"].endswith(".contact")]
    assert not [e for e in private.events if not e["type"].endswith(".contact")]
    public.close()
    private.close()
