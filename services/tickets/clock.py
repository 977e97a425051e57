"""tickets' time-driven work: each timer kind handed to its use case."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from linli.services.tickets import usecases
from linli.shared.clock import Timer, TimerHandler


def on_ticket_due(session: Session, timer: Timer, now: datetime) -> None:
    usecases.check_deadlines(session, uuid.UUID(timer.subject_id), now)


TIMERS: dict[str, TimerHandler] = {usecases.TICKET_DUE: on_ticket_due}
