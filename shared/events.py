"""The event catalogue and the CloudEvents 1.0 envelope every event travels in.

Each service declares its events once (`declare(...)` in its own `events.py`); the
AsyncAPI document is generated from this catalogue, so code and docs cannot drift.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

CONTENT_TYPE = "application/cloudevents+json"
SPECVERSION = "1.0"


@dataclass(frozen=True)
class EventType:
    key: str  # the routing key, `<service>.<entity>.<verb>`
    summary: str
    payload: type[ma.Schema]
    # Carries personal data: published to `linli.private`, which outside applications cannot bind to.
    private: bool = False

    @property
    def producer(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def type(self) -> str:
        return f"linli.{self.key}"

    def validate(self, data: dict[str, Any]) -> None:
        errors = _schema(self.payload).validate(data)
        if errors:
            raise ValueError(f"{self.key} payload does not match its schema: {errors}")


CATALOGUE: dict[str, EventType] = {}


@functools.cache
def _schema(payload: type[ma.Schema]) -> ma.Schema:
    # Building a marshmallow schema costs more than validating with it; emit() runs on every write.
    return payload()


def declare(key: str, summary: str, payload: type[ma.Schema], *, private: bool = False) -> EventType:
    """Add an event to the catalogue; `private=True` for events carrying personal data."""
    parts = key.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"routing key must be <service>.<entity>.<verb>: {key!r}")
    existing = CATALOGUE.get(key)
    if existing is not None and (existing.payload is not payload or existing.private != private):
        raise ValueError(f"event {key} declared twice")
    event_type = EventType(key, summary, payload, private)
    CATALOGUE[key] = event_type
    return event_type


def is_private(key: str) -> bool:
    """Whether events of this routing key go to the private exchange.

    A key missing from the catalogue (its declaration was removed while events of it were still
    waiting in an outbox) is treated as private: better an outside application misses it than
    personal data leaks.
    """
    event_type = CATALOGUE.get(key)
    return True if event_type is None else event_type.private


def envelope(
    event_type: EventType,
    *,
    subject: str,
    data: dict[str, Any],
    district: str | None,
    traceparent: str | None,
    time: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    event = {
        "specversion": SPECVERSION,
        "id": str(event_id or uuid.uuid4()),
        "source": f"/linli/{event_type.producer}",
        "type": event_type.type,
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
        "district": district or "",
    }
    if traceparent:
        event["traceparent"] = traceparent
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class InvalidEvent(ValueError):
    """A message that is not a CloudEvent of this suite; retrying cannot help it."""


# Attributes that must be strings when present; anything else in them is a broken producer.
_STRING_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "district",
                      "traceparent")


def decode(body: bytes | str) -> dict[str, Any]:
    """Parse and check a CloudEvent; anything a message may contain either passes or is `InvalidEvent`."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # json.loads raises RecursionError, not ValueError, on deeply nested input.
        raise InvalidEvent(f"body is not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(event, dict):
        raise InvalidEvent("body is not a JSON object")
    missing = [k for k in ("specversion", "id", "source", "type", "data") if k not in event]
    if missing:
        raise InvalidEvent(f"CloudEvent lacks {', '.join(missing)}")
    wrong = [k for k in _STRING_ATTRIBUTES if event.get(k) is not None and not isinstance(event[k], str)]
    if wrong:
        raise InvalidEvent(f"CloudEvent attribute(s) {', '.join(wrong)} not a string")
    if event["specversion"] != SPECVERSION:
        raise InvalidEvent(f"unsupported specversion {event['specversion']!r}")
    try:
        uuid.UUID(event["id"])
    except ValueError:
        raise InvalidEvent("CloudEvent id is not a UUID") from None
    if not isinstance(event["data"], dict):
        raise InvalidEvent("CloudEvent data is not an object")
    return event


def routing_key(event: dict[str, Any]) -> str:
    return str(event["type"]).removeprefix("linli.")
