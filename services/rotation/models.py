"""rotation's tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.services.rotation.domain import ACTIVE, DEFAULT_ENDING_SOON_DAYS, DEFAULT_REPORT_DUE_DAYS
from linli.services.rotation.schedule import JOIN_ORDER
from linli.shared.db import UTCDateTime, new_id, new_metadata, utcnow
from linli.shared.orm import Entity, ReadModel


class Base(DeclarativeBase):
    metadata = new_metadata()


class Rotation(Entity, Base):
    """The rotating chair (轮值主席) of one committee: terms of `term_months` counted from `starts_on`."""

    __tablename__ = "rotations"

    # No foreign key to the committees read model: that table mirrors registry and may be
    # rebuilt from its events, while a rotation and its history are rotation's own.
    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    term_months: Mapped[int] = mapped_column()
    starts_on: Mapped[date] = mapped_column(Date)
    # Copied from the committee when the rotation is set up, so term boundaries do not
    # move under running terms if the committee's zone is edited later.
    time_zone: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    order_policy: Mapped[str] = mapped_column(String(20), default=JOIN_ORDER)
    # The explicit order: organization ids as JSON text (stored and compared alike on SQLite and PostgreSQL).
    unit_order: Mapped[str] = mapped_column(Text, default="[]")
    # When the order or policy last changed: the planner counts waiting from then on.
    order_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the plan last changed; each change moves the rotation's version, which its plan events carry.
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # `term.ending_soon` this many days before a term ends; its report is due this many days after.
    ending_soon_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_ENDING_SOON_DAYS)
    report_due_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_REPORT_DUE_DAYS)

    __table_args__ = (Index("ix_rotations_district_created", "district_id", "created_at", "id"),)


class Term(Entity, Base):
    """One chair of one term of the calendar; a term planned anew for another unit is a new row, the old one
    cancelled, so a calendar keeps each row's `uid` for exactly one unit's term."""

    __tablename__ = "terms"

    rotation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rotations.id"))
    index: Mapped[int] = mapped_column(Integer)
    # 0, and 1, 2, ... for the chairs that took over the rest of the term after a handover.
    part: Mapped[int] = mapped_column(Integer, default=0)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    organization_name: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Local dates in the rotation's zone: the first and the last day the term covers.
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20))
    uid: Mapped[str] = mapped_column(String(120), unique=True)
    # Why the term has this chair (turn, substitute, swap, handover, gap), and the override or swap behind it.
    reason: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    note: Mapped[str | None] = mapped_column(String(500))
    # When `term.ending_soon` was sent: a term cut short by a handover has its timer moved, never told twice.
    ending_soon_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_terms_rotation_starts", "rotation_id", "starts_at"),
        Index("ix_terms_organization_starts", "organization_id", "starts_at"),
        Index("ix_terms_district_created", "district_id", "created_at", "id"),
    )


class Override(Entity, Base):
    """A substitute for one term, or a unit unavailable for a period [from_on, to_on)."""

    __tablename__ = "overrides"

    rotation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rotations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    organization_name: Mapped[str] = mapped_column(String(200))
    # A substitute's term (the row asked about) and its place in the calendar, which outlives re-plans.
    term_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    term_index: Mapped[int | None] = mapped_column(Integer)
    from_on: Mapped[date | None] = mapped_column(Date)
    to_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_overrides_rotation_created", "rotation_id", "created_at", "id"),
        Index("ix_overrides_district_created", "district_id", "created_at", "id"),
    )


class Swap(Entity, Base):
    """One unit's term offered for another's: requested by the first term's unit, answered by the other's."""

    __tablename__ = "swaps"

    rotation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rotations.id"))
    state: Mapped[str] = mapped_column(String(20))
    term_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    with_term_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    term_index: Mapped[int] = mapped_column(Integer)
    with_term_index: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    organization_name: Mapped[str] = mapped_column(String(200))
    with_organization_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    with_organization_name: Mapped[str] = mapped_column(String(200))
    # When the earlier of the two terms starts: an unanswered request expires then.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answer_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_swaps_rotation_created", "rotation_id", "created_at", "id"),
        Index("ix_swaps_district_created", "district_id", "created_at", "id"),
    )


class AuditEntry(Base):
    """Who changed a rotation's plan, when, why and what: written in the transaction of the change."""

    __tablename__ = "rotation_audit"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    district_id: Mapped[str] = mapped_column(String(64))
    rotation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rotations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    why: Mapped[str | None] = mapped_column(String(500))
    # What changed, as JSON text: the ids of the terms, overrides or swaps concerned.
    what: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (Index("ix_rotation_audit_rotation_at", "rotation_id", "at", "id"),)


class Committee(ReadModel, Base):
    """registry's committees (大党委), kept current from its events."""

    __tablename__ = "committees"

    community_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    # The community party secretary, who convenes the joint meetings.
    convenor_member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    convenor_name: Mapped[str | None] = mapped_column(String(100))


