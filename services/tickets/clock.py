"""tickets' time-driven work: a ticket's deadline passing."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from linli.services.tickets import domain
from linli.services.tickets.events import TICKET_OVERDUE, ticket_data
from linli.services.tickets.models import Ticket
from linli.shared.clock import Timer, TimerHandler
from linli.shared.outbox import emit

TICKET_DUE = "ticket.due"


def on_ticket_due(session: Session, timer: Timer, now: datetime) -> None:
    """Mark the ticket overdue and tell everyone, unless it was closed or marked in the meantime."""
    ticket = session.get(Ticket, uuid.UUID(timer.subject_id), with_for_update=True)
    if ticket is None or not domain.becomes_overdue(ticket.state, ticket.overdue):
        return
    ticket.overdue = True
    session.flush()
    emit(session, TICKET_OVERDUE, subject=ticket.id, data=ticket_data(ticket), district=ticket.district_id)


TIMERS: dict[str, TimerHandler] = {TICKET_DUE: on_ticket_due}
