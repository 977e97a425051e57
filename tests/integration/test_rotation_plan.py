"""The rotating chair on real PostgreSQL and RabbitMQ: registry's unit events re-plan the rotation through the
bus, the sitting chair leaving hands its term over, and every rotation event reaches the exchange."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from linli.services.rotation.domain import add_months
from linli.services.rotation.models import CommitteeUnit
from linli.shared.tables import outbox
from tests.support.collector import Collector
from tests.support.registry_world import yongchuan_over_http
from tests.support.waiting import wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def _units_known(rotation, committee_id: str) -> int:
    with rotation.rt.factory() as session:
        return session.scalar(select(func.count()).select_from(CommitteeUnit).where(
            CommitteeUnit.committee_id == committee_id, CommitteeUnit.left_on.is_(None))) or 0


def _registry_committee(registry, names: list[str]) -> tuple[dict, dict, list[dict]]:
    world = yongchuan_over_http(registry)
    clerk = world["clerk"]
    committee = registry.client.post("/v1/committees", json={"community_id": world["community"]["id"],
                                                             "name": "星光社区大党委"}, headers=clerk).json
    organizations = []
    for name in names:
        org = registry.client.post("/v1/organizations", json={"kind": "hospital", "name": name,
                                                              "contact_phone": "13812345678"}, headers=clerk)
        assert org.status_code == 201, org.json
        organizations.append(org.json)
    return world, committee, organizations


def _join(registry, clerk, committee, organization, joined_on="2020-01-01") -> None:
    r = registry.client.post(f"/v1/committees/{committee['id']}/units", json={
        "organization_id": organization["id"], "joined_on": joined_on, "member_name": "王委员",
        "member_phone": "13912345678"}, headers=clerk)
    assert r.status_code == 201, r.json


def test_registry_unit_events_replan_through_the_bus_and_the_sitting_chair_leaving_hands_over(live, bus,
                                                                                              run_threads):
    registry, rotation = live("registry", bus), live("rotation", bus)
    collector = Collector(bus)
    worker = rotation.rt.worker()
    run_threads(registry.rt.relay().run, rotation.rt.relay().run, worker.run)
    assert worker.ready.wait(15)
    world, committee, organizations = _registry_committee(registry, ["永川区人民医院", "永川供电公司", "中山路派出所"])
    clerk = world["clerk"]
    for organization in organizations:
        _join(registry, clerk, committee, organization)
    wait_for(lambda: _units_known(rotation, committee["id"]) == 3, timeout=30, message="the three units in rotation")

    # Monthly terms from two months ago: one term is running now.
    starts_on = add_months(_today().replace(day=1), -2)
    h = rotation.as_(world["district"]["id"], "rotation:read rotation:write")
    created = rotation.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": 1,
                                                          "starts_on": starts_on.isoformat()}, headers=h)
    assert created.status_code == 201, created.json
    sitting = rotation.client.get(f"/v1/rotations/{created.json['id']}/chair", headers=h).json["term"]
    leaver = next(o for o in organizations if o["id"] == sitting["organization_id"])

    # A fourth unit joins: the rotation worker re-plans from registry's event.
    newcomer = registry.client.post("/v1/organizations", json={"kind": "school", "name": "永川区第二中学",
                                                               "contact_phone": "13812345678"}, headers=clerk).json
    _join(registry, clerk, committee, newcomer, joined_on=_today().isoformat())
    wait_for(lambda: [e for e in collector.of_type("rotation.schedule.changed")
                      if e["data"]["cause"] == "unit_joined"], timeout=30, message="the re-plan after the join")
    wait_for(lambda: "永川区第二中学" in {t["organization_name"] for t in rotation.client.get(
        f"/v1/terms?rotation_id={created.json['id']}&limit=50", headers=h).json["items"]}, timeout=10,
        message="the newcomer in the plan")

    # The sitting chair leaves today: the rest of its term goes to the next unit.
    left = registry.client.post(f"/v1/committees/{committee['id']}/units/{leaver['id']}/leave",
                                json={"left_on": _today().isoformat(), "reason": "单位撤并"}, headers=clerk)
    assert left.status_code == 200, left.json
    wait_for(lambda: collector.of_type("rotation.term.handed_over"), timeout=30, message="the handover")
    [handover] = collector.of_type("rotation.term.handed_over")
    data = handover["data"]
    assert (data["cause"], data["reason"], data["handed_over_on"]) == ("chair_left", "单位撤并", _today().isoformat())
    assert data["previous"]["organization_name"] == leaver["name"] and data["committee_name"] == "星光社区大党委"
    assert data["term"]["organization_id"] not in (None, leaver["id"])
    now = rotation.client.get(f"/v1/rotations/{created.json['id']}/chair", headers=h).json["term"]
    assert now["id"] == data["term"]["id"] and now["reason"] == "handover"
    # The leaver chairs nothing from today on; its term was cut to end yesterday.
    assert rotation.client.get(f"/v1/terms?organization_id={leaver['id']}", headers=h).json["items"] == []
    cut = rotation.client.get(f"/v1/terms/{sitting['id']}", headers=h).json
    assert (cut["ends_on"], cut["organization_id"]) == ((_today() - timedelta(days=1)).isoformat(), leaver["id"])
    collector.close()


def test_every_rotation_event_reaches_the_exchange(live, bus, run_threads):
    rotation = live("rotation", bus)
    collector = Collector(bus)
    run_threads(rotation.rt.relay().run)
    district = "d-" + datetime.now(UTC).strftime("%H%M%S%f")
    units = {}

    def committee(name: str, unit_names: list[str]) -> str:
        data = {"id": str(uuid.uuid4()), "district_id": district,
                "community_id": str(uuid.uuid4()), "name": name, "time_zone": "Asia/Shanghai",
                "units": [], "version": 1}
        assert rotation.deliver("registry.committee.created", data) == "applied"
        for unit_name in unit_names:
            unit = {"organization_id": str(uuid.uuid4()), "organization_name": unit_name,
                    "organization_kind": "hospital", "joined_on": "2020-01-01"}
            units[unit_name] = unit["organization_id"]
            data = {**data, "units": [*data["units"], unit], "version": data["version"] + 1}
            assert rotation.deliver("registry.committee.unit_joined", {**data, **unit}) == "applied"
        return data["id"]

    h = rotation.as_(district, "rotation:read rotation:write")
    staffed = committee("星光社区大党委", ["永川区人民医院", "永川供电公司", "中山路派出所"])
    empty = committee("棠城社区大党委", [])
    starts_on = add_months(_today().replace(day=1), 1).isoformat()
    main = rotation.client.post("/v1/rotations", json={"committee_id": staffed, "term_months": 1,
                                                       "starts_on": starts_on}, headers=h).json
    assert rotation.client.post("/v1/rotations", json={"committee_id": empty, "term_months": 3,
                                                       "starts_on": starts_on}, headers=h).status_code == 201
    terms = rotation.client.get(f"/v1/rotations/{main['id']}/schedule", headers=h).json["items"]
    patched = rotation.client.patch(f"/v1/rotations/{main['id']}", json={
        "order_policy": "explicit", "order": [units["中山路派出所"]]}, headers=h)
    assert patched.status_code == 200, patched.json
    terms = rotation.client.get(f"/v1/rotations/{main['id']}/schedule", headers=h).json["items"]
    spare = next(u for u in units.values() if u != terms[3]["organization_id"])
    override = rotation.client.post("/v1/overrides", json={"term_id": terms[3]["id"], "organization_id": spare,
                                                           "reason": "换届"}, headers=h).json
    assert rotation.client.post(f"/v1/overrides/{override['id']}/cancel", json={}, headers=h).status_code == 200
    terms = rotation.client.get(f"/v1/rotations/{main['id']}/schedule", headers=h).json["items"]
    # One swap accepted, one declined, and one left unanswered until its first term begins.
    late = next(t for t in terms[3:] if t["organization_id"] != terms[0]["organization_id"])
    swaps = []
    for a, b in ((terms[1], terms[2]), (terms[4], terms[5]), (terms[0], late)):
        r = rotation.client.post("/v1/swaps", json={"term_id": a["id"], "with_term_id": b["id"], "reason": "r"},
                                 headers=h)
        assert r.status_code == 201, r.json
        swaps.append(r.json)
    assert rotation.client.post(f"/v1/swaps/{swaps[0]['id']}/accept", json={}, headers=h).status_code == 200
    assert rotation.client.post(f"/v1/swaps/{swaps[1]['id']}/decline", json={}, headers=h).status_code == 200
    # The clock at the first term's start: the term begins and the swap on it expires.
    first_start = datetime.fromisoformat(terms[0]["starts_at"])
    assert rotation.rt.clock(now=lambda: first_start).tick() >= 2
    expected = ["rotation.rotation.created", "rotation.rotation.updated", "rotation.schedule.changed",
                "rotation.schedule.gap_found", "rotation.override.created", "rotation.override.cancelled",
                "rotation.swap.requested", "rotation.swap.accepted", "rotation.swap.declined",
                "rotation.swap.expired", "rotation.term.scheduled", "rotation.term.started"]
    wait_for(lambda: all(collector.of_type(key) for key in expected), timeout=30,
             message=f"every rotation event on the bus, saw {sorted({e['type'] for e in collector.events})}")
    # Each term planned when the rotation was set up was scheduled on its own, in the calendar's order.
    [created] = [e for e in collector.of_type("rotation.schedule.changed")
                 if e["subject"] == main["id"] and e["data"]["cause"] == "rotation_created"]
    wait_for(lambda: len([e for e in collector.of_type("rotation.term.scheduled")
                          if e["subject"] == main["id"] and e["data"]["cause"] == "rotation_created"])
             == len(created["data"]["added"]), timeout=30, message="a term.scheduled per term planned")
    assert [e["data"]["term_id"] for e in collector.of_type("rotation.term.scheduled")
            if e["subject"] == main["id"] and e["data"]["cause"] == "rotation_created"] == [
        t["id"] for t in created["data"]["added"]]
    [started] = [e for e in collector.of_type("rotation.term.started") if e["subject"] == main["id"]]
    assert started["data"]["organization_name"] in units and started["data"]["starts_on"] == starts_on
    [expired] = collector.of_type("rotation.swap.expired")
    assert expired["subject"] == swaps[2]["id"] and expired["data"]["committee_name"] == "星光社区大党委"
    assert collector.of_type("rotation.schedule.gap_found")[0]["data"]["committee_name"] == "棠城社区大党委"
    collector.close()


def test_two_clocks_announce_each_term_once_in_order_on_postgresql(live, bus, run_threads):
    rotation = live("rotation", bus)
    district = "d-clocks"
    data = {"id": str(uuid.uuid4()), "district_id": district,
            "community_id": str(uuid.uuid4()), "name": "星光社区大党委", "time_zone": "Asia/Shanghai",
            "units": [{"organization_id": str(uuid.uuid4()), "organization_name": name,
                       "organization_kind": "hospital", "joined_on": "2020-01-01"} for name in ("甲", "乙")],
            "version": 1}
    assert rotation.deliver("registry.committee.created", data) == "applied"
    h = rotation.as_(district, "rotation:read rotation:write")
    starts_on = add_months(_today().replace(day=1), -5).isoformat()
    created = rotation.client.post("/v1/rotations", json={"committee_id": data["id"], "term_months": 1,
                                                          "starts_on": starts_on}, headers=h)
    assert created.status_code == 201, created.json
    clocks = [rotation.rt.clock() for _ in range(2)]
    done = threading.Event()

    def run(clock):
        def loop(stop):
            while not stop.is_set() and not done.is_set():
                clock.tick()
                stop.wait(0.01)
        return loop

    run_threads(*(run(c) for c in clocks))

    def announced():
        with rotation.rt.factory() as session:
            rows = session.execute(select(outbox.c.body).where(outbox.c.routing_key == "rotation.term.started")
                                   .order_by(outbox.c.seq)).all()
            return [json.loads(row.body)["data"]["index"] for row in rows]

    wait_for(lambda: len(announced()) >= 6, timeout=30, message="the missed terms announced")
    done.set()
    # Terms 0 to 5 (this month's is 5) once each, in order, whichever clock fired them.
    assert announced() == [0, 1, 2, 3, 4, 5]
    names = {t["organization_name"] for t in rotation.client.get(
        f"/v1/rotations/{created.json['id']}/schedule", headers=h).json["items"]}
    assert names == {"甲", "乙"}