class CommitteeUnit(Base):
    """One stint of a co-building unit (共建单位) in a committee, from registry's unit_joined/unit_left events.

    Keyed by committee, organization and the day it joined, so a repeated or late event finds its row.
    """

    __tablename__ = "committee_units"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    district_id: Mapped[str] = mapped_column(String(64), index=True)
    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    organization_name: Mapped[str] = mapped_column(String(200))
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    left_reason: Mapped[str | None] = mapped_column(String(500))
    # Units joining on the same day take turns in the order rotation heard of them (registry lists them so).
    seq: Mapped[int] = mapped_column(Integer)
    # The committee's version of the last event that wrote the row.
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("committee_id", "organization_id", "joined_on", name="uq_committee_units_stint"),
    )


class RotationTicket(ReadModel, Base):
    """tickets' tickets, as far as rotation needs them: joint meetings' agendas (the community's listed tickets)
    and term reports' figures. Kept current from tickets' events; a stale version changes nothing."""

    __tablename__ = "tickets"

    # Null until an event names it: tickets' `submitted` payload carries the compound but not its community.
    community_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    compound_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(20))
    # The first time the ticket was listed, dispatched or overdue (kept whatever order events arrive in), and
    # when it was last closed (null while it is open again).
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When tickets last changed it, as its latest event tells.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_tickets_community_state_listed", "community_id", "state", "listed_at"),)


class TicketMoment(Base):
    """Each time a ticket was listed, dispatched, closed or went overdue, in which community.

    A ticket's row keeps only its latest state and first (or last) instants; a term's figures count the tickets
    with a moment in the term, so a ticket closed, reopened and closed again counts in both terms, and an event
    arriving late (stale for the row) still adds its moment.
    """

    __tablename__ = "ticket_moments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    district_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    community_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "at", name="uq_ticket_moments_ticket_kind_at"),
        Index("ix_ticket_moments_community_kind_at", "community_id", "kind", "at"),
    )


class TermReport(Entity, Base):
    """A chair unit's term report (任期述职): due when its term ends, submitted with the figures of the term.

    Made `pending` when the term ends, so reports not yet given are listable; `missing` once past due unsubmitted,
    `submitted` (on time) or `late` once given. Figures are frozen when it is submitted.
    """

    __tablename__ = "term_reports"

    rotation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rotations.id"))
    term_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("terms.id"), unique=True)
    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    organization_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The local day it is due on: reports are due at that day's midnight start, in the rotation's zone.
    due_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str | None] = mapped_column(Text)
    # The figures as JSON text, gathered when it was submitted.
    figures: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    # When `term.report_due` was sent.
    due_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_term_reports_district_created", "district_id", "created_at", "id"),
        Index("ix_term_reports_state_due", "state", "due_at"),
        Index("ix_term_reports_rotation_created", "rotation_id", "created_at", "id"),
    )


class Activity(ReadModel, Base):
    """registry's activities held in a community, counted in term reports' figures."""

    __tablename__ = "activities"

    community_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    host_organization_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    host_organization_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendee_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_activities_community_held", "community_id", "held_at"),)


class MeetingRule(Entity, Base):
    """When a committee's joint meetings (联席会议) recur: an RFC 5545 RRULE from `starts_on`, at a local time."""

    __tablename__ = "meeting_rules"

    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    rrule: Mapped[str] = mapped_column(String(500))
    starts_on: Mapped[date] = mapped_column(Date)
    local_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    place: Mapped[str | None] = mapped_column(String(200))
    # Copied from the committee when the rule is set, like a rotation's.
    time_zone: Mapped[str] = mapped_column(String(64))
    # Meetings are materialized up to here; the clock moves it on.
    planned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class Meeting(Entity, Base):
    """One joint meeting: from the committee's rule (one per rule day) or ad hoc; scheduled → held | cancelled."""

    __tablename__ = "meetings"

    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    community_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("meeting_rules.id"))
    # The rule's day this meeting is for; it stays when people move the meeting, so a re-plan finds it again.
    rule_day: Mapped[date | None] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)
    local_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(200))
    convenor_member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    convenor_name: Mapped[str | None] = mapped_column(String(100))
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    # Free agenda items, the agenda as it stood when held, attendance and decisions: JSON text.
    free_items: Mapped[str] = mapped_column(Text, default="[]")
    agenda: Mapped[str | None] = mapped_column(Text)
    attendance: Mapped[str] = mapped_column(Text, default="[]")
    minutes: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str] = mapped_column(Text, default="[]")
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it was cancelled or moved last, and by whom (`rule` when a change of the rule did it).
    reason: Mapped[str | None] = mapped_column(String(500))
    changed_by: Mapped[str] = mapped_column(String(200))
    uid: Mapped[str] = mapped_column(String(120), unique=True)

    __table_args__ = (
        UniqueConstraint("rule_id", "rule_day", name="uq_meetings_rule_day"),
        Index("ix_meetings_committee_starts", "committee_id", "starts_at"),
        Index("ix_meetings_district_created", "district_id", "created_at", "id"),
    )


class Feed(Entity, Base):
    """An iCalendar feed of a committee or a unit, reached by a secret URL token kept only as its SHA-256."""

    __tablename__ = "feeds"

    kind: Mapped[str] = mapped_column(String(20))
    committee_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_feeds_district_created", "district_id", "created_at", "id"),)
