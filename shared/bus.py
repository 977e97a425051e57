"""RabbitMQ topology and publishing, over kombu; the same code runs on `memory://`.

Topology (names get the optional test prefix):
- `linli.events`   durable topic exchange of every public event;
- `linli.private`  durable topic exchange of events carrying personal data, which only the
                   suite's own broker users may bind to;
- `linli.unrouted` fanout exchange, the alternate exchange of both: an event no queue is bound
                   for lands in the durable queue `linli.unrouted` instead of vanishing;
- `linli.requeue`  direct exchange binding each consumer queue by its own name, so a retry or an
                   operator's replay lands in exactly one queue;
- `linli.dead`     direct exchange; `<queue>.dead` holds what failed for good;
- `<queue>.retry.<ms>`  one queue per backoff step, each with its own TTL, dead-lettering back
                   through `linli.requeue`: a short retry never waits behind a long one.

Every wait on the broker is bounded (`BusSettings.timeout_seconds`) and heartbeats are on, so a
broker that stops answering without closing the connection is noticed instead of hanging.
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
from linli.shared.metrics import EVENTS_UNROUTABLE

log = get_logger(__name__)


class PublishError(RuntimeError):
    """The broker did not confirm every message of a batch; none of it may be marked sent."""


class TopologyError(RuntimeError):
    """The broker refused the suite's exchanges or queues as declared (e.g. different arguments)."""


def requeue_exchange_name(settings: BusSettings) -> str:
    return f"{settings.queue_prefix}linli.requeue"


def unrouted_name(settings: BusSettings) -> str:
    """The alternate exchange of the event exchanges, and the queue behind it."""
    return f"{settings.queue_prefix}linli.unrouted"


def _alternate(settings: BusSettings) -> dict[str, str] | None:
    # kombu's memory transport has no alternate exchanges; there the argument only gets in the way.
    return None if settings.is_memory else {"alternate-exchange": unrouted_name(settings)}


def events_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(settings.exchange, type="topic", durable=True, arguments=_alternate(settings))


def private_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(settings.private_exchange, type="topic", durable=True, arguments=_alternate(settings))


def dead_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(settings.dead_exchange, type="direct", durable=True)


def requeue_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(requeue_exchange_name(settings), type="direct", durable=True)


def unrouted_exchange(settings: BusSettings) -> kombu.Exchange:
    return kombu.Exchange(unrouted_name(settings), type="fanout", durable=True)


def retry_delays_ms(settings: BusSettings) -> tuple[int, ...]:
    """The backoff steps: the n-th failure waits `retry_base_seconds * 2**(n-1)`."""
    steps = (max(1, round(settings.retry_base_seconds * 1000 * 2**k)) for k in range(settings.max_attempts - 1))
    return tuple(dict.fromkeys(steps))


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}"


def connect(settings: BusSettings, **kwargs: Any) -> kombu.Connection:
    options: dict[str, Any] = {}
    if settings.is_memory:
        # kombu's memory transport polls once a second by default: far too slow for a bus.
        options["polling_interval"] = 0.02
    else:
        # Without these a frame that never comes (a frozen broker or proxy) blocks a channel open,
        # a declare or a close forever; py-amqp puts them on the socket.
        options["read_timeout"] = settings.timeout_seconds
        options["write_timeout"] = settings.timeout_seconds
    options.update(kwargs.pop("transport_options", {}))
    return kombu.Connection(settings.url, transport_options=options, heartbeat=settings.heartbeat_seconds,
                            connect_timeout=settings.timeout_seconds, **kwargs)


def heartbeat_interval(settings: BusSettings) -> float:
    """How often a connection's heartbeats must be checked: twice per heartbeat period at least."""
    return max(0.1, settings.heartbeat_seconds / 2) if settings.heartbeat_seconds else 1.0


