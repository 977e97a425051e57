"""Bus benchmark: raw kombu against the suite's outbox → relay → worker/inbox path, on one broker.

Run from the repository root:

    .venv/bin/python -m bench.bus [--events 20000] [--per-tx 10] [--json bench.json]

The runs, in one go, against the same RabbitMQ and PostgreSQL:

A   raw kombu publish → consume, no publisher confirms (what broker + client do without the suite);
B   raw kombu with a confirm awaited after every publish (`transport_options={"confirm_publish": True}`);
S   the suite's path without HTTP: `emit()` into a PostgreSQL outbox in committed transactions (10 events
    each by default), `Relay.run` publishing with pipelined confirms, `Worker.run` applying each event
    with its inbox row in one transaction; events/s from the first commit to the last applied commit,
    latency commit → applied (the commit of the inbox transaction);
P   (rows S1-S3) each stage of S alone, fed from a full buffer: emit+commit with nothing else
    running, the relay draining a full outbox, the worker draining a full queue;
L   the suite's path at a fixed offered rate (500 events/s, one event per transaction, paced by a
    writer thread) for ~10 s: latency commit → applied.

Like a deployment, the producing side (raw publisher; the writers, standing for the web processes)
runs in a process of its own, and the consuming side (raw consumer; relay + worker, standing for the
service's worker process) runs as threads of this one; `--threads` puts everything in one process.
Exchanges and queues live in an isolated namespace and the outbox/inbox in a fresh database; both
are removed at the end. URLs: LINLI_BENCH_AMQP_URL, LINLI_BENCH_DATABASE_URL (local defaults below).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kombu
import marshmallow as ma
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bench.servers import Databases, delete_bus, isolated_bus
from bench.servers import amqp_url as bench_amqp_url
from bench.servers import database_url as bench_database_url
from linli.shared.bus import ConfirmingPublisher, OutgoingMessage, events_exchange
from linli.shared.config import BusSettings
from linli.shared.consumer import Event, Subscription, Worker
from linli.shared.db import make_engine, make_sessionmaker
from linli.shared.events import CATALOGUE, CONTENT_TYPE, declare, encode, envelope
from linli.shared.logs import configure_logging
from linli.shared.outbox import Relay, emit
from linli.shared.tables import infra_metadata
from linli.shared.tracing import new_traceparent

# The targets of the issue this benchmark was written for.
TARGET_THROUGHPUT_RATIO = 0.5  # suite (confirmed, outbox + inbox) ÷ raw unconfirmed
TARGET_P99_MS = 50.0  # commit → applied at the offered rate below
TARGET_RATE = 500.0

perf = time.perf_counter
NAN = float("nan")


# --- the event ------------------------------------------------------------------------------------------


class BenchTicketData(ma.Schema):
    """A trimmed copy of tickets' `TicketData`: a body of ~640 bytes, validated as a real event is."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    version = ma.fields.Integer(required=True)
    n = ma.fields.Integer(required=True, metadata={"description": "benchmark sequence number"})
    t = ma.fields.Float(required=True, metadata={"description": "perf_counter() at emit"})


# The module may be loaded twice in one process (as __main__ and as bench.bus): declare once.
BENCH_EVENT = CATALOGUE.get("bench.ticket.changed") or declare(
    "bench.ticket.changed", "A benchmark ticket changed (bench only).", BenchTicketData
)
DISTRICT = "50e9c1d2-4a53-4c1b-9f0e-2d8f4f6b1a01"


def payload(n: int, t: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": str(uuid.uuid4()),
        "district_id": DISTRICT,
        "title": "3栋2单元楼道灯不亮",
        "category": "facilities",
        "state": "dispatched",
        "created_at": now.isoformat(),
        "version": 3,
        "n": n,
        "t": t,
    }


def sample_body() -> bytes:
    data = payload(0, perf())
    return encode(
        envelope(BENCH_EVENT, subject=data["id"], data=data, district=DISTRICT, traceparent=new_traceparent())
    )


# --- statistics -----------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return NAN
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Result:
    name: str
    label: str
    events: int
    delivered: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    notes: dict[str, Any] = field(default_factory=dict)


