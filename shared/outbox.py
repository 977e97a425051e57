"""Transactional outbox: events are rows written with the change, a relay publishes them.

`emit()` adds the event to the caller's transaction; nothing reaches the broker unless
that transaction commits, and nothing committed is lost if the broker is down. The relay
publishes unsent rows in commit order (one active relay per database, held by an
advisory lock) and marks them sent only after the broker confirmed them.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
import zlib
from typing import Any

from sqlalchemy import bindparam, event, func, select, text, update
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from linli.shared import transaction_lists
from linli.shared.bus import (
    ConfirmingPublisher,
    OutgoingMessage,
    PublishError,
    heartbeat_interval,
    queue_depth,
    unrouted_name,
)
from linli.shared.db import is_postgres, transaction, utcnow
from linli.shared.events import EventType, encode, envelope, is_private
from linli.shared.housekeeping import Retention, prune
from linli.shared.logs import get_logger
from linli.shared.memory_delivery import drained_up_to
from linli.shared.metrics import OUTBOX_PUBLISHED, OUTBOX_RELAY_ERRORS, OUTBOX_UNSENT, UNROUTED_EVENTS
from linli.shared.payload_check import certainly_valid
from linli.shared.tables import outbox
from linli.shared.tracing import child_of, current_traceparent

log = get_logger(__name__)

NOTIFY_CHANNEL = "linli_outbox"


class Wakeups:
    """In-process wake-up signals for relays, one per database URL."""

    _events: dict[str, threading.Event] = {}
    _lock = threading.Lock()

    @classmethod
    def get(cls, url: str) -> threading.Event:
        with cls._lock:
            return cls._events.setdefault(url, threading.Event())


def emit(
    session: Session,
    event_type: EventType,
    *,
    subject: str | uuid.UUID,
    data: dict[str, Any],
    district: str | uuid.UUID | None,
) -> dict[str, Any]:
    """Record an event in the session's transaction; it is published after commit, or never."""
    # marshmallow judges only what the quick check cannot vouch for (it costs ~10× more per event).
    if not certainly_valid(event_type.payload, data):
        event_type.validate(data)
    traceparent = child_of(current_traceparent.get())
    event_id = uuid.uuid4()
    now = utcnow()
    cloud_event = envelope(
        event_type,
        subject=str(subject),
        data=data,
        district=str(district) if district else None,
        traceparent=traceparent,
        time=now,
        event_id=event_id,
    )
    # Inserted together at commit (one statement for the transaction's events, in emit order).
    transaction_lists.append(session, _ROWS, {
        "event_id": event_id,
        "routing_key": event_type.key,
        "aggregate_id": str(subject),
        "body": encode(cloud_event),
        "traceparent": traceparent,
        "created_at": now,
    })
    return cloud_event


_ROWS = "outbox_rows"
_INSERT = outbox.insert()
_WRITTEN = ("event_id", "routing_key", "aggregate_id", "body", "traceparent", "created_at")
_ROWS_PER_INSERT = 500  # 3,000 parameters; PostgreSQL takes at most 65,535 in one statement


@functools.lru_cache(maxsize=64)
def _insert_and_notify(rows: int) -> str:
    """The INSERT of `rows` outbox rows in one statement, in psycopg's own SQL.

    Written for the driver rather than as a Core executemany: SQLAlchemy's many-rows-with-RETURNING machinery
    costs ~0.2 ms of CPU more per write transaction, which every write of every service pays.
    """
    one = "(" + ", ".join(["%s"] * len(_WRITTEN)) + ")"
    return (f"INSERT INTO {outbox.name} ({', '.join(_WRITTEN)}) VALUES {', '.join([one] * rows)} "
            f"RETURNING pg_notify('{NOTIFY_CHANNEL}', '')")


