"""Events tickets publishes; each payload is its schema dumping the ticket (`shared.changes.record`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from linli.services.tickets.domain import CLOSE_REASONS, mask_name, mask_phone, mask_phones_in, public_coordinate
from linli.shared.events import declare


def _masked(value: str) -> None:
    # Checked on every emit: an event goes to every service and to outside integrators, so a
    # resident's full number must never be in one, whoever adds the next event.
    if "*" not in value:
        raise ma.ValidationError("reporter_phone must be masked in events")


class MaskedPhone(ma.fields.String):
    """A resident's phone number, masked when dumped into an event; refused unmasked when validated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=_masked, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else mask_phone(str(value))


def _masked_name(value: str) -> None:
    # DESIGN: residents' names never travel on linli.events; notify reads the name from the private contact.
    if "*" not in value:
        raise ma.ValidationError("reporter_name must be masked in events")


class MaskedName(ma.fields.String):
    """A resident's name, masked when dumped into an event; refused unmasked when validated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=_masked_name, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else mask_name(str(value))


def _no_phone(value: str) -> None:
    if mask_phones_in(value) != value:
        raise ma.ValidationError("phone numbers in text must be masked in events")


class MaskedText(ma.fields.String):
    """Free text (a description, an address, a note), any phone number in it masked when dumped into an event:
    residents write theirs into descriptions, staff into notes; refused with one unmasked when validated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=_no_phone, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else mask_phones_in(str(value))


_TEXT_MASKED = "phone numbers in it masked (138****5678)"
class CoarseCoordinate(ma.fields.Float):
    """A latitude or longitude rounded as the public sees it (`domain.public_coordinate`) when dumped into an event."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> float | None:
        return public_coordinate(value)


_COARSE = "rounded to 3 decimals (about 100 m); exact on `tickets.ticket.contact`"


class TicketData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    compound_id = ma.fields.UUID(required=True)
    building_id = ma.fields.UUID(allow_none=True)
    kind = ma.fields.String(required=True, metadata={"description": "problem, or wish (微心愿)"})
    urgency = ma.fields.String(required=True, metadata={"description": "normal or urgent (急事急办)"})
    source = ma.fields.String(required=True)
    title = MaskedText(required=True, metadata={"description": _TEXT_MASKED})
    description = MaskedText(required=True, metadata={"description": _TEXT_MASKED})
    category = ma.fields.String(required=True)
    # No `address`: a resident's problem is often at home (3栋2单元501). The compound says where; the address
    # itself goes on `tickets.ticket.contact`, private.
    lat = CoarseCoordinate(allow_none=True, metadata={"description": _COARSE})
    lon = CoarseCoordinate(allow_none=True, metadata={"description": _COARSE})
    attachments = ma.fields.List(ma.fields.String(), required=True)
    reporter_name = MaskedName(required=True, metadata={
        "description": "masked, e.g. 王** (in full on `tickets.ticket.contact` only)"})
    reporter_phone = MaskedPhone(required=True, metadata={"description": "masked, e.g. 138****5678"})
    state = ma.fields.String(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    overdue = ma.fields.Boolean(required=True, metadata={"description": "the current stage's deadline passed"})
    stage = ma.fields.String(allow_none=True, metadata={
        "description": "accept, dispatch or resolve: the stage `due_at` is the deadline of; null once resolved"})
    created_at = ma.fields.AwareDateTime(required=True)
    version = ma.fields.Integer(required=True)


class TicketSubmittedData(TicketData):
    """A new ticket, naming its compound so a message about it can."""

    community_id = ma.fields.UUID(allow_none=True, metadata={"description": "the compound's community"})
    compound_name = ma.fields.String(required=True)


TICKET_SUBMITTED = declare("tickets.ticket.submitted", "A resident's ticket was raised against a compound.",
                           TicketSubmittedData)


# --- The lifecycle: one event per verb, each carrying the ticket after the move ---------------------------------

class PartData(ma.Schema):
    """A unit's part of the ticket."""

    unit_id = ma.fields.UUID(required=True, metadata={"description": "registry's organization id"})
    unit_name = ma.fields.String(allow_none=True, metadata={
        "description": "the unit's name, as registry told tickets (null if it has not yet)"})
    lead = ma.fields.Boolean(required=True)
    state = ma.fields.String(required=True, metadata={"description": "dispatched, in_progress, resolved or withdrawn"})
    due_at = ma.fields.AwareDateTime(allow_none=True)
    overdue = ma.fields.Boolean(metadata={"description": "the unit's deadline passed with its part still open"})


