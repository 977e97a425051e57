"""Rules of notifications: their states, and who is told of which event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from linli.shared.errors import InvalidTransition

UNREAD = "unread"
READ = "read"
STATES = (UNREAD, READ)

INBOX = "inbox"
CHANNELS = (INBOX,)


def read(state: str) -> tuple[str, bool]:
    """The state after the recipient read it, and whether that is a change.

    Reading twice is a no-op rather than a conflict: two devices of one inbox may both mark it.
    """
    if state not in STATES:
        raise InvalidTransition(f"a notification in state {state!r} cannot be read")
    return READ, state != READ


def compound_inbox(compound_id: object) -> str:
    return f"compound:{compound_id}"


def ticket_recipients(ticket: Mapping[str, Any]) -> list[str]:
    """Who hears of a ticket event; for now the inbox of the compound the ticket was raised in."""
    compound_id = ticket.get("compound_id")
    return [compound_inbox(compound_id)] if compound_id else []
