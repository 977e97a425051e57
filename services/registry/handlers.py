"""What registry does with other services' events: credit members' service hours for the tickets they worked on."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.registry import usecases
from linli.shared.consumer import Event, Subscription
from linli.shared.incoming import Incoming, load

service_credits = Subscription("registry", "service-credits")


class ParticipantData(Incoming):
    """A member who took part in a ticket, as tickets lists them."""

    member_id = ma.fields.UUID(required=True)
    hours = ma.fields.Float(required=True)


class TicketClosedData(Incoming):
    """tickets' `ticket.closed` payload, as far as registry uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    closed_at = ma.fields.AwareDateTime(required=True)
    participants = ma.fields.List(ma.fields.Nested(ParticipantData), load_default=list)


@service_credits.handles("tickets.ticket.closed")
def on_ticket_closed(session: Session, event: Event) -> None:
    ticket = load(TicketClosedData, event.data)
    usecases.credit_ticket(session, ticket_id=ticket["id"], district_id=ticket["district_id"],
                           category=ticket["category"], closed_at=ticket["closed_at"],
                           participants=[usecases.Participant(p["member_id"], p["hours"])
                                         for p in ticket["participants"]])
