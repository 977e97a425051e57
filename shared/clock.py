"""Time-driven work: timers stored with the data they concern, fired once by any clock replica.

A service schedules a timer in the same transaction as the change that makes it due
(a ticket's deadline, a term's start). Each clock replica takes due timers with
`FOR UPDATE SKIP LOCKED`, so a timer is handled by exactly one of them, in the same
transaction as the events it emits; timers that fell due while no clock ran are
simply due, so catching up after downtime needs nothing special.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from linli.shared.db import is_postgres, transaction, utcnow
from linli.shared.logs import get_logger
from linli.shared.metrics import TIMERS_FIRED
from linli.shared.tables import timers

# Where a district names no time zone of its own (Chongqing and Sichuan keep Beijing time), its local days are
# counted here.
DEFAULT_TIME_ZONE = "Asia/Shanghai"

log = get_logger(__name__)


@dataclass(frozen=True)
class Timer:
    id: uuid.UUID
    kind: str
    subject_id: str
    district_id: str | None
    due_at: datetime
    payload: dict[str, Any]


TimerHandler = Callable[[Session, Timer, datetime], None]
Now = Callable[[], datetime]


def _reschedule_statement(insert: Callable[..., Insert]) -> Insert:
    stmt = insert(timers)
    fresh = stmt.excluded
    # A subject's timer of a kind is one row (uq_timers_kind_subject): re-scheduling overwrites it with a new
    # id and re-arms it, in one statement rather than a DELETE and an INSERT. A clock firing the old timer
    # holds its row lock, so this waits for that firing to commit and then re-arms the row, as before.
    return stmt.on_conflict_do_update(
        index_elements=[timers.c.kind, timers.c.subject_id],
        set_={"id": fresh.id, "district_id": fresh.district_id, "due_at": fresh.due_at,
              "payload": fresh.payload, "fired_at": None, "created_at": fresh.created_at},
    )


# Built once: constructing a statement per call costs more CPU than executing a cached one.
_RESCHEDULE = {"postgresql": _reschedule_statement(postgresql.insert), "sqlite": _reschedule_statement(sqlite.insert)}


def schedule(
    session: Session,
    kind: str,
    subject_id: str | uuid.UUID,
    due_at: datetime,
    *,
    district_id: str | uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """(Re)schedule the one timer of `kind` for a subject."""
    row = {
        "id": uuid.uuid4(),
        "kind": kind,
        "subject_id": str(subject_id),
        "district_id": str(district_id) if district_id else None,
        "due_at": due_at,
        "payload": json.dumps(payload or {}),
        "created_at": utcnow(),
    }
    upsert = _RESCHEDULE.get(session.get_bind().dialect.name)
    if upsert is None:
        cancel(session, kind, subject_id)
        session.execute(timers.insert(), row)
        return
    session.execute(upsert, row)


def being_fired(session: Session, kind: str, subject_id: str | uuid.UUID) -> bool:
    """Whether a clock replica is firing the subject's timer of `kind` now (it holds the row).

    Re-scheduling such a timer waits for that firing to commit; a caller holding a lock the firing handler
    wants would wait for ever, so it may leave the timer to the handler. Otherwise the row is now this
    transaction's to re-schedule. Never true on SQLite, which has one writer at a time.
    """
    if not is_postgres(session):
        return False
    mine = and_(timers.c.kind == kind, timers.c.subject_id == str(subject_id))
    if session.execute(select(timers.c.id).where(mine).with_for_update(skip_locked=True)).first() is not None:
        return False
    return session.execute(select(timers.c.id).where(mine)).first() is not None


def cancel(session: Session, kind: str, subject_id: str | uuid.UUID) -> None:
    session.execute(delete(timers).where(timers.c.kind == kind, timers.c.subject_id == str(subject_id)))


class Clock:
    def __init__(
        self,
        service: str,
        factory: sessionmaker[Session],
        handlers: Mapping[str, TimerHandler],
        now: Now = utcnow,
    ) -> None:
        self.service = service
        self.factory = factory
        self.handlers = dict(handlers)
        self.now = now

    def tick(self) -> int:
        """Fire every timer due now; returns how many fired."""
        fired = 0
        failed: set[uuid.UUID] = set()
        while True:
            outcome = self._fire_one(failed)
            if outcome is None:
                return fired
            fired += outcome

    def _fire_one(self, failed: set[uuid.UUID]) -> int | None:
        now = self.now()
        timer_id: uuid.UUID | None = None
        try:
            with transaction(self.factory) as session:
                query = (
                    select(timers)
                    .where(and_(timers.c.fired_at.is_(None), timers.c.due_at <= now,
                                timers.c.kind.in_(list(self.handlers))))
                    .order_by(timers.c.due_at)
                    .limit(1)
                )
                if failed:
                    query = query.where(timers.c.id.not_in(list(failed)))
                if is_postgres(session):
                    query = query.with_for_update(skip_locked=True)
                row = session.execute(query).first()
                if row is None:
                    return None
                timer_id = row.id
                timer = Timer(row.id, row.kind, row.subject_id, row.district_id, row.due_at,
                              json.loads(row.payload or "{}"))
                self.handlers[timer.kind](session, timer, now)
                session.execute(update(timers).where(timers.c.id == timer.id).values(fired_at=now))
            TIMERS_FIRED.labels(self.service, timer.kind).inc()
            return 1
        except Exception:
            if timer_id is None:
                raise
            # One broken timer must not block the others; it is tried again next tick.
            log.exception("timer_failed", service=self.service, timer_id=str(timer_id))
            failed.add(timer_id)
            return 0

    def run(self, stop: threading.Event, tick_seconds: float = 1.0) -> None:
        log.info("clock_started", service=self.service, kinds=sorted(self.handlers))
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("clock_tick_failed", service=self.service)
            stop.wait(tick_seconds)