@event.listens_for(Session, "before_commit")
def _write_outbox(session: Session) -> None:
    rows = transaction_lists.take(session, _ROWS)
    if not rows:
        return
    session.info["outbox_dirty"] = True
    if not is_postgres(session):
        session.execute(_INSERT, rows)
        return
    # On PostgreSQL the insert also NOTIFYs, delivered on commit only, so a relay in another process wakes
    # for committed rows; the notification rides on the insert's RETURNING rather than costing a round trip
    # of its own (PostgreSQL folds a transaction's identical notifications into one).
    connection = session.connection()
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        connection.exec_driver_sql(_insert_and_notify(len(chunk)),
                                   tuple(row[name] for row in chunk for name in _WRITTEN))


@event.listens_for(Session, "after_commit")
def _wake_relay(session: Session) -> None:
    if session.info.pop("outbox_dirty", False):
        Wakeups.get(str(session.get_bind().url)).set()


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop("outbox_dirty", None)


_COLUMNS = (outbox.c.seq, outbox.c.event_id, outbox.c.routing_key, outbox.c.body, outbox.c.traceparent)
_UNSENT = select(*_COLUMNS).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.seq).limit(bindparam("limit"))
_CLAIM = (
    update(outbox)
    .where(outbox.c.seq.in_(_UNSENT.with_only_columns(outbox.c.seq).scalar_subquery()))
    .values(sent_at=bindparam("sent_at"))
    .returning(*_COLUMNS)
)
_LOCK_AND_BOUND = text(
    "SELECT pg_try_advisory_xact_lock(:key), set_config('idle_in_transaction_session_timeout', :bound, true)"
)


def _lock_key(service: str) -> int:
    return zlib.crc32(f"linli.outbox.{service}".encode())


