"""notify benchmark: inbox deliveries from a burst of ticket events, and webhook fan-out with bad endpoints.

Run from the repository root:

    .venv/bin/python -m bench.notify [--events 5000] [--hook-events 40] [--hook-rate 4] [--json bench-notify.json]
    .venv/bin/python -m bench.notify --only P --events 500 [--top 40]        # where a ticket event's time goes

The runs, in one go, against the same RabbitMQ and PostgreSQL:

A   raw kombu publish → consume of `--events` messages, no confirms (`bench.bus`'s run A, reused): the bus's
    raw consume rate in this run;
I   a burst of `--events` ticket events as tickets emits them (`--mix`, in turn: submitted, dispatched, resolved,
    commented, overdue; payloads from notify's samples, held to tickets' schemas by the unit tests), published by
    a process of their own while notify's real worker (both its queues) and relay run as threads of this one, on
    a fresh notify database migrated to head whose read models are seeded so every role resolves (the
    committee, its chair and convenor, the units' and convenor's contacts, each ticket's reporter contact, a
    commented ticket's assignees); events/s and inbox notifications/s from the first publish to the last event
    applied (polled every 50 ms), latency publish → applied, statements per event sent by the worker's thread
    (an SQLAlchemy `before_cursor_execute` listener; an executemany counts once);
P   the deliveries consumer without the bus: the same burst applied in process as the worker does
    (`apply_events`, `--batch` events a transaction) under cProfile; prints statements per event by kind and
    the costliest functions (`--top`);
H   webhook fan-out: 50 endpoints registered for `tickets.#`, all healthy (a local HTTP server in a process of its
    own answering 200 at once); `--hook-events` events committed at `--hook-rate` per second, each queued for every
    endpoint as notify's handler does, sent by notify's real dispatcher (32 threads, 2 per endpoint, 2 s timeout);
    latency from the event's commit to its arrival at the endpoint;
H'  the same with 10 of the 50 bad: 5 that hang until the dispatcher's timeout and 5 whose port refuses connections
    (both keep failing and being retried on a 100× shortened schedule); the latency of the 40 healthy endpoints only.

Latencies are wall-clock (one machine, one clock). URLs: LINLI_BENCH_AMQP_URL, LINLI_BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from bench.bus import NAN, Producer, percentile, raw_run, sample_body, server_versions
from bench.servers import Databases, delete_bus, isolated_bus
from bench.servers import amqp_url as bench_amqp_url
from bench.servers import database_url as bench_database_url
from linli.shared.bus import ConfirmingPublisher, OutgoingMessage
from linli.shared.config import BusSettings, Settings
from linli.shared.db import utcnow
from linli.shared.events import CATALOGUE, decode, encode, envelope
from linli.shared.logs import configure_logging

DISTRICT = "50e9c1d2-4a53-4c1b-9f0e-2d8f4f6b1a01"
KEY = "tickets.ticket.submitted"
ENDPOINTS = 50
SLOW, DOWN = 5, 5
TIMEOUT_SECONDS = 2.0


def _runtime(url: str, bus: BusSettings) -> Any:
    from linli.shared.migrations import upgrade
    from linli.suite import runtime

    rt = runtime("notify", Settings(service="notify", database_url=url, bus=bus, jwt_secret="",
                                    outbox_poll_seconds=0.2))
    upgrade(rt)
    return rt


def _ticket(n: int) -> dict[str, Any]:
    """A ticket for the webhook runs (H, H'): its fields are only passed on."""
    return {"id": str(uuid.uuid4()), "district_id": DISTRICT, "compound_id": str(uuid.uuid4()),
            "compound_name": "永川花园", "title": f"3栋2单元楼道灯不亮 #{n}", "state": "submitted",
            "due_at": "2026-03-01T02:00:00Z", "version": 1}


# --- I: inbox deliveries from a burst ---------------------------------------------------------------------

# The burst's ticket events, in turn: each as tickets emits it (notify's samples, which
# tests/unit/test_notify_samples.py holds to tickets' declared schemas), about a ticket of its own.
MIX = ("submitted", "dispatched", "resolved", "commented", "overdue")
COMPOUNDS = 50
_NAMESPACE = uuid.UUID("6e0f1e7a-93c1-4d2e-8a55-0b6a1c2d3e4f")


def _id(what: str, i: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{what}-{i}"))


def ticket_event(i: int, kinds: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The `i`-th event of the burst: its routing key and payload."""
    from linli.services.notify import samples

    key = f"tickets.ticket.{kinds[i % len(kinds)]}"
    data = samples.sample(key)
    assert data is not None, key
    data["district_id"] = DISTRICT
    if "ticket_id" in data:  # a comment names its ticket
        data["id"], data["ticket_id"], data["ticket_title"] = _id("comment", i), _id("ticket", i), f"楼道灯 #{i}"
    else:
        data.update(id=_id("ticket", i), compound_id=_id("compound", i % COMPOUNDS), title=f"3栋2单元楼道灯不亮 #{i}")
    return key, data


def seed_read_models(rt: Any, n: int, kinds: tuple[str, ...]) -> None:
    """What notify would have heard before the burst, so every role resolves: the community's committee, its
    convenor and sitting chair; the units' and convenor's contacts; each ticket's reporter contact; and, for a
    comment, its ticket (compound and assignees)."""
    from linli.services.notify import rules, samples, usecases
    from linli.services.notify.models import Contact

    with rt.factory() as session:
        usecases.record_committee(session, uuid.UUID(samples.COMMITTEE), 1, district_id=DISTRICT,
                                  community_id=uuid.UUID(samples.COMMUNITY), name="星光社区大党委",
                                  convenor_member_id=uuid.UUID(samples.CONVENOR), convenor_name="李书记",
                                  units=[uuid.UUID(u) for u in samples.NAMES])
        usecases.record_chair(session, uuid.UUID(samples.COMMITTEE), district_id=DISTRICT,
                              organization_id=uuid.UUID(samples.HOSPITAL), organization_name="区人民医院",
                              term_index=2, term_part=0, ends_at=None)
        for k, (unit, name) in enumerate(samples.NAMES.items()):
            usecases.record_contact(session, f"{rules.ORGANIZATION}:{unit}", 1, district_id=DISTRICT, name=name,
                                    person="张主任", phone=f"1390000000{k}", email=f"unit{k}@example.org")
        usecases.record_contact(session, f"{rules.MEMBER}:{samples.CONVENOR}", 1, district_id=DISTRICT,
                                name="李书记", phone="13900000009")
        session.add_all(Contact(recipient=f"{rules.REPORTER}:{_id('ticket', i)}", district_id=DISTRICT,
                                name="王阿姨", phone=f"138{i:08d}", version=1) for i in range(n))
        for i in range(n):
            key, data = ticket_event(i, kinds)
            if key == "tickets.ticket.commented":
                usecases.record_ticket(session, uuid.UUID(data["ticket_id"]), 3, district_id=DISTRICT,
                                       title=data["ticket_title"],
                                       compound_id=uuid.UUID(_id("compound", i % COMPOUNDS)),
                                       community_id=uuid.UUID(samples.COMMUNITY),
                                       assignees=[f"{rules.ORGANIZATION}:{samples.POLICE}"])
        session.commit()


def burst(n: int, kinds: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """The burst's events as CloudEvents: (routing key, envelope)."""
    from linli.suite import subscriptions

    subscriptions()
    out = []
    for i in range(n):
        key, data = ticket_event(i, kinds)
        out.append((key, envelope(CATALOGUE[key], subject=data["id"], data=data, district=DISTRICT,
                                  traceparent=None)))
    return out


def publish_tickets(bus: BusSettings, n: int, kinds: tuple[str, ...], *, gate: Callable[[], None]
                    ) -> dict[str, float]:
    """The tickets side: `n` ticket events published with confirms in batches of 100; event id → wall time sent."""
    bodies = [(key, event["id"], encode(event)) for key, event in burst(n, kinds)]
    publisher = ConfirmingPublisher(bus)
    sent: dict[str, float] = {}
    gate()
    try:
        for start in range(0, n, 100):
            batch = bodies[start:start + 100]
            now = time.time()
            for _, event_id, _ in batch:
                sent[event_id] = now
            publisher.publish([OutgoingMessage(routing_key=key, body=body, message_id=event_id, must_route=False)
                               for key, event_id, body in batch])
    finally:
        publisher.close()
    return sent


class StatementCounter:
    """Statements sent to the database by one thread (an executemany counts once)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.by_thread: dict[int, int] = {}
        self.by_kind: dict[str, int] = {}
        sqlalchemy_event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        ident = threading.get_ident()
        self.by_thread[ident] = self.by_thread.get(ident, 0) + 1
        kind = _statement_kind(statement)
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def close(self) -> None:
        sqlalchemy_event.remove(self.engine, "before_cursor_execute", self._count)


def _statement_kind(statement: str) -> str:
    """A statement's verb and table: `SELECT notify_deliveries`, `INSERT outbox`, `SAVEPOINT`."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    after = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}.get(verb)
    if after is None:
        return verb
    upper = [w.upper() for w in words]
    at = upper.index(after) + 1 if after in upper[:-1] else None
    return f"{verb} {words[at].strip('()') if at is not None else '?'}"


def _told(rt: Any) -> tuple[int, int]:
    from linli.services.notify.models import Delivery, Notification

    with rt.factory() as session:
        return (session.scalar(select(func.count()).select_from(Notification)) or 0,
                session.scalar(select(func.count()).select_from(Delivery)) or 0)


def inbox_run(bus: BusSettings, url: str, n: int, kinds: tuple[str, ...], timeout: float) -> dict[str, Any]:
    from linli.services.notify.handlers import deliveries
    from linli.shared.tables import inbox

    rt = _runtime(url, bus)
    rt.declare_topology()
    seed_read_models(rt, n, kinds)
    stop = threading.Event()
    worker = rt.worker()
    threads = [threading.Thread(target=target, args=(stop,), daemon=True) for target in (worker.run, rt.relay().run)]
    counter = StatementCounter(rt.engine)
    applied = select(func.count()).select_from(inbox).where(inbox.c.consumer == deliveries.name)
    for thread in threads:
        thread.start()
    try:
        if not worker.ready.wait(15):
            raise RuntimeError("notify's worker did not start")
        producer = Producer(publish_tickets, bus, n, kinds)
        producer.wait_ready()
        cpu = time.process_time()
        producer.go()
        sent = producer.result()
        deadline = time.monotonic() + timeout
        count, done_at = 0, NAN
        while time.monotonic() < deadline:
            with rt.factory() as session:
                count = session.scalar(applied) or 0
            if count >= n:
                done_at = time.time()
                break
            time.sleep(0.05)
        cpu = time.process_time() - cpu
        statements = counter.by_thread.get(threads[0].ident or 0, 0)
        with rt.factory() as session:
            rows = session.execute(select(inbox.c.event_id, inbox.c.applied_at)
                                   .where(inbox.c.consumer == deliveries.name)).all()
        notifications, outgoing = _told(rt)
    finally:
        counter.close()
        stop.set()
        for thread in threads:
            thread.join(15)
        rt.dispose()
    applied_at = {str(event_id): at.timestamp() for event_id, at in rows}
    pairs = [(sent[e], applied_at[e]) for e in sent if e in applied_at]
    latencies = sorted((w - s) * 1000 for s, w in pairs)
    seconds = done_at - min(sent.values()) if sent else NAN
    return {"name": "I", "label": f"notify: ticket events ({'/'.join(kinds)}) → worker → inbox rows + SMS planned",
            "events": n, "delivered": len(pairs), "seconds": seconds, "rate": len(pairs) / seconds,
            "notifications": notifications, "sms_email": outgoing, "notifications_per_s": notifications / seconds,
            "statements_per_event": statements / max(1, len(pairs)),
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": latencies[-1] if latencies else NAN, "process_cpu_ms_per_event": 1000 * cpu / max(1, n)}


def profile_run(bus: BusSettings, url: str, n: int, kinds: tuple[str, ...], batch: int, top: int) -> dict[str, Any]:
    """P: the deliveries consumer's work without the bus: the burst applied in process as the worker does
    (`apply_events`, `batch` events a transaction), under cProfile; prints the costliest functions."""
    import cProfile
    import pstats

    from linli.services.notify.handlers import deliveries
    from linli.shared.inbox import apply_events
    from linli.shared.subscriptions import Event

    rt = _runtime(url, bus)
    seed_read_models(rt, n, kinds)
    events = [Event.from_cloudevent(decode_roundtrip(ce)) for _, ce in burst(n, kinds)]
    counter = StatementCounter(rt.engine)
    profiler = cProfile.Profile()
    try:
        started = time.perf_counter()
        profiler.enable()
        for start in range(0, n, batch):
            apply_events(rt.factory, [(deliveries, e) for e in events[start:start + batch]])
        profiler.disable()
        seconds = time.perf_counter() - started
        statements = sum(counter.by_thread.values())
        notifications, outgoing = _told(rt)
    finally:
        counter.close()
        rt.dispose()
    print("statements per event, by kind:")
    for kind, count in sorted(counter.by_kind.items(), key=lambda item: -item[1]):
        print(f"  {count / n:6.2f}  {kind}")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return {"name": "P", "label": f"in process, cProfile on, {batch} events a transaction, no bus", "events": n,
            "delivered": n, "seconds": seconds, "rate": n / seconds, "notifications": notifications,
            "sms_email": outgoing, "notifications_per_s": notifications / seconds,
            "statements_per_event": statements / n, "p50_ms": NAN, "p99_ms": NAN, "max_ms": NAN}


def decode_roundtrip(cloud_event: dict[str, Any]) -> dict[str, Any]:
    """The event as a consumer receives it: encoded and decoded, as on the bus."""
    return decode(encode(cloud_event))


# --- H: webhook fan-out -------------------------------------------------------------------------------------


def serve_endpoints(port_pipe: Any, *, gate: Callable[[], None]) -> list[tuple[str, str, float]]:
    """The receiving applications, in a process of their own: /ok/<i> answers 200 at once, /slow/<i> hangs until
    the sender gives up. Returns (path, webhook-id, wall time of arrival) of every request."""
    received: list[tuple[str, str, float]] = []
    lock = threading.Lock()
    closing = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            arrived = time.time()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                received.append((self.path, self.headers.get("webhook-id", ""), arrived))
            if self.path.startswith("/slow/"):
                closing.wait(TIMEOUT_SECONDS * 3)
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    port_pipe.send(server.server_address[1])
    gate()  # returns when the run is over: the parent's "go" means "stop"
    closing.set()
    server.shutdown()
    server.server_close()
    with lock:
        return list(received)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fanout_run(bus: BusSettings, url: str, events: int, rate: float, *, bad: bool, timeout: float) -> dict[str, Any]:
    from linli.services.notify import usecases
    from linli.services.notify.dispatch import Dispatcher
    from linli.services.notify.sending import WebhookSettings
    from linli.shared.actors import Actor

    ctx = multiprocessing.get_context("spawn")
    port_parent, port_child = ctx.Pipe()
    endpoints = Producer(serve_endpoints, port_child)
    endpoints.wait_ready()
    if not port_parent.poll(15):
        raise RuntimeError("the endpoints did not start")
    port = port_parent.recv()
    down = _closed_port()
    rt = _runtime(url, bus)
    clerk = Actor("bench", DISTRICT, frozenset({"notify:admin"}))
    urls = [f"http://127.0.0.1:{port}/ok/{i}" for i in range(ENDPOINTS)]
    if bad:
        urls[:SLOW] = [f"http://127.0.0.1:{port}/slow/{i}" for i in range(SLOW)]
        urls[SLOW:SLOW + DOWN] = [f"http://127.0.0.1:{down}/down/{i}" for i in range(DOWN)]
    with rt.factory() as session:
        for endpoint in urls:
            usecases.create_webhook(session, clerk, url=endpoint, event_types=["tickets.#"],
                                    resolve=lambda host, port: ["127.0.0.1"], allow_private=True)
        session.commit()
    healthy = sum(1 for u in urls if "/ok/" in u)
    settings = WebhookSettings(allow_private=True, threads=32, per_endpoint=2, timeout_seconds=TIMEOUT_SECONDS,
                               poll_seconds=0.05, delay_scale=0.01)
    dispatcher = Dispatcher(rt.factory, settings, resolve=lambda host, port: ["127.0.0.1"])
    stop = threading.Event()
    sending = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    sending.start()
    committed: dict[str, float] = {}
    begin = time.monotonic()
    try:
        event_type = CATALOGUE[KEY]
        for i in range(events):
            wait = begin + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            ticket = _ticket(i)
            event = envelope(event_type, subject=ticket["id"], data=ticket, district=DISTRICT, traceparent=None)
            with rt.factory() as session:
                usecases.deliver_to_webhooks(session, event, key=KEY, district=DISTRICT, now=utcnow())
                session.commit()
            committed[event["id"]] = time.time()
            dispatcher.wake.set()
        # Every healthy endpoint's every event, or the timeout.
        deadline = time.monotonic() + timeout
        from linli.services.notify.models import WebhookDelivery

        ok_ids = None
        while time.monotonic() < deadline:
            with rt.factory() as session:
                done = session.scalar(select(func.count()).select_from(WebhookDelivery)
                                      .where(WebhookDelivery.state == "delivered")) or 0
            if done >= events * healthy:
                break
            time.sleep(0.1)
        ok_ids = done
    finally:
        stop.set()
        endpoints.go()
        received = endpoints.result()
        sending.join(TIMEOUT_SECONDS * 3)
        rt.dispose()
    latencies = sorted((at - committed[event_id]) * 1000 for path, event_id, at in received
                       if path.startswith("/ok/") and event_id in committed)
    bad_requests = sum(1 for path, _, _ in received if path.startswith("/slow/"))
    label = (f"webhooks: {healthy} healthy of 50 ({SLOW} hang, {DOWN} refuse)" if bad
             else "webhooks: 50 healthy endpoints")
    return {"name": "H'" if bad else "H", "label": label, "events": events, "deliveries": events * healthy,
            "delivered": len(latencies), "delivered_in_db": ok_ids,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": latencies[-1] if latencies else NAN, "requests_to_hanging": bad_requests}


# --- the table ----------------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return "—" if value != value else f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="ticket events in the burst (A, I)")
    parser.add_argument("--hook-events", type=int, default=40, help="events fanned out to 50 endpoints (H, H')")
    parser.add_argument("--hook-rate", type=float, default=4.0, help="events/s committed in H, H'")
    parser.add_argument("--mix", default=",".join(MIX),
                        help="the ticket events of the burst, in turn (I, P): verbs of tickets.ticket.*")
    parser.add_argument("--only", default="AIH", help="which runs: A, I, H (H and H'), P (profile); e.g. 'H'")
    parser.add_argument("--batch", type=int, default=50, help="events a transaction in P (the worker's prefetch)")
    parser.add_argument("--prefetch", type=int, default=None,
                        help="the worker's prefetch, which is also its most events a transaction (I; default: "
                             "the suite's, 50)")
    parser.add_argument("--top", type=int, default=30, help="functions P prints, by cumulative and own time")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.mix.split(",") if k.strip())

    configure_logging(os.environ.get("LINLI_LOG_LEVEL", "WARNING"), "console")
    database_url = bench_database_url()
    bus = isolated_bus(bench_amqp_url(), **({"prefetch": args.prefetch} if args.prefetch else {}))
    versions = server_versions(bus, database_url)
    load = os.getloadavg()
    print(f"linli notify benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores (load "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}), RabbitMQ {versions['rabbitmq']}, PostgreSQL "
          f"{versions['postgresql']}, Python {versions['python']}; code at {versions['code']}", flush=True)
    databases = Databases(database_url)
    results: list[dict[str, Any]] = []
    queues: list[str] = []
    try:
        if "A" in args.only:
            raw = raw_run(bus, args.events, sample_body(), confirm=False, timeout=300, process=True)
            results.append({"name": raw.name, "label": raw.label, "events": raw.events, "delivered": raw.delivered,
                            "seconds": raw.seconds, "rate": raw.rate, "p50_ms": raw.p50_ms, "p99_ms": raw.p99_ms,
                            "max_ms": raw.max_ms})
            queues.append(bus.queue("bench.raw.unconfirmed"))
            print(f"A done: {raw.rate:,.0f} messages/s", flush=True)
        if "I" in args.only:
            results.append(inbox_run(bus, databases.fresh("notify"), args.events, kinds, timeout=600))
            queues += [bus.queue("notify.deliveries"), bus.queue("notify.webhooks")]
            print(f"I done: {results[-1]['rate']:,.0f} events/s, {results[-1]['notifications_per_s']:,.0f} "
                  "notifications/s", flush=True)
        if "P" in args.only:
            results.append(profile_run(bus, databases.fresh("notify"), args.events, kinds, args.batch, args.top))
            print(f"P done: {results[-1]['rate']:,.0f} events/s", flush=True)
        if "H" in args.only:
            for bad in (False, True):
                results.append(fanout_run(bus, databases.fresh("notify"), args.hook_events, args.hook_rate,
                                          bad=bad, timeout=120))
                print(f"{results[-1]['name']} done", flush=True)
    finally:
        databases.drop_all()
        delete_bus(bus, queues)

    print()
    print("| run | what | events | delivered | rate /s | p50 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['name']} | {r['label']} | {_fmt(r['events'])} | {_fmt(r['delivered'])} | "
              f"{_fmt(r.get('rate', NAN), 0)} | {_fmt(r['p50_ms'])} | {_fmt(r['p99_ms'])} | {_fmt(r['max_ms'])} |")
    for r in results:
        if "notifications" in r:
            print(f"\n{r['name']}: {r['events']:,} events → {r['notifications']:,} inbox notifications "
                  f"({r['notifications_per_s']:,.0f}/s) and {r['sms_email']:,} SMS/email planned; "
                  f"{r['rate']:,.0f} events/s; {r['statements_per_event']:.1f} statements per event")
    by = {r["name"]: r for r in results}
    if "A" in by and "I" in by:
        print(f"\nevents / raw consume rate: {by['I']['rate'] / by['A']['rate']:.2f}; inbox notifications / raw "
              f"consume rate: {by['I']['notifications_per_s'] / by['A']['rate']:.2f}")
    if "H" in by and "H'" in by:
        print(f"healthy endpoints' p99 with 10 bad / all healthy: {by['H' + chr(39)]['p99_ms'] / by['H']['p99_ms']:.2f}"
              f" (p50 {by['H' + chr(39)]['p50_ms'] / by['H']['p50_ms']:.2f})")
    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
