"""rotation's time-driven work: each timer kind handed to its use case."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from linli.services.rotation import usecases
from linli.shared.clock import Timer, TimerHandler


def on_rotation_milestone(session: Session, timer: Timer, now: datetime) -> None:
    usecases.advance(session, uuid.UUID(timer.subject_id), now)


def on_term_start(session: Session, timer: Timer, now: datetime) -> None:
    """A rotation's timer as it was set before it told every milestone: the same work."""
    usecases.advance(session, uuid.UUID(timer.subject_id), now)


def on_swap_expire(session: Session, timer: Timer, now: datetime) -> None:
    usecases.expire_swap(session, uuid.UUID(timer.subject_id), now)


def on_meeting_rule_extend(session: Session, timer: Timer, now: datetime) -> None:
    usecases.extend_meetings(session, uuid.UUID(timer.subject_id), now)


TIMERS: dict[str, TimerHandler] = {
    usecases.ROTATION_MILESTONE: on_rotation_milestone, usecases.TERM_START: on_term_start,
    usecases.SWAP_EXPIRE: on_swap_expire, usecases.MEETING_RULE_EXTEND: on_meeting_rule_extend,
}