def _quorum(settings: BusSettings) -> dict[str, Any]:
    if settings.queue_type != "quorum":
        return {}
    # Quorum queues dead-letter at-most-once unless told otherwise, and at-least-once needs reject-publish.
    return {"x-queue-type": "quorum", "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def _declare_exchange(conn: kombu.Connection, channel: Any, exchange: kombu.Exchange) -> Any:
    """Declare an exchange; one that exists with other arguments is used as it is, loudly.

    RabbitMQ refuses to change an existing exchange's arguments (PRECONDITION_FAILED). An exchange
    made before the alternate exchange existed keeps working, without it, until an operator sets
    the `alternate-exchange` policy (docs/deployment.md); publishing must not stop meanwhile.
    """
    try:
        exchange(channel).declare()
        return channel
    except amqp.exceptions.PreconditionFailed as exc:
        log.error("exchange_arguments_differ", exchange=exchange.name, error=str(exc),
                  hint="set the alternate-exchange policy, see docs/deployment.md")
        channel = conn.channel()
        exchange(channel).declare(passive=True)
        return channel


def declare_exchanges(settings: BusSettings, conn: kombu.Connection, channel: Any) -> Any:
    """Declare the suite's exchanges and the unrouted queue; returns the channel to go on with."""
    channel = _declare_exchange(conn, channel, unrouted_exchange(settings))
    unrouted = unrouted_name(settings)
    kombu.Queue(unrouted, exchange=unrouted_exchange(settings), routing_key="", durable=True, channel=channel,
                queue_arguments={**({"x-queue-type": "quorum"} if settings.queue_type == "quorum" else {}),
                                 "x-overflow": "drop-head", "x-max-length": settings.unrouted_max_length}
                ).declare()
    for exchange in (events_exchange(settings), private_exchange(settings), dead_exchange(settings),
                     requeue_exchange(settings)):
        channel = _declare_exchange(conn, channel, exchange)
    return channel


@dataclass(frozen=True)
class QueueTopology:
    """A consumer queue with its retry and dead-letter queues."""

    name: str
    binding_keys: tuple[str, ...]
    # Bind the keys on the public exchange only (see `Subscription.public_only`).
    public_only: bool = False

    def declare(self, settings: BusSettings, channel: Any) -> kombu.Queue:
        """Declare the queues and bindings (the exchanges must exist: `declare_exchanges`)."""
        main = kombu.Queue(
            self.name,
            durable=True,
            queue_arguments={
                **_quorum(settings),
                # What the broker itself gives up on (quorum delivery limit, a rejection) goes to the DLQ.
                "x-dead-letter-exchange": settings.dead_exchange,
                "x-dead-letter-routing-key": self.name,
                **({"x-delivery-limit": settings.delivery_limit} if settings.queue_type == "quorum" else {}),
            },
            channel=channel,
        )
        main.declare()
        # Each event travels on exactly one of the two exchanges; binding the key on both means a
        # consumer need not know which one its producer chose.
        for key in self.binding_keys:
            main.bind_to(events_exchange(settings), routing_key=key)
            if not self.public_only:
                main.bind_to(private_exchange(settings), routing_key=key)
        main.bind_to(requeue_exchange(settings), routing_key=self.name)
        for delay in retry_delays_ms(settings):
            kombu.Queue(
                retry_queue_name(self.name, delay),
                durable=True,
                queue_arguments={
                    **_quorum(settings),
                    "x-message-ttl": delay,
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
            queue_arguments=_quorum(settings) or None,
            channel=channel,
        ).declare()
        return main


def declare_topology(settings: BusSettings, conn: kombu.Connection, topologies: Sequence[QueueTopology]
                     ) -> tuple[Any, list[kombu.Queue]]:
    """Exchanges, the unrouted queue and every given consumer queue; returns the channel and the queues."""
    channel = declare_exchanges(settings, conn, conn.channel())
    try:
        queues = [topology.declare(settings, channel) for topology in topologies]
    except amqp.exceptions.PreconditionFailed as exc:
        raise TopologyError(f"{exc}: a queue exists with other arguments (queue type?); see docs/deployment.md"
                            ) from exc
    return channel, queues


def declare_all(settings: BusSettings, topologies: Sequence[QueueTopology]) -> None:
    """Declare the whole topology on a connection of its own, so no event is published before its queues."""
    with connect(settings) as conn:
        conn.connect()
        channel, _ = declare_topology(settings, conn, topologies)
        channel.close()


def queue_depth(settings: BusSettings, queue: str) -> int | None:
    """Messages ready in a queue, or None if it cannot be seen now."""
    try:
        with connect(settings) as conn:
            conn.connect()
            channel = conn.channel()
            return int(kombu.Queue(queue, channel=channel).queue_declare(passive=True).message_count)
    except Exception:  # noqa: BLE001 - a gauge is only ever best effort
        return None


@dataclass
class OutgoingMessage:
    routing_key: str
    body: bytes
    message_id: str
    traceparent: str | None = None
    exchange: str | None = None  # None: the events exchange
    headers: dict[str, Any] = field(default_factory=dict)
    expiration_ms: int | None = None
    # A retry, dead letter or replay that no queue takes would be lost: the publish fails instead.
    # An event no queue takes is still a fact (counted; kept in linli.unrouted where it exists).
    must_route: bool = True


class ConfirmingPublisher:
    """Publishes batches with pipelined publisher confirms.

    Waiting for each confirm caps a publisher at one broker round trip per message;
    sending a whole batch and then collecting the (often cumulative) acks costs one
    round trip per batch while still knowing every message reached the broker. On
    each (re)connect it declares the topology it was given, so the queues of every
    subscription the process knows exist before its first event goes out.
    """

    def __init__(self, settings: BusSettings, confirm_timeout: float | None = None,
                 topologies: Sequence[QueueTopology] = ()) -> None:
        self.settings = settings
        self.confirm_timeout = settings.timeout_seconds if confirm_timeout is None else confirm_timeout
        self.topologies = tuple(topologies)
        self._conn: kombu.Connection | None = None
        self._channel: Any = None
        self._tag = 0
        self._acked = 0
        self._nacked: list[int] = []
        self._returned: list[tuple[str, str]] = []
        probe = kombu.Connection(settings.url)
        self._errors: tuple[type[BaseException], ...] = (
            OSError, TopologyError, *probe.connection_errors, *probe.channel_errors,
        )

    def _ensure(self) -> Any:
        if self._channel is not None:
            return self._channel
        conn = connect(self.settings)
        try:
            conn.connect()
            channel, _ = declare_topology(self.settings, conn, self.topologies)
            if not self.settings.is_memory:
                channel.confirm_select()
                channel.events["basic_ack"].add(self._on_ack)
                channel.events["basic_nack"].add(self._on_nack)
                channel.events["basic_return"].add(self._on_return)
        except BaseException:
            discard_connection(conn)
            raise
        self._conn, self._channel, self._tag, self._acked = conn, channel, 0, 0
        return channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._acked = max(self._acked, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked.append(delivery_tag)
        self._acked = max(self._acked, delivery_tag)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append((exchange, routing_key))

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
            self.discard()
            raise
        except self._errors as exc:
            self.discard()
            raise PublishError(f"broker unreachable: {type(exc).__name__}: {exc}") from exc

    def keepalive(self) -> None:
        """Read what the broker sent and send heartbeats; an idle publisher calls it between batches.

        Without it an idle connection misses heartbeats both ways: the broker drops it, or a
        broker that went silent is only noticed by the next publish, after its full timeout.
        """
        conn = self._conn
        if conn is None or self.settings.is_memory:
            return
        try:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.001)
            conn.heartbeat_check()
        except Exception as exc:  # noqa: BLE001 - a dead connection is replaced on the next publish
            log.warning("publisher_connection_lost", error=f"{type(exc).__name__}: {exc}")
            self.discard()

    def _exchange(self, message: OutgoingMessage) -> str:
        return self.settings.exchange if message.exchange is None else message.exchange

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
                exchange=self._exchange(message),
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
            with contextlib.suppress(TimeoutError):
                self._conn.drain_events(timeout=min(remaining, heartbeat_interval(self.settings)))
            # A broker that went silent (alarm, partition) is given up on before the confirm deadline.
            self._conn.heartbeat_check()
        if self._nacked:
            raise PublishError(f"broker nacked {len(self._nacked)} message(s)")
        if self._returned:
            self._unroutable(messages)

    def _unroutable(self, messages: Sequence[OutgoingMessage]) -> None:
        # RabbitMQ sends a mandatory message's basic.return before its basic.ack: all returns are in.
        returned = set(self._returned)
        lost = [m for m in messages if (self._exchange(m), m.routing_key) in returned]
        for exchange, _ in self._returned:
            EVENTS_UNROUTABLE.labels(exchange).inc()
        if any(m.must_route for m in lost):
            raise PublishError(f"unroutable: {sorted(returned)}")
        # The exchange has no alternate exchange (yet): the event is still a fact, but nobody got it.
        log.warning("events_unroutable", routing_keys=sorted(key for _, key in returned))

    def _publish_memory(self, channel: Any, messages: Sequence[OutgoingMessage]) -> None:
        producer = kombu.Producer(channel)
        for message in messages:
            props = self._properties(message)
            producer.publish(
                message.body,
                exchange=self._exchange(message),
                routing_key=message.routing_key,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                headers=props["application_headers"],
                message_id=message.message_id,
                delivery_mode=2,
            )

    def discard(self) -> None:
        """Drop the connection without the closing handshake a broken or silent broker would never answer."""
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            discard_connection(conn)

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            # Closing a connection that already died may raise anything; it is gone either way.
            with contextlib.suppress(Exception):
                conn.release()


def discard_connection(conn: kombu.Connection) -> None:
    with contextlib.suppress(Exception):
        conn.collect()
