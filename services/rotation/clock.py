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


def on_meeting_rule_extend(session: Session, timer: Timer, now: datetime) -> None:
    usecases.extend_meetings(session, uuid.UUID(timer.subject_id), now)


TIMERS: dict[str, TimerHandler] = {usecases.TERM_START: on_term_start, usecases.SWAP_EXPIRE: on_swap_expire,
                                   usecases.MEETING_RULE_EXTEND: on_meeting_rule_extend}
