"""Every event registry declares reaches real RabbitMQ from real PostgreSQL, on the exchange its privacy names.

The other registry integration tests look closely at particular events; this one walks a district through
every action so that no event of the catalogue goes untried, and a new one without a path here fails.
"""

from __future__ import annotations

from typing import Any

import linli.services.registry.events  # noqa: F401 - declares registry's events in the catalogue
from linli.shared.bus import private_exchange
from linli.shared.events import CATALOGUE
from tests.support.collector import Collector
from tests.support.waiting import wait_for

REGISTRY_EVENTS = {key for key in CATALOGUE if key.startswith("registry.")}


def test_every_registry_event_is_published_to_its_exchange(live, bus, run_threads):
    registry = live("registry", bus)
    public = Collector(bus, binding="registry.#")
    private = Collector(bus, binding="registry.#", name="test.dupes", exchange=private_exchange(bus))
    run_threads(registry.rt.relay().run)
    op = registry.as_("*", "registry:admin")

    def call(method: str, path: str, body: dict[str, Any] | None = None, status: int = 200,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        r = registry.client.open(path, method=method, json=body or {}, headers={**op, **(headers or {})})
        assert r.status_code == status, (path, r.status_code, r.json)
        return r.json

    district = call("POST", "/v1/areas", {"level": "district", "name": "永川区"}, 201)
    street = call("POST", "/v1/areas", {"level": "street", "name": "中山路街道", "parent_id": district["id"]}, 201)
    other_street = call("POST", "/v1/areas", {"level": "street", "name": "胜利路街道", "parent_id": district["id"]},
                        201)
    community = call("POST", "/v1/areas", {"level": "community", "name": "星光社区", "parent_id": street["id"]}, 201)
    compound = call("POST", "/v1/areas", {"level": "compound", "name": "星光小区", "kind": "managed",
                                          "parent_id": community["id"]}, 201)
    elsewhere = call("POST", "/v1/areas", {"level": "compound", "name": "兴龙湖小区", "kind": "managed",
                                           "parent_id": community["id"]}, 201)
    grid = call("POST", "/v1/areas", {"level": "grid", "name": "第一网格", "parent_id": community["id"]}, 201)
    call("PUT", f"/v1/areas/{grid['id']}/coverage", {"area_ids": [compound["id"]]})
    call("PATCH", f"/v1/areas/{compound['id']}", {"households": 312}, headers={"If-Match": '"1"'})
    lone = call("POST", "/v1/areas", {"level": "community", "name": "胜利社区", "parent_id": street["id"]}, 201)
    call("POST", f"/v1/areas/{lone['id']}/move", {"parent_id": other_street["id"]})

    hospital = call("POST", "/v1/organizations", {"kind": "hospital", "name": "永川区人民医院",
                                                  "district_id": district["id"], "contact_phone": "13800000000"}, 201)
    call("PATCH", f"/v1/organizations/{hospital['id']}", {"address": "永川区中山路1号"},
         headers={"If-Match": f'"{hospital["version"]}"'})
    resource = call("POST", f"/v1/organizations/{hospital['id']}/resources",
                    {"kind": "staff", "category": "medical", "description": "义诊医生2名"}, 201)
    call("POST", f"/v1/organizations/{hospital['id']}/resources/{resource['id']}/remove")
    pairing = call("POST", "/v1/pairings", {"organization_id": hospital["id"], "compound_id": compound["id"],
                                            "starts_on": "2026-01-01"}, 201)
    call("POST", f"/v1/pairings/{pairing['id']}/remove", {"ends_on": "2026-06-30", "reason": "换届"})

    committee = call("POST", "/v1/committees", {"community_id": community["id"], "name": "星光社区大党委"}, 201)
    call("PATCH", f"/v1/committees/{committee['id']}", {"convenor_name": "张书记"},
         headers={"If-Match": f'"{committee["version"]}"'})
    call("POST", f"/v1/committees/{committee['id']}/units", {
        "organization_id": hospital["id"], "joined_on": "2026-01-01", "member_name": "王医生",
        "member_phone": "13900000000"}, 201)
    call("POST", f"/v1/committees/{committee['id']}/units/{hospital['id']}/leave",
         {"left_on": "2026-06-30", "reason": "工作调整"})

    member = call("POST", "/v1/members", {"name": "刘医生", "phone": "13900000001", "compound_id": compound["id"],
                                          "employer_id": hospital["id"]}, 201)
    call("PATCH", f"/v1/members/{member['id']}", {"skills": ["medical"]},
         headers={"If-Match": f'"{member["version"]}"'})
    pledge = call("POST", f"/v1/members/{member['id']}/pledges", {"text": "每月义诊一次"}, 201)
    call("POST", f"/v1/members/{member['id']}/pledges/{pledge['id']}/fulfil")
    refused = call("POST", "/v1/check-ins", {"member_id": member["id"]}, 201)
    call("POST", f"/v1/check-ins/{refused['id']}/reject", {"reason": "不是本小区住户"})
    first = call("POST", "/v1/check-ins", {"member_id": member["id"]}, 201)
    call("POST", f"/v1/check-ins/{first['id']}/confirm")
    moving = call("POST", "/v1/check-ins", {"member_id": member["id"], "compound_id": elsewhere["id"]}, 201)
    call("POST", f"/v1/check-ins/{moving['id']}/confirm")

    clinic = call("POST", "/v1/activities", {
        "host_organization_id": hospital["id"], "area_id": compound["id"], "title": "义诊", "category": "medical",
        "place": "活动室", "starts_at": "2026-03-01T01:00:00Z", "ends_at": "2026-03-01T03:00:00Z"}, 201)
    call("PATCH", f"/v1/activities/{clinic['id']}", {"place": "星光小区活动室"},
         headers={"If-Match": f'"{clinic["version"]}"'})
    call("POST", f"/v1/activities/{clinic['id']}/hold", {"attendees": [{"member_id": member["id"], "hours": 2}]})
    lecture = call("POST", "/v1/activities", {
        "host_organization_id": hospital["id"], "area_id": community["id"], "title": "讲座", "category": "legal_aid",
        "place": "社区", "starts_at": "2026-03-02T01:00:00Z", "ends_at": "2026-03-02T03:00:00Z"}, 201)
    call("POST", f"/v1/activities/{lecture['id']}/cancel", {"reason": "讲师生病"})
    logged = call("POST", "/v1/service-records", {"member_id": member["id"], "served_on": "2026-03-03",
                                                  "hours": 1.5, "category": "medical"}, 201)
    call("POST", f"/v1/service-records/{logged['id']}/reject", {"reason": "重复登记"})
    call("POST", f"/v1/members/{member['id']}/leave", {"left_on": "2026-09-30", "reason": "迁出"})

    def keys(collector: Collector) -> set[str]:
        return {e["type"].removeprefix("linli.") for e in list(collector.events)}

    def missing() -> set[str]:
        return REGISTRY_EVENTS - keys(public) - keys(private)

    wait_for(lambda: not missing(), timeout=60, message="every registry event")
    assert all(not CATALOGUE[key].private for key in keys(public)), keys(public)
    assert all(CATALOGUE[key].private for key in keys(private)), keys(private)
    assert all("13900000001" not in str(e) and "13800000000" not in str(e) for e in public.events)
    public.close()
    private.close()