def summarise(name: str, label: str, starts: list[float], ends: list[float], **notes: Any) -> Result:
    pairs = [(s, e) for s, e in zip(starts, ends, strict=True) if not math.isnan(s) and not math.isnan(e)]
    latencies = sorted((e - s) * 1000 for s, e in pairs)
    seconds = max(e for _, e in pairs) - min(s for s, _ in pairs) if pairs else NAN
    return Result(
        name=name,
        label=label,
        events=len(starts),
        delivered=len(pairs),
        seconds=seconds,
        rate=len(pairs) / seconds if pairs and seconds > 0 else NAN,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else NAN,
        notes=notes,
    )


# --- CPU accounting -------------------------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SERVER_PROCESSES = {"postgres": "postgresql", "beam.smp": "rabbitmq"}


def server_cpu() -> dict[str, float]:
    """CPU seconds used so far by local PostgreSQL and RabbitMQ processes (Linux /proc; empty elsewhere).

    A backend that exited is counted in the postmaster's reaped-children time, so the sums stay monotonic.
    """
    used: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        server = SERVER_PROCESSES.get(comm)
        if server is None:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        used[server] = used.get(server, 0.0) + ticks / _CLK_TCK
    return used


class CpuMeter:
    """CPU seconds of this process (consumer side) and of the local servers over a run."""

    def __init__(self) -> None:
        self.own = time.process_time()
        self.servers = server_cpu()

    def per_event(self, events: int, producer_seconds: float) -> dict[str, float]:
        own = time.process_time() - self.own
        servers = server_cpu()
        spent = {"producer": producer_seconds, "consumer": own}
        for name, before in self.servers.items():
            spent[name] = servers.get(name, before) - before
        spent["total"] = sum(spent.values())
        return {name: round(1000 * seconds / max(1, events), 4) for name, seconds in spent.items()}


# --- a producer in its own process (or thread) ------------------------------------------------------------


