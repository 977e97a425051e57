"""Operator access to dead-lettered messages: list them, replay them into their queue, or drop them.

Each listed message has a `handle`, a hash of its body and headers: stable while it sits
in the queue and present even for a message that is not an event at all, so one message
can be replayed or dropped alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import amqp
import kombu

from linli.shared.bus import ConfirmingPublisher, OutgoingMessage, connect, requeue_exchange_name
from linli.shared.config import BusSettings
from linli.shared.consumer import ATTEMPTS_HEADER, ERROR_HEADER, ROUTING_KEY_HEADER
from linli.shared.events import InvalidEvent, decode, routing_key


class DeadLetterError(RuntimeError):
    """What an operator asked for cannot be done as asked (wrong prefix or vhost, nothing matched)."""


def _body(message: Any) -> bytes:
    return message.body if isinstance(message.body, bytes) else str(message.body).encode("utf-8", "replace")


def _headers(message: Any) -> dict[str, Any]:
    return dict(message.headers) if isinstance(message.headers, dict) else {}


def handle_of(body: bytes, headers: dict[str, Any]) -> str:
    digest = hashlib.sha256(body)
    digest.update(json.dumps(headers, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _original_key(headers: dict[str, Any], event: dict[str, Any] | None) -> str | None:
    if isinstance(headers.get(ROUTING_KEY_HEADER), str):
        return headers[ROUTING_KEY_HEADER]
    deaths = headers.get("x-death")
    # Dead-lettered by the broker itself (a quorum queue's delivery limit): it says where it came from.
    if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
        keys = deaths[-1].get("routing-keys")
        if isinstance(keys, list) and keys:
            return str(keys[0])
    return routing_key(event) if event else None


def _describe(queue: str, message: Any) -> dict[str, Any]:
    headers, body = _headers(message), _body(message)
    try:
        event: dict[str, Any] | None = decode(body)
    except InvalidEvent:
        event = None
    error = headers.get(ERROR_HEADER)
    return {
        "queue": queue,
        "handle": handle_of(body, headers),
        "event_id": str(event["id"]) if event else None,
        "type": str(event["type"]) if event else None,
        "routing_key": _original_key(headers, event),
        "subject": event.get("subject") if event else None,
        "attempts": headers.get(ATTEMPTS_HEADER),
        "error": str(error).splitlines()[0] if error else None,
        "failed_at": headers.get("x-linli-failed-at"),
    }


def _where(settings: BusSettings) -> str:
    vhost = urlsplit(settings.url).path.lstrip("/") or "/"
    return f"vhost {vhost!r}, queue prefix {settings.queue_prefix!r}"


KEEP, REMOVE, REMOVE_AND_STOP = "keep", "remove", "remove-and-stop"


def _drain(settings: BusSettings, queues: Sequence[str], visit: Callable[[str, Any], str]) -> None:
    """Take every dead message once; `visit` says whether to keep it, remove (ack) it, or also stop there.

    Un-acked messages return to their queue when the channel closes, in their order.
    """
    try:
        conn = connect(settings)
        conn.connect()
    except (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed) as exc:
        raise DeadLetterError(f"the broker refused the connection ({_where(settings)}): {exc}") from exc
    except OSError as exc:
        raise DeadLetterError(f"cannot reach the broker: {type(exc).__name__}: {exc}") from exc
    with conn:
        channel = conn.channel()
        try:
            for queue in queues:
                dead = kombu.Queue(f"{queue}.dead", channel=channel)
                try:
                    present = dead.queue_declare(passive=True).message_count
                except amqp.exceptions.NotFound as exc:
                    # The topology is declared at every start: a missing queue means a wrong prefix or vhost.
                    raise DeadLetterError(f"no queue {queue}.dead on this broker ({_where(settings)}); "
                                          "check LINLI_QUEUE_PREFIX and the vhost of LINLI_BROKER_URL") from exc
                # Only what was there when we looked: a replayed event that fails again comes back
                # to this queue while we drain it, and must wait for the next replay.
                for _ in range(present):
                    message = dead.get(no_ack=False)
                    if message is None:
                        break
                    verdict = visit(queue, message)
                    if verdict != KEEP:
                        message.ack()
                    if verdict == REMOVE_AND_STOP:
                        return
        finally:
            channel.close()


def _matcher(event_id: str | None, handle: str | None) -> Callable[[dict[str, Any]], bool]:
    def wanted(info: dict[str, Any]) -> bool:
        return (event_id is None or info["event_id"] == event_id) and (handle is None or info["handle"] == handle)

    return wanted


def list_dead(settings: BusSettings, queues: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def visit(queue: str, message: Any) -> str:
        found.append(_describe(queue, message))
        return KEEP

    _drain(settings, queues, visit)
    return found


def replay(settings: BusSettings, queues: Sequence[str], event_id: str | None = None,
           handle: str | None = None) -> int:
    """Send dead messages (all, one event's, or the one handle) back to their queue with a fresh attempt count."""
    publisher = ConfirmingPublisher(settings)
    wanted = _matcher(event_id, handle)
    replayed = 0

    def visit(queue: str, message: Any) -> str:
        nonlocal replayed
        info = _describe(queue, message)
        if not wanted(info):
            return KEEP
        headers = {k: v for k, v in _headers(message).items()
                   if not k.startswith("x-linli-") and not k.startswith("x-death")}
        traceparent = headers.pop("traceparent", None)
        publisher.publish([OutgoingMessage(
            routing_key=queue,
            body=_body(message),
            message_id=info["event_id"] or info["handle"],
            traceparent=traceparent if isinstance(traceparent, str) else None,
            exchange=requeue_exchange_name(settings),
            headers=headers,
        )])
        replayed += 1
        return _removed(handle)

    try:
        _drain(settings, queues, visit)
    finally:
        publisher.close()
    return replayed


def drop(settings: BusSettings, queues: Sequence[str], event_id: str | None = None,
         handle: str | None = None) -> int:
    """Remove dead messages for good: one event's, or the one handle (never all at once)."""
    if event_id is None and handle is None:
        raise DeadLetterError("say which message to drop: --id HANDLE or --event-id UUID")
    wanted = _matcher(event_id, handle)
    dropped = 0

    def visit(queue: str, message: Any) -> str:
        nonlocal dropped
        if not wanted(_describe(queue, message)):
            return KEEP
        dropped += 1
        return _removed(handle)

    _drain(settings, queues, visit)
    return dropped


def _removed(handle: str | None) -> str:
    # A handle names one message: identical copies of it, if any, stay for another command.
    return REMOVE if handle is None else REMOVE_AND_STOP
