"""tickets' tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    false,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from linli.services.tickets.rates import RESOLVE_BOUNDS, TALLY_NAMES
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import UTCDateTime, new_id, new_metadata, utcnow
from linli.shared.orm import Entity, ReadModel

# A 64-bit counter on PostgreSQL; SQLite numbers rows by its INTEGER PRIMARY KEY only.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")


# The partial indexes' conditions, as text both databases parse alike (and the queries repeat, so that PostgreSQL
# sees they imply them).
UNSETTLED = text("overdue_at IS NULL AND resolved_at IS NULL AND closed_at IS NULL AND master_id IS NULL "
                 "AND state <> 'rejected'")
RESOLVED = text("resolved_at IS NOT NULL AND master_id IS NULL AND state <> 'rejected'")
LED = text("lead_unit_id IS NOT NULL")
# What the rates read of a ticket (stats._settled, stats._pending, the median) besides the lead unit and creation.
LEAD_UNIT_FIGURES = ("district_id", "master_id", "state", "stage", "due_at", "responded_at", "accept_due_at",
                     "dispatch_due_at", "resolve_due_at", "resolved_at", "closed_at", "overdue_at", "rating",
                     "dissatisfied_ratings")
# A ticket neither answered nor overdue yet (rates.fresh): not in the tallies, counted from the table (it is UNSETTLED).
FRESH = text("responded_at IS NULL AND overdue_at IS NULL AND master_id IS NULL AND state = 'submitted'")


class Base(DeclarativeBase):
    metadata = new_metadata()


class Ticket(Entity, Base):
    """A resident's problem or need (诉求 / 工单), or a small wish a party member may claim (微心愿)."""

    __tablename__ = "tickets"

    # Not indexed alone: ix_tickets_district_created leads with it, and every index costs each insert its upkeep.
    district_id: Mapped[str] = mapped_column(String(64))
    # No foreign key to `compounds`: that table is a copy of registry's data and may be rebuilt from events.
    compound_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # indexed by ix_tickets_compound_created
    building_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(10), default="problem", server_default="problem")
    urgency: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")
    source: Mapped[str] = mapped_column(String(20), default="resident", server_default="resident")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    reporter_name: Mapped[str] = mapped_column(String(100))
    reporter_phone: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(default=False)
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # registry's member who claimed a wish
    # The ticket this one duplicates; closed with it. No foreign key: a plain reference within one table.
    master_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    close_reason: Mapped[str | None] = mapped_column(String(30))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[str | None] = mapped_column(String(30))
    rating_comment: Mapped[str | None] = mapped_column(String(1000))
    # The stage the ticket is in (accept, dispatch, resolve; none once resolved or closed): `due_at` is its
    # deadline, `overdue` whether it passed. Each stage's deadline is kept as last set, for the rates.
    stage: Mapped[str | None] = mapped_column(String(10))
    accept_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatch_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The reminder before the ticket's own deadline (dispatched work has one per unit's part instead).
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded: Mapped[bool] = mapped_column(default=False, server_default=false())
    # For the rates (GET /v1/stats; docs/tickets-stats.md): when the accept stage was answered (the first move out
    # of `submitted`), when the fix that stands was made (cleared when work is sent back), when a deadline was
    # first told passed (never cleared: a late ticket stays late), how many times the resident was dissatisfied
    # (a dissatisfied rating reopens the ticket and leaves `rating` empty), and the unit leading the work (the last
    # one named lead, kept when its part is withdrawn at closing).
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dissatisfied_ratings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lead_unit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    # Loaded with the ticket (one query for a whole page of them): every answer about a ticket shows them.
    parts: Mapped[list[TicketPart]] = relationship(lazy="selectin", order_by="TicketPart.position",
                                                   cascade="all, delete-orphan")
    participants: Mapped[list[TicketParticipant]] = relationship(lazy="selectin",
                                                                 order_by="TicketParticipant.member_id",
                                                                 cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_tickets_district_created", "district_id", "created_at", "id"),
        # A compound's tickets newest first, as the list pages them (a page of a compound of 1,800 tickets read in
        # its own rows, not found among the district's); and the possible duplicates looked for at every intake, a
        # compound's tickets of a category over the last days. One btree per insert serves both.
        Index("ix_tickets_compound_created", "compound_id", "created_at", "id"),
        # A unit's tickets over a period, and its rates (`unit_id=`) read from the index alone: a unit's year is about a
        # thousand tickets on as many of the table's pages at a million tickets, and some twenty of this index's.
        # Partial: intake, whose tickets have no lead yet, writes nothing to it.
        Index("ix_tickets_lead_unit_figures", "lead_unit_id", "created_at", postgresql_include=list(LEAD_UNIT_FIGURES),
              postgresql_where=LED, sqlite_where=LED),
        # The rates' pending part (rates.py): the tickets a deadline passing may still change the figures of, few
        # at any time, found by district and period without reading the rest.
        Index("ix_tickets_unsettled", "district_id", "created_at",
              postgresql_where=UNSETTLED, sqlite_where=UNSETTLED),
        # The rates' medians: each resolved ticket's times read from the index alone, not the table's wide rows.
        Index("ix_tickets_resolved", "district_id", "created_at", postgresql_include=["compound_id", "resolved_at"],
              postgresql_where=RESOLVED, sqlite_where=RESOLVED),
    )


