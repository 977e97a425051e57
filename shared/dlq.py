"""Operator access to dead-lettered events: list them, replay them into their queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import kombu

from linli.shared.bus import ConfirmingPublisher, OutgoingMessage, connect, requeue_exchange_name
from linli.shared.config import BusSettings
from linli.shared.consumer import ATTEMPTS_HEADER, ERROR_HEADER
from linli.shared.events import InvalidEvent, decode


def _describe(queue: str, message: Any) -> dict[str, Any]:
    headers = dict(message.headers or {})
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    try:
        event = decode(body)
        event_id, event_type = str(event["id"]), str(event["type"])
    except InvalidEvent:
        event_id, event_type = None, None
    return {
        "queue": queue,
        "event_id": event_id,
        "type": event_type,
        "attempts": headers.get(ATTEMPTS_HEADER),
        "error": str(headers.get(ERROR_HEADER, "")).splitlines()[0] if headers.get(ERROR_HEADER) else None,
        "failed_at": headers.get("x-linli-failed-at"),
    }


def _drain(settings: BusSettings, queues: Sequence[str], visit: Any) -> None:
    """Take every dead message once; `visit` returns True to ack (remove) it.

    Un-acked messages return to their queue when the channel closes, in their order.
    """
    with connect(settings) as conn:
        channel = conn.channel()
        try:
            for queue in queues:
                dead = kombu.Queue(f"{queue}.dead", channel=channel)
                try:
                    present = dead.queue_declare(passive=True).message_count
                except Exception:  # noqa: BLE001 - a queue never declared has nothing dead in it
                    channel = conn.channel()
                    continue
                # Only what was there when we looked: a replayed event that fails again comes back
                # to this queue while we drain it, and must wait for the next replay.
                for _ in range(present):
                    message = dead.get(no_ack=False)
                    if message is None:
                        break
                    if visit(queue, message):
                        message.ack()
        finally:
            channel.close()


def list_dead(settings: BusSettings, queues: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def visit(queue: str, message: Any) -> bool:
        found.append(_describe(queue, message))
        return False  # listing leaves every message where it is

    _drain(settings, queues, visit)
    return found


def replay(settings: BusSettings, queues: Sequence[str], event_id: str | None = None) -> int:
    """Send dead messages (all, or the one event) back to their queue with a fresh attempt count."""
    publisher = ConfirmingPublisher(settings)
    replayed = 0

    def visit(queue: str, message: Any) -> bool:
        nonlocal replayed
        info = _describe(queue, message)
        if event_id is not None and info["event_id"] != event_id:
            return False
        headers = {k: v for k, v in dict(message.headers or {}).items()
                   if not k.startswith("x-linli-") and not k.startswith("x-death")}
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        publisher.publish([OutgoingMessage(
            routing_key=queue,
            body=body,
            message_id=info["event_id"] or "",
            traceparent=headers.pop("traceparent", None),
            exchange=requeue_exchange_name(settings),
            headers=headers,
        )])
        replayed += 1
        return True

    try:
        _drain(settings, queues, visit)
    finally:
        publisher.close()
    return replayed
