"""A service's tables (and the outbox and timers) on a throwaway SQLite file, for use-case tests without an app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session, sessionmaker

from linli.shared.db import make_engine, make_sessionmaker
from linli.shared.tables import infra_metadata, outbox, timers


def session_factory(metadata: MetaData, path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{path}")
    infra_metadata.create_all(engine)
    metadata.create_all(engine)
    return make_sessionmaker(engine)


def committed_events(factory: sessionmaker[Session], key: str | None = None) -> list[dict[str, Any]]:
    """The CloudEvents committed to the outbox, in commit order (optionally only those of `key`)."""
    query = select(outbox.c.body).order_by(outbox.c.seq)
    if key is not None:
        query = query.where(outbox.c.routing_key == key)
    with factory() as session:
        return [json.loads(body) for body in session.scalars(query)]


def pending_timers(factory: sessionmaker[Session]) -> list[tuple[str, str, Any, dict[str, Any]]]:
    with factory() as session:
        rows = session.execute(select(timers.c.kind, timers.c.subject_id, timers.c.due_at, timers.c.payload)
                               .where(timers.c.fired_at.is_(None)).order_by(timers.c.due_at))
        return [(row.kind, row.subject_id, row.due_at, json.loads(row.payload)) for row in rows]
