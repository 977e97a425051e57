"""The bus under a broker that misbehaves, and its topology, on a real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import amqp
import kombu
import marshmallow as ma
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, func, select, text

from linli.shared import dlq
from linli.shared.bus import (
    ConfirmingPublisher,
    declare_all,
    events_exchange,
    private_exchange,
    retry_delays_ms,
    retry_queue_name,
    unrouted_name,
)
from linli.shared.consumer import ATTEMPTS_HEADER, Worker
from linli.shared.db import transaction
from linli.shared.events import declare, encode
from linli.shared.outbox import Relay, _lock_key, emit
from linli.shared.subscriptions import Subscription, topologies
from linli.shared.tables import inbox
from tests.support.apps import cloud_event
from tests.support.collector import Collector
from tests.support.proxy import proxy_for, through
from tests.support.servers import _unavailable
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


class WidgetData(ma.Schema):
    n = ma.fields.Integer(required=True)


class WidgetContactData(ma.Schema):
    phone = ma.fields.String(required=True)


WIDGET_CHANGED = declare("test.widget.changed", "A test widget changed (tests only).", WidgetData)
WIDGET_CONTACT = declare("test.widget.contact", "A test widget's contact (tests only).", WidgetContactData,
                         private=True)


def _emit(factory, numbers, event_type=WIDGET_CHANGED) -> None:
    for n in numbers:
        with transaction(factory) as s:
            data = {"n": n} if event_type is WIDGET_CHANGED else {"phone": f"138{n:08d}"}
            emit(s, event_type, subject=f"w{n}", data=data, district="d")


def _relay(sut, bus, subscriptions=(), **options) -> Relay:
    publisher = ConfirmingPublisher(bus, topologies=topologies(bus, list(subscriptions)))
    return Relay(sut.rt.name, sut.rt.factory, publisher, poll_seconds=0.05, **options)


def _inbox_count(factory, consumer: str) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(inbox).where(inbox.c.consumer == consumer))


def _publish_raw(bus, body: bytes, key: str = "test.widget.changed", headers: dict | None = None) -> None:
    with kombu.Connection(bus.url) as conn:
        kombu.Producer(conn.channel()).publish(
            body, exchange=bus.exchange, routing_key=key, headers=headers or {},
            content_type="application/cloudevents+json", content_encoding="binary")


# --- 1. topology declared up front; unroutable events kept and counted -----------------------------------


def test_events_published_before_their_consumer_first_ran_wait_in_its_queue(live, bus, run_threads):
    registry = live("registry", bus)
    applied: list[int] = []
    sub = Subscription("test", "collector")
    sub.handles("test.widget.changed")(lambda session, event: applied.append(event.data["n"]))
    # The relay knows the subscription (as the launcher hands every process all of them) but no worker ran yet.
    _emit(registry.rt.factory, range(5))
    assert _relay(registry, bus, [sub]).publish_pending() == 5

    worker = Worker(bus, registry.rt.factory, [sub])
    run_threads(worker.run)
    wait_for(lambda: sorted(applied) == list(range(5)), message="events published before the worker started")


def test_migrate_declares_every_services_queues(live, bus, monkeypatch, capsys):
    from linli.cli import main
    from linli.suite import SERVICES, subscriptions

    tickets = live("tickets", bus)
    for name, value in {"LINLI_BROKER_URL": bus.url, "LINLI_EXCHANGE": bus.exchange,
                        "LINLI_PRIVATE_EXCHANGE": bus.private_exchange, "LINLI_DEAD_EXCHANGE": bus.dead_exchange,
                        "LINLI_QUEUE_PREFIX": bus.queue_prefix, "LINLI_CONSUMER_MAX_ATTEMPTS": str(bus.max_attempts),
                        "LINLI_RETRY_BASE_SECONDS": str(bus.retry_base_seconds),
                        "TICKETS_DATABASE_URL": tickets.rt.settings.database_url}.items():
        monkeypatch.setenv(name, value)
    assert main(["migrate", "tickets"]) == 0
    assert "declared" in capsys.readouterr().out
    expected = {bus.queue(s.name) for s in subscriptions() if s.handlers}
    assert {q.split(".", 1)[1].split(".")[0] for q in expected} >= {"tickets", "rotation", "notify"} & set(SERVICES)
    with kombu.Connection(bus.url) as conn:
        for queue in expected:
            for name in (queue, f"{queue}.dead", *(retry_queue_name(queue, ms) for ms in retry_delays_ms(bus))):
                kombu.Queue(name, channel=conn.channel()).queue_declare(passive=True)  # raises if missing


def test_an_event_no_queue_takes_is_kept_in_unrouted_and_counted(live, bus):
    registry = live("registry", bus)
    _emit(registry.rt.factory, [41])
    relay = _relay(registry, bus)
    assert relay.publish_pending() == 1  # nobody subscribes to test.widget.changed here
    with kombu.Connection(bus.url) as conn:
        kept = kombu.Queue(unrouted_name(bus), channel=conn.channel()).get(no_ack=True)
    assert kept is not None and json.loads(kept.body)["data"] == {"n": 41}
    _emit(registry.rt.factory, [42])
    relay.publish_pending()
    relay.observe()
    assert REGISTRY.get_sample_value("linli_unrouted_events", {"queue": unrouted_name(bus)}) == 1


# --- 2. and 3. a broker that stops answering without closing ---------------------------------------------


def test_a_frozen_broker_neither_holds_the_relay_lock_nor_freezes_the_unsent_gauge(live, bus, run_threads):
    proxy = proxy_for(bus.url)
    try:
        tight = replace(bus, url=through(proxy, bus.url), timeout_seconds=1.0, heartbeat_seconds=1)
        registry = live("registry", tight)
        collector = Collector(bus, binding="test.widget.changed")
        run_threads(_relay(registry, tight, observe_seconds=0.1).run)
        _emit(registry.rt.factory, [0])
        wait_for(lambda: collector.of_type("test.widget.changed"), message="the first event, before the freeze")

        proxy.freeze()
        _emit(registry.rt.factory, range(1, 8))
        wait_for(lambda: (REGISTRY.get_sample_value("linli_outbox_unsent", {"service": "registry"}) or 0) >= 7,
                 timeout=10, message="the gauge showing the stuck events")

        def lock_free() -> bool:
            with transaction(registry.rt.factory) as s:
                return bool(s.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                      {"k": _lock_key("registry")}).scalar())

        # Each attempt gives up within its timeouts, releases the transaction and its lock, and tries again;
        # well before PostgreSQL's own idle-in-transaction limit for the relay (9 s here) would step in.
        errors = REGISTRY.get_sample_value("linli_outbox_relay_errors_total", {"service": "registry"}) or 0
        wait_for(lock_free, timeout=6, interval=0.1, message="the relay's advisory lock released")
        wait_for(lambda: REGISTRY.get_sample_value("linli_outbox_relay_errors_total",
                                                   {"service": "registry"}) >= errors + 2,
                 # Under 2 × the 9 s idle limit: PostgreSQL's safety net alone could not make two failures in time.
                 timeout=15, message="the relay failing fast and trying again, not hanging")

        proxy.thaw()
        wait_for(lambda: {e["data"]["n"] for e in collector.of_type("test.widget.changed")} == set(range(8)),
                 timeout=30, message="every event once the broker answers again")
        wait_for(lambda: (REGISTRY.get_sample_value("linli_outbox_unsent", {"service": "registry"}) or 0) == 0,
                 message="the gauge back to 0")
        collector.close()
    finally:
        proxy.close()


def test_heartbeats_release_the_prefetch_of_a_worker_behind_a_frozen_line(live, bus, run_threads):
    proxy = proxy_for(bus.url)
    try:
        quick = replace(bus, heartbeat_seconds=1, timeout_seconds=2.0)
        registry = live("registry", quick)
        applied: list[int] = []
        sub = Subscription("test", "collector")
        sub.handles("test.widget.changed")(lambda session, event: applied.append(event.data["n"]))
        frozen = Worker(replace(quick, url=through(proxy, bus.url)), registry.rt.factory, [sub])
        run_threads(frozen.run)
        assert frozen.ready.wait(10)

        proxy.freeze()
        healthy = Worker(quick, registry.rt.factory, [sub])
        run_threads(healthy.run)
        assert healthy.ready.wait(10)
        _emit(registry.rt.factory, range(20))
        _relay(registry, quick, [sub]).publish_pending()  # the broker splits them between the two workers
        # The broker misses the frozen worker's heartbeats and hands its unacked share to the other one.
        wait_for(lambda: sorted(set(applied)) == list(range(20)), timeout=20, message="all 20 events applied")
        # The frozen worker misses the broker's and gives its connection up.
        wait_for(lambda: not frozen.ready.is_set(), timeout=10, message="the frozen worker noticing")
        proxy.thaw()
        wait_for(frozen.ready.is_set, timeout=20, message="the worker reconnected")
        assert _inbox_count(registry.rt.factory, "test.collector") == 20
    finally:
        proxy.close()


# --- 4. poison messages -----------------------------------------------------------------------------------


def _valid(**changes) -> dict:
    ce = cloud_event("test.widget.changed", {"n": 1})
    ce.update(changes)
    return ce


POISON: list[tuple[str, bytes, dict]] = [
    ("deeply nested", b"[" * 200_000 + b"]" * 200_000, {}),
    ("not UTF-8", b'{"specversion": "1.0", "id": "\xff\xfe"}', {}),
    ("not JSON", b"this is not a CloudEvent", {}),
    ("a JSON list", b"[1, 2, 3]", {}),
    ("data not an object", encode(_valid(data=[1, 2])), {}),
    ("no id", encode({k: v for k, v in _valid().items() if k != "id"}), {}),
    ("id not a UUID", encode(_valid(id="42")), {}),
    ("type not a string", encode(_valid(type={"a": 1})), {}),
    ("traceparent not a string", encode(_valid(traceparent=["x"])), {}),
    ("attempts not an integer", encode(_valid()), {ATTEMPTS_HEADER: "many"}),
    ("attempts negative", encode(_valid()), {ATTEMPTS_HEADER: -1000}),
]


def test_poison_messages_go_to_the_dlq_once_and_the_queue_keeps_flowing(live, bus, run_threads):
    registry = live("registry", bus)
    applied: list[int] = []
    sub = Subscription("test", "flaky")
    sub.handles("test.widget.changed")(lambda session, event: applied.append(event.data["n"]))
    worker = Worker(bus, registry.rt.factory, [sub])
    run_threads(worker.run)
    assert worker.ready.wait(10)
    for _, body, headers in POISON:
        _publish_raw(bus, body, headers=headers)
    _publish_raw(bus, encode(cloud_event("test.widget.changed", {"n": 99})))

    wait_for(lambda: applied == [99], message="the good event behind the poison")
    dead = wait_for(lambda: (d := dlq.list_dead(bus, [bus.queue("test.flaky")])) and len(d) >= len(POISON) and d,
                    timeout=20, message="every poison message in the DLQ")
    assert len(dead) == len(POISON)
    assert all(d["error"].startswith("invalid event") for d in dead)
    assert len({d["handle"] for d in dead}) == len(POISON)


# --- 5. a lock timeout is the event's failure, not a database outage --------------------------------------


def test_a_lock_timeout_in_one_event_does_not_stall_the_others(live, bus, run_threads, databases):
    registry = live("registry", bus)
    engine = create_engine(registry.rt.settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_hot_row (id int PRIMARY KEY)"))
        conn.execute(text("INSERT INTO test_hot_row VALUES (1)"))
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT * FROM test_hot_row WHERE id = 1 FOR UPDATE"))  # held by "another transaction"
    try:
        sub = Subscription("test", "flaky")

        @sub.handles("test.widget.changed")
        def handler(session, event) -> None:
            if event.data["n"] == 13:
                session.execute(text("SET LOCAL lock_timeout = '100ms'"))
                session.execute(text("SELECT * FROM test_hot_row WHERE id = 1 FOR UPDATE"))

        _emit(registry.rt.factory, range(30))
        worker = Worker(bus, registry.rt.factory, [sub])
        run_threads(worker.run)
        assert worker.ready.wait(10)
        started = time.monotonic()
        _relay(registry, bus, [sub]).publish_pending()  # all 30 at once: one burst
        wait_for(lambda: _inbox_count(registry.rt.factory, "test.flaky") == 29, timeout=15,
                 message="the 29 good events applied")
        assert time.monotonic() - started < 8
        dead = wait_for(lambda: dlq.list_dead(bus, [bus.queue("test.flaky")]), timeout=20,
                        message="the event that keeps timing out, in the DLQ")
        assert [d["subject"] for d in dead] == ["w13"] and "lock timeout" in dead[0]["error"]
        assert dead[0]["attempts"] == bus.max_attempts
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


# --- 6. retry steps have queues of their own --------------------------------------------------------------


def test_a_short_retry_is_not_held_behind_a_long_one(live, amqp_url, run_threads):
    from tests.support.servers import delete_bus, isolated_bus

    bus = isolated_bus(amqp_url, max_attempts=6, retry_base_seconds=0.5)  # steps 0.5, 1, 2, 4, 8 s
    try:
        registry = live("registry", bus)
        seen: list[tuple[str, float]] = []
        sub = Subscription("test", "flaky")

        @sub.handles("test.widget.changed")
        def handler(session, event) -> None:
            seen.append((event.subject, time.monotonic()))
            raise RuntimeError("not yet")

        worker = Worker(bus, registry.rt.factory, [sub])
        run_threads(worker.run)
        assert worker.ready.wait(10)
        # "slow" has failed 4 times already: its next wait is 8 s. "quick" then fails for the first time: 0.5 s.
        _publish_raw(bus, encode(cloud_event("test.widget.changed", {"n": 1}, subject="slow")),
                     headers={ATTEMPTS_HEADER: 4})
        wait_for(lambda: [s for s, _ in seen] == ["slow"], message="the slow event's failure")
        _publish_raw(bus, encode(cloud_event("test.widget.changed", {"n": 2}, subject="quick")))
        wait_for(lambda: [s for s, _ in seen].count("quick") >= 2, timeout=6, message="the quick retry")
        first, second = [t for s, t in seen if s == "quick"][:2]
        assert second - first < 3, "a 0.5 s retry waited behind an 8 s one"
        assert [s for s, _ in seen].count("slow") == 1
    finally:
        delete_bus(bus, [bus.queue("test.flaky")])


# --- 7. quorum queues --------------------------------------------------------------------------------------


def _rabbitmqctl(*args: str) -> str:
    if shutil.which("rabbitmqctl") is None:
        _unavailable("rabbitmqctl is needed to inspect and administer the broker")
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_quorum_queues_dead_letter_at_least_once_with_a_delivery_limit(live, amqp_url, run_threads):
    from tests.support.servers import delete_bus, isolated_bus

    bus = isolated_bus(amqp_url, queue_type="quorum", delivery_limit=7)
    queue = bus.queue("test.flaky")
    try:
        registry = live("registry", bus)
        sub = Subscription("test", "flaky")
        sub.handles("test.widget.changed")(lambda session, event: (_ for _ in ()).throw(RuntimeError("broken")))
        declare_all(bus, topologies(bus, [sub]))
        listed = json.loads(_rabbitmqctl("list_queues", "-q", "--formatter", "json", "name", "type", "arguments"))
        found = {q["name"]: q for q in listed if q["name"].startswith(bus.queue_prefix)}
        args = {a[0]: a[2] for a in found[queue]["arguments"]} if isinstance(found[queue]["arguments"], list) \
            else found[queue]["arguments"]
        assert found[queue]["type"] == "quorum"
        assert args["x-dead-letter-strategy"] == "at-least-once" and args["x-overflow"] == "reject-publish"
        assert args["x-delivery-limit"] == 7
        for ms in retry_delays_ms(bus):
            assert found[retry_queue_name(queue, ms)]["type"] == "quorum"
        assert found[f"{queue}.dead"]["type"] == "quorum"

        # Through the retry steps (TTL, dead-lettered back) to the DLQ, on quorum queues.
        worker = Worker(bus, registry.rt.factory, [sub])
        run_threads(worker.run)
        assert worker.ready.wait(10)
        _publish_raw(bus, encode(cloud_event("test.widget.changed", {"n": 1})))
        dead = wait_for(lambda: dlq.list_dead(bus, [queue]), timeout=20, message="the event in the quorum DLQ")
        assert dead[0]["attempts"] == bus.max_attempts
    finally:
        delete_bus(bus, [queue])


# --- 9. personal data stays off the public exchange ---------------------------------------------------------


def test_private_events_go_to_the_private_exchange_only(live, bus, run_threads):
    registry = live("registry", bus)
    public = Collector(bus, binding="#")
    private = Collector(bus, binding="#", name="test.dupes", exchange=private_exchange(bus))
    applied: list[str] = []
    sub = Subscription("test", "flaky")
    sub.handles("test.widget.contact")(lambda session, event: applied.append(event.data["phone"]))
    worker = Worker(bus, registry.rt.factory, [sub])
    run_threads(worker.run)
    assert worker.ready.wait(10)
    _emit(registry.rt.factory, [1], WIDGET_CONTACT)
    _emit(registry.rt.factory, [2])
    _relay(registry, bus, [sub]).publish_pending()
    wait_for(lambda: applied == ["13800000001"], message="the service's subscription getting the private event")
    wait_for(lambda: private.of_type("test.widget.contact"), message="the event on the private exchange")
    wait_for(lambda: public.of_type("test.widget.changed"), message="the public event")
    assert public.of_type("test.widget.contact") == []
    assert private.of_type("test.widget.changed") == []
    public.close()
    private.close()


def _prefixed(regex: str, prefix: str) -> str:
    """A permission regex of deploy/rabbitmq (`^(a|b|...)$`) for names carrying the test prefix."""
    assert regex.startswith("^(") and regex.endswith(")$"), regex
    return "^(" + "|".join(re.escape(prefix) + alt for alt in regex[2:-2].split("|")) + ")$"


def test_an_apps_user_may_bind_to_events_but_not_to_private(bus):
    definitions = json.loads((ROOT / "deploy" / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
    rules = {p["user"]: p for p in definitions["permissions"]}
    tag = uuid.uuid4().hex[:8]
    apps, service, password = f"linli-test-apps-{tag}", f"linli-test-notify-{tag}", uuid.uuid4().hex
    vhost = unquote(urlsplit(bus.url).path[1:]) or "/"
    declare_all(bus, [])  # the suite's exchanges, as any of its processes declares them
    _rabbitmqctl("add_user", apps, password)
    _rabbitmqctl("add_user", service, password)
    try:
        # The rules of the deployment's broker users, for this test's prefixed names.
        for user, rule in ((apps, rules["apps"]), (service, rules["notify"])):
            _rabbitmqctl("set_permissions", "-p", vhost, user,
                         *(_prefixed(rule[kind], bus.queue_prefix) for kind in ("configure", "write", "read")))

        def bind(user: str, queue_name: str, exchange: kombu.Exchange) -> None:
            parts = urlsplit(bus.url)
            url = urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc.rsplit('@', 1)[-1]}"))
            with kombu.Connection(url) as conn:
                queue = kombu.Queue(bus.queue(queue_name), durable=False, auto_delete=True, channel=conn.channel())
                queue.declare()
                queue.bind_to(exchange, routing_key="#")

        bind(apps, "apps.audit", events_exchange(bus))
        with pytest.raises(amqp.exceptions.AccessRefused):
            bind(apps, "apps.audit", private_exchange(bus))
        bind(service, "notify.contacts", private_exchange(bus))
    finally:
        with kombu.Connection(bus.url) as conn:
            for name in ("apps.audit", "notify.contacts"):
                conn.channel().queue_delete(bus.queue(name))
        _rabbitmqctl("delete_user", apps)
        _rabbitmqctl("delete_user", service)
