"""tickets' actions: one function per action, whatever triggers it (an HTTP call, the clock, an event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
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

# Only what a submission needs of the compound, as a Core query: the ORM's identity lookup costs more CPU
# than the rest of the statement's round trip, and nothing here changes the compound.
_compounds = Compound.__table__
_COMPOUND_DISTRICT = select(_compounds.c.district_id).where(_compounds.c.id == bindparam("id"))


def submit_ticket(session: Session, actor: Actor, *, compound_id: uuid.UUID, title: str, description: str,
                  category: str, reporter_name: str, reporter_phone: str, now: datetime,
                  kind: str = domain.PROBLEM, urgency: str = domain.NORMAL, source: str = domain.DEFAULT_SOURCE,
                  building_id: uuid.UUID | None = None, address: str | None = None, lat: float | None = None,
                  lon: float | None = None, attachments: Sequence[str] = ()) -> Ticket:
    """Raise a resident's ticket against a compound; its deadline follows from the category."""
    district_id = session.execute(_COMPOUND_DISTRICT, {"id": compound_id}).scalar()
    if district_id is None or not actor.sees(district_id):
        # Another district's compound answers exactly like one not heard of, so ids of other districts leak nothing.
        raise NotYetKnown.field("compound_id", "compound")
    # Empty collections given, not left to load: a new ticket has no parts, and asking the database costs a query.
    ticket = Ticket(district_id=district_id, compound_id=compound_id, building_id=building_id, kind=kind,
                    urgency=urgency, source=source, title=title, description=description, category=category,
                    address=address, lat=lat, lon=lon, attachments=list(attachments), reporter_name=reporter_name,
                    reporter_phone=reporter_phone, state=domain.INITIAL_STATE,
                    due_at=domain.due_at_for(category, now), overdue=False, created_at=now, updated_at=now,
                    parts=[], participants=[])
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
