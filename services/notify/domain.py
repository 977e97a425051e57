"""Rules of notifications: their states, who is told of which event, and what of it they are told.

Another service's event may carry more than an inbox may show (a resident's phone number), so what
reaches a notification is chosen here, field by field, and everything else stays out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from linli.shared.errors import InvalidTransition

UNREAD = "unread"
READ = "read"
STATES = (UNREAD, READ)

INBOX = "inbox"
CHANNELS = (INBOX,)

# Only these fields of a ticket reach a notification: ticket data may carry a resident's phone number,
# which must not be copied into inboxes (and, later, webhooks).
TICKET_PARAMS = ("id", "title", "compound_id", "compound_name", "due_at")


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


def ticket_params(ticket: Mapping[str, Any]) -> dict[str, str]:
    """What a template may say of a ticket: the TICKET_PARAMS it carries, as text."""
    return {name: str(ticket[name]) for name in TICKET_PARAMS if ticket.get(name) is not None}


# --- Outgoing messages (SMS, email): preferences, quiet hours, the sender's decisions ------------------------------

SMS = "sms"
EMAIL = "email"
OUTGOING_CHANNELS = (SMS, EMAIL)


@dataclass(frozen=True)
class Message:
    """One thing to tell one recipient on one outgoing channel (sms or email), worded per locale."""

    district_id: str
    event_id: uuid.UUID          # the suite event that caused it
    event_type: str              # e.g. "tickets.ticket.overdue"
    recipient: str               # "member:<uuid>", "organization:<uuid>", "reporter:<ticket uuid>", ...
    channel: str                 # "sms" | "email"
    address: str                 # phone number or e-mail address (never shown unmasked in APIs/events)
    urgent: bool                 # urgent messages go through quiet hours
    render: Callable[[str], tuple[str, str]]   # locale -> (subject, body); delivery picks the locale
