"""Term milestones and term reports on real PostgreSQL and RabbitMQ: registry's committee and activities and
tickets' lifecycle arrive over the bus, the clock tells each past term's milestones once and in order, and the
chair's report carries the figures of its term."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

import linli.services.registry.events
import linli.services.tickets.events  # noqa: F401 - their contracts, which publish() checks payloads against
from linli.services.rotation.domain import add_months, local_midnight
from linli.services.rotation.models import CommitteeUnit, TicketMoment
from linli.shared.clock import being_fired, schedule
from linli.shared.tables import outbox, timers
from tests.support.collector import Collector
from tests.support.proxy import TcpProxy
from tests.support.publishing import publish_as_producer as publish
from tests.support.ticket_events import moved_ticket
from tests.support.waiting import wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
NAMES = ("永川区人民医院", "永川供电公司", "中山路派出所")


def _instant(day: date, hour: int = 10) -> str:
    return (local_midnight(day, "Asia/Shanghai") + timedelta(hours=hour)).isoformat()


def _count(sut, model) -> int:
    with sut.rt.factory() as session:
        return session.query(model).count()


def _started(sut) -> int:
    with sut.rt.factory() as session:
        return session.scalar(select(func.count()).select_from(outbox).where(
            outbox.c.routing_key == "rotation.term.started")) or 0


def test_events_over_the_bus_make_the_figures_and_the_clock_tells_each_milestone_once_in_order(live, bus,
                                                                                                 run_threads):
    rotation = live("rotation", bus)
    collector = Collector(bus)
    worker = rotation.rt.worker()
    run_threads(rotation.rt.relay().run, worker.run)
    assert worker.ready.wait(15)
    district = "d-terms-" + uuid.uuid4().hex[:8]
    community, elsewhere, compound = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    units = [{"organization_id": str(uuid.uuid4()), "organization_name": name, "organization_kind": "hospital",
              "joined_on": "2020-01-01"} for name in NAMES]
    committee = {"id": str(uuid.uuid4()), "district_id": district, "community_id": community,
                 "name": "星光社区大党委", "time_zone": "Asia/Shanghai", "convenor_name": "张书记",
                 "convenor_member_id": None, "units": units, "version": 1}
    publish(bus, "registry.committee.created", committee, district=district)
    wait_for(lambda: _count(rotation, CommitteeUnit) == 3, timeout=30, message="the committee's units in rotation")

    # Monthly terms from two months back: terms 0 and 1 are over, term 2 runs.
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    first = add_months(today.replace(day=1), -2)
    second = add_months(first, 1)
    h = rotation.as_(district, "rotation:read rotation:write")
    created = rotation.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": 1,
                                                          "starts_on": first.isoformat(), "report_due_days": 3},
                                   headers=h)
    assert created.status_code == 201, created.json

    # In term 0: ticket one listed, dispatched, overdue twice and closed; ticket two listed (dispatched in term 1);
    # a ticket of another community; two activities, one by term 1's time.
    one, two, three = (str(uuid.uuid4()) for _ in range(3))
    for verb, state, ticket, version, day, where in (
            ("listed", "listed", one, 4, first + timedelta(days=2), community),
            ("dispatched", "dispatched", one, 5, first + timedelta(days=3), community),
            ("overdue", "dispatched", one, 6, first + timedelta(days=9), community),
            ("overdue", "dispatched", one, 7, first + timedelta(days=10), community),
            ("closed", "closed", one, 9, first + timedelta(days=20), community),
            ("listed", "listed", two, 4, first + timedelta(days=20), community),
            ("dispatched", "dispatched", two, 5, second + timedelta(days=1), community),
            ("listed", "listed", three, 4, first + timedelta(days=5), elsewhere)):
        publish(bus, f"tickets.ticket.{verb}", moved_ticket(
            verb, state, ticket_id=ticket, district_id=district, compound_id=compound, community_id=where,
            version=version, at=_instant(day)), district=district)
    for host, day, attendees in ((units[0], first + timedelta(days=6), 40), (units[1], second + timedelta(days=6), 9)):
        publish(bus, "registry.activity.held", {
            "id": str(uuid.uuid4()), "district_id": district, "host_organization_id": host["organization_id"],
            "host_organization_name": host["organization_name"], "area_id": community, "community_id": community,
            "title": "健康义诊", "description": None, "category": "medical", "place": "社区广场",
            "starts_at": _instant(day, 9), "ends_at": _instant(day, 11), "capacity": None, "sign_up_count": attendees,
            "state": "held", "held_at": _instant(day, 11), "attendee_count": attendees, "cancelled_at": None,
            "reason": None, "version": 3}, district=district)
    wait_for(lambda: _count(rotation, TicketMoment) == 8, timeout=30, message="every ticket moment in rotation")

    # Two clocks at once: every milestone up to now, once each, whichever clock fires it.
    done = threading.Event()

    def ticking(clock):
        def loop(stop):
            while not stop.is_set() and not done.is_set():
                clock.tick()
                stop.wait(0.01)
        return loop

    run_threads(*(ticking(rotation.rt.clock()) for _ in range(2)))
    wait_for(lambda: _started(rotation) >= 3, timeout=30, message="terms 0 to 2 started")
    term0 = rotation.client.get(f"/v1/terms?rotation_id={created.json['id']}&from={first.isoformat()}T00:00:00Z"
                                "&limit=1", headers=h).json["items"][0]
    assert term0["state"] == "ended" and term0["starts_on"] == first.isoformat()
    wait_for(lambda: _count(rotation, TicketMoment) == 8 and rotation.client.get(
        f"/v1/terms/{term0['id']}/figures", headers=h).json["activities_held"] == 1, timeout=30,
        message="the activity in the figures")
    figures = rotation.client.get(f"/v1/terms/{term0['id']}/figures", headers=h).json
    hosted = int(term0["organization_id"] == units[0]["organization_id"])
    assert {k: figures[k] for k in ("tickets_listed", "tickets_dispatched", "tickets_closed", "tickets_overdue",
                                    "activities_held", "activities_hosted_by_chair", "attendees")} == {
        "tickets_listed": 2, "tickets_dispatched": 1, "tickets_closed": 1, "tickets_overdue": 1,
        "activities_held": 1, "activities_hosted_by_chair": hosted, "attendees": 40}

    given = rotation.client.post("/v1/term-reports", json={
        "term_id": term0["id"], "organization_id": term0["organization_id"], "text": "本任期办结群众诉求一件。"},
        headers=h)
    assert given.status_code == 201, given.json
    assert given.json["state"] == "late" and given.json["figures"]["tickets_listed"] == 2  # due 3 days after

    def milestones():
        found = []
        for event in collector.events:
            key = event["type"].removeprefix("linli.rotation.term.")
            # The plan's `scheduled` (one per term planned) are not milestones.
            if event["type"].startswith("linli.rotation.term.") and key != "scheduled" and \
                    event["data"].get("rotation_id") == created.json["id"]:
                found.append((key, event["data"]["term"]["index"] if key == "report_submitted"
                              else event["data"]["index"]))
        return found

    expected = [("started", 0), ("ending_soon", 0), ("ended", 0), ("started", 1), ("report_due", 0),
                ("ending_soon", 1), ("ended", 1), ("started", 2)]
    wait_for(lambda: [m for m in milestones() if m[1] < 2 or m[0] == "started"][:8] == expected
             and ("report_submitted", 0) in milestones(), timeout=30,
             message=f"the milestones of terms 0 and 1 in order, saw {milestones()}")
    done.set()
    assert len([m for m in milestones() if m == ("ended", 0)]) == 1
    assert len(milestones()) == len(set(milestones()))  # nothing told twice
    [due] = [e for e in collector.of_type("rotation.term.report_due") if e["data"]["index"] == 0]
    assert due["data"]["report_state"] == "missing" and due["data"]["community_id"] == community
    collector.close()


def test_a_timer_a_replica_is_firing_is_seen_as_such_and_a_free_one_becomes_the_callers(live, bus):
    rotation = live("rotation", bus)
    subject, due = uuid.uuid4(), datetime(2024, 1, 1, tzinfo=UTC)
    with rotation.rt.factory() as session:
        schedule(session, "rotation.milestone", subject, due)
        session.commit()
    firing, other = rotation.rt.factory(), rotation.rt.factory()
    try:
        # A replica's firing: it holds the row, as the clock's SELECT ... FOR UPDATE SKIP LOCKED leaves it.
        firing.execute(select(timers.c.id).where(timers.c.subject_id == str(subject)).with_for_update())
        assert being_fired(other, "rotation.milestone", subject) is True
        assert being_fired(other, "rotation.milestone", uuid.uuid4()) is False  # no such timer
        firing.rollback()
        assert being_fired(other, "rotation.milestone", subject) is False
        # ... and the row is now this transaction's: a replica skips it.
        assert firing.execute(select(timers.c.id).where(timers.c.subject_id == str(subject))
                              .with_for_update(skip_locked=True)).first() is None
    finally:
        firing.close()
        other.close()


def test_term_events_the_clock_tells_while_the_broker_is_cut_arrive_after_it_is_back_in_order(live, bus,
                                                                                              run_threads):
    target = urlsplit(bus.url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    netloc = target.netloc.rsplit("@", 1)
    through = urlunsplit(target._replace(netloc=(netloc[0] + "@" if len(netloc) == 2 else "")
                                         + f"127.0.0.1:{proxy.port}"))
    try:
        rotation = live("rotation", type(bus)(**{**bus.__dict__, "url": through}))
        collector = Collector(bus)
        worker = rotation.rt.worker()
        run_threads(rotation.rt.relay().run, worker.run)
        assert worker.ready.wait(15)
        district = "d-cut-" + uuid.uuid4().hex[:8]
        units = [{"organization_id": str(uuid.uuid4()), "organization_name": name, "organization_kind": "hospital",
                  "joined_on": "2020-01-01"} for name in NAMES]
        committee = {"id": str(uuid.uuid4()), "district_id": district, "community_id": str(uuid.uuid4()),
                     "name": "星光社区大党委", "time_zone": "Asia/Shanghai", "convenor_name": "张书记",
                     "convenor_member_id": None, "units": units, "version": 1}
        publish(bus, "registry.committee.created", committee, district=district)
        wait_for(lambda: _count(rotation, CommitteeUnit) == 3, timeout=30, message="the committee in rotation")

        proxy.cut()
        # Monthly terms from four months back: the clock tells four terms' milestones while the broker is away.
        first = add_months(datetime.now(UTC).astimezone(SHANGHAI).date().replace(day=1), -4)
        h = rotation.as_(district, "rotation:read rotation:write")
        created = rotation.client.post("/v1/rotations", json={"committee_id": committee["id"], "term_months": 1,
                                                              "starts_on": first.isoformat(), "report_due_days": 3},
                                       headers=h)
        assert created.status_code == 201, created.json
        clock = rotation.rt.clock()
        for _ in range(20):
            clock.tick()
        assert _started(rotation) >= 5
        assert rotation.rt.relay().pending() > 0, "the relay published through a cut connection"

        proxy.restore()

        def told() -> list[tuple[str, int]]:
            return [(e["type"].removeprefix("linli.rotation.term."), e["data"]["index"]) for e in collector.events
                    if e["type"].startswith("linli.rotation.term.") and e["type"] != "linli.rotation.term.scheduled"
                    and e["data"].get("rotation_id") == created.json["id"]]

        wanted = {("started", i) for i in range(5)} | {(k, i) for k in ("ending_soon", "ended", "report_due")
                                                      for i in range(4)}
        wait_for(lambda: set(told()) >= wanted, timeout=30, message="every milestone after the broker is back")
        arrived = told()
        assert len(arrived) == len(set(arrived)), f"told twice: {arrived}"
        at = {m: n for n, m in enumerate(arrived)}
        for i in range(4):
            assert at["started", i] < at["ending_soon", i] < at["ended", i] < at["started", i + 1], arrived
            assert at["ended", i] < at["report_due", i], arrived
        collector.close()
    finally:
        proxy.close()
