"""The worker's kombu loop: take deliveries, apply them in bursts, ack after commit, retry, dead-letter.

A failure goes to `<queue>.retry.<ms>` for its backoff step and, after `max_attempts`,
to the dead-letter queue, where `linli dlq` can list, replay or drop it. A message that
cannot even be read (not JSON, nested too deep, a bad header, no id...) goes to the
dead-letter queue at once: nothing a message contains can make the worker loop on it.

Subscriptions and events live in `linli.shared.subscriptions`, the inbox in
`linli.shared.inbox`; their names are importable from here too, as services always did.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import kombu
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from linli.shared.bus import (
    ConfirmingPublisher,
    OutgoingMessage,
    connect,
    declare_topology,
    discard_connection,
    heartbeat_interval,
    requeue_exchange_name,
    retry_delays_ms,
    retry_queue_name,
)
from linli.shared.config import BusSettings
from linli.shared.db import utcnow
from linli.shared.events import InvalidEvent, decode
from linli.shared.inbox import Outcome, apply_event, apply_events, database_answers
from linli.shared.logs import get_logger
from linli.shared.metrics import EVENTS_CONSUMED
from linli.shared.subscriptions import Event, Handler, Subscription, topic_matches

__all__ = ["ATTEMPTS_HEADER", "ERROR_HEADER", "ROUTING_KEY_HEADER", "Event", "Handler", "Outcome", "Subscription",
           "Worker", "apply_event", "apply_events", "topic_matches"]

log = get_logger(__name__)

ATTEMPTS_HEADER = "x-linli-attempts"
BURST_SECONDS = 0.002
ERROR_HEADER = "x-linli-error"
# The key the event was first delivered with; retries and replays arrive under the queue's name.
ROUTING_KEY_HEADER = "x-linli-routing-key"


@dataclass
class Delivery:
    """One received message, read once: the event, or why it cannot be one."""

    subscription: Subscription
    body: bytes
    headers: dict[str, Any]
    event: Event | None
    attempts: int
    problem: str | None
    message: Any = None  # the kombu message, to settle


def read_delivery(subscription: Subscription, body: Any, headers: Any, message: Any = None) -> Delivery:
    """Decode a message once, whatever it holds; never raises."""
    raw = body if isinstance(body, bytes) else str(body).encode("utf-8", "replace")
    heads = dict(headers) if isinstance(headers, dict) else {}
    try:
        attempts = _attempts(heads)
        event = Event.from_cloudevent(decode(raw))
    except InvalidEvent as exc:
        return Delivery(subscription, raw, heads, None, _attempts_or_zero(heads), str(exc), message)
    return Delivery(subscription, raw, heads, event, attempts, None, message)


def _attempts(headers: dict[str, Any]) -> int:
    value = headers.get(ATTEMPTS_HEADER, 0)
    # bool is an int to Python, not to whoever set the header.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidEvent(f"{ATTEMPTS_HEADER} header is not a non-negative integer: {str(value)[:50]!r}")
    return value


def _attempts_or_zero(headers: dict[str, Any]) -> int:
    try:
        return _attempts(headers)
    except InvalidEvent:
        return 0


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
        self._retry_steps = retry_delays_ms(settings)

    def handle(self, subscription: Subscription, body: bytes, headers: dict[str, Any]) -> str:
        """Decide what becomes of one delivery; the caller acks after this returns (requeues on REQUEUE)."""
        return self._handle(read_delivery(subscription, body, headers))

    def _handle(self, delivery: Delivery) -> str:
        queue = self.settings.queue(delivery.subscription.name)
        event = delivery.event
        if event is None:
            self._dead_letter(delivery, delivery.attempts + 1, f"invalid event: {delivery.problem}")
            EVENTS_CONSUMED.labels(queue, "invalid", Outcome.DEAD).inc()
            return Outcome.DEAD
        try:
            outcome = apply_event(self.factory, delivery.subscription, event)
        except OperationalError as exc:
            if not database_answers(self.factory):
                # The database is unreachable, not the event at fault: keep it without spending an attempt.
                log.warning("event_requeued_database_unavailable", queue=queue, event_id=str(event.id),
                            error=str(exc.orig)[:200])
                outcome = Outcome.REQUEUE
            else:
                # It answers: a deadlock, lock or statement timeout of this event, which must spend attempts.
                outcome = self._failed(delivery, exc)
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
            outcome = self._failed(delivery, exc)
        EVENTS_CONSUMED.labels(queue, event.key, outcome).inc()
        return outcome

    def _failed(self, delivery: Delivery, exc: BaseException) -> str:
        assert delivery.event is not None
        queue = self.settings.queue(delivery.subscription.name)
        bound = log.bind(queue=queue, event_id=str(delivery.event.id), event_type=delivery.event.key)
        attempts = delivery.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempts >= self.settings.max_attempts or not self._retry_steps:
            bound.error("event_dead_lettered", attempts=attempts, error=error)
            self._dead_letter(delivery, attempts, error + "\n" + traceback.format_exc(limit=5))
            return Outcome.DEAD
        delay_ms = self._retry_steps[min(attempts, len(self._retry_steps)) - 1]
        bound.warning("event_retry", attempts=attempts, delay=delay_ms / 1000, error=error)
        self._retry(delivery, attempts, delay_ms, error)
        return Outcome.RETRY

    def _retry(self, delivery: Delivery, attempts: int, delay_ms: int, error: str) -> None:
        queue = self.settings.queue(delivery.subscription.name)
        message = _forward(delivery, attempts, error)
        if self.settings.is_memory:
            # The memory transport has no TTL or dead-lettering: wait in a timer instead.
            message.exchange = requeue_exchange_name(self.settings)
            message.routing_key = queue
            timer = threading.Timer(delay_ms / 1000, self._publish_quietly, args=(message,))
            timer.daemon = True
            timer.start()
            return
        # The step's queue holds only messages of this delay, so none waits behind a longer one.
        message.exchange = ""
        message.routing_key = retry_queue_name(queue, delay_ms)
        self._publisher.publish([message])

    def _dead_letter(self, delivery: Delivery, attempts: int, error: str) -> None:
        queue = self.settings.queue(delivery.subscription.name)
        message = _forward(delivery, attempts, error[:4000])
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
                log.warning("worker_connection_lost", error=f"{type(exc).__name__}: {exc}", retry_in=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        self.ready.clear()
        self._publisher.close()

    def _consume(self, stop: threading.Event) -> None:
        # Deliveries of a lost connection return to the queue by themselves; their handles are dead.
        self._pending = []
        conn = connect(self.settings)
        try:
            conn.connect()
            channel, queues = declare_topology(self.settings, conn,
                                               [s.topology(self.settings) for s in self.subscriptions])
            channel.basic_qos(0, self.settings.prefetch, False)
            consumers = []
            for subscription, queue in zip(self.subscriptions, queues, strict=True):
                consumer = kombu.Consumer(channel, queues=[queue], on_message=self._on_message_for(subscription),
                                          accept=None, auto_declare=False)
                consumer.consume()
                consumers.append(consumer)
            self.ready.set()
            log.info("worker_consuming", queues=[s.name for s in self.subscriptions])
            self._loop(conn, stop)
            self._flush(conn, stop)
            for consumer in consumers:
                consumer.cancel()
        except BaseException:
            self.ready.clear()
            # A silent broker would never answer the closing handshake.
            discard_connection(conn)
            raise
        conn.release()

    def _loop(self, conn: kombu.Connection, stop: threading.Event) -> None:
        beat = heartbeat_interval(self.settings)
        next_beat = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_beat:
                # Raises once the broker has been silent for two heartbeats: the connection is then
                # replaced, and the broker, missing ours, has already handed our prefetch to others.
                conn.heartbeat_check()
                self._publisher.keepalive()
                next_beat = time.monotonic() + min(beat, 1.0)
            # A burst stays open at most BURST_SECONDS from its first message, so a steady trickle
            # is applied promptly instead of waiting for the prefetch window to fill.
            left = self._opened + BURST_SECONDS - time.perf_counter() if self._pending else min(0.5, beat)
            if left <= 0:
                self._flush(conn, stop)
                continue
            try:
                conn.drain_events(timeout=left)
            except TimeoutError:
                self._flush(conn, stop)
                continue
            if len(self._pending) >= self.settings.prefetch:
                self._flush(conn, stop)

    def _on_message_for(self, subscription: Subscription) -> Callable[[Any], None]:
        def on_message(message: Any) -> None:
            if not self._pending:
                self._opened = time.perf_counter()
            self._pending.append((subscription, message))

        return on_message

    def _flush(self, conn: kombu.Connection, stop: threading.Event) -> None:
        """Apply the buffered deliveries together, then ack them; on any failure, one by one."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        ready: list[Delivery] = []
        for subscription, message in pending:
            delivery = read_delivery(subscription, message.body, message.headers, message)
            if delivery.event is None:
                self._handle(delivery)  # dead-letters it with the reason
                message.ack()
                continue
            ready.append(delivery)
        if not ready:
            return
        if len(ready) == 1:
            self._settle(ready[0], conn, stop)
            return
        try:
            outcomes = apply_events(self.factory, [(d.subscription, d.event) for d in ready])  # type: ignore[misc]
        except OperationalError:
            if not database_answers(self.factory):
                log.warning("burst_requeued_database_unavailable", events=len(ready))
                self._await_database(conn, stop)
                for delivery in ready:
                    delivery.message.requeue()
                return
            # The database answers: one event's deadlock or timeout. Find it, spending its attempts only.
            for delivery in ready:
                self._settle(delivery, conn, stop)
            return
        except Exception:  # noqa: BLE001 - find the culprit one event per transaction
            for delivery in ready:
                self._settle(delivery, conn, stop)
            return
        for delivery, outcome in zip(ready, outcomes, strict=True):
            assert delivery.event is not None
            EVENTS_CONSUMED.labels(self.settings.queue(delivery.subscription.name), delivery.event.key,
                                   outcome).inc()
        if len(ready) == len(pending) and not self.settings.is_memory:
            # Every delivery of the channel up to this one is settled: one ack says so.
            ready[-1].message.ack(multiple=True)
        else:
            for delivery in ready:
                delivery.message.ack()

    def _settle(self, delivery: Delivery, conn: kombu.Connection, stop: threading.Event) -> None:
        if self._handle(delivery) == Outcome.REQUEUE:
            self._await_database(conn, stop)
            delivery.message.requeue()
            return
        delivery.message.ack()

    def _await_database(self, conn: kombu.Connection, stop: threading.Event) -> None:
        """Hold the deliveries until the database answers (or we stop), keeping the connection alive.

        Requeueing at once would only spin them through the broker (and count deliveries against a
        quorum queue's limit). Messages arriving meanwhile wait in the next burst.
        """
        wait = self.settings.retry_base_seconds
        while not stop.is_set() and not database_answers(self.factory):
            deadline = time.monotonic() + wait
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=min(left, heartbeat_interval(self.settings)))
                conn.heartbeat_check()
            wait = min(wait * 2, 5.0)


def _forward(delivery: Delivery, attempts: int, error: str) -> OutgoingMessage:
    kept = {k: v for k, v in delivery.headers.items() if k not in (ATTEMPTS_HEADER, ERROR_HEADER)}
    kept[ATTEMPTS_HEADER] = attempts
    kept[ERROR_HEADER] = error
    delivered_as = getattr(delivery.message, "delivery_info", None) or {}
    if ROUTING_KEY_HEADER not in kept and isinstance(delivered_as.get("routing_key"), str):
        kept[ROUTING_KEY_HEADER] = delivered_as["routing_key"]
    message_id = str(delivery.event.id) if delivery.event is not None else str(uuid.uuid4())
    traceparent = kept.pop("traceparent", None)
    return OutgoingMessage(routing_key="", body=delivery.body, message_id=message_id,
                           traceparent=traceparent if isinstance(traceparent, str) else None, headers=kept)
