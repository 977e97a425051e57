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


def declare(key: str, summary: str, payload: type[ma.Schema]) -> EventType:
    parts = key.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"routing key must be <service>.<entity>.<verb>: {key!r}")
    existing = CATALOGUE.get(key)
    if existing is not None and existing.payload is not payload:
        raise ValueError(f"event {key} declared twice")
    event_type = EventType(key, summary, payload)
    CATALOGUE[key] = event_type
    return event_type


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


def decode(body: bytes | str) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise InvalidEvent("body is not a JSON object")
    missing = [k for k in ("specversion", "id", "source", "type", "data") if k not in event]
    if missing:
        raise InvalidEvent(f"CloudEvent lacks {', '.join(missing)}")
    if event["specversion"] != SPECVERSION:
        raise InvalidEvent(f"unsupported specversion {event['specversion']!r}")
    try:
        uuid.UUID(str(event["id"]))
    except ValueError as exc:
        raise InvalidEvent("CloudEvent id is not a UUID") from exc
    return event


def routing_key(event: dict[str, Any]) -> str:
    return str(event["type"]).removeprefix("linli.")
