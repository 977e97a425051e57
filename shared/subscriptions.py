"""What a service consumes: durable queues by purpose, the routing keys they take, and the events handed over.

A service declares a `Subscription` per purpose (queue `<service>.<purpose>`) and
decorates its handlers with the keys they take. The launcher hands every known
subscription to `linli.shared.bus.declare_topology`, so queues exist before anything
is published to them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from linli.shared.bus import QueueTopology
from linli.shared.config import BusSettings
from linli.shared.events import InvalidEvent, is_private, routing_key


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
        """From a CloudEvent as `linli.shared.events.decode` returns it (or a dict built alike in tests)."""
        data = ce.get("data")
        if not isinstance(data, dict):
            raise InvalidEvent("CloudEvent data is not an object")
        try:
            event_id = uuid.UUID(str(ce["id"]))
        except (KeyError, ValueError):
            raise InvalidEvent("CloudEvent id is missing or not a UUID") from None
        traceparent = ce.get("traceparent")
        return cls(
            id=event_id,
            key=routing_key(ce),
            subject=str(ce.get("subject", "")),
            district=str(ce.get("district") or "") or None,
            data=data,
            time=str(ce.get("time", "")),
            traceparent=traceparent if isinstance(traceparent, str) else None,
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
    # Bound to the public exchange only, and deaf to private keys: for consumers that pass events on to
    # outside applications (notify's webhooks), so personal data never reaches their queue.
    public_only: bool = False

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
        if self.public_only and is_private(key):
            return []
        return [fn for pattern, fn in self.handlers if topic_matches(pattern, key)]

    def topology(self, settings: BusSettings) -> QueueTopology:
        return QueueTopology(settings.queue(self.name), self.binding_keys, public_only=self.public_only)


def topologies(settings: BusSettings, subscriptions: Sequence[Subscription]) -> list[QueueTopology]:
    """The queues of the subscriptions that handle anything, one per name with all its keys."""
    keys: dict[str, dict[str, None]] = {}
    public: dict[str, bool] = {}
    for subscription in subscriptions:
        if subscription.handlers:
            name = settings.queue(subscription.name)
            keys.setdefault(name, {}).update(dict.fromkeys(subscription.binding_keys))
            public[name] = public.get(name, True) and subscription.public_only
    return [QueueTopology(name, tuple(bound), public_only=public[name]) for name, bound in keys.items()]
