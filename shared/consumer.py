"""Consumers: handlers declared by routing key, one durable queue per purpose, applied once.

A service declares a `Subscription` per purpose (queue `<service>.<purpose>`) and
decorates its handlers with the keys they take. The worker applies each event in
one transaction together with its inbox row, acks only after that commit, sends a
failure to `<queue>.retry` with a growing delay, and after `max_attempts` to the
dead-letter queue, where `linli dlq` can list and replay it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import kombu
import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from linli.shared.bus import (
    ConfirmingPublisher,
    OutgoingMessage,
    QueueTopology,
    connect,
    requeue_exchange_name,
)
from linli.shared.config import BusSettings
from linli.shared.db import is_postgres, transaction, utcnow
from linli.shared.events import InvalidEvent, decode, routing_key
from linli.shared.logs import get_logger
from linli.shared.metrics import EVENTS_CONSUMED
from linli.shared.tables import inbox
from linli.shared.tracing import current_traceparent

log = get_logger(__name__)

ATTEMPTS_HEADER = "x-linli-attempts"
BURST_SECONDS = 0.002
ERROR_HEADER = "x-linli-error"


@dataclass(frozen=True)
class Event:
    """A received CloudEvent, as handlers see it."""

    id: uuid.UUID
    key: str
    subject: str
    district: str | None
    data: dict[str, Any]
    time: str
    traceparent: str | None
    raw: dict[str, Any]

    @classmethod
    def from_cloudevent(cls, ce: dict[str, Any]) -> Event:
        data = ce.get("data")
        if not isinstance(data, dict):
            raise InvalidEvent("CloudEvent data is not an object")
        return cls(
            id=uuid.UUID(str(ce["id"])),
            key=routing_key(ce),
            subject=str(ce.get("subject", "")),
            district=ce.get("district") or None,
            data=data,
            time=str(ce.get("time", "")),
            traceparent=ce.get("traceparent"),
            raw=ce,
        )


Handler = Callable[[Session, Event], None]


def topic_matches(pattern: str, key: str) -> bool:
    """RabbitMQ topic semantics: `*` is exactly one word, `#` zero or more."""
    return _match(pattern.split("."), key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


@dataclass
class Subscription:
    """One durable queue of a service and the handlers it feeds."""

    service: str
    purpose: str
    handlers: list[tuple[str, Handler]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.service}.{self.purpose}"

    def handles(self, *keys: str) -> Callable[[Handler], Handler]:
        for key in keys:
            # kombu's memory transport reads `*` more loosely than RabbitMQ; full keys and `#` agree on both.
            if "*" in key.split("."):
                raise ValueError(f"bind with full keys or '#', not '*': {key}")

        def register(fn: Handler) -> Handler:
            self.handlers.extend((key, fn) for key in keys)
            return fn

        return register

    @property
    def binding_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key for key, _ in self.handlers))

    def handlers_for(self, key: str) -> list[Handler]:
        return [fn for pattern, fn in self.handlers if topic_matches(pattern, key)]

    def topology(self, settings: BusSettings) -> QueueTopology:
        return QueueTopology(settings.queue(self.name), self.binding_keys)


class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    RETRY = "retry"
    REQUEUE = "requeue"
    DEAD = "dead"


def apply_event(factory: sessionmaker[Session], subscription: Subscription, event: Event) -> str:
    """Apply one event once: its inbox row and its handlers' effects commit together."""
    return apply_events(factory, [(subscription, event)])[0]


def apply_events(factory: sessionmaker[Session], items: Sequence[tuple[Subscription, Event]]) -> list[str]:
    """Apply several events in one transaction, each at most once; any failure rolls all of them back.

    One commit for a burst of events is what lets a consumer keep up with the relay; the
    worker falls back to one event per transaction to find the one that failed, so a handler
    may run again after a rollback and must keep its effects inside the session. The inbox
    rows are claimed first with one INSERT ... ON CONFLICT DO NOTHING: what it does not
    return was applied before (or by a concurrent delivery, which then holds the rows).
    """
    todo = [(subscription, event, subscription.handlers_for(event.key)) for subscription, event in items]
    outcomes = [Outcome.IGNORED] * len(todo)
    now = utcnow()
    rows = {(s.name, e.id): {"consumer": s.name, "event_id": e.id, "event_type": e.key, "applied_at": now}
            for s, e, handlers in todo if handlers}
    if not rows:
        return outcomes
    with transaction(factory) as session:
        claimed = _claim(session, rows)
        for i, (subscription, event, handlers) in enumerate(todo):
            if not handlers:
                continue
            key = (subscription.name, event.id)
            if key not in claimed:
                outcomes[i] = Outcome.DUPLICATE
                continue
            claimed.discard(key)  # the same event twice in one burst is applied once
            token = current_traceparent.set(event.traceparent)
            try:
                with structlog.contextvars.bound_contextvars(
                    consumer=subscription.name, event_id=str(event.id), event_type=event.key,
                    traceparent=event.traceparent,
                ):
                    for handler in handlers:
                        handler(session, event)
            finally:
                current_traceparent.reset(token)
            outcomes[i] = Outcome.APPLIED
    return outcomes


