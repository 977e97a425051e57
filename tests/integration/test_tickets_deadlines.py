"""tickets' deadlines on real PostgreSQL and RabbitMQ: two clocks at once tell each reminder and each overdue once,
and an overdue dispatched ticket names the rotating chair and the convenor learnt from registry's and rotation's
own events on the bus."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import kombu
from sqlalchemy import func, select

from linli.services.tickets.models import ChairTerm, Committee, Compound, Organization, Ticket
from linli.shared.db import utcnow
from linli.shared.events import encode
from linli.shared.tables import outbox, timers
from tests.support.apps import cloud_event
from tests.support.collector import Collector
from tests.support.registry_world import yongchuan_over_http
from tests.support.waiting import wait_for

PHONE = "13812345678"
WRITE = "tickets:read tickets:write"


def _clocks(tickets, run_threads, now) -> None:
    """Two clock replicas of tickets on one database, ticking every 50 ms at the instant `now()` says."""
    for _ in range(2):
        clock = tickets.rt.clock(now=now)
        run_threads(lambda stop, clock=clock: clock.run(stop, tick_seconds=0.05))


def _told(collector, key) -> Counter:
    return Counter(event["subject"] for event in collector.of_type(key))


def test_two_clocks_tell_each_reminder_and_each_overdue_once(live, bus, run_threads):
    tickets = live("tickets", bus)
    district = str(uuid.uuid4())
    collector = Collector(bus, binding="tickets.ticket.#")
    compound = {"id": str(uuid.uuid4()), "district_id": district, "parent_id": str(uuid.uuid4()),
                "level": "compound", "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    unit = {"id": str(uuid.uuid4()), "district_id": district, "kind": "agency", "name": "中山路派出所", "version": 1}
    assert tickets.deliver("registry.area.created", compound) == "applied"
    assert tickets.deliver("registry.organization.created", unit) == "applied"
    h = tickets.as_(district, WRITE)
    start = utcnow()
    waiting, dispatched = [], []
    for i in range(8):
        r = tickets.client.post("/v1/tickets", json={
            "compound_id": compound["id"], "title": f"楼道灯坏了{i}", "description": "一周没亮",
            "reporter_name": "王阿姨", "reporter_phone": PHONE, "urgency": "urgent" if i % 2 else "normal"}, headers=h)
        assert r.status_code == 201, r.json
        if i % 2:
            # Urgent, sent to a unit at once: its deadline is the unit's part, 24 hours from now.
            d = tickets.client.post(f"/v1/tickets/{r.json['id']}/dispatch",
                                    json={"units": [{"unit_id": unit["id"], "lead": True}]}, headers=h)
            assert d.status_code == 200, d.json
            dispatched.append(r.json["id"])
        else:
            waiting.append(r.json["id"])  # to be accepted within 24 hours
    every = waiting + dispatched

    # Every deadline is 24 hours away and reminded of at 19.2 hours: the clocks run first at 20 hours from now,
    # then at 25, on a frozen instant each replica reads.
    moment = [start + timedelta(hours=20)]
    run_threads(tickets.rt.relay().run)
    _clocks(tickets, run_threads, lambda: moment[0])
    wait_for(lambda: len(_told(collector, "tickets.ticket.due_soon")) == len(every), timeout=30,
             message="a reminder of every ticket")
    moment[0] = start + timedelta(hours=25)
    wait_for(lambda: len(_told(collector, "tickets.ticket.overdue")) == len(every), timeout=30,
             message="an overdue of every ticket")

    with tickets.rt.factory() as s:
        # Nothing left to fire, and every event the clocks wrote has reached the exchange: the collector has all.
        assert s.scalar(select(func.count()).select_from(timers).where(timers.c.fired_at.is_(None))) == 0
        # The reporters' contacts go to linli.private, which this collector does not read.
        written = s.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.routing_key != "tickets.ticket.contact"))
    wait_for(lambda: len(collector.events) == written, timeout=30, message="every event written, on the exchange")
    assert _told(collector, "tickets.ticket.due_soon") == Counter(every)
    assert _told(collector, "tickets.ticket.overdue") == Counter(every)
    for event in collector.of_type("tickets.ticket.overdue"):
        data = event["data"]
        if event["subject"] in dispatched:
            assert (data["stage"], data["unit_ids"], data["parts"][0]["overdue"]) == ("resolve", [unit["id"]], True)
        else:
            assert (data["stage"], data["unit_ids"]) == ("accept", [])
        assert data["escalation"] is None and data["overdue"] is True  # no committee known for this community
    collector.close()


def _publish(bus, key: str, data: dict, *, subject: str) -> None:
    with kombu.Connection(bus.url) as conn:
        kombu.Producer(conn.channel()).publish(
            encode(cloud_event(key, data, subject=subject)), exchange=bus.exchange, routing_key=key,
            content_type="application/cloudevents+json", content_encoding="binary")


def test_an_overdue_dispatched_ticket_names_the_chair_and_convenor_from_registry_and_rotation(live, bus, run_threads):
    registry, rotation, tickets = live("registry", bus), live("rotation", bus), live("tickets", bus)
    workers = [rotation.rt.worker(), tickets.rt.worker()]
    run_threads(*(w.run for w in workers), registry.rt.relay().run, rotation.rt.relay().run, tickets.rt.relay().run)
    assert all(w.ready.wait(10) for w in workers)
    collector = Collector(bus, binding="#")

    w = yongchuan_over_http(registry)
    hospital = registry.client.post("/v1/organizations", json={"kind": "hospital", "name": "永川区人民医院"},
                                    headers=w["clerk"]).json
    school = registry.client.post("/v1/organizations", json={"kind": "school", "name": "永川中学"},
                                  headers=w["clerk"]).json
    member = registry.client.post("/v1/members", json={"name": "李书记", "phone": "13900001111",
                                                       "compound_id": w["compound"]["id"]}, headers=w["clerk"])
    assert member.status_code == 201, member.json
    committee = registry.client.post("/v1/committees", json={
        "community_id": w["community"]["id"], "name": "星光社区大党委", "convenor_name": "李书记",
        "convenor_member_id": member.json["id"]}, headers=w["clerk"])
    assert committee.status_code == 201, committee.json
    for unit in (school, hospital):
        joined = registry.client.post(f"/v1/committees/{committee.json['id']}/units", json={
            "organization_id": unit["id"], "joined_on": "2025-01-01", "member_name": "王委员"}, headers=w["clerk"])
        assert joined.status_code == 201, joined.json
    read = registry.client.get(f"/v1/committees/{committee.json['id']}", headers=w["clerk"])
    renamed = registry.client.patch(f"/v1/committees/{committee.json['id']}", json={"name": "星光社区联合大党委"},
                                    headers={**w["clerk"], "If-Match": read.headers["ETag"]})
    assert renamed.status_code == 200, renamed.json

    # rotation learns the committee from registry, then its clock starts the term begun two days ago.
    starts_on = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    rh = rotation.as_(w["district"]["id"], "rotation:read rotation:write")
    wait_for(lambda: rotation.client.post("/v1/rotations", json={
        "committee_id": committee.json["id"], "term_months": 1, "starts_on": starts_on}, headers=rh).status_code == 201,
        timeout=30, message="rotation knowing the committee")
    assert rotation.rt.clock().tick() >= 1
    [started] = wait_for(lambda: collector.of_type("rotation.term.started"), timeout=30, message="term.started")
    term_start = datetime.fromisoformat(started["data"]["starts_at"].replace("Z", "+00:00"))
    # The sitting chair's unit as rotation names it in a handover: the school took over a day into the term.
    handover = {**started["data"], "organization_id": school["id"], "organization_name": "永川中学",
                "starts_at": (term_start + timedelta(days=1)).isoformat()}
    _publish(bus, "rotation.term.handed_over", handover, subject=started["subject"])

    def learnt() -> bool:
        with tickets.rt.factory() as s:
            kept = s.get(Committee, uuid.UUID(committee.json["id"]))
            return (s.get(Compound, uuid.UUID(w["compound"]["id"])) is not None
                    and s.get(Organization, uuid.UUID(hospital["id"])) is not None
                    and kept is not None and kept.name == "星光社区联合大党委"
                    and s.scalar(select(func.count()).select_from(ChairTerm)) == 2)

    wait_for(learnt, timeout=30, message="the compound, the unit, the committee and both chairs in tickets")

    th = tickets.as_(w["district"]["id"], WRITE)
    ticket = tickets.client.post("/v1/tickets", json={
        "compound_id": w["compound"]["id"], "title": "老人突发疾病", "description": "需要医生上门", "urgency": "urgent",
        "reporter_name": "王阿姨", "reporter_phone": PHONE}, headers=th)
    assert ticket.status_code == 201, ticket.json
    dispatched = tickets.client.post(f"/v1/tickets/{ticket.json['id']}/dispatch",
                                     json={"units": [{"unit_id": hospital["id"], "lead": True}]}, headers=th)
    assert dispatched.status_code == 200, dispatched.json
    due = datetime.fromisoformat(dispatched.json["due_at"])
    assert tickets.rt.clock(now=lambda: due + timedelta(seconds=1)).tick() == 1

    [overdue] = wait_for(lambda: collector.of_type("tickets.ticket.overdue"), timeout=30, message="the overdue")
    assert overdue["subject"] == ticket.json["id"] and overdue["data"]["unit_ids"] == [hospital["id"]]
    escalation = dict(overdue["data"]["escalation"])
    ends_at = datetime.fromisoformat(escalation.pop("chair_term_ends_at"))
    assert escalation == {
        "committee_id": committee.json["id"], "committee_name": "星光社区联合大党委",
        "chair_unit_id": school["id"], "chair_unit_name": "永川中学", "chair_term_index": started["data"]["index"],
        "convenor_name": "李书记", "convenor_member_id": member.json["id"]}
    assert ends_at == datetime.fromisoformat(started["data"]["ends_at"].replace("Z", "+00:00"))
    assert overdue["data"]["community_id"] == w["community"]["id"]
    assert "13900001111" not in str(overdue) and PHONE not in str(overdue)
    collector.close()


def test_the_clock_leaves_a_ticket_being_moved_and_tells_its_overdue_once_the_move_is_done(live, bus):
    tickets = live("tickets", bus)
    district = str(uuid.uuid4())
    compound = {"id": str(uuid.uuid4()), "district_id": district, "parent_id": str(uuid.uuid4()),
                "level": "compound", "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    assert tickets.deliver("registry.area.created", compound) == "applied"
    r = tickets.client.post("/v1/tickets", json={
        "compound_id": compound["id"], "title": "楼道灯坏了", "description": "一周没亮", "reporter_name": "王阿姨",
        "reporter_phone": PHONE}, headers=tickets.as_(district, WRITE))
    assert r.status_code == 201, r.json
    due = datetime.fromisoformat(r.json["due_at"])
    clock = tickets.rt.clock(now=lambda: due + timedelta(seconds=1))
    with tickets.rt.factory() as move:
        # A move holds the ticket (and would next re-arm its timer): the clock must neither wait for it, holding
        # the timer the move needs, nor lose the deadline.
        move.execute(select(Ticket).where(Ticket.id == uuid.UUID(r.json["id"])).with_for_update())
        assert clock.tick() == 0
        move.rollback()
    assert clock.tick() == 1 and clock.tick() == 0
    with tickets.rt.factory() as s:
        told = s.scalars(select(outbox.c.routing_key).where(outbox.c.aggregate_id == r.json["id"])
                         .order_by(outbox.c.seq)).all()
    assert told == ["tickets.ticket.contact", "tickets.ticket.submitted", "tickets.ticket.overdue"]
