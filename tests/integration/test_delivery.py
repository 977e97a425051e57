"""The delivery guarantees of DESIGN.md, on a real PostgreSQL and a real RabbitMQ."""

from __future__ import annotations

import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import marshmallow as ma
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from linli.shared import dlq
from linli.shared.bus import ConfirmingPublisher
from linli.shared.clock import Clock, schedule
from linli.shared.consumer import Subscription, Worker
from linli.shared.db import transaction, utcnow
from linli.shared.events import declare
from linli.shared.outbox import Relay, emit
from linli.shared.tables import inbox, outbox, timers
from tests.support.collector import Collector
from tests.support.proxy import TcpProxy
from tests.support.waiting import wait_for


class ThingData(ma.Schema):
    aggregate = ma.fields.String(required=True)
    n = ma.fields.Integer(required=True)


THING_CHANGED = declare("test.thing.changed", "A test aggregate changed (tests only).", ThingData)


def _district(sut) -> dict:
    r = sut.client.post("/v1/areas", json={"level": "district", "name": "永川区"},
                        headers=sut.as_("*", "registry:admin"))
    assert r.status_code == 201, r.json
    return r.json


def _through(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    creds = netloc[0] + "@" if len(netloc) == 2 else ""
    return urlunsplit(parts._replace(netloc=f"{creds}127.0.0.1:{proxy.port}"))


def test_writes_succeed_while_broker_is_down_and_every_event_arrives_after(live, bus, run_threads):
    target = urlsplit(bus.url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    try:
        registry = live("registry", type(bus)(**{**bus.__dict__, "url": _through(proxy, bus.url)}))
        collector = Collector(bus)
        run_threads(registry.rt.relay().run)
        district = _district(registry)
        wait_for(lambda: collector.of_type("registry.area.created"), message="first event")

        proxy.cut()
        h = registry.as_(district["id"], "registry:write")
        created = []
        for i in range(20):
            r = registry.client.post("/v1/areas", json={"level": "street", "name": f"街道{i}",
                                                        "parent_id": district["id"]}, headers=h)
            assert r.status_code == 201, r.json
            created.append(r.json["id"])
        assert registry.rt.relay().pending() > 0, "the relay published through a cut connection"
        # What an operator's alert watches while the broker is away.
        assert REGISTRY.get_sample_value("linli_outbox_unsent", {"service": "registry"}) >= 1

        proxy.restore()
        wait_for(lambda: {e["subject"] for e in collector.of_type("registry.area.created")} >= set(created),
                 timeout=30, message="all events written during the outage")
        # Marked sent once the broker confirmed them, a moment after consumers may already see them.
        wait_for(lambda: registry.rt.relay().pending() == 0, message="outbox drained")
        collector.close()
    finally:
        proxy.close()


def test_the_same_event_delivered_twice_has_one_effect(live, bus, run_threads):
    registry = live("registry", bus)
    applied: list[str] = []
    dupes = Subscription("test", "dupes")
    dupes.handles("test.thing.changed")(lambda session, event: applied.append(event.data["aggregate"]))
    worker = Worker(bus, registry.rt.factory, [dupes])
    run_threads(worker.run)
    assert worker.ready.wait(10)

    with transaction(registry.rt.factory) as s:
        event = emit(s, THING_CHANGED, subject="a", data={"aggregate": "a", "n": 1}, district="d")
        emit(s, THING_CHANGED, subject="marker", data={"aggregate": "marker", "n": 1}, district="d")
    relay = registry.rt.relay()
    relay.publish_pending()
    # The relay crashed after publishing and before marking sent: it publishes again.
    with transaction(registry.rt.factory) as s:
        s.execute(outbox.update().where(outbox.c.event_id == uuid.UUID(event["id"])).values(sent_at=None))
    relay.publish_pending()
    with transaction(registry.rt.factory) as s:
        emit(s, THING_CHANGED, subject="end", data={"aggregate": "end", "n": 1}, district="d")
    relay.publish_pending()

    wait_for(lambda: "end" in applied, message="the last event")
    assert applied.count("a") == 1
    with registry.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(inbox).where(inbox.c.consumer == "test.dupes")) == 3


def test_a_handler_that_always_fails_ends_in_the_dlq_and_replay_brings_it_back(live, bus, run_threads):
    registry = live("registry", bus)
    calls: list[int] = []
    broken = threading.Event()
    broken.set()
    flaky = Subscription("test", "flaky")

    @flaky.handles("test.thing.changed")
    def handler(session, event) -> None:
        calls.append(event.data["n"])
        if broken.is_set():
            raise RuntimeError("downstream is broken")

    worker = Worker(bus, registry.rt.factory, [flaky])
    run_threads(worker.run)
    assert worker.ready.wait(10)
    with transaction(registry.rt.factory) as s:
        event = emit(s, THING_CHANGED, subject="x", data={"aggregate": "x", "n": 7}, district="d")
    registry.rt.relay().publish_pending()

    queue = bus.queue("test.flaky")
    dead = wait_for(lambda: dlq.list_dead(bus, [queue]), timeout=20, message="the event in the DLQ")
    assert [d["event_id"] for d in dead] == [event["id"]]
    assert dead[0]["attempts"] == bus.max_attempts
    assert "downstream is broken" in dead[0]["error"]
    assert len(calls) == bus.max_attempts
    # Listing leaves it in place.
    assert len(dlq.list_dead(bus, [queue])) == 1

    broken.clear()
    assert dlq.replay(bus, [queue]) == 1
    wait_for(lambda: len(calls) == bus.max_attempts + 1, message="the replayed event")
    with registry.rt.factory() as s:
        wait_for(lambda: s.scalar(select(func.count()).select_from(inbox)
                                  .where(inbox.c.consumer == "test.flaky")) == 1, message="inbox row")
    assert dlq.list_dead(bus, [queue]) == []


def test_relays_keep_order_per_aggregate(live, bus, run_threads):
    registry = live("registry", bus)
    collector = Collector(bus, binding="test.thing.changed")
    aggregates = [f"agg{i}" for i in range(5)]
    # Two relays compete for the same outbox, as two worker replicas would.
    relays = [Relay("registry", registry.rt.factory, ConfirmingPublisher(bus), batch_size=7, poll_seconds=0.05)
              for _ in range(2)]
    run_threads(*(r.run for r in relays))

    def writer(offset: int) -> None:
        for n in range(40):
            with transaction(registry.rt.factory) as s:
                for agg in aggregates[offset::2]:
                    emit(s, THING_CHANGED, subject=agg, data={"aggregate": agg, "n": n}, district="d")

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    wait_for(lambda: len(collector.of_type("test.thing.changed")) >= 200, timeout=30, message="200 events")
    for agg in aggregates:
        seen = [e["data"]["n"] for e in collector.of_type("test.thing.changed") if e["data"]["aggregate"] == agg]
        assert seen == list(range(40)), f"{agg} arrived out of order: {seen}"
    collector.close()


def test_clock_fires_each_due_timer_exactly_once_across_replicas(live, bus):
    registry = live("registry", bus)
    due = utcnow()
    with transaction(registry.rt.factory) as s:
        for i in range(60):
            schedule(s, "test.due", f"subject-{i}", due, district_id="d")

    def fire(session, timer, now) -> None:
        emit(session, THING_CHANGED, subject=timer.subject_id, data={"aggregate": timer.subject_id, "n": 0},
             district=timer.district_id)

    clocks = [Clock("registry", registry.rt.factory, {"test.due": fire}) for _ in range(3)]
    threads = [threading.Thread(target=c.tick) for c in clocks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with registry.rt.factory() as s:
        subjects = s.scalars(select(outbox.c.aggregate_id).where(outbox.c.routing_key == "test.thing.changed")).all()
        unfired = s.scalar(select(func.count()).select_from(timers).where(timers.c.fired_at.is_(None)))
    assert sorted(subjects) == sorted(f"subject-{i}" for i in range(60))
    assert unfired == 0
    assert sum(c.tick() for c in clocks) == 0


def test_one_poison_event_in_a_burst_does_not_hold_back_the_others(live, bus, run_threads):
    registry = live("registry", bus)
    applied: list[int] = []
    burst = Subscription("test", "flaky")

    @burst.handles("test.thing.changed")
    def handler(session, event) -> None:
        if event.data["n"] == 13:
            raise ValueError("unlucky")
        applied.append(event.data["n"])

    with transaction(registry.rt.factory) as s:
        for n in range(30):
            emit(s, THING_CHANGED, subject=f"s{n}", data={"aggregate": f"s{n}", "n": n}, district="d")
    worker = Worker(bus, registry.rt.factory, [burst])
    run_threads(worker.run)
    assert worker.ready.wait(10)
    registry.rt.relay().publish_pending()  # all 30 at once: the worker takes them as one batch

    queue = bus.queue("test.flaky")
    wait_for(lambda: dlq.list_dead(bus, [queue]), timeout=20, message="the poison event in the DLQ")
    with registry.rt.factory() as s:
        committed = s.scalar(select(func.count()).select_from(inbox).where(inbox.c.consumer == "test.flaky"))
    assert committed == 29
    # Rolled-back runs may repeat a handler, but every good event was committed exactly once.
    assert set(applied) == set(range(30)) - {13}


def test_a_worker_cut_off_from_the_broker_reconnects_and_misses_nothing(live, bus, run_threads):
    target = urlsplit(bus.url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    try:
        registry = live("registry", bus)
        applied: list[int] = []
        sub = Subscription("test", "collector")
        sub.handles("test.thing.changed")(lambda session, event: applied.append(event.data["n"]))
        worker = Worker(type(bus)(**{**bus.__dict__, "url": _through(proxy, bus.url)}), registry.rt.factory, [sub])
        run_threads(worker.run, registry.rt.relay().run)
        assert worker.ready.wait(10)

        def write(numbers: range) -> None:
            for n in numbers:
                with transaction(registry.rt.factory) as s:
                    emit(s, THING_CHANGED, subject="w", data={"aggregate": "w", "n": n}, district="d")

        write(range(0, 10))
        wait_for(lambda: len(applied) >= 10, message="events before the cut")
        proxy.cut()
        write(range(10, 30))  # the relay still reaches the broker; the worker does not
        wait_for(lambda: registry.rt.relay().pending() == 0, message="events published during the cut")
        assert len(applied) == 10, "a worker cut off from the broker cannot have received anything"
        proxy.restore()
        wait_for(lambda: sorted(set(applied)) == list(range(30)), timeout=30, message="every event after reconnect")
    finally:
        proxy.close()
