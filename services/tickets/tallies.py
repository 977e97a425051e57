"""The tallies the rates add up: what each ticket counts for (rates.tally) kept in rows for the day, the week and the
month it was submitted, of its community (ticket_tallies) and of its lead unit (ticket_unit_tallies), changed in the
transaction that changes the ticket, and counted again from the tickets when a compound moves to another community.

A use case that changes a ticket `track`s it first; at commit, what each tracked ticket counts for then, less what it
counted for when tracked, is added to its rows, in one upsert per table. A re-route takes the ticket out of its old
lead unit's rows and into the new one's. A ticket just submitted counts for nothing here until it is answered or
overdue (rates.fresh), so intake writes no tally. Adding differences commutes, so concurrent moves of one day's
tickets need no more than the rows' locks (taken in key order, communities first); a savepoint rolled back forgets
the tickets it tracked (shared/transaction_lists.py).
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Table, delete, event, or_, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from linli.services.tickets import rates
from linli.services.tickets.models import (
    DAY,
    MONTH,
    NO_COMMUNITY,
    WEEK,
    Compound,
    Ticket,
    ticket_tallies,
    ticket_unit_tallies,
)
from linli.shared import transaction_lists
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import is_postgres

_KEY = "ticket_tallies"
_tickets = Ticket.__table__
_compounds = Compound.__table__
Key = tuple[str, str, date, uuid.UUID]  # district, span, day (or week's Monday, month's first), community or unit


@dataclass(frozen=True)
class Ledger:
    """One table of tallies: a group's rows by day, week and month, the group a community or a lead unit."""

    table: Table
    group: str  # the key's last column

    @property
    def key_columns(self) -> tuple[str, ...]:
        return ("district_id", "span", "day", self.group)


COMMUNITIES = Ledger(ticket_tallies, "community_id")
UNITS = Ledger(ticket_unit_tallies, "unit_id")
LEDGERS = (COMMUNITIES, UNITS)


@dataclass
class _Tracked:
    ticket: Ticket
    before: rates.Tally
    unit_id: uuid.UUID | None  # its lead unit then: a re-route moves what it counts for to another unit's rows


def facts(row: Any) -> rates.Facts:
    """A ticket's (or a row's with its columns) facts for the rates."""
    return rates.Facts(merged=row.master_id is not None,
                       **{name: getattr(row, name) for name in rates.FACT_NAMES})


def track(session: Session, ticket: Ticket) -> None:
    """Remember what `ticket` counts for now, and where, before the transaction changes it (once: the first is what
    the committed row counted for)."""
    if any(kept.ticket is ticket for kept in transaction_lists.items(session, _KEY)):
        return
    transaction_lists.append(session, _KEY, _Tracked(ticket, rates.tally(facts(ticket)), ticket.lead_unit_id))


def keys_of(district_id: str, created_at: Any, group: uuid.UUID) -> tuple[Key, Key, Key]:
    """The rows a ticket is tallied in, in one group's ledger: its day's, its week's (from Monday) and its month's."""
    day = rates.local_day(created_at, DEFAULT_TIME_ZONE)
    return ((district_id, DAY, day, group), (district_id, WEEK, day - timedelta(days=day.weekday()), group),
            (district_id, MONTH, day.replace(day=1), group))


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    tracked = transaction_lists.take(session, _KEY)
    if not tracked:
        return
    for ledger, changes in _changes(session, tracked).items():
        if changes:
            _add(session, ledger, changes)


def _changes(session: Session, tracked: list[_Tracked]) -> dict[Ledger, dict[Key, rates.Tally]]:
    """What to add to which rows of each ledger."""
    changes: dict[Ledger, dict[Key, rates.Tally]] = {ledger: {} for ledger in LEDGERS}

    def add(ledger: Ledger, ticket: Ticket, group: uuid.UUID | None, figures: rates.Tally) -> None:
        if group is None or figures == rates.NO_TALLY:
            return
        for key in keys_of(ticket.district_id, ticket.created_at, group):
            changes[ledger][key] = rates.summed(changes[ledger].get(key, rates.NO_TALLY), figures)

    for kept in tracked:
        ticket = kept.ticket
        after = rates.tally(facts(ticket))
        change = rates.difference(after, kept.before)
        if change != rates.NO_TALLY:
            compound = session.get(Compound, ticket.compound_id)
            add(COMMUNITIES, ticket, (compound.community_id if compound is not None else None) or NO_COMMUNITY,
                change)
        if kept.unit_id == ticket.lead_unit_id:
            add(UNITS, ticket, ticket.lead_unit_id, change)
        else:
            add(UNITS, ticket, kept.unit_id, rates.difference(rates.NO_TALLY, kept.before))
            add(UNITS, ticket, ticket.lead_unit_id, after)
    return changes


def _add(session: Session, ledger: Ledger, changes: dict[Key, rates.Tally]) -> None:
    # In key order, so two transactions touching the same rows take their locks in the same order.
    ordered = sorted(changes, key=_in_key_order)
    if not is_postgres(session):
        session.execute(_sqlite_upsert(ledger), [_row(ledger, key, changes[key]) for key in ordered])
        return
    # Only the figures that changed are written (a move changes a few of the 61), in one statement for all the
    # rows, in psycopg's own SQL: through Core's executemany the upsert cost intake ~1 ms of CPU.
    changed = tuple(position for position, name in enumerate(rates.TALLY_NAMES)
                    if any(changes[key][position] for key in ordered))
    session.connection().exec_driver_sql(_add_sql(ledger, len(ordered), changed), tuple(
        value for key in ordered for value in (*key, *(changes[key][position] for position in changed))))


