"""RabbitMQ topology and publishing, over kombu; the same code runs on `memory://`.

Topology (names get the optional test prefix):
- `linli.events`  durable topic exchange every event is published to;
- `linli.requeue` direct exchange binding each consumer queue by its own name, so a
  retry or an operator's replay lands in exactly one queue;
- `linli.dead`    direct exchange; `<queue>.dead` holds what failed for good;
- `<queue>.retry` holds a failed message for its backoff, then dead-letters it back
  through `linli.requeue`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import amqp
import kombu

from linli.shared.config import BusSettings
from linli.shared.events import CONTENT_TYPE
from linli.shared.logs import get_logger

log = get_logger(__name__)


class PublishError(RuntimeError):
    """The broker did not confirm every message of a batch; none of it may be marked sent."""


def requeue_exchange_name(settings: BusSettings) -> str:
    return f"{settings.queue_prefix}linli.requeue"


def events_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(settings.exchange, type="topic", durable=True)


def dead_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(settings.dead_exchange, type="direct", durable=True)


def requeue_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(requeue_exchange_name(settings), type="direct", durable=True)


def connect(settings: BusSettings, **kwargs: Any) -> kombu.Connection:
    options: dict[str, Any] = {}
    if settings.is_memory:
        # kombu's memory transport polls once a second by default: far too slow for a bus.
        options["polling_interval"] = 0.02
    options.update(kwargs.pop("transport_options", {}))
    return kombu.Connection(settings.url, transport_options=options, heartbeat=0, **kwargs)


def declare_exchanges(settings: BusSettings, channel: Any) -> None:
    for exchange in (events_exchange(settings), dead_exchange(settings), requeue_exchange(settings)):
        exchange(channel).declare()


@dataclass(frozen=True)
class QueueTopology:
    """A consumer queue with its retry and dead-letter queues."""

    name: str
    binding_keys: tuple[str, ...]

    def declare(self, settings: BusSettings, channel: Any) -> kombu.Queue:
        declare_exchanges(settings, channel)
        main = kombu.Queue(
            self.name,
            exchange=events_exchange(settings),
            routing_key=self.binding_keys[0] if self.binding_keys else self.name,
            durable=True,
            queue_arguments={
                # A message the worker rejects outright (it cannot even be read) goes straight to the DLQ.
                "x-dead-letter-exchange": settings.dead_exchange,
                "x-dead-letter-routing-key": self.name,
            },
            channel=channel,
        )
        main.declare()
        for key in self.binding_keys[1:]:
            main.bind_to(events_exchange(settings), routing_key=key)
        main.bind_to(requeue_exchange(settings), routing_key=self.name)
        kombu.Queue(
            f"{self.name}.retry",
            durable=True,
            queue_arguments={
                "x-dead-letter-exchange": requeue_exchange_name(settings),
                "x-dead-letter-routing-key": self.name,
            },
            channel=channel,
        ).declare()
        kombu.Queue(
            f"{self.name}.dead",
            exchange=dead_exchange(settings),
            routing_key=self.name,
            durable=True,
            channel=channel,
        ).declare()
        return main


@dataclass
class OutgoingMessage:
    routing_key: str
    body: bytes
    message_id: str
    traceparent: str | None = None
    exchange: str | None = None  # None: the events exchange
    headers: dict[str, Any] = field(default_factory=dict)
    expiration_ms: int | None = None


class ConfirmingPublisher:
    """Publishes batches with pipelined publisher confirms.

    Waiting for each confirm caps a publisher at one broker round trip per message;
    sending a whole batch and then collecting the (often cumulative) acks costs one
    round trip per batch while still knowing every message reached the broker.
    """

    def __init__(self, settings: BusSettings, confirm_timeout: float = 10.0) -> None:
        self.settings = settings
        self.confirm_timeout = confirm_timeout
        self._conn: kombu.Connection | None = None
        self._channel: Any = None
        self._tag = 0
        self._acked = 0
        self._nacked: list[int] = []
        self._returned: list[str] = []
        probe = kombu.Connection(settings.url)
        self._errors: tuple[type[BaseException], ...] = (
            OSError, *probe.connection_errors, *probe.channel_errors,
        )

    def _ensure(self) -> Any:
        if self._channel is not None:
            return self._channel
        conn = connect(self.settings)
        conn.connect()
        channel = conn.channel()
        declare_exchanges(self.settings, channel)
        if not self.settings.is_memory:
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
        self._conn, self._channel, self._tag, self._acked = conn, channel, 0, 0
        return channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._acked = max(self._acked, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked.append(delivery_tag)
        self._acked = max(self._acked, delivery_tag)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(routing_key)

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        try:
            channel = self._ensure()
            if self.settings.is_memory:
                self._publish_memory(channel, messages)
            else:
                self._publish_confirmed(channel, messages)
        except PublishError:
            self.close()
            raise
        except self._errors as exc:
            self.close()
            raise PublishError(f"broker unreachable: {exc}") from exc

    def _properties(self, message: OutgoingMessage) -> dict[str, Any]:
        headers = dict(message.headers)
        if message.traceparent:
            headers["traceparent"] = message.traceparent
        props: dict[str, Any] = {
            "content_type": CONTENT_TYPE,
            "content_encoding": "utf-8",
            "delivery_mode": 2,
            "message_id": message.message_id,
            "application_headers": headers,
        }
        if message.expiration_ms is not None:
            props["expiration"] = str(message.expiration_ms)
        return props

    def _publish_confirmed(self, channel: Any, messages: Sequence[OutgoingMessage]) -> None:
        self._nacked.clear()
        self._returned.clear()
        for message in messages:
            channel.basic_publish(
                amqp.Message(message.body, **self._properties(message)),
                exchange=self.settings.exchange if message.exchange is None else message.exchange,
                routing_key=message.routing_key,
                mandatory=True,
            )
            self._tag += 1
        deadline = time.monotonic() + self.confirm_timeout
        assert self._conn is not None
        while self._acked < self._tag:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError(f"no confirm within {self.confirm_timeout}s")
            try:
                self._conn.drain_events(timeout=remaining)
            except TimeoutError:
                continue
        if self._nacked:
            raise PublishError(f"broker nacked {len(self._nacked)} message(s)")
        if self._returned:
            # Unroutable means nobody subscribes to that key yet; the event is still a fact.
            log.info("events_unroutable", routing_keys=sorted(set(self._returned)))

    def _publish_memory(self, channel: Any, messages: Sequence[OutgoingMessage]) -> None:
        producer = kombu.Producer(channel)
        for message in messages:
            props = self._properties(message)
            producer.publish(
                message.body,
                exchange=self.settings.exchange if message.exchange is None else message.exchange,
                routing_key=message.routing_key,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                headers=props["application_headers"],
                message_id=message.message_id,
                delivery_mode=2,
            )

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            # Closing a connection that already died may raise anything; it is gone either way.
            with contextlib.suppress(Exception):
                conn.release()

