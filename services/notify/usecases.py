"""notify's actions: one function per action, whatever triggers it (an HTTP call or another service's event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from linli.services.notify import domain
from linli.services.notify.events import NOTIFICATION_DELIVERED, NOTIFICATION_READ
from linli.services.notify.models import Notification
from linli.services.notify.templates import DEFAULT_LOCALE
from linli.shared.actors import Actor
from linli.shared.changes import record
from linli.shared.visibility import visible


def notify_of_ticket(session: Session, *, district_id: str, template: str, ticket: Mapping[str, Any],
                     source_event_id: uuid.UUID) -> list[Notification]:
    """Put news of a ticket in the inbox of each of its recipients, worded later by `template`."""
    params = json.dumps(domain.ticket_params(ticket), ensure_ascii=False)
    delivered = []
    for recipient in domain.ticket_recipients(ticket):
        notification = Notification(district_id=district_id, recipient=recipient, channel=domain.INBOX,
                                    template=template, params=params, locale=DEFAULT_LOCALE,
                                    state=domain.UNREAD, source_event_id=source_event_id)
        session.add(notification)
        record(session, NOTIFICATION_DELIVERED, notification)
        delivered.append(notification)
    return delivered


def mark_read(session: Session, actor: Actor, notification_id: uuid.UUID, now: datetime) -> Notification:
    """Mark a notification read; reading it again changes nothing and records nothing."""
    notification = visible(session, actor, Notification, notification_id, what="notification", for_update=True)
    state, changed = domain.read(notification.state)
    if changed:
        notification.state = state
        notification.read_at = now
        record(session, NOTIFICATION_READ, notification)
    return notification
