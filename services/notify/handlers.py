"""What notify does with the suite's events: turn them into notifications, and into webhook deliveries."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.notify import usecases
from linli.shared.consumer import Event, Subscription
from linli.shared.db import utcnow
from linli.shared.events import InvalidEvent
from linli.shared.incoming import Incoming, load

deliveries = Subscription("notify", "deliveries")
# Every public event, on a queue of its own: a burst for webhooks never holds up the inboxes. Bound to the
# public exchange only, so no event carrying personal data even reaches this queue.
webhook_events = Subscription("notify", "webhooks", public_only=True)


class TicketData(Incoming):
    """tickets' `ticket` payload, as far as notify uses it: never the reporter's contact."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(allow_none=True, load_default=None)
    compound_id = ma.fields.UUID(allow_none=True, load_default=None)
    compound_name = ma.fields.String(allow_none=True, load_default=None)
    title = ma.fields.String(required=True)
    # Kept as sent: templates show it in local time, and a notification keeps the producer's words.
    due_at = ma.fields.String(allow_none=True, load_default=None)


@deliveries.handles("tickets.ticket.submitted", "tickets.ticket.overdue")
def on_ticket(session: Session, event: Event) -> None:
    """A ticket event, worded by the template `<entity>.<verb>` (ticket.submitted, ticket.overdue)."""
    ticket = load(TicketData, event.data)
    district = ticket["district_id"] or event.district
    if not district:
        raise InvalidEvent(f"{event.key} {event.id} names no district")
    usecases.notify_of_ticket(session, district_id=district, template=event.key.split(".", 1)[1], ticket=ticket,
                              source_event_id=event.id)


@webhook_events.handles("#")
def on_event(session: Session, event: Event) -> None:
    """Any public event: one delivery per matching endpoint of its district, committed before the ack."""
    usecases.deliver_to_webhooks(session, event.raw, key=event.key, district=event.district, now=utcnow())