class Relay:
    def __init__(
        self,
        service: str,
        factory: sessionmaker[Session],
        publisher: ConfirmingPublisher,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        retention: Retention = Retention(),
        observe_seconds: float = 10.0,
        gather_seconds: float = 0.005,
    ) -> None:
        self.service = service
        self.factory = factory
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = retention
        self.observe_seconds = observe_seconds
        self.gather_seconds = gather_seconds
        engine = factory.kw["bind"]
        self._url = engine.url.render_as_string(hide_password=False)
        self._wakeup = Wakeups.get(str(engine.url))
        self._last_cleanup = float("-inf")

    def _message(self, row: Any) -> OutgoingMessage:
        settings = self.publisher.settings
        return OutgoingMessage(
            routing_key=row.routing_key,
            body=row.body,
            message_id=str(row.event_id),
            traceparent=row.traceparent,
            # Personal data never goes out on the exchange outside applications may read.
            exchange=settings.private_exchange if is_private(row.routing_key) else settings.exchange,
            must_route=False,
        )

    def publish_pending(self) -> int:
        """Publish one batch of unsent events; returns how many went out."""
        with transaction(self.factory) as session:
            if is_postgres(session):
                # One relay at a time per database keeps commit order; other replicas wait their turn. Every
                # wait on the broker is bounded; should one still hang, the server ends this transaction rather
                # than let it hold the lock (and stop every relay) for ever. Both in one round trip.
                bound_ms = int((4 * self.publisher.settings.timeout_seconds + 5) * 1000)
                locked = session.execute(_LOCK_AND_BOUND, {"key": _lock_key(self.service),
                                                           "bound": f"{bound_ms}ms"}).scalar()
                if not locked:
                    return 0
                # Claimed and marked in one statement: the mark commits only if the broker confirmed them all.
                rows = sorted(session.execute(_CLAIM, {"sent_at": utcnow(), "limit": self.batch_size}).all(),
                              key=lambda row: row.seq)
                if rows:
                    self.publisher.publish([self._message(row) for row in rows])
            else:
                rows = session.execute(_UNSENT, {"limit": self.batch_size}).all()
                if rows:
                    self.publisher.publish([self._message(row) for row in rows])
                    session.execute(update(outbox).where(outbox.c.seq.in_([row.seq for row in rows]))
                                    .values(sent_at=utcnow()))
            if not rows:
                return 0
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    def cleanup(self) -> dict[str, int]:
        with transaction(self.factory) as session:
            # The memory bus forgets on a stop: a sent row stays until its event is known applied everywhere.
            keep_after = drained_up_to(session) if self.publisher.settings.is_memory else None
            return prune(session, self.retention, keep_after_seq=keep_after)

    def pending(self) -> int:
        with self.factory() as session:
            count = session.execute(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            ).scalar_one()
        OUTBOX_UNSENT.labels(self.service).set(count)
        return count

    def observe(self, *, unrouted: bool = True) -> None:
        """Set the gauges an operator alerts on: unsent events, and events no queue took."""
        self.pending()
        settings = self.publisher.settings
        if unrouted and not settings.is_memory:
            depth = queue_depth(settings, unrouted_name(settings))
            if depth is not None:
                UNROUTED_EVENTS.labels(unrouted_name(settings)).set(depth)

    def _observe_until(self, stop: threading.Event) -> None:
        # A thread of its own: the gauges must stay current while publishing is stuck on the broker.
        last_probe = float("-inf")
        while True:
            # The broker probe may take its full timeout when the broker is stuck: not every round.
            probe = time.monotonic() - last_probe >= 60
            last_probe = time.monotonic() if probe else last_probe
            try:
                self.observe(unrouted=probe)
            except Exception:  # noqa: BLE001 - a gauge is best effort; the next round tries again
                log.warning("relay_observe_failed", service=self.service, exc_info=True)
            if stop.wait(self.observe_seconds):
                return

    def run(self, stop: threading.Event) -> None:
        listener = _PgListener(self._url, self._wakeup) if self._url.startswith("postgresql") else None
        if listener:
            listener.start()
        observer = threading.Thread(target=self._observe_until, args=(stop,), name=f"{self.service}-relay-observer",
                                    daemon=True)
        observer.start()
        backoff = 0.2
        log.info("relay_started", service=self.service)
        while not stop.is_set():
            self._housekeep(time.monotonic())
            try:
                sent = self.publish_pending()
                backoff = 0.2
            except (PublishError, OSError) as exc:
                OUTBOX_RELAY_ERRORS.labels(self.service).inc()
                log.warning("relay_publish_failed", service=self.service, error=str(exc), retry_in=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                OUTBOX_RELAY_ERRORS.labels(self.service).inc()
                log.exception("relay_failed", service=self.service)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent >= self.batch_size:
                continue
            self.publisher.keepalive()
            # The wake-up is a hint; the poll is what guarantees progress.
            if self._wakeup.wait(min(self.poll_seconds, heartbeat_interval(self.publisher.settings))):
                # Under load commits arrive every few ms, each with its NOTIFY: a round costs the same for one
                # event as for fifty, so the relay lets the commits of the next few ms join this one's batch.
                stop.wait(self.gather_seconds)
            self._wakeup.clear()
        if listener:
            listener.stop()
        observer.join(timeout=5)
        self.publisher.close()

    def _housekeep(self, now: float) -> None:
        """Every minute, pruning of sent events and old inbox rows."""
        try:
            if now - self._last_cleanup >= 60:
                self._last_cleanup = now
                removed = self.cleanup()
                if any(removed.values()):
                    log.info("delivery_tables_pruned", service=self.service, **removed)
        except Exception:
            log.exception("relay_housekeeping_failed", service=self.service)


class _PgListener(threading.Thread):
    """LISTENs for commits of outbox rows made by other processes (the web workers)."""

    def __init__(self, url: str, wakeup: threading.Event) -> None:
        super().__init__(name="outbox-listener", daemon=True)
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self.wakeup = wakeup
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.wakeup.set()
            except Exception as exc:  # noqa: BLE001 - polling covers for a lost listener
                log.warning("outbox_listener_lost", error=str(exc))
                self._stop.wait(2.0)
