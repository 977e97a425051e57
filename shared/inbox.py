"""The consumer side of the delivery guarantee: each event's effects commit with its inbox row, once."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from linli.shared.db import is_postgres, ping, transaction, utcnow
from linli.shared.subscriptions import Event, Subscription
from linli.shared.tables import inbox
from linli.shared.tracing import current_traceparent


class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    RETRY = "retry"
    REQUEUE = "requeue"
    DEAD = "dead"


def apply_event(factory: sessionmaker[Session], subscription: Subscription, event: Event) -> str:
    """Apply one event once: its inbox row and its handlers' effects commit together."""
    return apply_events(factory, [(subscription, event)])[0]


def apply_events(factory: sessionmaker[Session], items: Sequence[tuple[Subscription, Event]]) -> list[str]:
    """Apply several events in one transaction, each at most once; any failure rolls all of them back.

    One commit for a burst of events is what lets a consumer keep up with the relay; the
    worker falls back to one event per transaction to find the one that failed, so a handler
    may run again after a rollback and must keep its effects inside the session. The inbox
    rows are claimed first with one INSERT ... ON CONFLICT DO NOTHING: what it does not
    return was applied before (or by a concurrent delivery, which then holds the rows).
    """
    todo = [(subscription, event, subscription.handlers_for(event.key)) for subscription, event in items]
    outcomes = [Outcome.IGNORED] * len(todo)
    now = utcnow()
    rows = {(s.name, e.id): {"consumer": s.name, "event_id": e.id, "event_type": e.key, "applied_at": now}
            for s, e, handlers in todo if handlers}
    if not rows:
        return outcomes
    with transaction(factory) as session:
        claimed = _claim(session, rows)
        for i, (subscription, event, handlers) in enumerate(todo):
            if not handlers:
                continue
            key = (subscription.name, event.id)
            if key not in claimed:
                outcomes[i] = Outcome.DUPLICATE
                continue
            claimed.discard(key)  # the same event twice in one burst is applied once
            token = current_traceparent.set(event.traceparent)
            try:
                with structlog.contextvars.bound_contextvars(
                    consumer=subscription.name, event_id=str(event.id), event_type=event.key,
                    traceparent=event.traceparent,
                ):
                    for handler in handlers:
                        handler(session, event)
            finally:
                current_traceparent.reset(token)
            outcomes[i] = Outcome.APPLIED
    return outcomes


def _claim(session: Session, rows: dict[tuple[str, uuid.UUID], dict[str, Any]]) -> set[tuple[str, uuid.UUID]]:
    """Insert the inbox rows not there yet; returns the keys this transaction inserted."""
    if is_postgres(session) or sqlite3.sqlite_version_info >= (3, 35):
        insert = pg_insert if is_postgres(session) else sqlite_insert
        # executemany form: the statement compiles once and is cached, whatever the burst's size.
        claim = insert(inbox).on_conflict_do_nothing().returning(inbox.c.consumer, inbox.c.event_id)
        return {(row[0], row[1]) for row in session.execute(claim, list(rows.values()))}
    # SQLite before 3.35 has no RETURNING; the embedded mode has a single consumer per queue anyway.
    seen = {(row[0], row[1]) for row in session.execute(select(inbox.c.consumer, inbox.c.event_id).where(
        inbox.c.event_id.in_([key[1] for key in rows])))}
    fresh = {key: row for key, row in rows.items() if key not in seen}
    if fresh:
        session.execute(inbox.insert(), list(fresh.values()))
    return set(fresh)


def database_answers(factory: sessionmaker[Session]) -> bool:
    """Whether the database takes a query now: tells "database down" from an error of one transaction.

    A deadlock, lock timeout or statement timeout is an OperationalError too, but the database
    answers; only when it does not is an event not at fault.
    """
    try:
        ping(factory.kw["bind"])
    except Exception:  # noqa: BLE001 - any failure to answer means: not now
        return False
    return True
