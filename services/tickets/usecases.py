"""tickets' actions: one function per action, whatever triggers it (an HTTP call, the clock, an event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, func, select, true
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from linli.services.tickets import domain, open311, tallies
from linli.services.tickets.events import (
    TICKET_ACCEPTED,
    TICKET_CLAIMED,
    TICKET_CLOSED,
    TICKET_COMMENTED,
    TICKET_CONTACT,
    TICKET_DISPATCHED,
    TICKET_DUE_SOON,
    TICKET_ESCALATED,
    TICKET_LISTED,
    TICKET_MERGED,
    TICKET_OVERDUE,
    TICKET_RATED,
    TICKET_REJECTED,
    TICKET_REOPENED,
    TICKET_REROUTED,
    TICKET_RESOLVED,
    TICKET_REVIEWED,
    TICKET_STARTED,
    TICKET_SUBMITTED,
)
from linli.services.tickets.models import (
    Area,
    CategoryDeadlines,
    ChairTerm,
    Committee,
    CommitteeUnit,
    Compound,
    Open311Key,
    Organization,
    Pairing,
    Resource,
    Ticket,
    TicketComment,
    TicketMove,
    TicketPart,
    TicketParticipant,
)
from linli.shared.actors import Actor
from linli.shared.changes import record
from linli.shared.clock import DEFAULT_TIME_ZONE, cancel, schedule
from linli.shared.db import new_id
from linli.shared.errors import Forbidden, InvalidTransition, NotYetKnown, ValidationFailed
from linli.shared.events import EventType
from linli.shared.readmodel import apply_versioned
from linli.shared.visibility import visible

# Timer kinds, `<entity>.<condition>`; the clock hands each to the handler named after it. A ticket has one timer,
# set to its next reminder or deadline (domain.next_check) at every move.
TICKET_DUE = "ticket.due"

# Called with the version a move is about to change; raises if the caller expected another.
VersionCheck = Callable[[int], None]

# Only what a submission needs of the compound, as a Core query: the ORM's identity lookup costs more CPU
# than the rest of the statement's round trip, and nothing here changes the compound. The district's own
# deadlines for the category (if it set them) come with it, joined: one round trip instead of two.
_compounds = Compound.__table__
_COMPOUND_DISTRICT = select(_compounds.c.district_id).where(_compounds.c.id == bindparam("id"))
_overrides = CategoryDeadlines.__table__
_DEADLINE_COLUMNS = [column for column in _overrides.c if column.name.endswith("_hours")] + [
    _overrides.c.remind_before_percent, _overrides.c.id.label("override_id")]
_WITH_DEADLINES = _compounds.outerjoin(_overrides, (_overrides.c.district_id == _compounds.c.district_id)
                                       & (_overrides.c.code == bindparam("code")))
_COMPOUND_AND_DEADLINES = (
    select(_compounds.c.district_id, _compounds.c.name, _compounds.c.community_id, *_DEADLINE_COLUMNS)
    .select_from(_WITH_DEADLINES)
    .where(_compounds.c.id == bindparam("id"))
)
_tickets = Ticket.__table__
# What possible duplicates are judged by, as Core rather than ORM rows: nothing here changes, and only the start of
# a description is compared.
_CANDIDATE_COLUMNS = (_tickets.c.id, _tickets.c.state, _tickets.c.title,
                      func.substr(_tickets.c.description, 1, domain.SIMILAR_TEXT_CHARS).label("description"),
                      _tickets.c.created_at, _tickets.c.master_id)
# The compound's most recent tickets of the category, newest first: a walk of ix_tickets_compound_created over the
# window, bounded by it and a row limit whatever the table holds (a compound's other categories are few in a window).
_RECENT = (
    select(*_CANDIDATE_COLUMNS)
    .where(_tickets.c.compound_id == bindparam("id"), _tickets.c.category == bindparam("code"),
           _tickets.c.created_at >= bindparam("since"), _tickets.c.created_at <= bindparam("until"))
    .order_by(_tickets.c.created_at.desc())
    .limit(bindparam("limit"))
    .subquery("recent")
)
# At intake, read with the compound and its deadlines (one round trip, not two): a row per recent ticket, each
# repeating the compound's columns, or one row with no ticket. Read before the new ticket is written, they are the
# same tickets as after it but for the new one itself.
_COMPOUND_DEADLINES_AND_RECENT = (
    select(_compounds.c.district_id, _compounds.c.name, _compounds.c.community_id, *_DEADLINE_COLUMNS,
           *(column.label(f"recent_{column.name}") for column in _RECENT.c))
    .select_from(_WITH_DEADLINES.outerjoin(_RECENT, true()))
    .where(_compounds.c.id == bindparam("id"))
)


def submit_ticket(session: Session, actor: Actor, **fields: Any) -> Ticket:
    """Raise a resident's ticket against a compound; it is due to be accepted by its category's deadline.

    The fields are `_submit`'s keyword arguments but `recent`."""
    return _submit(session, actor, recent=0, **fields)[0]


def _submit(session: Session, actor: Actor, *, recent: int, compound_id: uuid.UUID, title: str, description: str,
            category: str, reporter_name: str, reporter_phone: str, now: datetime,
            kind: str = domain.PROBLEM, urgency: str = domain.NORMAL, source: str = domain.DEFAULT_SOURCE,
            building_id: uuid.UUID | None = None, address: str | None = None, lat: float | None = None,
            lon: float | None = None, attachments: Sequence[str] = ()) -> tuple[Ticket, list[domain.Candidate]]:
    """Raise the ticket; with `recent`, also read that many of the compound's latest tickets of the category within
    the window of possible duplicates, in the same statement as the compound (see `_RECENT`)."""
    if recent:
        rows = session.execute(_COMPOUND_DEADLINES_AND_RECENT, {
            "id": compound_id, "code": category, "since": now - timedelta(days=domain.SIMILAR_WINDOW_DAYS),
            "until": now, "limit": recent}).all()
    else:
        rows = session.execute(_COMPOUND_AND_DEADLINES, {"id": compound_id, "code": category}).all()
    found = rows[0] if rows else None
    if found is None or not actor.sees(found.district_id):
        # Another district's compound answers exactly like one not heard of, so ids of other districts leak nothing.
        raise NotYetKnown.field("compound_id", "compound")
    district_id = found.district_id
    deadlines = _deadlines_or_defaults(found if found.override_id is not None else None, category)
    due_at = domain.stage_due_at(deadlines, urgency, domain.ACCEPT, now)
    remind_at = domain.remind_at(now, due_at, deadlines.remind_before_percent)
    # Empty collections given, not left to load: a new ticket has no parts, and asking the database costs a query.
    ticket = Ticket(district_id=district_id, compound_id=compound_id, building_id=building_id, kind=kind,
                    urgency=urgency, source=source, title=title, description=description, category=category,
                    address=address, lat=lat, lon=lon, attachments=list(attachments), reporter_name=reporter_name,
                    reporter_phone=reporter_phone, state=domain.INITIAL_STATE,
                    due_at=due_at, overdue=False, stage=domain.ACCEPT, accept_due_at=due_at, remind_at=remind_at,
                    reminded=False, dissatisfied_ratings=0, created_at=now, updated_at=now, parts=[],
                    participants=[], id=new_id(), version=1)
    _insert_new(session, ticket)
    # The public event masks the phone; notify needs it whole to tell the resident what became of the ticket,
    # and has it first: the contact is published before the news it is needed for.
    record(session, TICKET_CONTACT, ticket)
    # The compound named in the event, so a consumer (notify) words a message without looking it up.
    record(session, TICKET_SUBMITTED, ticket, payload_of=_Payload(
        ticket, compound_name=found.name, community_id=found.community_id))
    schedule(session, TICKET_DUE, ticket.id, remind_at or due_at, district_id=ticket.district_id)
    candidates = [domain.Candidate(row.recent_id, row.recent_state,
                                   domain.ticket_text(row.recent_title, row.recent_description),
                                   row.recent_created_at, row.recent_title, row.recent_master_id)
                  for row in rows if recent and row.recent_id is not None]
    return ticket, candidates