class MoveData(ma.Schema):
    """The move the event tells of, as the ticket's history keeps it."""

    verb = ma.fields.String(required=True, metadata={"description": "accept, reject, start, ... as in the URL"})
    from_state = ma.fields.String(required=True)
    to_state = ma.fields.String(required=True)
    actor = ma.fields.String(required=True, metadata={"description": "the client that moved it (its token's sub)"})
    at = ma.fields.AwareDateTime(required=True)
    reason = MaskedText(allow_none=True, metadata={
        "description": "why (a rejection or closing reason), or the outcome (passed/failed, the rating)"})
    note = MaskedText(allow_none=True, metadata={"description": _TEXT_MASKED})
    unit_ids = ma.fields.List(ma.fields.UUID(), required=True, metadata={
        "description": "the units this move concerns (dispatched, claiming, starting or resolving), if any"})
    member_id = ma.fields.UUID(allow_none=True, metadata={"description": "the member claiming a wish, if so"})


class TicketMovedData(TicketData):
    """A ticket after a move of its lifecycle: where it stands, who works on it, and the move itself."""

    community_id = ma.fields.UUID(allow_none=True, metadata={"description": "the compound's community"})
    compound_name = ma.fields.String(allow_none=True)
    parts = ma.fields.List(ma.fields.Nested(PartData), required=True, metadata={
        "description": "the units it was dispatched to, in order, with their own progress"})
    member_id = ma.fields.UUID(allow_none=True, metadata={"description": "the party member who claimed a wish"})
    master_id = ma.fields.UUID(allow_none=True, metadata={"description": "the ticket this one duplicates"})
    rating = ma.fields.String(allow_none=True)
    rating_comment = MaskedText(allow_none=True, metadata={"description": _TEXT_MASKED})
    move = ma.fields.Nested(MoveData, required=True)


class TicketReviewedData(TicketMovedData):
    passed = ma.fields.Boolean(required=True, metadata={"description": "a failed review also sends `reopened`"})


class TicketReroutedData(TicketMovedData):
    """Both sides of a re-routing: the units that lost their part and, in `parts`, those that now have one."""

    previous_category = ma.fields.String(required=True)
    previous_unit_ids = ma.fields.List(ma.fields.UUID(), required=True, metadata={
        "description": "the units whose open parts were withdrawn"})


class ParticipantData(ma.Schema):
    """A party member who took part in resolving the ticket, and the hours they gave."""

    member_id = ma.fields.UUID(required=True, metadata={"description": "registry's member id"})
    hours = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, min_inclusive=False),
                            metadata={"description": "hours this member gave to the ticket, more than 0"})


class TicketClosedData(TicketMovedData):
    """A ticket as it was closed, with who took part: registry credits each participant's hours once."""

    closed_reason = ma.fields.String(
        required=True, allow_none=True, validate=ma.validate.OneOf(CLOSE_REASONS),
        metadata={"description": "null when the problem was fixed; else why it was closed unfixed"})
    closed_at = ma.fields.AwareDateTime(required=True)
    participants = ma.fields.List(ma.fields.Nested(ParticipantData), required=True, metadata={
        "description": "the members who took part, each once; empty when none did"})


