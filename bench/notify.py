"""notify benchmark: inbox deliveries from a burst of ticket events, and webhook fan-out with bad endpoints.

Run from the repository root:

    .venv/bin/python -m bench.notify [--events 5000] [--hook-events 40] [--hook-rate 4] [--json bench-notify.json]

The runs, in one go, against the same RabbitMQ and PostgreSQL:

A   raw kombu publish → consume of `--events` messages, no confirms (`bench.bus`'s run A, reused): the bus's
    raw consume rate in this run;
I   the same burst as `tickets.ticket.submitted` events published by a process of their own while notify's real
    worker (its `deliveries` consumer, inbox transaction and outbox) and relay run as threads of this one, on a
    fresh notify database migrated to head; inbox notifications per second from the first publish to the last
    notification committed, and latency publish → notification row written;
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

from sqlalchemy import func, select

from bench.bus import NAN, Producer, percentile, raw_run, sample_body, server_versions
from bench.servers import Databases, delete_bus, isolated_bus
from bench.servers import amqp_url as bench_amqp_url
from bench.servers import database_url as bench_database_url
from linli.shared.bus import ConfirmingPublisher, OutgoingMessage
from linli.shared.config import BusSettings, Settings
from linli.shared.db import utcnow
from linli.shared.events import CATALOGUE, encode, envelope
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
    return {"id": str(uuid.uuid4()), "district_id": DISTRICT, "compound_id": str(uuid.uuid4()),
            "compound_name": "永川花园", "title": f"3栋2单元楼道灯不亮 #{n}", "state": "submitted",
            "due_at": "2026-03-01T02:00:00Z", "version": 1}


# --- I: inbox deliveries from a burst ---------------------------------------------------------------------


def publish_tickets(bus: BusSettings, n: int, *, gate: Callable[[], None]) -> dict[str, float]:
    """The tickets side: `n` ticket events published with confirms in batches of 100; event id → wall time sent."""
    from linli.suite import subscriptions

    subscriptions()
    event_type = CATALOGUE[KEY]
    events = [envelope(event_type, subject=t["id"], data=t, district=DISTRICT, traceparent=None)
              for t in (_ticket(i) for i in range(n))]
    bodies = [(event["id"], encode(event)) for event in events]
    publisher = ConfirmingPublisher(bus)
    sent: dict[str, float] = {}
    gate()
    try:
        for start in range(0, n, 100):
            batch = bodies[start:start + 100]
            now = time.time()
            for event_id, _ in batch:
                sent[event_id] = now
            publisher.publish([OutgoingMessage(routing_key=KEY, body=body, message_id=event_id, must_route=False)
                               for event_id, body in batch])
    finally:
        publisher.close()
    return sent


def inbox_run(bus: BusSettings, url: str, n: int, timeout: float) -> dict[str, Any]:
    from linli.services.notify.models import Notification

    rt = _runtime(url, bus)
    rt.declare_topology()
    stop = threading.Event()
    worker = rt.worker()
    threads = [threading.Thread(target=target, args=(stop,), daemon=True) for target in (worker.run, rt.relay().run)]
    for thread in threads:
        thread.start()
    try:
        if not worker.ready.wait(15):
            raise RuntimeError("notify's worker did not start")
        producer = Producer(publish_tickets, bus, n)
        producer.wait_ready()
        cpu = time.process_time()
        producer.go()
        sent = producer.result()
        deadline = time.monotonic() + timeout
        count = 0
        while time.monotonic() < deadline:
            with rt.factory() as session:
                count = session.scalar(select(func.count()).select_from(Notification)) or 0
            if count >= n:
                break
            time.sleep(0.05)
        cpu = time.process_time() - cpu
        with rt.factory() as session:
            rows = session.execute(select(Notification.source_event_id, Notification.created_at)).all()
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        rt.dispose()
    written = {str(event_id): created.timestamp() for event_id, created in rows}
    pairs = [(sent[e], written[e]) for e in sent if e in written]
    latencies = sorted((w - s) * 1000 for s, w in pairs)
    seconds = max(w for _, w in pairs) - min(s for s, _ in pairs) if pairs else NAN
    return {"name": "I", "label": "notify inbox: ticket events → worker → notifications", "events": n,
            "delivered": len(pairs), "seconds": seconds, "rate": len(pairs) / seconds if pairs else NAN,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": latencies[-1] if latencies else NAN, "consumer_cpu_ms_per_event": 1000 * cpu / max(1, n)}


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
    parser.add_argument("--only", default="AIH", help="which runs: A, I, H (H and H'); e.g. 'H'")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    configure_logging(os.environ.get("LINLI_LOG_LEVEL", "WARNING"), "console")
    database_url = bench_database_url()
    bus = isolated_bus(bench_amqp_url())
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
            results.append(inbox_run(bus, databases.fresh("notify"), args.events, timeout=600))
            queues += [bus.queue("notify.deliveries"), bus.queue("notify.webhooks")]
            print(f"I done: {results[-1]['rate']:,.0f} notifications/s", flush=True)
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
    by = {r["name"]: r for r in results}
    if "A" in by and "I" in by:
        print(f"\ninbox deliveries / raw consume rate: {by['I']['rate'] / by['A']['rate']:.2f}")
    if "H" in by and "H'" in by:
        print(f"healthy endpoints' p99 with 10 bad / all healthy: {by['H' + chr(39)]['p99_ms'] / by['H']['p99_ms']:.2f}"
              f" (p50 {by['H' + chr(39)]['p50_ms'] / by['H']['p50_ms']:.2f})")
    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