_ticket_columns = {attribute.key: attribute.columns[0].key for attribute in sa_inspect(Ticket).column_attrs}
_INSERT_TICKET = Ticket.__table__.insert()


def _insert_new(session: Session, ticket: Ticket) -> None:
    """Write a new ticket by one Core INSERT, and keep it in the session as if just loaded from its row.

    What the unit of work would write, and the ticket is as persistent (version 1, later moves UPDATE it and check
    that version); but the unit of work's flush of a new object costs intake more than the INSERT itself (7% of a
    submission's Python calls, bench/README.md).
    Every column is given a value first (None for those a new ticket has not): one left unset would be loaded
    from the database on first use.
    """
    for attribute in _ticket_columns:
        if attribute not in ticket.__dict__:
            setattr(ticket, attribute, None)
    session.execute(_INSERT_TICKET, {column: ticket.__dict__[attribute]
                                     for attribute, column in _ticket_columns.items()})
    make_transient_to_detached(ticket)
    session.add(ticket)


def record_compound(session: Session, compound_id: uuid.UUID, version: int, *, district_id: str, name: str,
                    community_id: uuid.UUID | None, kind: str | None) -> bool:
    """Keep registry's compound at `version` in the read model; False when a newer one is already kept.

    A compound moved to another community takes its tickets' tallies with it (the rates by community and street
    count a ticket under its compound's community now)."""
    kept = session.get(Compound, compound_id, with_for_update=True)
    left = None if kept is None else kept.community_id
    applied = apply_versioned(session, Compound, compound_id, version, {
        "district_id": district_id, "name": name, "community_id": community_id, "kind": kind,
    })
    if applied and kept is not None and left != community_id:
        tallies.rebuild_communities(session, district_id, (left, community_id))
    return applied


GROUPING_LEVELS = ("district", "street", "community")  # registry's levels above compounds that tickets keeps


def record_area(session: Session, area_id: uuid.UUID, version: int, *, district_id: str, level: str, name: str,
                parent_id: uuid.UUID | None) -> bool:
    """Keep registry's district, street or community at `version`; False when a newer one is already kept."""
    return apply_versioned(session, Area, area_id, version, {
        "district_id": district_id, "level": level, "name": name, "parent_id": parent_id,
    })


def record_organization(session: Session, organization_id: uuid.UUID, version: int, *, district_id: str, name: str,
                        kind: str) -> bool:
    """Keep registry's organization at `version` in the read model; False when a newer one is already kept."""
    return apply_versioned(session, Organization, organization_id, version, {
        "district_id": district_id, "name": name, "kind": kind,
    })


# --- The lifecycle ---------------------------------------------------------------------------------------------
#
# Every verb takes the same path: lock the ticket, check the caller's If-Match, let the domain say what the ticket
# becomes, write that back, keep the move in the history and tell of it. A failed review or a dissatisfied rating
# tells of the review or rating first, then of the reopening (`reopened`); a content rating that closes the ticket
# tells of the rating, then of the closing (`closed`, which registry credits members' hours by). Closing a ticket,
# whichever verb does it, closes the tickets merged into it the same way, as duplicates.

_EVENTS: dict[str, EventType] = {
    "accept": TICKET_ACCEPTED, "reject": TICKET_REJECTED, "start": TICKET_STARTED, "escalate": TICKET_ESCALATED,
    "list": TICKET_LISTED, "dispatch": TICKET_DISPATCHED, "claim": TICKET_CLAIMED, "resolve": TICKET_RESOLVED,
    "reroute": TICKET_REROUTED, "review": TICKET_REVIEWED, "rate": TICKET_RATED, "close": TICKET_CLOSED,
    "merge": TICKET_MERGED,
}
_REOPENED_STATES = (domain.DISPATCHED, domain.IN_PROGRESS)


@dataclass(frozen=True)
class Assignment:
    """A unit named in a dispatch or a re-routing; without `due_at` its part is due by the category's SLA."""

    unit_id: uuid.UUID
    lead: bool = False
    due_at: datetime | None = None


@dataclass(frozen=True)
class Participant:
    member_id: uuid.UUID
    hours: float


@dataclass(frozen=True)
class _Told:
    """What a move keeps besides the new state: why, a note, and whom it concerns."""

    reason: str | None = None
    note: str | None = None
    unit_ids: tuple[uuid.UUID, ...] = ()
    member_id: uuid.UUID | None = None


class _Payload:
    """A row as its event tells it: the row's fields, and what the event adds (the move, the compound...)."""

    def __init__(self, row: Ticket | TicketComment, **extra: Any) -> None:
        self._row = row
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def accept(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, note: str | None = None,
           check_version: VersionCheck | None = None) -> Ticket:
    """The compound takes a submitted ticket on."""
    return _move(session, actor, ticket_id, "accept", now, domain.accept, _Told(note=note), check_version)


