"""tickets' actions: one function per action, whatever triggers it (an HTTP call, the clock, an event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from linli.services.tickets import domain, open311
from linli.services.tickets.events import (
    TICKET_ACCEPTED,
    TICKET_CLAIMED,
    TICKET_CLOSED,
    TICKET_COMMENTED,
    TICKET_DISPATCHED,
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
    Compound,
    Open311Key,
    Organization,
    Ticket,
    TicketComment,
    TicketMove,
    TicketPart,
    TicketParticipant,
)
from linli.shared.actors import Actor
from linli.shared.changes import record
from linli.shared.clock import schedule
from linli.shared.errors import Forbidden, InvalidTransition, NotYetKnown, ValidationFailed
from linli.shared.events import EventType
from linli.shared.readmodel import apply_versioned
from linli.shared.visibility import visible

# Timer kinds, `<entity>.<condition>`; the clock hands each to the handler named after it.
TICKET_DUE = "ticket.due"

# Called with the version a move is about to change; raises if the caller expected another.
VersionCheck = Callable[[int], None]

# Only what a submission needs of the compound, as a Core query: the ORM's identity lookup costs more CPU
# than the rest of the statement's round trip, and nothing here changes the compound.
_compounds = Compound.__table__
_COMPOUND_DISTRICT = select(_compounds.c.district_id).where(_compounds.c.id == bindparam("id"))


def submit_ticket(session: Session, actor: Actor, *, compound_id: uuid.UUID, title: str, description: str,
                  category: str, reporter_name: str, reporter_phone: str, now: datetime,
                  kind: str = domain.PROBLEM, urgency: str = domain.NORMAL, source: str = domain.DEFAULT_SOURCE,
                  building_id: uuid.UUID | None = None, address: str | None = None, lat: float | None = None,
                  lon: float | None = None, attachments: Sequence[str] = ()) -> Ticket:
    """Raise a resident's ticket against a compound; its deadline follows from the category."""
    district_id = session.execute(_COMPOUND_DISTRICT, {"id": compound_id}).scalar()
    if district_id is None or not actor.sees(district_id):
        # Another district's compound answers exactly like one not heard of, so ids of other districts leak nothing.
        raise NotYetKnown.field("compound_id", "compound")
    # Empty collections given, not left to load: a new ticket has no parts, and asking the database costs a query.
    ticket = Ticket(district_id=district_id, compound_id=compound_id, building_id=building_id, kind=kind,
                    urgency=urgency, source=source, title=title, description=description, category=category,
                    address=address, lat=lat, lon=lon, attachments=list(attachments), reporter_name=reporter_name,
                    reporter_phone=reporter_phone, state=domain.INITIAL_STATE,
                    due_at=domain.due_at_for(category, now), overdue=False, created_at=now, updated_at=now,
                    parts=[], participants=[])
    session.add(ticket)
    record(session, TICKET_SUBMITTED, ticket)
    schedule(session, TICKET_DUE, ticket.id, ticket.due_at, district_id=ticket.district_id)
    return ticket


def mark_overdue(session: Session, ticket_id: uuid.UUID, now: datetime) -> bool:
    """Mark the ticket overdue once its deadline passed, unless it was closed or marked meanwhile."""
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or now < ticket.due_at or not domain.becomes_overdue(ticket.state, ticket.overdue):
        return False
    ticket.overdue = True
    record(session, TICKET_OVERDUE, ticket)
    return True


def record_compound(session: Session, compound_id: uuid.UUID, version: int, *, district_id: str, name: str,
                    community_id: uuid.UUID | None, kind: str | None) -> bool:
    """Keep registry's compound at `version` in the read model; False when a newer one is already kept."""
    return apply_versioned(session, Compound, compound_id, version, {
        "district_id": district_id, "name": name, "community_id": community_id, "kind": kind,
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
    due_at = domain.part_due_at(ticket.category, ticket.urgency, now)
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
    record(session, TICKET_COMMENTED, ticket, payload_of=_Payload(comment, version=ticket.version))
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
    return ticket


def _value(ticket: Ticket) -> domain.Ticket:
    """The row as the lifecycle rules see it."""
    return domain.Ticket(state=ticket.state, kind=ticket.kind, urgency=ticket.urgency,
                         parts=tuple(domain.Part(p.unit_id, p.lead, p.state, p.due_at) for p in ticket.parts),
                         member_id=ticket.member_id, rating=ticket.rating, close_reason=ticket.close_reason)


def _record_move(session: Session, actor: Actor, ticket: Ticket, verb: str, before: domain.Ticket,
                 after: domain.Ticket, now: datetime, told: _Told, **extra: Any) -> Ticket:
    """Write what the domain made of the ticket, keep the move in its history, tell of it, and close duplicates."""
    _write(ticket, after, now)
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


def _payload(session: Session, ticket: Ticket, move: TicketMove, told: _Told, **extra: Any) -> _Payload:
    compound = session.get(Compound, ticket.compound_id)
    return _Payload(
        ticket, community_id=None if compound is None else compound.community_id,
        compound_name=None if compound is None else compound.name, closed_reason=ticket.close_reason,
        move={"verb": move.verb, "from_state": move.from_state, "to_state": move.to_state, "actor": move.actor,
              "at": move.at, "reason": move.reason, "note": move.note, "unit_ids": list(told.unit_ids),
              "member_id": move.member_id},
        **extra)


def _close_duplicates(session: Session, actor: Actor, master: Ticket, now: datetime) -> None:
    duplicates = session.scalars(select(Ticket).where(
        Ticket.master_id == master.id, Ticket.state.in_(domain.OPEN_STATES))
        .order_by(Ticket.created_at, Ticket.id).with_for_update())
    for duplicate in duplicates:
        before = _value(duplicate)
        _record_move(session, actor, duplicate, "close", before, domain.close(before, "duplicate"), now,
                     _Told(reason="duplicate", note=f"closed with {master.id}"))


def _parts(session: Session, ticket: Ticket, units: Sequence[Assignment], now: datetime, *,
           category: str | None = None) -> list[domain.Part]:
    """The units named, known to be organizations of the ticket's district, with their deadlines."""
    _check_units_known(session, ticket, [unit.unit_id for unit in units], "units")
    default_due = domain.part_due_at(category or ticket.category, ticket.urgency, now)
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
