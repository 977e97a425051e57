"""Rules of notifications: an inbox notification's states, and the outgoing `Message` handed to delivery.

Who is told of which event is in `rules.py`; what they are told, in `templates.py` and `wording.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

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


# Recipients whose callers read their own inbox: a token whose `sub` is `member:<id>` or `organization:<id>`.
PERSONAL_KINDS = ("member", "organization")


def inbox_owner(sub: str) -> str | None:
    """The one inbox a caller may read, when its token names a member or a unit; None for a district's clerks
    and systems, who read every inbox of their district."""
    kind, _, rest = sub.partition(":")
    if kind not in PERSONAL_KINDS:
        return None
    try:
        return f"{kind}:{uuid.UUID(rest)}"
    except ValueError:
        # Still a personal token: it reads the inbox it names, which no rule ever fills, not the district's.
        return sub


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
