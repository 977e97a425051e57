"""Events tickets publishes; its handlers of other services' events are in `handlers.py`."""

from __future__ import annotations

import marshmallow as ma

from linli.services.tickets.domain import mask_phone
from linli.services.tickets.models import Ticket
from linli.shared.events import declare


def _masked(value: str) -> None:
    # Checked on every emit: an event goes to every service and to outside integrators, so a
    # resident's full number must never be in one, whoever adds the next event.
    if "*" not in value:
        raise ma.ValidationError("reporter_phone must be masked in events")


class TicketData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    compound_id = ma.fields.UUID(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    reporter_name = ma.fields.String(required=True)
    reporter_phone = ma.fields.String(required=True, validate=_masked,
                                      metadata={"description": "masked, e.g. 138****5678"})
    state = ma.fields.String(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    overdue = ma.fields.Boolean(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    version = ma.fields.Integer(required=True)


TICKET_SUBMITTED = declare("tickets.ticket.submitted", "A resident's ticket was raised against a compound.",
                           TicketData)
TICKET_OVERDUE = declare("tickets.ticket.overdue", "An open ticket passed its deadline without being closed.",
                         TicketData)


def ticket_data(ticket: Ticket) -> dict[str, object]:
    return {
        "id": str(ticket.id),
        "district_id": ticket.district_id,
        "compound_id": str(ticket.compound_id),
        "title": ticket.title,
        "description": ticket.description,
        "category": ticket.category,
        "reporter_name": ticket.reporter_name,
        "reporter_phone": mask_phone(ticket.reporter_phone),
        "state": ticket.state,
        "due_at": ticket.due_at.isoformat(),
        "overdue": ticket.overdue,
        "created_at": ticket.created_at.isoformat(),
        "version": ticket.version,
    }