def _child_main(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    def gate() -> None:
        conn.send("ready")
        conn.recv()

    try:
        conn.send(("ok", fn(*args, gate=gate)))
    except BaseException:  # noqa: BLE001 - handed to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class Producer:
    """Runs `fn(*args, gate=...)`, in a child process by default, like a web worker beside the worker process.

    `fn` sets itself up (connections, warm pool), calls `gate()`, which returns once the parent says go,
    then does its work and returns its timestamps. perf_counter() is CLOCK_MONOTONIC on Linux, one
    clock for every process of the machine, so its readings compare across processes.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, process: bool = True) -> None:
        if process:
            ctx = multiprocessing.get_context("spawn")
            self._conn, child = ctx.Pipe()
            self._proc: Any = ctx.Process(target=_child_main, args=(child, fn, args), daemon=True)
        else:
            self._conn, child = multiprocessing.Pipe()
            self._proc = threading.Thread(target=_child_main, args=(child, fn, args), daemon=True)
        self._proc.start()

    def wait_ready(self, timeout: float = 60) -> None:
        if not self._conn.poll(timeout):
            raise RuntimeError("producer did not get ready")
        message = self._conn.recv()
        if message != "ready":
            raise RuntimeError(f"producer failed while setting up:\n{message[1]}")

    def go(self) -> None:
        self._conn.send("go")

    def result(self, timeout: float = 600) -> Any:
        if not self._conn.poll(timeout):
            raise RuntimeError("producer did not finish")
        status, value = self._conn.recv()
        self._proc.join(10)
        if status != "ok":
            raise RuntimeError(f"producer failed:\n{value}")
        return value


# --- A and B: raw kombu ---------------------------------------------------------------------------------


def raw_publish(
    bus: BusSettings, key: str, n: int, body: bytes, confirm: bool, *, gate: Callable[[], None]
) -> tuple[list[float], float, float]:
    options = {"confirm_publish": True} if confirm else {}
    traceparent = new_traceparent()
    sent = [NAN] * n
    with kombu.Connection(bus.url, transport_options=options) as conn:
        producer = kombu.Producer(conn.channel(), exchange=events_exchange(bus))
        gate()
        cpu = time.process_time()
        for i in range(n):
            sent[i] = perf()
            producer.publish(
                body,
                routing_key=key,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=str(i),
                headers={"traceparent": traceparent},
                mandatory=True,
            )
        published = perf()
        cpu = time.process_time() - cpu
        # Unconfirmed publishes may still sit in the socket buffer: leave them time to leave before closing.
        time.sleep(0.5)
    return sent, published, cpu


def raw_run(bus: BusSettings, n: int, body: bytes, *, confirm: bool, timeout: float, process: bool) -> Result:
    """A publisher (own process) and a consumer thread here, each on its own connection.

    The message is the same persistent CloudEvent body the suite sends, to a durable queue, with
    the suite's prefetch and a manual ack per message, so what differs from S is the outbox, the
    inbox, the relay's confirms and the suite's Python around them.
    """
    purpose = "confirmed" if confirm else "unconfirmed"
    queue_name = bus.queue(f"bench.raw.{purpose}")
    key = f"bench.raw.{purpose}"
    got = [NAN] * n
    ready, done, stop = threading.Event(), threading.Event(), threading.Event()
    received = [0]
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with kombu.Connection(bus.url) as conn:
                channel = conn.channel()
                channel.basic_qos(0, bus.prefetch, False)
                queue = kombu.Queue(queue_name, events_exchange(bus), routing_key=key, durable=True, channel=channel)
                queue.declare()

                def on_message(message: Any) -> None:
                    got[int(message.properties["message_id"])] = perf()
                    message.ack()
                    received[0] += 1
                    if received[0] >= n:
                        done.set()

                with kombu.Consumer(channel, queues=[queue], on_message=on_message, accept=None):
                    ready.set()
                    while not done.is_set() and not stop.is_set():
                        try:
                            conn.drain_events(timeout=0.2)
                        except TimeoutError:
                            continue
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
            ready.set()

    consumer = threading.Thread(target=consume, name=f"raw-consumer-{purpose}", daemon=True)
    consumer.start()
    if not ready.wait(15) or errors:
        raise RuntimeError(f"raw consumer did not start: {errors}")
    publisher = Producer(raw_publish, bus, key, n, body, confirm, process=process)
    publisher.wait_ready()
    meter = CpuMeter()
    publisher.go()
    sent, published, publisher_cpu = publisher.result()
    done.wait(timeout)
    # A publisher thread's process_time() is this whole process's when it is not a process of its own.
    cpu = meter.per_event(n, publisher_cpu if process else 0.0)
    stop.set()
    consumer.join(10)
    if errors:
        raise RuntimeError(f"raw consumer failed: {errors[0]!r}")
    label = "raw kombu, confirm per message" if confirm else "raw kombu, no confirms"
    return summarise(
        "B" if confirm else "A",
        label,
        sent,
        got,
        publish_rate=round(n / (published - sent[0]), 1),
        body_bytes=len(body),
        cpu_ms_per_event=cpu,
    )


# --- S and L: the suite's path --------------------------------------------------------------------------


class Applied:
    """What the worker applied: the handler notes the event, the inbox transaction's commit stamps it."""

    def __init__(self) -> None:
        self.expect(0, 0)

    def expect(self, first: int, count: int) -> None:
        self.first, self.count = first, count
        self.at = [NAN] * count
        self.emitted = [NAN] * count
        self.ids: list[uuid.UUID | None] = [None] * count
        self.seen = 0
        self.done = threading.Event()
        if count == 0:
            self.done.set()

    def handler(self, session: Session, event: Event) -> None:
        # A trivial effect: nothing written besides the inbox row apply_event adds.
        # A list: a worker that applies several events in one transaction stamps them all at its commit.
        session.info.setdefault("bench_applied", []).append((event.data["n"], event.data["t"], event.id))

    def committed(self, session: Session) -> None:
        notes = session.info.pop("bench_applied", None)
        if not notes:
            return
        now = perf()
        for n, emitted, event_id in notes:
            i = n - self.first
            if 0 <= i < self.count and math.isnan(self.at[i]):
                self.at[i] = now
                self.emitted[i] = emitted
                self.ids[i] = event_id
                self.seen += 1
        if self.seen >= self.count:
            self.done.set()


class TimedPublisher(ConfirmingPublisher):
    """The relay's publisher, noting each batch: when, how many, how long the publish + confirms took."""

    def __init__(self, settings: BusSettings) -> None:
        super().__init__(settings)
        self.batches: list[tuple[float, int, float]] = []
        self.confirmed: dict[str, float] = {}  # message id → when its batch's confirms were all in

    def publish(self, messages: list[OutgoingMessage]) -> None:  # type: ignore[override]
        start = perf()
        super().publish(messages)
        done = perf()
        self.batches.append((start, len(messages), done - start))
        for message in messages:
            self.confirmed[message.message_id] = done


def write(
    factory: sessionmaker[Session],
    first: int,
    count: int,
    per_tx: int,
    committed: list[float],
    rate: float | None = None,
) -> None:
    """Emit `count` events, `per_tx` per committed transaction; `rate` paces them (events/s)."""
    begin = perf()
    i = 0
    while i < count:
        if rate:
            wait = begin + i / rate - perf()
            if wait > 0:
                time.sleep(wait)
        k = min(per_tx, count - i)
        with factory() as session:
            for j in range(k):
                data = payload(first + i + j, perf())
                emit(session, BENCH_EVENT, subject=data["id"], data=data, district=DISTRICT)
            session.commit()
            done = perf()
        for j in range(k):
            committed[i + j] = done
        i += k


def writer(
    database_url: str, first: int, count: int, per_tx: int, rate: float | None, *, gate: Callable[[], None]
) -> tuple[list[float], float, float, float]:
    """The web side: a writer thread committing outbox rows, in its own process with its own pool."""
    engine = make_engine(database_url)
    try:
        factory = make_sessionmaker(engine)
        with factory() as session:
            session.execute(text("SELECT 1"))
        gate()
        committed = [NAN] * count
        cpu = time.process_time()
        started = perf()
        write(factory, first, count, per_tx, committed, rate)
        return committed, started, perf(), time.process_time() - cpu
    finally:
        engine.dispose()


@dataclass
class Suite:
    """The worker process of a service (relay + worker threads, here) and its web side (writer processes)."""

    bus: BusSettings
    database_url: str
    poll_seconds: float
    batch_size: int
    process: bool = True
    consumers: int = 1
    applied: Applied = field(default_factory=Applied)

    def start(self) -> None:
        self.engine = make_engine(self.database_url)
        infra_metadata.create_all(self.engine)
        self.factory = make_sessionmaker(self.engine)
        self._listener: Callable[[Session], None] = self.applied.committed
        sa_event.listen(Session, "after_commit", self._listener)
        self.subscription = Subscription("bench", "applied")
        self.subscription.handles(BENCH_EVENT.key)(self.applied.handler)
        self.queue = self.bus.queue(self.subscription.name)
        self.publisher = TimedPublisher(self.bus)
        self.relay = Relay(
            "bench", self.factory, self.publisher, batch_size=self.batch_size, poll_seconds=self.poll_seconds
        )
        self._running: dict[str, tuple[threading.Thread, threading.Event]] = {}
        # The queue must exist before the first publish, or the events are unroutable and dropped.
        self.start_worker()
        self.start_relay()

    def _start(self, name: str, target: Callable[[threading.Event], None]) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
        thread.start()
        self._running[name] = (thread, stop)

    def _stop(self, name: str) -> None:
        thread, stop = self._running.pop(name)
        stop.set()
        thread.join(15)

    def start_worker(self) -> None:
        for k in range(self.consumers):
            worker = Worker(self.bus, self.factory, [self.subscription])
            self._start(f"worker-{k}", worker.run)
            if not worker.ready.wait(15):
                raise RuntimeError("worker did not start consuming")

    def stop_worker(self) -> None:
        for k in range(self.consumers):
            self._stop(f"worker-{k}")

    def start_relay(self) -> None:
        self._start("relay", self.relay.run)

    def stop_relay(self) -> None:
        self._stop("relay")
        # Its LISTEN thread notices the stop within a second; a restarted relay starts its own.
        time.sleep(1.1)

    def close(self) -> None:
        for name in list(getattr(self, "_running", {})):
            self._stop(name)
        if hasattr(self, "_listener"):
            sa_event.remove(Session, "after_commit", self._listener)
        if hasattr(self, "engine"):
            self.engine.dispose()
            # Let the relay's LISTEN thread go before the database does.
            time.sleep(1.1)

    def write(
        self, first: int, count: int, per_tx: int, rate: float | None, writers: int
    ) -> tuple[list[float], float, float, float, CpuMeter]:
        """`writers` processes, each a writer thread with its own share of the events (and of the rate)."""
        bounds = [first + count * k // writers for k in range(writers + 1)]
        producers = [
            Producer(
                writer,
                self.database_url,
                lo,
                hi - lo,
                per_tx,
                rate / writers if rate else None,
                process=self.process,
            )
            for lo, hi in zip(bounds, bounds[1:], strict=False)
        ]
        for producer in producers:
            producer.wait_ready()
        meter = CpuMeter()
        for producer in producers:
            producer.go()
        committed: list[float] = []
        starts, ends = [], []
        cpu = 0.0
        for producer in producers:
            part, started, done, used = producer.result()
            committed += part
            starts.append(started)
            ends.append(done)
            cpu += used
        # A writer thread's process_time() is this whole process's when it is not a process of its own.
        return committed, min(starts), max(ends), cpu if self.process else 0.0, meter

    def run(
        self,
        name: str,
        label: str,
        first: int,
        count: int,
        per_tx: int,
        rate: float | None,
        timeout: float,
        writers: int = 1,
    ) -> Result:
        self.applied.expect(first, count)
        batches_before = len(self.publisher.batches)
        committed, writer_started, writer_done, writer_cpu, meter = self.write(first, count, per_tx, rate, writers)
        finished = self.applied.done.wait(timeout)
        cpu = meter.per_event(count, writer_cpu)
        batches = self.publisher.batches[batches_before:]
        applied = [t for t in self.applied.at if not math.isnan(t)]
        sizes = [size for _, size, _ in batches]
        notes: dict[str, Any] = {
            "events_per_tx": per_tx,
            "writers": writers,
            "offered_rate": rate,
            "writer_rate": round(count / (writer_done - writer_started), 1),
            "relay_batches": len(batches),
            "relay_mean_batch": round(sum(sizes) / len(sizes), 1) if sizes else 0,
            "relay_max_batch": max(sizes) if sizes else 0,
            "relay_publish_ms_per_event": round(1000 * sum(d for _, _, d in batches) / max(1, sum(sizes)), 3),
            "worker_apply_rate": round(len(applied) / (max(applied) - min(applied)), 1) if len(applied) > 1 else NAN,
            "complete": finished,
            "cpu_ms_per_event": cpu,
        }
        emit_lat = sorted(
            (a - e) * 1000 for a, e in zip(self.applied.at, self.applied.emitted, strict=True) if not math.isnan(a)
        )
        notes["emit_to_applied_p50_ms"] = round(percentile(emit_lat, 50), 2)
        notes["emit_to_applied_p99_ms"] = round(percentile(emit_lat, 99), 2)
        # Where the latency is: commit → the relay has the broker's confirm; confirm → applied by the worker.
        confirmed = [
            self.publisher.confirmed.get(str(event_id), NAN) if event_id else NAN for event_id in self.applied.ids
        ]
        relay_lat = sorted((c - t) * 1000 for t, c in zip(committed, confirmed, strict=True) if not math.isnan(c))
        worker_lat = sorted(
            (a - c) * 1000 for c, a in zip(confirmed, self.applied.at, strict=True) if not math.isnan(c + a)
        )
        for span, values in (("commit_to_confirmed", relay_lat), ("confirmed_to_applied", worker_lat)):
            notes[f"{span}_p50_ms"] = round(percentile(values, 50), 2)
            notes[f"{span}_p99_ms"] = round(percentile(values, 99), 2)
        return summarise(name, label, committed, self.applied.at, **notes)

    def stages(self, first: int, count: int, per_tx: int, timeout: float) -> list[Result]:
        """Each stage alone, fed by a full buffer: writer (nothing else running), relay, worker."""
        self.stop_worker()
        self.stop_relay()
        _, started, done, _, _ = self.write(first, count, per_tx, None, 1)
        before = len(self.publisher.batches)
        self.start_relay()
        deadline = perf() + timeout
        while sum(size for _, size, _ in self.publisher.batches[before:]) < count and perf() < deadline:
            time.sleep(0.01)
        batches = self.publisher.batches[before:]
        published = sum(size for _, size, _ in batches)
        relay_seconds = batches[-1][0] + batches[-1][2] - batches[0][0] if batches else NAN
        self.stop_relay()
        self.applied.expect(first, count)
        self.start_worker()
        self.applied.done.wait(timeout)
        self.start_relay()
        applied = [t for t in self.applied.at if not math.isnan(t)]
        worker_seconds = max(applied) - min(applied) if len(applied) > 1 else NAN

        def stage(name: str, label: str, done_count: int, seconds: float, **notes: Any) -> Result:
            return Result(
                name, label, count, done_count, seconds, done_count / seconds if seconds else NAN, NAN, NAN, NAN, notes
            )

        return [
            stage("S1", f"  stage alone: emit+commit ({per_tx}/tx)", count, done - started),
            stage(
                "S2",
                "  stage alone: relay, full outbox",
                published,
                relay_seconds,
                mean_batch=round(published / max(1, len(batches)), 1),
            ),
            stage("S3", "  stage alone: worker+inbox, full queue", len(applied), worker_seconds),
        ]


# --- the run --------------------------------------------------------------------------------------------


def code_version() -> str:
    """The commit the measured code is at, marked dirty if shared/ has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "shared"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}{' + uncommitted shared/ changes' if dirty else ''}"


def server_versions(bus: BusSettings, database_url: str) -> dict[str, str]:
    versions = {"code": code_version(), "python": platform.python_version(), "kombu": kombu.__version__}
    with kombu.Connection(bus.url) as conn:
        conn.connect()
        props = conn.connection.server_properties
        versions["rabbitmq"] = str(props.get("version", "?"))
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            versions["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
            versions["postgresql_synchronous_commit"] = conn.execute(text("SHOW synchronous_commit")).scalar_one()
    finally:
        engine.dispose()
    return versions


def fmt(value: float, digits: int = 1) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def print_table(results: list[Result]) -> None:
    header = f"{'':2} {'run':46} {'events':>7} {'events/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}"
    print(header)
    print("-" * len(header))
    for r in results:
        events = f"{r.delivered}" if r.delivered == r.events else f"{r.delivered}/{r.events}"
        print(
            f"{r.name:2} {r.label:46} {events:>7} {fmt(r.rate, 0):>10} {fmt(r.p50_ms, 2):>9} "
            f"{fmt(r.p99_ms, 2):>9} {fmt(r.max_ms, 2):>9}"
        )


def print_cpu(results: list[Result]) -> None:
    rows = [r for r in results if "cpu_ms_per_event" in r.notes]
    if not rows:
        return
    print("CPU per event (ms), over each run's whole span; cores busy = total × events/s")
    header = (
        f"{'':2} {'producer':>9} {'consumer':>9} {'postgresql':>11} {'rabbitmq':>9} {'total':>8} {'cores busy':>11}"
    )
    print(header)
    for r in rows:
        cpu = r.notes["cpu_ms_per_event"]
        busy = cpu["total"] * r.rate / 1000 if not math.isnan(r.rate) else NAN
        print(
            f"{r.name:2} {fmt(cpu.get('producer', NAN), 3):>9} {fmt(cpu.get('consumer', NAN), 3):>9} "
            f"{fmt(cpu.get('postgresql', NAN), 3):>11} {fmt(cpu.get('rabbitmq', NAN), 3):>9} "
            f"{fmt(cpu['total'], 3):>8} {fmt(busy, 2):>11}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="events per throughput run (A, S; B up to 10000)")
    parser.add_argument(
        "--confirmed-events", type=int, default=None, help="events for B (default: --events, at most 10000)"
    )
    parser.add_argument("--per-tx", type=int, default=10, help="events per outbox transaction in S (1..50)")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="offered events/s in L")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of L")
    parser.add_argument("--writers", type=int, default=1, help="writer processes sharing L's offered rate")
    parser.add_argument(
        "--stage-events", type=int, default=None, help="events for the stage-alone runs S1-S3 (default: --events/4)"
    )
    parser.add_argument(
        "--consumers", type=int, default=1, help="Worker instances (threads) consuming the suite's queue in S, P, L"
    )
    parser.add_argument("--batch-size", type=int, default=500, help="relay batch size (Relay's default 500)")
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=float(os.environ.get("LINLI_OUTBOX_POLL_SECONDS", "1.0")),
        help="relay poll interval (Settings' default 1.0; a commit's NOTIFY wakes it earlier)",
    )
    parser.add_argument("--only", default="ABSPL", help="which runs: A, B, S, P (stages S1-S3), L; e.g. 'SL'")
    parser.add_argument(
        "--threads", action="store_true", help="publisher/writers as threads of this process, not processes"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.per_tx <= 50:
        parser.error("--per-tx must be within 1..50")
    stage_events = args.events // 4 if args.stage_events is None else args.stage_events

    configure_logging(os.environ.get("LINLI_LOG_LEVEL", "WARNING"), "console")
    amqp_url = bench_amqp_url()
    database_url = bench_database_url()
    bus = isolated_bus(amqp_url)
    body = sample_body()
    # B waits a round trip per message: its rate settles within a few thousand, so spare the time.
    confirmed_events = args.confirmed_events or min(args.events, 10_000)
    versions = server_versions(bus, database_url)
    load_before = os.getloadavg()
    print(
        f"linli bus benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
        f"(load {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}), RabbitMQ {versions['rabbitmq']}, "
        f"PostgreSQL {versions['postgresql']} (synchronous_commit={versions['postgresql_synchronous_commit']}), "
        f"Python {versions['python']}, kombu {versions['kombu']}; code at {versions['code']}"
    )
    print(
        f"body {len(body)} bytes, persistent, durable queue, prefetch {bus.prefetch}, relay batch {args.batch_size}, "
        f"poll {args.poll_seconds:g}s, {args.consumers} consumer(s); "
        f"publisher/writers in {'threads' if args.threads else 'their own processes'}; "
        f"namespace {bus.queue_prefix}*",
        flush=True,
    )

    databases = Databases(database_url)
    process = not args.threads
    suite = Suite(
        bus,
        databases.fresh("bench"),
        poll_seconds=args.poll_seconds,
        batch_size=args.batch_size,
        process=process,
        consumers=args.consumers,
    )
    results: list[Result] = []
    started = perf()

    def progress(name: str) -> None:
        print(f"  {name} done at {perf() - started:.1f}s", flush=True)

    try:
        if "A" in args.only:
            results.append(raw_run(bus, args.events, body, confirm=False, timeout=120, process=process))
            progress("A")
        if "B" in args.only:
            results.append(raw_run(bus, confirmed_events, body, confirm=True, timeout=120, process=process))
            progress("B")
        if any(run in args.only for run in "SPL"):
            suite.start()
        if "S" in args.only:
            label = f"suite: outbox({args.per_tx}/tx)→relay→inbox"
            results.append(suite.run("S", label, 0, args.events, args.per_tx, None, timeout=180))
            progress("S")
        if "P" in args.only and stage_events:
            results += suite.stages(5_000_000, stage_events, args.per_tx, timeout=120)
            progress("S1-S3")
        if "L" in args.only:
            count = int(args.rate * args.seconds)
            who = f"{args.writers} writers" if args.writers > 1 else "1 writer"
            label = f"suite at {args.rate:g} ev/s offered, 1/tx, {who}"
            results.append(suite.run("L", label, 10_000_000, count, 1, args.rate, timeout=60, writers=args.writers))
            progress("L")
    finally:
        suite.close()
        databases.drop_all()
        delete_bus(
            bus, [bus.queue("bench.raw.unconfirmed"), bus.queue("bench.raw.confirmed"), bus.queue("bench.applied")]
        )

    print()
    print_table(results)
    by = {r.name: r for r in results}
    print()
    print_cpu(results)
    print()
    for name in ("A", "B"):
        if name in by:
            print(f"{name}: the publisher alone sent {fmt(by[name].notes['publish_rate'], 0)} msg/s")
    for name in ("S", "L"):
        if name in by:
            n = by[name].notes
            print(
                f"{name}: writer committed {fmt(n['writer_rate'], 0)} ev/s; relay {n['relay_batches']} batches of "
                f"{n['relay_mean_batch']} on average (max {n['relay_max_batch']}), "
                f"{n['relay_publish_ms_per_event']} ms/event publish+confirms; worker applied "
                f"{fmt(n['worker_apply_rate'], 0)} ev/s; emit→applied p50 {n['emit_to_applied_p50_ms']} ms, "
                f"p99 {n['emit_to_applied_p99_ms']} ms"
            )
            print(
                f"   latency split: commit→relay has the confirm p50 {n['commit_to_confirmed_p50_ms']} ms, "
                f"p99 {n['commit_to_confirmed_p99_ms']} ms; confirm→applied p50 {n['confirmed_to_applied_p50_ms']} ms, "
                f"p99 {n['confirmed_to_applied_p99_ms']} ms"
            )
    print()
    ratios: dict[str, float] = {}
    targets: dict[str, Any] = {}
    if "S" in by and "A" in by:
        ratio = ratios["suite_over_raw_unconfirmed"] = by["S"].rate / by["A"].rate
        met = ratio >= TARGET_THROUGHPUT_RATIO
        targets["throughput"] = {"target": f"S >= {TARGET_THROUGHPUT_RATIO:.0%} of A", "ratio": ratio, "met": met}
        print(
            f"suite ÷ raw unconfirmed  S/A = {ratio:6.1%}   target ≥ {TARGET_THROUGHPUT_RATIO:.0%}: "
            f"{'MET' if met else 'NOT MET'}"
        )
    if "S" in by and "B" in by:
        ratios["suite_over_raw_confirmed"] = by["S"].rate / by["B"].rate
        print(f"suite ÷ raw confirmed    S/B = {ratios['suite_over_raw_confirmed']:6.1%}")
    if "L" in by:
        result = by["L"]
        offered = result.notes["writer_rate"]
        reached = offered >= 0.95 * args.rate
        met = result.p99_ms < TARGET_P99_MS and result.delivered == result.events and reached
        targets["latency"] = {
            "target": f"p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE:g} events/s",
            "p99_ms": result.p99_ms,
            "offered_rate_reached": offered,
            "met": met and args.rate >= TARGET_RATE,
        }
        print(
            f"L p99 commit→applied = {result.p99_ms:.1f} ms at {offered:.0f} ev/s offered   "
            f"target < {TARGET_P99_MS:g} ms at {TARGET_RATE:g} ev/s: "
            f"{'MET' if targets['latency']['met'] else 'NOT MET'}"
        )
        if not reached:
            print(
                f"  (the writer reached only {offered:.0f} of {args.rate:g} ev/s: the rate was not offered; "
                "try --writers 2)"
            )
    load_after = os.getloadavg()
    print(f"total {perf() - started:.1f}s; load average after {load_after[0]:.2f}")

    if args.json:
        report = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cores": os.cpu_count(),
                "platform": platform.platform(),
                "loadavg_before": load_before,
                "loadavg_after": load_after,
            },
            "versions": versions,
            "parameters": {
                **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "confirmed_events": confirmed_events,
                "stage_events": stage_events,
                "body_bytes": len(body),
                "prefetch": bus.prefetch,
            },
            "results": [r.__dict__ for r in results],
            "ratios": ratios,
            "targets": targets,
        }
        args.json.write_text(json.dumps(_jsonable(report), indent=2, ensure_ascii=False) + "\n")
        print(f"figures written to {args.json}")
    return 0


def _jsonable(value: Any) -> Any:
    """NaN (a run that delivered nothing) is not JSON: null instead."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