# One day's, one week's or one month's tickets of a community, as the rates count them: rates.tally summed over the
# tickets submitted in it (in the suite's time zone), kept by every change of a ticket (tallies.py): the settled
# counts, and how many resolved tickets took how long, by bucket. The rates of a period of whole days by district,
# street or community add these rather than read every ticket: its whole months' rows, then its whole weeks', and
# the days' of the rest.
def _tallies(name: str, group: str) -> Table:
    """A table of tallies: one row per district, `group` (a community, a unit), and day, week or month."""
    return Table(
        name, Base.metadata,
        Column("district_id", String(64), primary_key=True),
        Column("span", String(5), primary_key=True),  # DAY, WEEK or MONTH
        Column("day", Date, primary_key=True),  # the day, the week's Monday, or the month's first
        Column(group, Uuid, primary_key=True),
        *(Column(figure, Integer, nullable=False, default=0, server_default="0") for figure in TALLY_NAMES),
    )


# NO_COMMUNITY stands for the community of a compound registry has not told of (a key has no NULL).
ticket_tallies = _tallies("ticket_tallies", "community_id")
NO_COMMUNITY = uuid.UUID(int=0)
DAY, WEEK, MONTH = "day", "week", "month"

# The same tallies by lead unit, for the rates by unit: a ticket is in its lead unit's rows, none before a unit
# takes it on; a re-route moves it from the old lead's rows to the new one's.
ticket_unit_tallies = _tallies("ticket_unit_tallies", "unit_id")


# A resolved ticket's bucket of time to resolve (rates.resolve_bucket: how many bounds it reached), in PostgreSQL's
# words, so that an index holds the resolved tickets by bucket and the median of a period reads one bucket's only.
# The bounds are written out, not bound: the planner matches a query's expression to the index's as written.
RESOLVE_BUCKET = func.width_bucket(
    func.extract("epoch", Ticket.__table__.c.resolved_at - Ticket.__table__.c.created_at),
    literal_column(f"ARRAY[{', '.join(map(str, RESOLVE_BOUNDS))}]::numeric[]"))
Index("ix_tickets_resolve_bucket", Ticket.__table__.c.district_id, RESOLVE_BUCKET, Ticket.__table__.c.created_at,
      postgresql_include=["compound_id", "lead_unit_id", "resolved_at"],
      postgresql_where=RESOLVED).ddl_if(dialect="postgresql")


class TicketPart(Base):
    """One unit's share of a dispatched ticket, with its own deadline and progress; one part leads."""

    __tablename__ = "ticket_parts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tickets.id"))
    # The order the units were dispatched in: the lifecycle's parts are a sequence, and a unit re-routed
    # away and back has two parts, one withdrawn.
    position: Mapped[int] = mapped_column()
    unit_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    lead: Mapped[bool] = mapped_column()
    state: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded: Mapped[bool] = mapped_column(default=False, server_default=false())
    overdue: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (Index("uq_ticket_parts_ticket_position", "ticket_id", "position", unique=True),)


class TicketMove(Base):
    """One step of a ticket's history: who moved it, when, from which state to which, why."""

    __tablename__ = "ticket_moves"

    # A counter rather than a time: several moves share a transaction's instant (a master and its duplicates).
    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tickets.id"))
    verb: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))  # the caller's `sub`
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(1000))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    __table_args__ = (Index("ix_ticket_moves_ticket_seq", "ticket_id", "seq"),)


