"""The area events of a bulk import, a move and a grid's coverage, on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

from bench.registry import as_csv, street_rows
from tests.support.collector import Collector
from tests.support.waiting import wait_for


def test_an_imported_street_s_events_all_arrive_and_so_do_a_move_and_a_coverage_change(live, bus, run_threads):
    registry = live("registry", bus)
    collector = Collector(bus)
    run_threads(registry.rt.relay().run)
    district = registry.client.post("/v1/areas", json={"level": "district", "name": "永川区"},
                                    headers=registry.as_("*", "registry:admin")).json
    h = registry.as_(district["id"], "registry:write registry:read")
    r = registry.client.post("/v1/areas/import", data=as_csv(street_rows()).encode(),
                             headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.get_data(as_text=True)[:500]
    imported = {item["id"] for item in r.json["items"]}
    assert len(imported) == 1200
    wait_for(lambda: {e["subject"] for e in collector.of_type("registry.area.created")} >= imported, timeout=60,
             message="an area.created event for every imported area")

    by_level = {}
    for item in r.json["items"]:
        by_level.setdefault(item["level"], []).append(item)
    grid, compound = by_level["grid"][0], next(c for c in by_level["compound"]
                                               if c["path"].rsplit("/", 1)[0] == by_level["grid"][0]["path"]
                                               .rsplit("/", 1)[0])
    other_community = next(c for c in by_level["community"] if not grid["path"].startswith(c["path"] + "/"))
    covered = registry.client.put(f"/v1/areas/{grid['id']}/coverage", json={"area_ids": [compound["id"]]},
                                  headers=h)
    assert covered.status_code == 200, covered.json
    registry.client.put(f"/v1/areas/{grid['id']}/coverage", json={"area_ids": []}, headers=h)
    moved = registry.client.post(f"/v1/areas/{compound['id']}/move", json={"parent_id": other_community["id"]},
                                 headers=h)
    assert moved.status_code == 200, moved.json
    wait_for(lambda: len(collector.of_type("registry.area.coverage_changed")) == 2
             and collector.of_type("registry.area.moved"), timeout=30, message="the coverage and move events")
    first, cleared = collector.of_type("registry.area.coverage_changed")
    assert first["data"]["covered_area_ids"] == [compound["id"]] and cleared["data"]["covered_area_ids"] == []
    [event] = collector.of_type("registry.area.moved")
    assert (event["subject"], event["data"]["parent_id"]) == (compound["id"], other_community["id"])
    collector.close()