class CommentData(ma.Schema):
    """A comment on a ticket; the event's subject is the ticket."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    ticket_id = ma.fields.UUID(required=True)
    author = ma.fields.String(required=True, metadata={"description": "the client that wrote it (its token's sub)"})
    text = MaskedText(required=True, metadata={"description": _TEXT_MASKED})
    ticket_title = MaskedText(required=True, metadata={"description": f"the ticket's title, {_TEXT_MASKED}"})
    created_at = ma.fields.AwareDateTime(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "the ticket's version (a comment leaves it)"})


TICKET_ACCEPTED = declare("tickets.ticket.accepted", "The compound took a submitted ticket on.", TicketMovedData)
TICKET_REJECTED = declare("tickets.ticket.rejected", "A submitted ticket was turned down, with the reason.",
                          TicketMovedData)
TICKET_STARTED = declare("tickets.ticket.started",
                         "Work began: the compound on a ticket it handles itself, or a unit on its part.",
                         TicketMovedData)
TICKET_ESCALATED = declare("tickets.ticket.escalated",
                           "The compound blew the whistle: it passed the ticket to the community (吹哨).",
                           TicketMovedData)
TICKET_LISTED = declare("tickets.ticket.listed", "An escalated ticket was listed for the committee's joint meeting "
                        "(挂单).", TicketMovedData)
TICKET_DISPATCHED = declare("tickets.ticket.dispatched",
                            "The ticket was sent to units (派单), one of them the lead, each with its deadline.",
                            TicketMovedData)
TICKET_CLAIMED = declare("tickets.ticket.claimed",
                         "A unit claimed a listed ticket as its lead, or a party member a wish (认领).",
                         TicketMovedData)
TICKET_RESOLVED = declare("tickets.ticket.resolved", "A unit resolved its part; the ticket is resolved when its "
                          "lead (or the compound, or the member of a wish) did.", TicketMovedData)
TICKET_REROUTED = declare("tickets.ticket.rerouted", "The category changed and the ticket went to other units; the "
                          "event names the units it left and those it went to.", TicketReroutedData)
TICKET_REVIEWED = declare("tickets.ticket.reviewed", "The fix was checked on site (回头看), passed or failed.",
                          TicketReviewedData)
TICKET_RATED = declare("tickets.ticket.rated", "The resident rated the fix: satisfied, basically satisfied or "
                       "dissatisfied.", TicketMovedData)
TICKET_REOPENED = declare("tickets.ticket.reopened", "A failed review or a dissatisfied resident sent the work back; "
                          "sent after the `reviewed` or `rated` event of the same move.", TicketMovedData)
TICKET_CLOSED = declare(
    "tickets.ticket.closed",
    "A ticket was closed: fixed and checked on site (回头看), or closed unfixed with a reason. Closing again "
    "after a reopening sends this again.", TicketClosedData)
TICKET_MERGED = declare("tickets.ticket.merged", "The ticket was found to duplicate another (`master_id`); it "
                        "closes with it.", TicketMovedData)
TICKET_COMMENTED = declare("tickets.ticket.commented", "Someone working on the ticket commented on it.",
                           CommentData)


# --- Private: the reporter's contact, for notify to tell the resident what became of the ticket ---------------------

class TicketContactData(ma.Schema):
    """How to reach a ticket's reporter; personal data, so only on linli.private. The subject is the ticket."""

    id = ma.fields.UUID(required=True, metadata={"description": "the ticket's id"})
    district_id = ma.fields.String(required=True)
    reporter_name = ma.fields.String(required=True)
    reporter_phone = ma.fields.String(required=True, metadata={"description": "in full"})
    address = ma.fields.String(allow_none=True, metadata={
        "description": "where the problem is, as given (often the resident's home: not on the public events)"})
    lat = ma.fields.Float(allow_none=True, metadata={"description": "exact (public events round it)"})
    lon = ma.fields.Float(allow_none=True, metadata={"description": "exact (public events round it)"})
    version = ma.fields.Integer(required=True, metadata={"description": "the ticket's version"})


TICKET_CONTACT = declare(
    "tickets.ticket.contact",
    "A ticket's reporter's name and full phone number, and the ticket's address and exact coordinates, when the "
    "ticket is submitted (private: personal data).",
    TicketContactData, private=True)
# --- Deadlines: the clock's reminders and overdue tickets, escalated to the rotating chair and the convenor ---------

class EscalationData(ma.Schema):
    """Whom an overdue dispatched ticket is escalated to: the community's committee, its current rotating chair
    (轮值主席) and its convenor, as registry's and rotation's events told tickets of them."""

    committee_id = ma.fields.UUID(required=True, metadata={"description": "registry's committee (大党委)"})
    committee_name = ma.fields.String(required=True)
    chair_unit_id = ma.fields.UUID(required=True, allow_none=True, metadata={
        "description": "the organization chairing the committee now; null if rotation has named none"})
    chair_unit_name = ma.fields.String(required=True, allow_none=True)
    chair_term_index = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "rotation's index of the chair's term"})
    chair_term_ends_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    convenor_name = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "the committee's convenor (召集人), as registry publishes them"})
    convenor_member_id = ma.fields.UUID(required=True, allow_none=True)


class TicketDueData(TicketData):
    """A ticket whose deadline is near or passed: which stage, which deadline, and whose part it is."""

    stage = ma.fields.String(required=True, metadata={"description": "accept, dispatch or resolve"})
    stage_due_at = ma.fields.AwareDateTime(required=True, metadata={
        "description": "the deadline told of (the earliest, when several units' parts are told together)"})
    unit_ids = ma.fields.List(ma.fields.UUID(), required=True, metadata={
        "description": "the units whose parts are due or overdue; empty for the ticket's own deadline"})
    community_id = ma.fields.UUID(allow_none=True, metadata={"description": "the compound's community"})
    compound_name = ma.fields.String(allow_none=True)
    parts = ma.fields.List(ma.fields.Nested(PartData), required=True)
    escalation = ma.fields.Nested(EscalationData, required=True, allow_none=True, metadata={
        "description": "on an overdue dispatched ticket: the committee's current chair unit and convenor it goes "
                       "to (null on a reminder, before dispatch, or when registry has told of no committee)"})


TICKET_DUE_SOON = declare(
    "tickets.ticket.due_soon",
    "A stage's deadline is near (the category's `remind_before_percent` of the stage is left): once per stage, "
    "or once per unit's part of dispatched work.", TicketDueData)
TICKET_OVERDUE = declare(
    "tickets.ticket.overdue",
    "A stage's deadline passed with the ticket open: once per stage (accept, dispatch, resolve), and for dispatched "
    "work once per unit's part, naming the units. An overdue dispatched ticket is escalated to the community's "
    "current rotating chair and the committee's convenor, named in `escalation`.", TicketDueData)