class TicketComment(Entity, Base):
    """A remark on a ticket by whoever works on it; not a move, so it leaves the ticket's version alone."""

    __tablename__ = "ticket_comments"

    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tickets.id"))
    author: Mapped[str] = mapped_column(String(200))  # the caller's `sub`
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_ticket_comments_ticket_created", "ticket_id", "created_at", "id"),)


class TicketParticipant(Base):
    """A party member who took part in resolving a ticket, with the hours they gave; credited when it closes."""

    __tablename__ = "ticket_participants"

    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tickets.id"), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    hours: Mapped[float] = mapped_column(Float)


class Compound(ReadModel, Base):
    """registry's compounds (小区 / 院落), kept from its `area` events: tickets are raised against them."""

    __tablename__ = "compounds"

    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    kind: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (Index("ix_compounds_district_name", "district_id", "name", "id"),)


class Area(ReadModel, Base):
    """registry's districts, streets (街道) and communities (社区), from its `area` events: the rates are
    grouped by them. A compound names its community, a community its street (`parent_id`)."""

    __tablename__ = "areas"

    level: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)


class Organization(ReadModel, Base):
    """registry's organizations (单位), kept from its `organization` events: the units tickets go to."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))


# --- Read models for dispatch suggestions, from registry's events ---------------------------------------------------

class Pairing(ReadModel, Base):
    """registry's pairings of units with compounds (结对包建), from its `pairing` events: a compound's paired unit
    is the first suggested for its tickets."""

    __tablename__ = "pairings"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    organization_name: Mapped[str] = mapped_column(String(200))
    compound_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # last day, inclusive
    state: Mapped[str] = mapped_column(String(20))


class Resource(ReadModel, Base):
    """A resource on a unit's list (资源清单), from registry's `resource` events: what categories a unit serves."""

    __tablename__ = "resources"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    category: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))


class CommitteeUnit(Base):
    """A unit of a committee (共建单位): current, or kept as having left."""

    __tablename__ = "committee_units"

    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    joined_on: Mapped[date] = mapped_column(Date)
    current: Mapped[bool] = mapped_column()
    left_on: Mapped[date | None] = mapped_column(Date)  # known when registry's `unit_left` told it
class CategoryDeadlines(Entity, Base):
    """A district's own deadlines for a category, overriding the suite's defaults (domain.DEFAULT_CATEGORIES)."""

    __tablename__ = "category_deadlines"

    code: Mapped[str] = mapped_column(String(40))
    normal_accept_hours: Mapped[float] = mapped_column(Float)
    normal_dispatch_hours: Mapped[float] = mapped_column(Float)
    normal_resolve_hours: Mapped[float] = mapped_column(Float)
    urgent_accept_hours: Mapped[float] = mapped_column(Float)
    urgent_dispatch_hours: Mapped[float] = mapped_column(Float)
    urgent_resolve_hours: Mapped[float] = mapped_column(Float)
    remind_before_percent: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("uq_category_deadlines_district_code", "district_id", "code", unique=True),)


class Committee(ReadModel, Base):
    """registry's committees (大党委), from its `committee` events: their units (committee_units) are suggested for
    dispatch, their convenors escalated to when dispatched work is overdue. `version` is the committee's, the one
    every event of it (a unit joining, leaving) carries."""

    __tablename__ = "committees"

    community_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_TIME_ZONE)
    convenor_name: Mapped[str | None] = mapped_column(String(100))
    convenor_member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ChairTerm(Base):
    """rotation's terms of a committee's rotating chair (轮值主席), one row per chair's window, from its events.

    Keyed by the window's start: a handover that drops a term whole gives its start to the successor, whose
    news replaces the first chair's.
    """

    __tablename__ = "chair_terms"

    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    district_id: Mapped[str] = mapped_column(String(64))
    term_index: Mapped[int] = mapped_column(Integer)
    part: Mapped[int] = mapped_column(Integer)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    organization_name: Mapped[str | None] = mapped_column(String(200))
class Open311Key(Entity, Base):
    """An Open311 client's api_key (a hotline, a 311 app): the district its requests are raised in.

    Only the key's SHA-256 is kept, and its first characters so an operator can tell keys apart: the key
    itself is shown once, when it is made.
    """

    __tablename__ = "open311_keys"

    client_name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64))
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))  # the operator's `sub`
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("uq_open311_keys_key_hash", "key_hash", unique=True),)

    @property
    def state(self) -> str:
        return "active" if self.revoked_at is None else "revoked"
