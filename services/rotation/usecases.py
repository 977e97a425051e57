"""rotation's actions: one function per action, whatever triggers it (an HTTP call, the clock, an event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from linli.services.rotation import domain
from linli.services.rotation.events import ROTATION_CREATED, TERM_STARTED
from linli.services.rotation.models import Committee, Rotation
from linli.shared.actors import Actor
from linli.shared.changes import record
from linli.shared.clock import schedule
from linli.shared.errors import Conflict, NotYetKnown
from linli.shared.readmodel import apply_versioned

# Timer kinds, `<entity>.<condition>`; the clock hands each to the handler named after it.
TERM_START = "term.start"


def set_up_rotation(session: Session, actor: Actor, *, committee_id: uuid.UUID, term_months: int,
                    starts_on: date) -> Rotation:
    """Set up a committee's rotating chair (one per committee); term 0 starts at local midnight of starts_on."""
    committee = session.get(Committee, committee_id)
    if committee is None or not actor.sees(committee.district_id):
        # Another district's committee answers exactly like one not heard of, so ids of other districts leak nothing.
        raise NotYetKnown.field("committee_id", "committee")
    if session.scalar(select(Rotation.id).where(Rotation.committee_id == committee.id)):
        raise Conflict("this committee already has a rotation")
    rotation = Rotation(district_id=committee.district_id, committee_id=committee.id, term_months=term_months,
                        starts_on=starts_on, time_zone=committee.time_zone, state=domain.ACTIVE)
    session.add(rotation)
    record(session, ROTATION_CREATED, rotation)
    _schedule_term_start(session, rotation, 0)
    return rotation


def start_term(session: Session, rotation_id: uuid.UUID, index: int, now: datetime) -> domain.Term | None:
    """Announce that term `index` began and schedule the next; None if the rotation is gone or not yet there."""
    rotation = session.get(Rotation, rotation_id, with_for_update=True)
    if rotation is None or rotation.state != domain.ACTIVE:
        return None
    term = domain.term(rotation.starts_on, rotation.term_months, index, rotation.time_zone)
    if now < term.starts_at:
        return None  # a term is announced once it has begun, never ahead
    record(session, TERM_STARTED, rotation, payload_of={"rotation": rotation, "term": term})
    # Chained in this transaction: if the clock was down, the next timer is already due
    # and fires in the same tick, so missed terms are announced once each, in order.
    _schedule_term_start(session, rotation, term.index + 1)
    return term


def record_committee(session: Session, committee_id: uuid.UUID, version: int, *, district_id: str,
                     community_id: uuid.UUID, name: str, time_zone: str) -> bool:
    """Keep registry's committee at `version` in the read model; False when a newer one is already kept."""
    return apply_versioned(session, Committee, committee_id, version, {
        "district_id": district_id, "community_id": community_id, "name": name, "time_zone": time_zone,
    })


def _schedule_term_start(session: Session, rotation: Rotation, index: int) -> None:
    """Due at term `index`'s start; one pending per rotation, so rescheduling replaces it."""
    starts_at, _ = domain.term_window(rotation.starts_on, rotation.term_months, index, rotation.time_zone)
    schedule(session, TERM_START, rotation.id, starts_at, district_id=rotation.district_id,
             payload={"index": index})
