"""tickets' actions: one function per action, whatever triggers it (an HTTP call, the clock, an event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from linli.services.tickets import domain
from linli.services.tickets.events import TICKET_OVERDUE, TICKET_SUBMITTED
from linli.services.tickets.models import Compound, Ticket
from linli.shared.actors import Actor
from linli.shared.changes import record
from linli.shared.clock import schedule
from linli.shared.errors import NotYetKnown
from linli.shared.readmodel import apply_versioned

# Timer kinds, `<entity>.<condition>`; the clock hands each to the handler named after it.
TICKET_DUE = "ticket.due"


def submit_ticket(session: Session, actor: Actor, *, compound_id: uuid.UUID, title: str, description: str,
                  category: str, reporter_name: str, reporter_phone: str, now: datetime) -> Ticket:
    """Raise a resident's ticket against a compound; its deadline follows from the category."""
    compound = session.get(Compound, compound_id)
    if compound is None or not actor.sees(compound.district_id):
        # Another district's compound answers exactly like one not heard of, so ids of other districts leak nothing.
        raise NotYetKnown.field("compound_id", "compound")
    ticket = Ticket(district_id=compound.district_id, compound_id=compound.id, title=title,
                    description=description, category=category, reporter_name=reporter_name,
                    reporter_phone=reporter_phone, state=domain.INITIAL_STATE,
                    due_at=domain.due_at_for(category, now), overdue=False, created_at=now, updated_at=now)
    session.add(ticket)
    record(session, TICKET_SUBMITTED, ticket)
    schedule(session, TICKET_DUE, ticket.id, ticket.due_at, district_id=ticket.district_id)
    return ticket


def mark_overdue(session: Session, ticket_id: uuid.UUID, now: datetime) -> bool:
    """Mark the ticket overdue once its deadline passed, unless it was closed or marked meanwhile."""
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or now < ticket.due_at or not domain.becomes_overdue(ticket.state, ticket.overdue):
        return False
    ticket.overdue = True
    record(session, TICKET_OVERDUE, ticket)
    return True


def record_compound(session: Session, compound_id: uuid.UUID, version: int, *, district_id: str, name: str,
                    community_id: uuid.UUID | None, kind: str | None) -> bool:
    """Keep registry's compound at `version` in the read model; False when a newer one is already kept."""
    return apply_versioned(session, Compound, compound_id, version, {
        "district_id": district_id, "name": name, "community_id": community_id, "kind": kind,
    })
