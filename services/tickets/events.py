"""Events tickets publishes; each payload is its schema dumping the ticket (`shared.changes.record`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from linli.services.tickets.domain import mask_phone
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


class TicketData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    compound_id = ma.fields.UUID(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    reporter_name = ma.fields.String(required=True)
    reporter_phone = MaskedPhone(required=True, metadata={"description": "masked, e.g. 138****5678"})
    state = ma.fields.String(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    overdue = ma.fields.Boolean(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    version = ma.fields.Integer(required=True)


TICKET_SUBMITTED = declare("tickets.ticket.submitted", "A resident's ticket was raised against a compound.",
                           TicketData)
TICKET_OVERDUE = declare("tickets.ticket.overdue", "An open ticket passed its deadline without being closed.",
                         TicketData)


# --- Closing (the contract registry credits members' service hours by) ----------------------------------------

CLOSED_REASONS = ("not_responsible", "duplicate", "no_further_action", "referred")


class ParticipantData(ma.Schema):
    """A party member who took part in resolving the ticket, and the hours they gave."""

    member_id = ma.fields.UUID(required=True, metadata={"description": "registry's member id"})
    hours = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, min_inclusive=False),
                            metadata={"description": "hours this member gave to the ticket, more than 0"})


class TicketClosedData(TicketData):
    """A ticket as it was closed, with who took part: registry credits each participant's hours once."""

    closed_reason = ma.fields.String(
        required=True, allow_none=True, validate=ma.validate.OneOf(CLOSED_REASONS),
        metadata={"description": "null when the problem was fixed; else why it was closed unfixed"})
    closed_at = ma.fields.AwareDateTime(required=True)
    participants = ma.fields.List(ma.fields.Nested(ParticipantData), required=True, metadata={
        "description": "the members who took part, each once; empty when none did"})


TICKET_CLOSED = declare(
    "tickets.ticket.closed",
    "A ticket was closed: fixed and checked on site (回头看), or closed unfixed with a reason. Closing again "
    "after a reopening sends this again.", TicketClosedData)
