"""tickets' HTTP API: views parse the request, call the use case and present its result."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from linli.services.tickets import domain, usecases
from linli.services.tickets.models import Compound, Ticket
from linli.services.tickets.schemas import (
    CompoundPage,
    CompoundQuery,
    TicketCreate,
    TicketPage,
    TicketQuery,
    TicketSchema,
)
from linli.shared.db import utcnow
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import etag
from linli.shared.http.pagination import paginate
from linli.shared.http.uow import db

PII_SCOPE = "tickets:pii"

tickets = Blueprint("tickets", __name__, url_prefix="/v1/tickets",
                    description="Residents' problems and needs (诉求 / 工单).")
compounds = Blueprint("compounds", __name__, url_prefix="/v1/compounds",
                      description="The compounds tickets knows, copied from registry's events.")


class _MaskedTicket:
    """A ticket as a caller without tickets:pii sees it.

    A stand-in rather than an edit of the row: the row is in the request's session,
    so a masked number set on it would be committed over the real one.
    """

    def __init__(self, ticket: Ticket) -> None:
        self._ticket = ticket
        self.reporter_phone = domain.mask_phone(ticket.reporter_phone)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ticket, name)


def _shown(ticket: Ticket) -> Ticket | _MaskedTicket:
    return ticket if principal().has(PII_SCOPE) else _MaskedTicket(ticket)


@tickets.route("")
class Tickets(MethodView):
    @requires("tickets:read")
    @tickets.arguments(TicketQuery, location="query")
    @tickets.response(200, TicketPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List tickets, newest first (reporters' phone numbers masked unless you hold tickets:pii)"""
        stmt = in_district(select(Ticket), Ticket.district_id)
        if "state" in args:
            stmt = stmt.where(Ticket.state == args["state"])
        if "compound_id" in args:
            stmt = stmt.where(Ticket.compound_id == args["compound_id"])
        if "overdue" in args:
            stmt = stmt.where(Ticket.overdue.is_(args["overdue"]))
        page = paginate(db(), stmt, Ticket, args["limit"], args["cursor"])
        return {**page, "items": [_shown(ticket) for ticket in page["items"]]}

    @requires("tickets:write")
    # An instance, not the class: webargs would build a schema from the class on every request.
    @tickets.arguments(TicketCreate())
    @tickets.response(201, TicketSchema)
    def post(self, body: dict[str, Any]) -> tuple[Ticket | _MaskedTicket, int, dict[str, str]]:
        """Raise a resident's ticket (or a wish) against a compound; its deadline follows from the category

        Emits `tickets.ticket.submitted` (the reporter's phone masked).
        """
        ticket = usecases.submit_ticket(db(), principal(), **body, now=utcnow())
        return _shown(ticket), 201, {"Location": f"/v1/tickets/{ticket.id}", "ETag": etag(ticket.version)}


@tickets.route("/<uuid:ticket_id>")
class TicketItem(MethodView):
    @requires("tickets:read")
    @tickets.response(200, TicketSchema)
    def get(self, ticket_id: uuid.UUID) -> tuple[Ticket | _MaskedTicket, int, dict[str, str]]:
        """One ticket (the reporter's phone number masked unless you hold tickets:pii)"""
        ticket = visible_or_404(db().get(Ticket, ticket_id), "ticket")
        return _shown(ticket), 200, {"ETag": etag(ticket.version)}


@compounds.route("")
class Compounds(MethodView):
    @requires("tickets:read")
    @compounds.arguments(CompoundQuery, location="query")
    @compounds.response(200, CompoundPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the compounds tickets can be raised against, by name"""
        stmt = in_district(select(Compound), Compound.district_id)
        if "community_id" in args:
            stmt = stmt.where(Compound.community_id == args["community_id"])
        return paginate(db(), stmt, Compound, args["limit"], args["cursor"], keys=[Compound.name, Compound.id],
                        descending=False)