def _in_key_order(key: Key) -> tuple[str, str, date, str]:
    return key[0], key[1], key[2], str(key[3])


def _row(ledger: Ledger, key: Key, figures: Sequence[int]) -> dict[str, Any]:
    return {**dict(zip(ledger.key_columns, key, strict=True)), **dict(zip(rates.TALLY_NAMES, figures, strict=True))}


@functools.cache
def _sqlite_upsert(ledger: Ledger) -> Any:
    insert = sqlite.insert(ledger.table)
    return insert.on_conflict_do_update(
        index_elements=[ledger.table.c[name] for name in ledger.key_columns],
        set_={name: ledger.table.c[name] + insert.excluded[name] for name in rates.TALLY_NAMES})


@functools.lru_cache(maxsize=256)
def _add_sql(ledger: Ledger, rows: int, changed: tuple[int, ...]) -> str:
    """The upsert adding `changed` figures (positions in TALLY_NAMES) to `rows` rows; the others start at 0."""
    table, keys = ledger.table.name, ledger.key_columns
    names = [rates.TALLY_NAMES[position] for position in changed]
    one = "(" + ", ".join(["%s"] * (len(keys) + len(names))) + ")"
    return (f"INSERT INTO {table} ({', '.join((*keys, *names))}) VALUES {', '.join([one] * rows)} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in names))


def rebuild(session: Session, *, district_id: str | None = None, ledgers: Iterable[Ledger] = LEDGERS) -> int:
    """Count the tallies again from the tickets, of a district or of everything. Returns the rows written."""
    return sum(_recount(session, ledger, district_id) for ledger in ledgers)


def rebuild_communities(session: Session, district_id: str, community_ids: Iterable[uuid.UUID | None]) -> int:
    """Count again the tallies of some communities of a district: those a compound left and joined."""
    return _recount(session, COMMUNITIES, district_id, {c or NO_COMMUNITY for c in community_ids})


def check(session: Session, *, district_id: str | None = None) -> list[Drift]:
    """The tally rows that differ from what the tickets count, of a district or of everything, without writing.
    The medians notice a count off in a bucket they read (stats._medians_by_bucket), not in the others: this does."""
    if is_postgres(session) and not session.in_transaction():
        # The tickets and the rows read in one snapshot: a move committing between the two reads is no drift.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    drifts = []
    for ledger in LEDGERS:
        counted = _counted(session, ledger, district_id)
        table = ledger.table
        stored = select(table).where(table.c.district_id == district_id) if district_id is not None else select(table)
        kept = {tuple(row[name] for name in ledger.key_columns): [row[name] for name in rates.TALLY_NAMES]
                for row in session.execute(stored).mappings()}
        for key in sorted(kept.keys() | counted.keys(), key=_in_key_order):
            found, expected = kept.get(key, rates.NO_TALLY), counted.get(key, rates.NO_TALLY)
            off = tuple(name for name, a, b in zip(rates.TALLY_NAMES, found, expected, strict=True) if a != b)
            if off:
                drifts.append(Drift(table.name, key, off))
    return drifts


@dataclass(frozen=True)
class Drift:
    """A tally row that does not hold what its tickets count: the figures that differ."""

    table: str
    key: Key
    figures: tuple[str, ...]


def _recount(session: Session, ledger: Ledger, district_id: str | None,
             groups: set[uuid.UUID] | None = None) -> int:
    """The rows are locked first, so a move committing meanwhile either came before (and is read here) or adds its
    difference after, to the rows written here."""
    table = ledger.table
    scope = []
    if district_id is not None:
        scope.append(table.c.district_id == district_id)
    if groups is not None:
        scope.append(table.c[ledger.group].in_(groups))
    if is_postgres(session):
        session.execute(select(table.c.day).where(*scope).with_for_update())
    found = _counted(session, ledger, district_id, groups)
    session.execute(delete(table).where(*scope))
    rows = [_row(ledger, key, figures) for key, figures in found.items()]
    for start in range(0, len(rows), 1000):
        session.execute(table.insert(), rows[start:start + 1000])
    return len(rows)


def _counted(session: Session, ledger: Ledger, district_id: str | None,
             groups: set[uuid.UUID] | None = None) -> dict[Key, list[int]]:
    """What the tickets count for, row by row of `ledger` (of a district's, of some groups', or every row)."""
    columns = (_tickets.c.district_id, _tickets.c.master_id, *(_tickets.c[name] for name in rates.FACT_NAMES))
    if ledger is COMMUNITIES:
        community = _compounds.c.community_id
        read = (select(*columns, community.label("tallied_in"))
                .select_from(_tickets.outerjoin(_compounds, _compounds.c.id == _tickets.c.compound_id)))
        if groups is not None:
            known = [c for c in groups if c != NO_COMMUNITY]
            read = read.where(or_(community.in_(known), community.is_(None)) if NO_COMMUNITY in groups
                              else community.in_(known))
    else:
        read = select(*columns, _tickets.c.lead_unit_id.label("tallied_in")).where(_tickets.c.lead_unit_id.is_not(None))
        if groups is not None:
            read = read.where(_tickets.c.lead_unit_id.in_(groups))
    if district_id is not None:
        read = read.where(_tickets.c.district_id == district_id)
    found: dict[Key, list[int]] = defaultdict(lambda: [0] * len(rates.TALLY_NAMES))
    for row in session.execute(read.execution_options(yield_per=5000)):
        figures = rates.tally(facts(row))
        for key in keys_of(row.district_id, row.created_at, row.tallied_in or NO_COMMUNITY):
            summed = found[key]
            for position, value in enumerate(figures):
                summed[position] += value
    return found
