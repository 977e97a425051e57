"""The tallies the rates add up (ticket_tallies): what each ticket counts for (rates.tally) kept in its community's
rows for the day and the month it was submitted, changed in the transaction that changes the ticket, and counted
again from the tickets when a compound moves to another community.

A use case that changes a ticket `track`s it first; at commit, what each tracked ticket counts for then, less what it
counted for when tracked, is added to its rows, in one upsert. A ticket just submitted counts for nothing here until
it is answered or overdue (rates.fresh), so intake writes no tally. Adding
differences commutes, so concurrent moves of one day's tickets need no more than the rows' locks; a savepoint
rolled back forgets the tickets it tracked (shared/transaction_lists.py).
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, event, or_, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from linli.services.tickets import rates
from linli.services.tickets.models import DAY, MONTH, NO_COMMUNITY, Compound, Ticket, ticket_tallies
from linli.shared import transaction_lists
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import is_postgres

_KEY = "ticket_tallies"
_tallies = ticket_tallies
_tickets = Ticket.__table__
_compounds = Compound.__table__
Key = tuple[str, str, date, uuid.UUID]  # district, span, day (or month's first), community


@dataclass
class _Tracked:
    ticket: Ticket
    before: rates.Tally


def facts(row: Any) -> rates.Facts:
    """A ticket's (or a row's with its columns) facts for the rates."""
    return rates.Facts(merged=row.master_id is not None,
                       **{name: getattr(row, name) for name in rates.FACT_NAMES})


def track(session: Session, ticket: Ticket) -> None:
    """Remember what `ticket` counts for now, before the transaction changes it (once: the first is what the
    committed row counted for)."""
    if any(kept.ticket is ticket for kept in transaction_lists.items(session, _KEY)):
        return
    transaction_lists.append(session, _KEY, _Tracked(ticket, rates.tally(facts(ticket))))


def keys_of(district_id: str, created_at: Any, community_id: uuid.UUID | None) -> tuple[Key, Key]:
    """The rows a ticket is tallied in: its day's and its month's."""
    day = rates.local_day(created_at, DEFAULT_TIME_ZONE)
    community_id = community_id or NO_COMMUNITY
    return (district_id, DAY, day, community_id), (district_id, MONTH, day.replace(day=1), community_id)


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    tracked = transaction_lists.take(session, _KEY)
    if not tracked:
        return
    changes: dict[Key, rates.Tally] = {}
    for kept in tracked:
        ticket = kept.ticket
        change = rates.difference(rates.tally(facts(ticket)), kept.before)
        if change == rates.NO_TALLY:
            continue
        compound = session.get(Compound, ticket.compound_id)
        community_id = compound.community_id if compound is not None else None
        for key in keys_of(ticket.district_id, ticket.created_at, community_id):
            changes[key] = rates.summed(changes.get(key, rates.NO_TALLY), change)
    if not changes:
        return
    # In key order, so two transactions touching the same rows take their locks in the same order.
    ordered = sorted(changes, key=lambda k: (k[0], k[1], k[2], str(k[3])))
    if not is_postgres(session):
        session.execute(_ADD_SQLITE, [_row(key, changes[key]) for key in ordered])
        return
    # Only the figures that changed are written (a move changes a few of the 61), in one statement for all the
    # rows, in psycopg's own SQL: through Core's executemany the upsert cost intake ~1 ms of CPU.
    changed = tuple(position for position, name in enumerate(rates.TALLY_NAMES)
                    if any(changes[key][position] for key in ordered))
    session.connection().exec_driver_sql(_add_sql(len(ordered), changed), tuple(
        value for key in ordered for value in (*key, *(changes[key][position] for position in changed))))


def _row(key: Key, figures: Sequence[int]) -> dict[str, Any]:
    district_id, span, day, community_id = key
    return {"district_id": district_id, "span": span, "day": day, "community_id": community_id,
            **dict(zip(rates.TALLY_NAMES, figures, strict=True))}


_KEY_COLUMNS = ("district_id", "span", "day", "community_id")
_ADD_SQLITE = sqlite.insert(_tallies)
_ADD_SQLITE = _ADD_SQLITE.on_conflict_do_update(
    index_elements=[_tallies.c[name] for name in _KEY_COLUMNS],
    set_={name: _tallies.c[name] + _ADD_SQLITE.excluded[name] for name in rates.TALLY_NAMES})


@functools.lru_cache(maxsize=256)
def _add_sql(rows: int, changed: tuple[int, ...]) -> str:
    """The upsert adding `changed` figures (positions in TALLY_NAMES) to `rows` rows; the others start at 0."""
    names = [rates.TALLY_NAMES[position] for position in changed]
    one = "(" + ", ".join(["%s"] * (len(_KEY_COLUMNS) + len(names))) + ")"
    return (f"INSERT INTO {_tallies.name} ({', '.join((*_KEY_COLUMNS, *names))}) VALUES {', '.join([one] * rows)} "
            f"ON CONFLICT ({', '.join(_KEY_COLUMNS)}) DO UPDATE SET "
            + ", ".join(f"{name} = {_tallies.name}.{name} + EXCLUDED.{name}" for name in names))


def rebuild(session: Session, *, district_id: str | None = None,
            community_ids: Iterable[uuid.UUID | None] | None = None) -> int:
    """Count the tallies again from the tickets: of some communities of a district (those a compound left and
    joined), of a district, or of everything. Returns the rows written.

    The rows are locked first, so a move committing meanwhile either came before (and is read here) or adds its
    difference after, to the rows written here."""
    scope = []
    if district_id is not None:
        scope.append(_tallies.c.district_id == district_id)
    communities = None if community_ids is None else {c or NO_COMMUNITY for c in community_ids}
    if communities is not None:
        scope.append(_tallies.c.community_id.in_(communities))
    if is_postgres(session):
        session.execute(select(_tallies.c.day).where(*scope).with_for_update())
    community = _compounds.c.community_id
    read = (select(_tickets.c.district_id, _tickets.c.master_id,
                   *(_tickets.c[name] for name in rates.FACT_NAMES), community.label("community_id"))
            .select_from(_tickets.outerjoin(_compounds, _compounds.c.id == _tickets.c.compound_id)))
    if district_id is not None:
        read = read.where(_tickets.c.district_id == district_id)
    if communities is not None:
        known = [c for c in communities if c != NO_COMMUNITY]
        read = read.where(or_(community.in_(known), community.is_(None)) if NO_COMMUNITY in communities
                          else community.in_(known))
    found: dict[Key, list[int]] = defaultdict(lambda: [0] * len(rates.TALLY_NAMES))
    for row in session.execute(read.execution_options(yield_per=5000)):
        figures = rates.tally(facts(row))
        for key in keys_of(row.district_id, row.created_at, row.community_id):
            summed = found[key]
            for position, value in enumerate(figures):
                summed[position] += value
    session.execute(delete(_tallies).where(*scope))
    rows = [_row(key, figures) for key, figures in found.items()]
    for start in range(0, len(rows), 1000):
        session.execute(_tallies.insert(), rows[start:start + 1000])
    return len(rows)