def reject(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, reason: str,
           note: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """A submitted ticket is turned down for good, saying why (not the compound's business, a prank)."""
    return _move(session, actor, ticket_id, "reject", now, domain.reject, _Told(reason=reason, note=note),
                 check_version)


def start(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, unit_id: uuid.UUID | None = None,
          note: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """Work begins: the compound on a ticket it handles itself, or a dispatched unit on its part."""
    return _move(session, actor, ticket_id, "start", now, lambda t: domain.start(t, unit_id),
                 _Told(note=note, unit_ids=_units(unit_id)), check_version)


def escalate(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, note: str | None = None,
             check_version: VersionCheck | None = None) -> Ticket:
    """The compound blows the whistle to the community's committee (吹哨)."""
    return _move(session, actor, ticket_id, "escalate", now, domain.escalate, _Told(note=note), check_version)


def list_for_meeting(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *,
                     note: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """An escalated ticket goes on the list of the committee's joint meeting (挂单)."""
    return _move(session, actor, ticket_id, "list", now, domain.list_for_meeting, _Told(note=note), check_version)


def dispatch(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, units: Sequence[Assignment],
             note: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """Send the ticket to units of its district, one the lead, each with its deadline; later calls add units."""
    ticket = _locked(session, actor, ticket_id, check_version)
    before = _value(ticket)
    after = domain.dispatch(before, _parts(session, ticket, units, now))
    return _record_move(session, actor, ticket, "dispatch", before, after, now,
                        _Told(note=note, unit_ids=tuple(unit.unit_id for unit in units)))


def claim(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, unit_id: uuid.UUID | None = None,
          member_id: uuid.UUID | None = None, note: str | None = None,
          check_version: VersionCheck | None = None) -> Ticket:
    """A unit claims a listed problem as its lead (认领), or a party member a wish."""
    ticket = _locked(session, actor, ticket_id, check_version)
    before = _value(ticket)
    due_at = domain.stage_due_at(deadlines_for(session, ticket.district_id, ticket.category), ticket.urgency,
                                 domain.RESOLVE, now)
    after = domain.claim(before, unit_id=unit_id, member_id=member_id, due_at=due_at)
    if unit_id is not None:
        _check_units_known(session, ticket, [unit_id], "unit_id")
    return _record_move(session, actor, ticket, "claim", before, after, now,
                        _Told(note=note, unit_ids=_units(unit_id), member_id=member_id))


def resolve(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, unit_id: uuid.UUID | None = None,
            participants: Sequence[Participant] = (), note: str | None = None,
            check_version: VersionCheck | None = None) -> Ticket:
    """A unit resolves its part (the ticket, when it leads), or the compound or the wish's member the ticket.

    The members who took part are recorded with their hours, added up over the resolves that name them,
    and listed when the ticket closes.
    """
    ticket = _locked(session, actor, ticket_id, check_version)
    before = _value(ticket)
    after = domain.resolve(before, unit_id)
    domain.check_participants(before, [p.member_id for p in participants],
                              {p.member_id for p in ticket.participants})
    _credit(ticket, participants)
    return _record_move(session, actor, ticket, "resolve", before, after, now,
                        _Told(note=note, unit_ids=_units(unit_id)))


def reroute(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, category: str,
            units: Sequence[Assignment], note: str | None = None,
            check_version: VersionCheck | None = None) -> Ticket:
    """The category changes: the open parts are withdrawn and the ticket goes to the units now responsible."""
    ticket = _locked(session, actor, ticket_id, check_version)
    before = _value(ticket)
    previous_category = ticket.category
    after = domain.reroute(before, _parts(session, ticket, units, now, category=category))
    ticket.category = category
    withdrawn = [part.unit_id for part in before.parts if part.open]
    return _record_move(session, actor, ticket, "reroute", before, after, now,
                        _Told(reason=f"{previous_category} -> {category}", note=note,
                              unit_ids=tuple(unit.unit_id for unit in units)),
                        previous_category=previous_category, previous_unit_ids=withdrawn)


def review(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, passed: bool,
           note: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """The on-site check (回头看) of a resolved ticket: a pass awaits the resident's rating, a fail reopens it."""
    return _move(session, actor, ticket_id, "review", now, lambda t: domain.review(t, passed=passed),
                 _Told(reason="passed" if passed else "failed", note=note), check_version, passed=passed)


def rate(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, rating: str,
         comment: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """The resident's verdict: content closes a reviewed ticket, dissatisfied reopens it."""
    ticket = _locked(session, actor, ticket_id, check_version)
    before = _value(ticket)
    after = domain.rate(before, rating)
    ticket.rating_comment = comment  # dropped again with the rating when the rating reopens the ticket
    return _record_move(session, actor, ticket, "rate", before, after, now, _Told(reason=rating, note=comment))


def close(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, reason: str | None = None,
          note: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """Close a reviewed ticket as fixed, or any open one unfixed for a reason; its duplicates close with it."""
    return _move(session, actor, ticket_id, "close", now, lambda t: domain.close(t, reason),
                 _Told(reason=reason, note=note), check_version)


def merge(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, master_id: uuid.UUID,
          note: str | None = None, check_version: VersionCheck | None = None) -> Ticket:
    """Mark the ticket a duplicate of an open one of its compound; it stays as it is and closes with its master."""
    ticket = _locked(session, actor, ticket_id, check_version)
    master = session.get(Ticket, master_id)
    if master is None or not actor.sees(master.district_id):
        raise ValidationFailed.field("master_id", "no such ticket")
    before = _value(ticket)
    domain.check_merge(before, _value(master), same=master.id == ticket.id,
                       same_compound=master.compound_id == ticket.compound_id,
                       master_merged=master.master_id is not None)
    ticket.master_id = master.id
    return _record_move(session, actor, ticket, "merge", before, before, now, _Told(note=note))


def add_comment(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime, *, text: str) -> TicketComment:
    """Comment on a ticket in any state; the ticket itself does not change."""
    ticket = visible(session, actor, Ticket, ticket_id, what="ticket")
    comment = TicketComment(district_id=ticket.district_id, ticket_id=ticket.id, author=actor.sub, text=text,
                            created_at=now, updated_at=now)
    session.add(comment)
    session.flush()
    # The ticket is the subject, so a comment travels in order with the ticket's other events.
    record(session, TICKET_COMMENTED, ticket, payload_of=_Payload(comment, version=ticket.version,
                                                                   ticket_title=ticket.title))
    return comment


def _move(session: Session, actor: Actor, ticket_id: uuid.UUID, verb: str, now: datetime,
          step: Callable[[domain.Ticket], domain.Ticket], told: _Told, check_version: VersionCheck | None,
          **extra: Any) -> Ticket:
    ticket = _locked(session, actor, ticket_id, check_version)
    before = _value(ticket)
    return _record_move(session, actor, ticket, verb, before, step(before), now, told, **extra)


def _locked(session: Session, actor: Actor, ticket_id: uuid.UUID, check_version: VersionCheck | None) -> Ticket:
    ticket = visible(session, actor, Ticket, ticket_id, what="ticket", for_update=True)
    if check_version is not None:
        check_version(ticket.version)
    tallies.track(session, ticket)
    return ticket


def _value(ticket: Ticket) -> domain.Ticket:
    """The row as the lifecycle rules see it."""
    return domain.Ticket(state=ticket.state, kind=ticket.kind, urgency=ticket.urgency,
                         parts=tuple(domain.Part(p.unit_id, p.lead, p.state, p.due_at) for p in ticket.parts),
                         member_id=ticket.member_id, rating=ticket.rating, close_reason=ticket.close_reason)


def _record_move(session: Session, actor: Actor, ticket: Ticket, verb: str, before: domain.Ticket,
                 after: domain.Ticket, now: datetime, told: _Told, **extra: Any) -> Ticket:
    """Write what the domain made of the ticket, keep the move in its history, tell of it, and close duplicates."""
    after = _rearmed(session, ticket, before, after, now)
    _write(ticket, after, now)
    _keep_time(session, ticket, before, after, now)
    move = TicketMove(ticket_id=ticket.id, verb=verb, from_state=before.state, to_state=after.state,
                      actor=actor.sub, at=now, reason=told.reason, note=told.note,
                      unit_id=told.unit_ids[0] if len(told.unit_ids) == 1 else None, member_id=told.member_id)
    session.add(move)
    payload = _payload(session, ticket, move, told, **extra)
    record(session, _EVENTS[verb], ticket, payload_of=payload)
    reopened = verb in ("review", "rate") and after.state in _REOPENED_STATES
    if reopened:
        record(session, TICKET_REOPENED, ticket, payload_of=payload)
    closed = after.state == domain.CLOSED and before.state != domain.CLOSED
    if closed and verb != "close":
        record(session, TICKET_CLOSED, ticket, payload_of=payload)
    if closed:
        _close_duplicates(session, actor, ticket, now)
    return ticket


def _write(ticket: Ticket, value: domain.Ticket, now: datetime) -> None:
    if value.state == domain.CLOSED and ticket.state != domain.CLOSED:
        ticket.closed_at = now
    elif value.state != domain.CLOSED:
        ticket.closed_at = None
    _keep_rates(ticket, value, now)
    ticket.state, ticket.member_id = value.state, value.member_id
    ticket.rating, ticket.close_reason = value.rating, value.close_reason
    if value.rating is None:
        ticket.rating_comment = None
    # The lifecycle only appends parts and changes them in place, so the rows follow its sequence by position.
    for position, part in enumerate(value.parts):
        if position < len(ticket.parts):
            row = ticket.parts[position]
            row.lead, row.state, row.due_at = part.lead, part.state, part.due_at
        else:
            ticket.parts.append(TicketPart(position=position, unit_id=part.unit_id, lead=part.lead, state=part.state,
                                           due_at=part.due_at, created_at=now, updated_at=now))
    # Every move changes the row, so its version (the ETag, and the events' version) moves even when only a
    # unit's part changed.
    ticket.updated_at = now


def _keep_rates(ticket: Ticket, value: domain.Ticket, now: datetime) -> None:
    """What the rates read (docs/tickets-stats.md), kept as the move happens rather than found in the history."""
    marks = domain.rate_marks(ticket.state, value)
    if marks.responded and ticket.responded_at is None:
        ticket.responded_at = now
    if marks.resolved:
        ticket.resolved_at = now
    elif marks.sent_back:
        ticket.resolved_at = None
    ticket.dissatisfied_ratings = (ticket.dissatisfied_ratings or 0) + marks.dissatisfied
    if value.lead is not None:
        ticket.lead_unit_id = value.lead.unit_id


def _payload(session: Session, ticket: Ticket, move: TicketMove, told: _Told, **extra: Any) -> _Payload:
    compound = session.get(Compound, ticket.compound_id)
    return _Payload(
        ticket, community_id=None if compound is None else compound.community_id,
        compound_name=None if compound is None else compound.name, closed_reason=ticket.close_reason,
        parts=_named_parts(session, ticket),
        move={"verb": move.verb, "from_state": move.from_state, "to_state": move.to_state, "actor": move.actor,
              "at": move.at, "reason": move.reason, "note": move.note, "unit_ids": list(told.unit_ids),
              "member_id": move.member_id},
        **extra)


def _named_parts(session: Session, ticket: Ticket) -> list[_Payload]:
    """The ticket's parts with their units' names, so a consumer (notify) names the units without a lookup."""
    units = {part.unit_id for part in ticket.parts}
    names = {row.id: row.name for row in session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(units)))} if units else {}
    return [_Payload(part, unit_name=names.get(part.unit_id)) for part in ticket.parts]


def _close_duplicates(session: Session, actor: Actor, master: Ticket, now: datetime) -> None:
    duplicates = session.scalars(select(Ticket).where(
        Ticket.master_id == master.id, Ticket.state.in_(domain.OPEN_STATES))
        .order_by(Ticket.created_at, Ticket.id).with_for_update())
    for duplicate in duplicates:
        tallies.track(session, duplicate)
        before = _value(duplicate)
        _record_move(session, actor, duplicate, "close", before, domain.close(before, "duplicate"), now,
                     _Told(reason="duplicate", note=f"closed with {master.id}"))


def _parts(session: Session, ticket: Ticket, units: Sequence[Assignment], now: datetime, *,
           category: str | None = None) -> list[domain.Part]:
    """The units named, known to be organizations of the ticket's district, with their deadlines."""
    _check_units_known(session, ticket, [unit.unit_id for unit in units], "units")
    deadlines = deadlines_for(session, ticket.district_id, category or ticket.category)
    default_due = domain.stage_due_at(deadlines, ticket.urgency, domain.RESOLVE, now)
    for unit in units:
        if unit.due_at is not None:
            domain.check_part_due(unit.due_at, now)
    return [domain.Part(unit.unit_id, lead=unit.lead, due_at=unit.due_at or default_due) for unit in units]


def _check_units_known(session: Session, ticket: Ticket, unit_ids: Sequence[uuid.UUID], field: str) -> None:
    known = set(session.scalars(select(Organization.id).where(
        Organization.id.in_(unit_ids), Organization.district_id == ticket.district_id)))
    if set(unit_ids) - known:
        # Like an unknown compound at intake: registry's event may still be on its way, and another district's
        # organization answers the same, so its ids leak nothing.
        raise NotYetKnown.field(field, "organization")


def _credit(ticket: Ticket, participants: Sequence[Participant]) -> None:
    recorded = {row.member_id: row for row in ticket.participants}
    for participant in participants:
        row = recorded.get(participant.member_id)
        if row is None:
            ticket.participants.append(TicketParticipant(member_id=participant.member_id, hours=participant.hours))
        else:
            row.hours += participant.hours


def _units(unit_id: uuid.UUID | None) -> tuple[uuid.UUID, ...]:
    return () if unit_id is None else (unit_id,)


# --- Read models for dispatch suggestions ---------------------------------------------------------------------------

def record_pairing(session: Session, pairing_id: uuid.UUID, version: int, *, district_id: str,
                   organization_id: uuid.UUID, organization_name: str, compound_id: uuid.UUID, starts_on: date,
                   ends_on: date | None, state: str) -> bool:
    """Keep registry's pairing at `version`; False when a newer one is already kept."""
    return apply_versioned(session, Pairing, pairing_id, version, {
        "district_id": district_id, "organization_id": organization_id, "organization_name": organization_name,
        "compound_id": compound_id, "starts_on": starts_on, "ends_on": ends_on, "state": state,
    })


def record_resource(session: Session, resource_id: uuid.UUID, version: int, *, district_id: str,
                    organization_id: uuid.UUID, category: str, state: str) -> bool:
    """Keep registry's resource at `version`; False when a newer one is already kept.

    Kept one row per resource rather than the organization's category list the event also carries: two
    resources' events are ordered each by its own version only, so a list could arrive older than one kept.
    """
    return apply_versioned(session, Resource, resource_id, version, {
        "district_id": district_id, "organization_id": organization_id, "category": category, "state": state,
    })


@dataclass(frozen=True)
class RosterUnit:
    """A current unit of a committee, as registry's committee events list it."""

    organization_id: uuid.UUID
    name: str
    kind: str
    joined_on: date


def record_committee(session: Session, committee_id: uuid.UUID, version: int, *, district_id: str,
                     community_id: uuid.UUID, name: str, time_zone: str, convenor_name: str | None,
                     convenor_member_id: uuid.UUID | None, units: Sequence[RosterUnit],
                     left: tuple[uuid.UUID, date] | None = None) -> bool:
    """Keep registry's committee as of `version`: its convenor, and its units — those listed are current, any
    other kept ones have left (on the day `left` gives for the unit that just left). False when a newer version
    is already kept."""
    if not apply_versioned(session, Committee, committee_id, version, {
            "district_id": district_id, "community_id": community_id, "name": name, "time_zone": time_zone,
            "convenor_name": convenor_name, "convenor_member_id": convenor_member_id}):
        return False
    kept = {row.organization_id: row for row in session.scalars(
        select(CommitteeUnit).where(CommitteeUnit.committee_id == committee_id).with_for_update())}
    for unit in units:
        row = kept.pop(unit.organization_id, None)
        if row is None:
            session.add(CommitteeUnit(committee_id=committee_id, organization_id=unit.organization_id,
                                      name=unit.name, kind=unit.kind, joined_on=unit.joined_on, current=True))
        else:
            row.name, row.kind, row.joined_on, row.current, row.left_on = (unit.name, unit.kind, unit.joined_on,
                                                                           True, None)
    for row in kept.values():
        if row.current:
            row.current = False
            row.left_on = left[1] if left is not None and left[0] == row.organization_id else None
    return True


# --- Dispatch suggestions and possible duplicates ------------------------------------------------------------------

RESOURCE_AVAILABLE = "available"  # registry's state of a resource on a unit's list
SIMILAR_CANDIDATES = 200  # most recent tickets of the window compared when a caller asks
_INTAKE_CANDIDATES = 10  # at intake: a bounded cost on every submission, and duplicates come soon after


def suggest_units(session: Session, actor: Actor, ticket_id: uuid.UUID, now: datetime) -> list[domain.Suggestion]:
    """The units to dispatch the ticket to, ranked, each with why: from registry's pairings, committee units and
    resources as tickets' read models keep them."""
    ticket = visible(session, actor, Ticket, ticket_id, what="ticket")
    district = ticket.district_id
    pairings = [domain.Pairing(p.organization_id, p.organization_name, p.state, p.starts_on, p.ends_on)
                for p in session.scalars(select(Pairing).where(
                    Pairing.compound_id == ticket.compound_id, Pairing.district_id == district))]
    compound = session.get(Compound, ticket.compound_id)
    rosters = [] if compound is None or compound.community_id is None else list(session.scalars(
        select(Committee).where(Committee.community_id == compound.community_id,
                                Committee.district_id == district).order_by(Committee.id)))
    units = [domain.CommitteeUnit(u.organization_id, u.name, u.kind, u.current) for u in session.scalars(
        select(CommitteeUnit).where(CommitteeUnit.committee_id.in_([r.id for r in rosters])))]
    unit_ids = {p.organization_id for p in pairings} | {u.organization_id for u in units}
    offers: dict[uuid.UUID, set[str]] = {}
    for organization_id, category in session.execute(select(Resource.organization_id, Resource.category).where(
            Resource.organization_id.in_(unit_ids), Resource.district_id == district,
            Resource.state == RESOURCE_AVAILABLE)):
        offers.setdefault(organization_id, set()).add(category)
    organizations = {row.id: (row.name, row.kind) for row in session.execute(
        select(Organization.id, Organization.name, Organization.kind).where(
            Organization.id.in_(unit_ids), Organization.district_id == district))}
    today = now.astimezone(_zone(rosters[0].time_zone if rosters else DEFAULT_TIME_ZONE)).date()
    return domain.suggest_units(_value(ticket), ticket.category, today, pairings=pairings, committee_units=units,
                                offers=offers, organizations=organizations)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # registry checks zones; one this host's tz database lacks still leaves a ticket answerable.
        return ZoneInfo(DEFAULT_TIME_ZONE)


def similar_tickets(session: Session, actor: Actor, ticket_id: uuid.UUID, *,
                    days: int = domain.SIMILAR_WINDOW_DAYS, min_score: float = domain.SIMILARITY_THRESHOLD,
                    limit: int = 10) -> list[domain.Alike]:
    """Tickets of the same compound and category submitted within `days` of this one whose text is alike: possible
    duplicates to merge, open ones first."""
    ticket = visible(session, actor, Ticket, ticket_id, what="ticket")
    window = timedelta(days=days)
    candidates = _candidates(session, ticket, ticket.created_at - window, ticket.created_at + window,
                             SIMILAR_CANDIDATES)
    text = domain.ticket_text(ticket.title, ticket.description)
    return domain.possible_duplicates(text, candidates, threshold=min_score)[:limit]


@dataclass(frozen=True)
class Submission:
    ticket: Ticket
    similar: list[domain.Alike]  # possible duplicates, best first


def submit_with_duplicates(session: Session, actor: Actor, **fields: Any) -> Submission:
    """Raise a ticket (as `submit_ticket`) and name the recent tickets it may duplicate.

    The compound's latest tickets of the category come with the compound (see `_RECENT`): no query of their own.
    """
    ticket, candidates = _submit(session, actor, recent=_INTAKE_CANDIDATES, **fields)
    text = domain.ticket_text(ticket.title, ticket.description)
    return Submission(ticket, domain.possible_duplicates(text, candidates)[:domain.SIMILAR_ON_INTAKE])


_CANDIDATES = (
    select(*_CANDIDATE_COLUMNS)
    .where(_tickets.c.compound_id == bindparam("compound_id"), _tickets.c.category == bindparam("category"),
           _tickets.c.created_at >= bindparam("since"), _tickets.c.created_at <= bindparam("until"),
           _tickets.c.id != bindparam("ticket_id"))
    .order_by(_tickets.c.created_at.desc())
    .limit(bindparam("limit"))
)


def _candidates(session: Session, ticket: Ticket, since: datetime, until: datetime,
                limit: int) -> list[domain.Candidate]:
    rows = session.execute(_CANDIDATES, {"compound_id": ticket.compound_id, "category": ticket.category,
                                         "since": since, "until": until, "ticket_id": ticket.id, "limit": limit})
    return [domain.Candidate(row.id, row.state, domain.ticket_text(row.title, row.description), row.created_at,
                             row.title, row.master_id) for row in rows]
# --- Categories and their deadlines ----------------------------------------------------------------------------
#
# The suite's defaults hold in every district until the district sets its own, category by category; a change
# holds for stages begun after it, a stage already running keeps the deadline it was given.

_OVERRIDE = select(_overrides).where(_overrides.c.district_id == bindparam("district_id"),
                                     _overrides.c.code == bindparam("code"))


@dataclass(frozen=True)
class CategoryView:
    """A category as a district sees it: the suite's names, and the district's own deadlines or the defaults."""

    code: str
    name_zh: str
    name_en: str
    district_id: str | None  # None: the suite's defaults, as an operator naming no district sees them
    deadlines: domain.Deadlines
    overridden: bool
    version: int  # 0 until the district sets its own (the ETag a first PUT may send as If-Match)
    created_at: datetime | None = None
    updated_at: datetime | None = None


def deadlines_for(session: Session, district_id: str, code: str) -> domain.Deadlines:
    """A category's deadlines in a district: its own if it set them, else the suite's defaults."""
    # Not flushing the move under way: a flush now and another at its event would give the ticket two versions.
    with session.no_autoflush:
        row = session.execute(_OVERRIDE, {"district_id": district_id, "code": code}).first()
    return _deadlines_or_defaults(row, code)


def _deadlines_or_defaults(row: Any, code: str) -> domain.Deadlines:
    """A district's row of deadlines for a category if it has one, else the suite's defaults for it."""
    if row is not None:
        return _deadlines(row)
    return domain.DEFAULT_CATEGORIES.get(code, domain.DEFAULT_CATEGORIES[domain.DEFAULT_CATEGORY]).deadlines


def list_categories(session: Session, actor: Actor, *, district_id: str | None = None) -> list[CategoryView]:
    """Every category with the deadlines of the caller's district (or the district an operator names)."""
    district = _deadlines_district(actor, district_id, required=False)
    own = {} if district is None else {row.code: row for row in session.scalars(
        select(CategoryDeadlines).where(CategoryDeadlines.district_id == district))}
    return [_category_view(category, district, own.get(code)) for code, category in domain.DEFAULT_CATEGORIES.items()]


def get_category(session: Session, actor: Actor, code: str, *, district_id: str | None = None) -> CategoryView:
    category = domain.default_category(code)
    district = _deadlines_district(actor, district_id, required=False)
    return _category_view(category, district, None if district is None else _override(session, district, code))


def set_category_deadlines(session: Session, actor: Actor, code: str, *, normal: Mapping[str, float],
                           urgent: Mapping[str, float], remind_before_percent: int = domain.DEFAULT_REMIND_PERCENT,
                           district_id: str | None = None, check_version: VersionCheck | None = None) -> CategoryView:
    """Replace a district's deadlines for a category (PUT): every stage's hours, normal and urgent."""
    deadlines = domain.Deadlines(domain.StageHours(**normal), domain.StageHours(**urgent), remind_before_percent)
    domain.check_deadlines(deadlines)
    return _save_deadlines(session, actor, code, district_id, check_version, lambda _: deadlines)


def edit_category_deadlines(session: Session, actor: Actor, code: str, *, normal: Mapping[str, float] | None = None,
                            urgent: Mapping[str, float] | None = None, remind_before_percent: int | None = None,
                            district_id: str | None = None, check_version: VersionCheck | None = None) -> CategoryView:
    """Change some of a district's deadlines for a category (PATCH); the others stay as they are."""
    if not normal and not urgent and remind_before_percent is None:
        # Nothing to change: the district keeps the defaults rather than a copy of them pinned by an empty edit.
        view = get_category(session, actor, code, district_id=_deadlines_district(actor, district_id, required=True))
        if check_version is not None:
            check_version(view.version)
        return view
    return _save_deadlines(session, actor, code, district_id, check_version, lambda current: domain.edited_deadlines(
        current, normal=normal, urgent=urgent, remind_before_percent=remind_before_percent))


def _save_deadlines(session: Session, actor: Actor, code: str, district_id: str | None,
                    check_version: VersionCheck | None,
                    change: Callable[[domain.Deadlines], domain.Deadlines]) -> CategoryView:
    category = domain.default_category(code)
    district = _deadlines_district(actor, district_id, required=True)
    assert district is not None  # required: an operator named it
    row = _override(session, district, code, for_update=True)
    if check_version is not None:
        check_version(0 if row is None else row.version)
    deadlines = change(category.deadlines if row is None else _deadlines(row))
    if row is None:
        row = CategoryDeadlines(district_id=district, code=code)
        session.add(row)
    for urgency, hours in (("normal", deadlines.normal), ("urgent", deadlines.urgent)):
        for stage in domain.STAGES:
            setattr(row, f"{urgency}_{stage}_hours", hours.of(stage))
    row.remind_before_percent = deadlines.remind_before_percent
    session.flush()  # the mapper writes the new version, which the answer's ETag carries
    return _category_view(category, district, row)


def _deadlines_district(actor: Actor, asked: str | None, *, required: bool) -> str | None:
    if actor.is_operator and asked is None and not required:
        return None  # an operator reading without naming a district sees the suite's defaults
    return domain.deadlines_district(None if actor.is_operator else actor.district, asked)


def _override(session: Session, district: str, code: str, *, for_update: bool = False) -> CategoryDeadlines | None:
    query = select(CategoryDeadlines).where(CategoryDeadlines.district_id == district, CategoryDeadlines.code == code)
    return session.scalars(query.with_for_update() if for_update else query).first()


def _deadlines(row: Any) -> domain.Deadlines:
    def hours(urgency: str) -> domain.StageHours:
        return domain.StageHours(*(getattr(row, f"{urgency}_{stage}_hours") for stage in domain.STAGES))

    return domain.Deadlines(hours("normal"), hours("urgent"), row.remind_before_percent)


def _category_view(category: domain.Category, district: str | None, row: CategoryDeadlines | None) -> CategoryView:
    if row is None:
        return CategoryView(category.code, category.name_zh, category.name_en, district, category.deadlines,
                            overridden=False, version=0)
    return CategoryView(category.code, category.name_zh, category.name_en, district, _deadlines(row), overridden=True,
                        version=row.version, created_at=row.created_at, updated_at=row.updated_at)


# --- The clock: each stage's deadline, reminders before it, overdue once it passed -----------------------------
#
# Every move goes through `_keep_time`: it starts the stage the move enters, gives the units' parts it sends to
# work their reminders, and sets the ticket's one timer to whatever comes next. The clock's timer lands in
# `check_deadlines`, which marks what it tells (reminded, overdue) on the rows it locks, so a reminder or an
# overdue is told once whichever clock replica fires, and a timer found late (the clock was down) tells what
# passed meanwhile, once.

def check_deadlines(session: Session, ticket_id: uuid.UUID, now: datetime) -> tuple[str, ...]:
    """Tell of the ticket's deadlines near (`due_soon`) or passed (`overdue`) at `now`; the event keys told."""
    # NOWAIT: a move holding the ticket re-arms its timer, and waiting for it here, while the clock holds the timer's
    # row, would deadlock with it. The clock tries the timer again at its next tick.
    ticket = session.get(Ticket, ticket_id, with_for_update={"nowait": True})
    if ticket is None:
        return ()
    tallies.track(session, ticket)
    found = domain.check(_watches(ticket), now)
    told: list[str] = []
    _mark(ticket, found.due_soon + found.too_late, now, reminded=True)
    if found.due_soon:
        record(session, TICKET_DUE_SOON, ticket, payload_of=_due_payload(session, ticket, found.due_soon, None))
        told.append(TICKET_DUE_SOON.key)
    if found.lapsed:
        _mark(ticket, found.lapsed, now, overdue=True)
        ticket.overdue = True
        if ticket.overdue_at is None:
            ticket.overdue_at = now  # the first deadline missed: a late ticket stays late for the on-time rate
        units = [watch.unit_id for watch in found.lapsed if watch.unit_id is not None]
        escalation = _escalation(session, ticket, now) if domain.escalates(ticket.stage, units) else None
        record(session, TICKET_OVERDUE, ticket, payload_of=_due_payload(session, ticket, found.lapsed, escalation))
        told.append(TICKET_OVERDUE.key)
    _arm(session, ticket)
    return tuple(told)


def _rearmed(session: Session, ticket: Ticket, before: domain.Ticket, after: domain.Ticket,
             now: datetime) -> domain.Ticket:
    """The work a move sends back (a failed review, a dissatisfied resident) runs a fresh deadline from now."""
    if not any(part.open and not was.open for part, was in zip(after.parts, before.parts, strict=False)):
        return after
    due_at = domain.stage_due_at(deadlines_for(session, ticket.district_id, ticket.category), ticket.urgency,
                                 domain.RESOLVE, now)
    return domain.rearm_reopened(before, after, due_at)


def _keep_time(session: Session, ticket: Ticket, before: domain.Ticket, after: domain.Ticket, now: datetime) -> None:
    """Start the stage the move enters, set reminders on the parts it sends to work, and re-arm the ticket's timer."""
    deadlines = functools.cache(lambda: deadlines_for(session, ticket.district_id, ticket.category))
    for position, row in enumerate(ticket.parts):
        was_open = position < len(before.parts) and before.parts[position].open
        if row.state in domain.OPEN_PARTS and not was_open and row.due_at is not None:
            row.remind_at = domain.remind_at(now, row.due_at, deadlines().remind_before_percent)
            row.reminded = row.overdue = False
    stage = domain.stage_of(after.state)
    entered = domain.stage_entered(before.state, after.state)
    # Dispatched work: the ticket is resolved when its lead unit resolves, so the lead's deadline is the ticket's.
    lead_due = after.lead.due_at if stage == domain.RESOLVE and after.lead is not None else None
    if entered is not None:
        ticket.overdue = ticket.reminded = False
        if lead_due is None:
            ticket.due_at = domain.stage_due_at(deadlines(), ticket.urgency, entered, now)
            ticket.remind_at = domain.remind_at(now, ticket.due_at, deadlines().remind_before_percent)
        else:
            ticket.remind_at = None  # each unit's part has its own reminder
    if lead_due is not None:
        ticket.due_at = lead_due
    ticket.stage = stage
    if stage is not None:
        setattr(ticket, f"{stage}_due_at", ticket.due_at)
    _arm(session, ticket)


def _watches(ticket: Ticket) -> tuple[domain.Watch, ...]:
    own = domain.Watch(ticket.due_at, ticket.remind_at, ticket.overdue, ticket.reminded)
    parts = [domain.Watch(part.due_at, part.remind_at, part.overdue, part.reminded, part.unit_id)
             for part in ticket.parts if part.state in domain.OPEN_PARTS and part.due_at is not None]
    return domain.watched(ticket.stage, own, parts)


def _arm(session: Session, ticket: Ticket) -> None:
    """Set the ticket's one timer to its next reminder or deadline, or take it away when nothing is left to watch."""
    at = domain.next_check(_watches(ticket))
    with session.no_autoflush:  # the timer is its own table; the ticket's change is flushed once, with its event
        if at is None:
            cancel(session, TICKET_DUE, ticket.id)
        else:
            schedule(session, TICKET_DUE, ticket.id, at, district_id=ticket.district_id)


def _mark(ticket: Ticket, watches: Sequence[domain.Watch], now: datetime, **flags: bool) -> None:
    if not watches:
        return
    units = {watch.unit_id for watch in watches}
    for part in ticket.parts:
        if part.state in domain.OPEN_PARTS and part.unit_id in units:
            for name, value in flags.items():
                setattr(part, name, value)
    if None in units:
        for name, value in flags.items():
            setattr(ticket, name, value)
    # A reminder or an overdue part changes the ticket as its events tell it, so its version moves too.
    ticket.updated_at = now


def _due_payload(session: Session, ticket: Ticket, watches: Sequence[domain.Watch],
                 escalation: domain.Escalation | None) -> _Payload:
    compound = session.get(Compound, ticket.compound_id)
    return _Payload(ticket, stage_due_at=min(watch.due_at for watch in watches), parts=_named_parts(session, ticket),
                    unit_ids=[watch.unit_id for watch in watches if watch.unit_id is not None],
                    community_id=None if compound is None else compound.community_id,
                    compound_name=None if compound is None else compound.name, escalation=escalation)


def _escalation(session: Session, ticket: Ticket, now: datetime) -> domain.Escalation | None:
    """The committee of the ticket's community, its chair sitting now and its convenor, from the read models."""
    compound = session.get(Compound, ticket.compound_id)
    if compound is None or compound.community_id is None:
        return None
    committee = session.scalars(select(Committee).where(
        Committee.community_id == compound.community_id, Committee.district_id == ticket.district_id)
        .order_by(Committee.id).limit(1)).first()
    if committee is None:
        return None
    # The latest few begun: the chair is among them (a handover's successor may share a start with the term it cut).
    rows = session.scalars(select(ChairTerm).where(ChairTerm.committee_id == committee.id, ChairTerm.starts_at <= now)
                           .order_by(ChairTerm.starts_at.desc()).limit(3))
    terms = [domain.ChairTerm(row.committee_id, row.term_index, row.part, row.starts_at, row.ends_at,
                              row.organization_id, row.organization_name or _organization_name(session, row))
             for row in rows]
    contact = domain.CommitteeContact(committee.id, committee.name, committee.convenor_name,
                                      committee.convenor_member_id)
    return domain.escalation_to(contact, terms, now)


def _organization_name(session: Session, term: ChairTerm) -> str | None:
    organization = None if term.organization_id is None else session.get(Organization, term.organization_id)
    return None if organization is None else organization.name


# --- Read model for escalation: rotation's chairs (registry's committees are kept with the suggestions') ------

def record_chair_term(session: Session, *, committee_id: uuid.UUID, district_id: str, term_index: int, part: int,
                      starts_at: datetime, ends_at: datetime | None, organization_id: uuid.UUID | None,
                      organization_name: str | None) -> bool:
    """Keep rotation's news of a chair's term; False when news of a later part of the same window is already kept."""
    row = session.get(ChairTerm, (committee_id, starts_at), with_for_update=True)
    if row is not None and not domain.supersedes((term_index, part), (row.term_index, row.part)):
        return False
    if row is None:
        row = ChairTerm(committee_id=committee_id, starts_at=starts_at)
        session.add(row)
    row.district_id, row.term_index, row.part, row.ends_at = district_id, term_index, part, ends_at
    row.organization_id, row.organization_name = organization_id, organization_name
    return True
# --- Open311 GeoReport v2 ------------------------------------------------------------------------------------------
#
# A request posted by an Open311 client is a ticket raised through submit_ticket like any other, by the district its
# api_key belongs to, with source `open311`. The keys are managed by operators over the JWT API.

def open311_jurisdiction(session: Session, asked: str | None) -> str | None:
    """The district a public Open311 call is about (see open311.choose_jurisdiction): the districts served are
    those tickets knows compounds of."""
    if asked:
        known = session.scalar(select(Compound.id).where(Compound.district_id == asked).limit(1))
        served = [asked] if known is not None else []
    else:
        served = list(session.scalars(select(Compound.district_id).distinct().order_by(Compound.district_id)
                                      .limit(2)))
    return open311.choose_jurisdiction(asked, served)


def open311_client(session: Session, api_key: str | None) -> Open311Key:
    """The active key a POST carries; Forbidden (the standard's 403) for a missing, unknown or revoked one."""
    key = None
    if api_key:
        key = session.scalar(select(Open311Key).where(Open311Key.key_hash == open311.hash_api_key(api_key),
                                                      Open311Key.revoked_at.is_(None)))
    if key is None:
        raise Forbidden("api_key: missing, unknown or revoked", errors={"api_key": ["missing, unknown or revoked"]})
    return key


def submit_open311_request(session: Session, api_key: str | None, *, service_code: str, now: datetime,
                           jurisdiction_id: str | None = None, description: str | None = None,
                           first_name: str | None = None, last_name: str | None = None, phone: str | None = None,
                           media_url: str | None = None, attributes: dict[str, list[str]] | None = None,
                           lat: float | None = None, lon: float | None = None, address_string: str | None = None,
                           address_id: uuid.UUID | None = None) -> Ticket:
    """A service request an Open311 client posts, raised as a ticket of its key's district (source `open311`)."""
    key = open311_client(session, api_key)
    if jurisdiction_id and jurisdiction_id != key.district_id:
        raise Forbidden("jurisdiction_id: this api_key is for another jurisdiction",
                        errors={"jurisdiction_id": ["this api_key is for another jurisdiction"]})
    wanted = open311.intake(service_code, description=description, first_name=first_name, last_name=last_name,
                            phone=phone, media_url=media_url, attributes=attributes or {}, lat=lat, lon=lon,
                            address=address_string)
    compound_id = _open311_compound(session, key.district_id, address_id, address_string, located=lat is not None)
    client = Actor(sub=f"open311:{key.id}", district=key.district_id, scopes=frozenset({"tickets:write"}))
    return submit_ticket(session, client, compound_id=compound_id, title=wanted.title, description=wanted.description,
                         category=wanted.category, reporter_name=wanted.reporter_name,
                         reporter_phone=wanted.reporter_phone, now=now, kind=wanted.kind, urgency=wanted.urgency,
                         source="open311", building_id=wanted.building_id, address=wanted.address, lat=wanted.lat,
                         lon=wanted.lon, attachments=wanted.attachments)


def _open311_compound(session: Session, district_id: str, address_id: uuid.UUID | None, address: str | None, *,
                      located: bool) -> uuid.UUID:
    """The compound a request is about: its address_id, else the compound its address_string names.

    Coordinates alone cannot say: the compounds tickets knows carry no outlines.
    """
    if address_id is not None:
        if session.execute(_COMPOUND_DISTRICT, {"id": address_id}).scalar() != district_id:
            raise NotYetKnown.field("address_id", "compound")
        return address_id
    if address:
        named = session.execute(select(Compound.id, Compound.name).where(Compound.district_id == district_id))
        found = open311.match_compound(address, [(row.id, row.name) for row in named])
        if found is None:
            raise ValidationFailed.field("address_string", "names no compound of this jurisdiction; give address_id "
                                                           "(the compound's id) or the compound's name")
        return found
    needed = "lat and long alone cannot name a compound" if located else "a location is required"
    raise ValidationFailed.field("address_id", f"{needed}: give address_id (the compound's id) or an "
                                               "address_string naming the compound")


def create_open311_key(session: Session, actor: Actor, *, client_name: str, now: datetime,
                       district_id: str | None = None) -> tuple[Open311Key, str]:
    """An api_key for an Open311 client of a district; the key itself is returned here only, and kept hashed."""
    district = district_id or (None if actor.is_operator else actor.district)
    if district is None:
        raise ValidationFailed.field("district_id", "required: name the district the client reports to")
    if not actor.sees(district):
        raise ValidationFailed.field("district_id", "not your district")
    if session.scalar(select(Compound.id).where(Compound.district_id == district).limit(1)) is None:
        # Requests are raised against compounds: a district tickets knows none of yet could take none.
        raise NotYetKnown.field("district_id", "district's compound")
    secret = open311.new_api_key()
    key = Open311Key(district_id=district, client_name=client_name, key_hash=open311.hash_api_key(secret),
                     key_prefix=secret[:open311.KEY_SHOWN], created_by=actor.sub, created_at=now, updated_at=now)
    session.add(key)
    session.flush()
    return key, secret


def revoke_open311_key(session: Session, actor: Actor, key_id: uuid.UUID, now: datetime, *,
                       reason: str | None = None) -> Open311Key:
    """Stop a key for good: the client's next POST is refused (403)."""
    key = visible(session, actor, Open311Key, key_id, what="api_key", for_update=True)
    if key.revoked_at is not None:
        raise InvalidTransition("the api_key is already revoked", errors={"state": ["is revoked; allowed: nothing"]})
    key.revoked_at, key.revoked_by, key.revoked_reason, key.updated_at = now, actor.sub, reason, now
    session.flush()
    return key
