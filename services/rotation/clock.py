"""rotation's time-driven work: each term starts on its own timer, which schedules the next."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from linli.services.rotation import domain
from linli.services.rotation.events import TERM_STARTED, term_data
from linli.services.rotation.models import Rotation
from linli.shared.clock import Timer, TimerHandler, schedule
from linli.shared.outbox import emit

TERM_START = "term.start"


def schedule_term_start(session: Session, rotation: Rotation, index: int) -> None:
    """Due at term `index`'s start; one pending per rotation, so rescheduling replaces it."""
    starts_at, _ = domain.term_window(rotation.starts_on, rotation.term_months, index, rotation.time_zone)
    schedule(session, TERM_START, rotation.id, starts_at, district_id=rotation.district_id,
             payload={"index": index})


def start_term(session: Session, timer: Timer, now: datetime) -> None:
    rotation = session.get(Rotation, uuid.UUID(timer.subject_id), with_for_update=True)
    if rotation is None or rotation.state != domain.ACTIVE:
        return
    term = domain.term(rotation.starts_on, rotation.term_months, int(timer.payload["index"]), rotation.time_zone)
    emit(session, TERM_STARTED, subject=rotation.id, data=term_data(rotation, term), district=rotation.district_id)
    # Chained in this transaction: if the clock was down, the next timer is already due
    # and fires in the same tick, so missed terms are announced once each, in order.
    schedule_term_start(session, rotation, term.index + 1)


TIMERS: dict[str, TimerHandler] = {TERM_START: start_term}
