"""Publishing an event on the bus as its producing service would, for tests of the services that consume it."""

from __future__ import annotations

import uuid
from typing import Any

from linli.shared.bus import ConfirmingPublisher, OutgoingMessage
from linli.shared.config import BusSettings
from linli.shared.events import CATALOGUE, encode, envelope


def publish_as_producer(bus: BusSettings, key: str, data: dict[str, Any], *, district: str,
                        subject: str | None = None, event_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Publish `data` as event `key` (on the private exchange if it carries personal data), checked against its
    declared schema first: what a test publishes is what the producer could."""
    event_type = CATALOGUE[key]
    event_type.validate(data)
    event = envelope(event_type, subject=subject or str(data["id"]), data=data, district=district, traceparent=None,
                     event_id=event_id)
    publisher = ConfirmingPublisher(bus)
    try:
        publisher.publish([OutgoingMessage(routing_key=key, body=encode(event), message_id=event["id"],
                                           exchange=bus.private_exchange if event_type.private else None,
                                           must_route=False)])
    finally:
        publisher.close()
    return event
