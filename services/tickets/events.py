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
    building_id = ma.fields.UUID(allow_none=True)
    kind = ma.fields.String(required=True, metadata={"description": "problem, or wish (微心愿)"})
    urgency = ma.fields.String(required=True, metadata={"description": "normal or urgent (急事急办)"})
    source = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    address = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    attachments = ma.fields.List(ma.fields.String(), required=True)
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