def _claim(session: Session, rows: dict[tuple[str, uuid.UUID], dict[str, Any]]) -> set[tuple[str, uuid.UUID]]:
    """Insert the inbox rows not there yet; returns the keys this transaction inserted."""
    if is_postgres(session) or sqlite3.sqlite_version_info >= (3, 35):
        insert = pg_insert if is_postgres(session) else sqlite_insert
        # executemany form: the statement compiles once and is cached, whatever the burst's size.
        claim = insert(inbox).on_conflict_do_nothing().returning(inbox.c.consumer, inbox.c.event_id)
        return {(row[0], row[1]) for row in session.execute(claim, list(rows.values()))}
    # SQLite before 3.35 has no RETURNING; the embedded mode has a single consumer per queue anyway.
    seen = {(row[0], row[1]) for row in session.execute(select(inbox.c.consumer, inbox.c.event_id).where(
        inbox.c.event_id.in_([key[1] for key in rows])))}
    fresh = {key: row for key, row in rows.items() if key not in seen}
    if fresh:
        session.execute(inbox.insert(), list(fresh.values()))
    return set(fresh)


class Worker:
    """Runs one service's subscriptions on one connection until stopped."""

    def __init__(
        self,
        settings: BusSettings,
        factory: sessionmaker[Session],
        subscriptions: Sequence[Subscription],
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.subscriptions = [s for s in subscriptions if s.handlers]
        self.ready = threading.Event()
        self._publisher = ConfirmingPublisher(settings)
        self._pending: list[tuple[Subscription, Any]] = []
        self._opened = 0.0

    def handle(self, subscription: Subscription, body: bytes, headers: dict[str, Any]) -> str:
        """Decide what becomes of one delivery; the caller acks after this returns."""
        attempts = int(headers.get(ATTEMPTS_HEADER, 0) or 0)
        queue = self.settings.queue(subscription.name)
        try:
            event = Event.from_cloudevent(decode(body))
        except (InvalidEvent, KeyError, ValueError) as exc:
            self._dead_letter(queue, body, headers, attempts + 1, f"invalid event: {exc}")
            EVENTS_CONSUMED.labels(queue, "invalid", Outcome.DEAD).inc()
            return Outcome.DEAD
        bound = log.bind(queue=queue, event_id=str(event.id), event_type=event.key)
        try:
            outcome = apply_event(self.factory, subscription, event)
        except OperationalError as exc:
            # The database is unreachable, not the event at fault: keep it without spending an attempt.
            bound.warning("event_requeued_database_unavailable", error=str(exc.orig)[:200])
            outcome = Outcome.REQUEUE
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
            attempts += 1
            error = f"{type(exc).__name__}: {exc}"
            if attempts >= self.settings.max_attempts:
                bound.error("event_dead_lettered", attempts=attempts, error=error)
                self._dead_letter(queue, body, headers, attempts, error + "\n" + traceback.format_exc(limit=5))
                outcome = Outcome.DEAD
            else:
                delay = self.settings.retry_base_seconds * 2 ** (attempts - 1)
                bound.warning("event_retry", attempts=attempts, delay=delay, error=error)
                self._retry(queue, body, headers, attempts, delay, error)
                outcome = Outcome.RETRY
        EVENTS_CONSUMED.labels(queue, event.key, outcome).inc()
        return outcome

    def _retry(self, queue: str, body: bytes, headers: dict[str, Any], attempts: int, delay: float,
               error: str) -> None:
        message = _forward(body, headers, attempts, error)
        if self.settings.is_memory:
            # The memory transport has no TTL or dead-lettering: wait in a timer instead.
            message.exchange = requeue_exchange_name(self.settings)
            message.routing_key = queue
            timer = threading.Timer(delay, self._publish_quietly, args=(message,))
            timer.daemon = True
            timer.start()
            return
        message.exchange = ""
        message.routing_key = f"{queue}.retry"
        message.expiration_ms = int(delay * 1000)
        self._publisher.publish([message])

    def _dead_letter(self, queue: str, body: bytes, headers: dict[str, Any], attempts: int, error: str) -> None:
        message = _forward(body, headers, attempts, error[:4000])
        message.exchange = self.settings.dead_exchange
        message.routing_key = queue
        message.headers["x-linli-queue"] = queue
        message.headers["x-linli-failed-at"] = utcnow().isoformat()
        self._publisher.publish([message])

    def _publish_quietly(self, message: OutgoingMessage) -> None:
        try:
            self._publisher.publish([message])
        except Exception:
            log.exception("retry_publish_failed")

    def run(self, stop: threading.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                self._consume(stop)
                backoff = 0.2
            except Exception as exc:  # noqa: BLE001 - reconnect whatever broke
                self.ready.clear()
                log.warning("worker_connection_lost", error=str(exc), retry_in=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        self._publisher.close()

    def _consume(self, stop: threading.Event) -> None:
        # Deliveries of a lost connection return to the queue by themselves; their handles are dead.
        self._pending = []
        with connect(self.settings) as conn:
            conn.connect()
            channel = conn.channel()
            channel.basic_qos(0, self.settings.prefetch, False)
            consumers = []
            for subscription in self.subscriptions:
                queue = subscription.topology(self.settings).declare(self.settings, channel)
                consumer = kombu.Consumer(
                    channel, queues=[queue], on_message=self._on_message_for(subscription), accept=None
                )
                consumer.consume()
                consumers.append(consumer)
            self.ready.set()
            log.info("worker_consuming", queues=[s.name for s in self.subscriptions])
            while not stop.is_set():
                # A burst stays open at most BURST_SECONDS from its first message, so a steady trickle
                # is applied promptly instead of waiting for the prefetch window to fill.
                left = self._opened + BURST_SECONDS - time.perf_counter() if self._pending else 0.5
                if left <= 0:
                    self._flush()
                    continue
                try:
                    conn.drain_events(timeout=left)
                except TimeoutError:
                    self._flush()
                    continue
                if len(self._pending) >= self.settings.prefetch:
                    self._flush()
            self._flush()
            for consumer in consumers:
                consumer.cancel()

    def _on_message_for(self, subscription: Subscription) -> Callable[[Any], None]:
        def on_message(message: Any) -> None:
            if not self._pending:
                self._opened = time.perf_counter()
            self._pending.append((subscription, message))

        return on_message

    def _flush(self) -> None:
        """Apply the buffered deliveries together, then ack them; on any failure, one by one."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        ready = []
        for subscription, message in pending:
            try:
                event = Event.from_cloudevent(decode(_body_bytes(message.body)))
            except (InvalidEvent, KeyError, ValueError):
                self._settle(subscription, message)  # handle() dead-letters it with the reason
                continue
            ready.append((subscription, message, event))
        if len(ready) == 1:
            self._settle(ready[0][0], ready[0][1])
            return
        try:
            outcomes = apply_events(self.factory, [(subscription, event) for subscription, _, event in ready])
        except OperationalError:
            log.warning("burst_requeued_database_unavailable", events=len(ready))
            time.sleep(self.settings.retry_base_seconds)
            for _, message, _ in ready:
                message.requeue()
            return
        except Exception:  # noqa: BLE001 - find the culprit one event per transaction
            for subscription, message, _ in ready:
                self._settle(subscription, message)
            return
        for (subscription, _, event), outcome in zip(ready, outcomes, strict=True):
            EVENTS_CONSUMED.labels(self.settings.queue(subscription.name), event.key, outcome).inc()
        if len(ready) == len(pending) and not self.settings.is_memory:
            # Every delivery of the channel up to this one is settled: one ack says so.
            ready[-1][1].ack(multiple=True)
        else:
            for _, message, _ in ready:
                message.ack()

    def _settle(self, subscription: Subscription, message: Any) -> None:
        outcome = self.handle(subscription, _body_bytes(message.body), dict(message.headers or {}))
        if outcome == Outcome.REQUEUE:
            time.sleep(self.settings.retry_base_seconds)  # the database needs a moment; so do we
            message.requeue()
            return
        message.ack()


def _body_bytes(body: Any) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _forward(body: bytes, headers: dict[str, Any], attempts: int, error: str) -> OutgoingMessage:
    kept = {k: v for k, v in headers.items() if k not in (ATTEMPTS_HEADER, ERROR_HEADER)}
    kept[ATTEMPTS_HEADER] = attempts
    kept[ERROR_HEADER] = error
    try:
        message_id = str(decode(body)["id"])
    except InvalidEvent:
        message_id = str(uuid.uuid4())
    return OutgoingMessage(routing_key="", body=body, message_id=message_id,
                           traceparent=kept.pop("traceparent", None), headers=kept)
