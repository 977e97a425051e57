"""Scheduling timers: one pending timer per kind and subject, moved by re-scheduling."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import event, select, update

from linli.shared.clock import schedule
from linli.shared.db import transaction, utcnow
from linli.shared.tables import timers


def _rows(factory) -> list:
    with factory() as s:
        return s.execute(select(timers).where(timers.c.kind == "test.due")).all()


def test_rescheduling_moves_the_one_timer_of_a_subject(make_service):
    rt = make_service("tickets").rt
    first, second = utcnow() + timedelta(hours=1), utcnow() + timedelta(hours=2)
    with transaction(rt.factory) as s:
        schedule(s, "test.due", "subject-1", first, district_id="d1", payload={"n": 1})
    (before,) = _rows(rt.factory)
    with transaction(rt.factory) as s:
        schedule(s, "test.due", "subject-1", second, district_id="d2", payload={"n": 2})
    (after,) = _rows(rt.factory)
    assert after.due_at == second
    assert (after.district_id, json.loads(after.payload)) == ("d2", {"n": 2})
    assert after.id != before.id


def test_rescheduling_a_fired_timer_arms_it_again(make_service):
    rt = make_service("tickets").rt
    with transaction(rt.factory) as s:
        schedule(s, "test.due", "subject-1", utcnow())
        s.execute(update(timers).values(fired_at=utcnow()))
    with transaction(rt.factory) as s:
        schedule(s, "test.due", "subject-1", utcnow() + timedelta(days=1))
    (row,) = _rows(rt.factory)
    assert row.fired_at is None


def test_scheduling_is_one_statement(make_service):
    rt = make_service("tickets").rt
    with transaction(rt.factory) as s:
        schedule(s, "test.due", "subject-1", utcnow())
    statements: list[str] = []
    event.listen(rt.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with transaction(rt.factory) as s:
        schedule(s, "test.due", "subject-1", utcnow())
    # SQLite's BEGIN IMMEDIATE opens every transaction; it is not the timer's.
    assert len([s for s in statements if not s.startswith("BEGIN")]) == 1, statements
