"""What notify does with the suite's events: keep read models of whom to tell, tell them (inbox, SMS, email by the
district's rules), and pass public events on to webhooks."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.notify import rules, usecases
from linli.shared.consumer import Event, Subscription
from linli.shared.db import utcnow
from linli.shared.events import InvalidEvent
from linli.shared.incoming import Incoming, load

deliveries = Subscription("notify", "deliveries")
# Every public event, on a queue of its own: a burst for webhooks never holds up the inboxes. Bound to the
# public exchange only, so no event carrying personal data even reaches this queue.
webhook_events = Subscription("notify", "webhooks", public_only=True)


@webhook_events.handles("#")
def on_event(session: Session, event: Event) -> None:
    """Any public event: one delivery per matching endpoint of its district, committed before the ack."""
    usecases.deliver_to_webhooks(session, event.raw, key=event.key, district=event.district, now=utcnow())


# --- Messages: read models and telling people -----------------------------------------------------------------------

def _district(event: Event, data: dict[str, object]) -> str:
    district = str(data.get("district_id") or event.district or "")
    if not district:
        raise InvalidEvent(f"{event.key} {event.id} names no district")
    return district


def _tell(session: Session, event: Event) -> None:
    """Everyone the district's rule for this event names: inbox rows now, SMS and email through delivery."""
    usecases.tell(session, event_type=event.key, district_id=_district(event, event.data), event_id=event.id,
                  payload=event.data, now=utcnow())


class _About(Incoming):
    district_id = ma.fields.String(allow_none=True, load_default=None)


class _Part(Incoming):
    unit_id = ma.fields.UUID(required=True)
    state = ma.fields.String(required=True)


class TicketData(_About):
    """tickets' `ticket` payloads, as far as the read model of tickets uses them: never the reporter's contact."""

    id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    compound_id = ma.fields.UUID(allow_none=True, load_default=None)
    community_id = ma.fields.UUID(allow_none=True, load_default=None)
    parts = ma.fields.List(ma.fields.Nested(_Part), load_default=None)
    member_id = ma.fields.UUID(allow_none=True, load_default=None)


TICKET_MOVES = tuple(key for key in rules.DEFAULT_RULES if key.startswith("tickets.ticket.")
                     and key != "tickets.ticket.commented")


@deliveries.handles(*TICKET_MOVES)
def on_ticket(session: Session, event: Event) -> None:
    """A ticket moved: keep where it is and who works on it, then tell those the rule names."""
    ticket = load(TicketData, event.data)
    assignees = None
    if ticket["parts"] is not None:
        assignees = [f"{rules.ORGANIZATION}:{p['unit_id']}" for p in ticket["parts"]
                     if p["state"] in rules.ASSIGNED_PARTS]
        assignees += [f"{rules.MEMBER}:{ticket['member_id']}"] if ticket["member_id"] else []
    usecases.record_ticket(session, ticket["id"], ticket["version"], district_id=_district(event, event.data),
                           title=ticket["title"], compound_id=ticket["compound_id"],
                           community_id=ticket["community_id"], assignees=assignees)
    _tell(session, event)


@deliveries.handles("tickets.ticket.commented")
def on_ticket_commented(session: Session, event: Event) -> None:
    _tell(session, event)


class TicketContactData(_About):
    id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True)
    reporter_name = ma.fields.String(allow_none=True, load_default=None)
    reporter_phone = ma.fields.String(allow_none=True, load_default=None)


@deliveries.handles("tickets.ticket.contact")
def on_ticket_contact(session: Session, event: Event) -> None:
    """The reporter's contact (private): how to tell the resident what became of their ticket."""
    contact = load(TicketContactData, event.data)
    usecases.record_contact(session, f"{rules.REPORTER}:{contact['id']}", contact["version"],
                            district_id=_district(event, event.data), name=contact["reporter_name"],
                            phone=contact["reporter_phone"])


class MemberContactData(_About):
    id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, load_default=None)
    phone = ma.fields.String(allow_none=True, load_default=None)
    email = ma.fields.String(allow_none=True, load_default=None)


