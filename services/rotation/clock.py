"""rotation's time-driven work: each timer kind handed to its use case."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from linli.services.rotation import usecases
from linli.shared.clock import Timer, TimerHandler


def on_term_start(session: Session, timer: Timer, now: datetime) -> None:
    usecases.start_term(session, uuid.UUID(timer.subject_id), int(timer.payload["index"]), now)


def on_swap_expire(session: Session, timer: Timer, now: datetime) -> None:
    usecases.expire_swap(session, uuid.UUID(timer.subject_id), now)


def on_term_near_end(session: Session, timer: Timer, now: datetime) -> None:
    usecases.tell_ending_soon(session, uuid.UUID(timer.subject_id), now)


def on_term_end(session: Session, timer: Timer, now: datetime) -> None:
    usecases.end_term(session, uuid.UUID(timer.subject_id), now)


def on_report_due(session: Session, timer: Timer, now: datetime) -> None:
    usecases.tell_report_due(session, uuid.UUID(timer.subject_id), now)


def on_meeting_rule_extend(session: Session, timer: Timer, now: datetime) -> None:
    usecases.extend_meetings(session, uuid.UUID(timer.subject_id), now)


TIMERS: dict[str, TimerHandler] = {
    usecases.TERM_START: on_term_start, usecases.SWAP_EXPIRE: on_swap_expire,
    usecases.TERM_NEAR_END: on_term_near_end, usecases.TERM_END: on_term_end, usecases.REPORT_DUE: on_report_due,
    usecases.MEETING_RULE_EXTEND: on_meeting_rule_extend,
}
