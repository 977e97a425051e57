"""What notify does with other services' events: turn them into notifications."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from linli.services.notify import domain
from linli.services.notify.events import NOTIFICATION_DELIVERED, notification_data
from linli.services.notify.models import Notification
from linli.services.notify.templates import DEFAULT_LOCALE
from linli.shared.consumer import Event, Subscription
from linli.shared.events import InvalidEvent
from linli.shared.outbox import emit

deliveries = Subscription("notify", "deliveries")

# Only these fields of a ticket reach a notification: ticket data may carry a resident's phone number,
# which must not be copied into inboxes (and, later, webhooks).
TICKET_PARAMS = ("id", "title", "compound_id", "compound_name", "due_at")


@deliveries.handles("tickets.ticket.submitted", "tickets.ticket.overdue")
def notify_ticket(session: Session, event: Event) -> None:
    """Put a ticket event in the inbox of each recipient, worded by the template `<entity>.<verb>`."""
    district = event.data.get("district_id") or event.district
    if not district:
        raise InvalidEvent(f"{event.key} {event.id} names no district")
    template = event.key.split(".", 1)[1]
    params = {name: event.data[name] for name in TICKET_PARAMS if event.data.get(name) is not None}
    for recipient in domain.ticket_recipients(event.data):
        notification = Notification(district_id=str(district), recipient=recipient, channel=domain.INBOX,
                                    template=template, params=json.dumps(params, ensure_ascii=False),
                                    locale=DEFAULT_LOCALE, state=domain.UNREAD, source_event_id=event.id,
                                    version=1)
        session.add(notification)
        session.flush()
        emit(session, NOTIFICATION_DELIVERED, subject=notification.id, data=notification_data(notification),
             district=notification.district_id)