@deliveries.handles("registry.member.contact")
def on_member_contact(session: Session, event: Event) -> None:
    contact = load(MemberContactData, event.data)
    usecases.record_contact(session, f"{rules.MEMBER}:{contact['id']}", contact["version"],
                            district_id=_district(event, event.data), name=contact["name"], phone=contact["phone"],
                            email=contact["email"])


class OrganizationContactData(_About):
    id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, load_default=None)
    contact_person = ma.fields.String(allow_none=True, load_default=None)
    contact_phone = ma.fields.String(allow_none=True, load_default=None)
    contact_email = ma.fields.String(allow_none=True, load_default=None)


@deliveries.handles("registry.organization.contact")
def on_organization_contact(session: Session, event: Event) -> None:
    contact = load(OrganizationContactData, event.data)
    usecases.record_contact(session, f"{rules.ORGANIZATION}:{contact['id']}", contact["version"],
                            district_id=_district(event, event.data), name=contact["name"],
                            person=contact["contact_person"], phone=contact["contact_phone"],
                            email=contact["contact_email"])


class _CommitteeUnit(Incoming):
    organization_id = ma.fields.UUID(required=True)


class CommitteeData(_About):
    id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True)
    community_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    convenor_member_id = ma.fields.UUID(allow_none=True, load_default=None)
    convenor_name = ma.fields.String(allow_none=True, load_default=None)
    units = ma.fields.List(ma.fields.Nested(_CommitteeUnit), load_default=list)


@deliveries.handles("registry.committee.created", "registry.committee.updated", "registry.committee.unit_joined",
                    "registry.committee.unit_left")
def on_committee(session: Session, event: Event) -> None:
    """A committee's convenor and units, for the roles convenor and committee_units; a unit joining is told."""
    committee = load(CommitteeData, event.data)
    usecases.record_committee(session, committee["id"], committee["version"], district_id=_district(event, event.data),
                              community_id=committee["community_id"], name=committee["name"],
                              convenor_member_id=committee["convenor_member_id"],
                              convenor_name=committee["convenor_name"],
                              units=[unit["organization_id"] for unit in committee["units"]])
    _tell(session, event)


class _TermRef(Incoming):
    index = ma.fields.Integer(required=True)
    part = ma.fields.Integer(required=True)
    organization_id = ma.fields.UUID(allow_none=True, load_default=None)
    organization_name = ma.fields.String(allow_none=True, load_default=None)
    ends_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)


class TermData(_About, _TermRef):
    committee_id = ma.fields.UUID(required=True)


class HandoverData(_About):
    committee_id = ma.fields.UUID(required=True)
    term = ma.fields.Nested(_TermRef, required=True)


# Every term event, those rotation declares now and those it adds (ending soon, ended, report due, ...): the
# district's rules decide which are told.
@deliveries.handles("rotation.term.#")
def on_term(session: Session, event: Event) -> None:
    """A term's news: a chair that began or took over is kept as the sitting chair; the rule names who is told."""
    if event.key in ("rotation.term.started", "rotation.term.handed_over"):
        if event.key == "rotation.term.handed_over":
            handover = load(HandoverData, event.data)
            term, committee_id = handover["term"], handover["committee_id"]
        else:
            term = load(TermData, event.data)
            committee_id = term["committee_id"]
        usecases.record_chair(session, committee_id, district_id=_district(event, event.data),
                              organization_id=term["organization_id"], organization_name=term["organization_name"],
                              term_index=term["index"], term_part=term["part"], ends_at=term["ends_at"])
    _tell(session, event)


@deliveries.handles("rotation.meeting.#")
def on_meeting(session: Session, event: Event) -> None:
    """A joint meeting scheduled, moved or cancelled: the committee's units are told by default."""
    _tell(session, event)


@deliveries.handles("rotation.swap.requested", "rotation.swap.accepted", "rotation.swap.declined")
def on_swap(session: Session, event: Event) -> None:
    _tell(session, event)


@deliveries.handles("rotation.schedule.gap_found")
def on_schedule_gap_found(session: Session, event: Event) -> None:
    _tell(session, event)


@deliveries.handles("registry.check_in.confirmed", "registry.check_in.rejected")
def on_check_in(session: Session, event: Event) -> None:
    _tell(session, event)


@deliveries.handles("registry.service_record.verified")
def on_service_record_verified(session: Session, event: Event) -> None:
    _tell(session, event)
