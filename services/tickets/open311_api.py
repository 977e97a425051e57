"""Open311 GeoReport v2 at /open311/v2: 311 apps and hotlines read and raise tickets without an adapter.

Reads are public, as the standard has them, and show nothing of who reported a ticket; a POST carries the
api_key an operator made for the client (`/v1/open311/keys`), which names the district its requests go to.
Every answer, errors included, is in the format the path ends in (`.xml`, the standard's default, or `.json`);
the suite's problem answers are rewritten into the standard's `errors` here, on the way out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import marshmallow as ma
from flask import Response, json, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from linli.services.tickets import open311, usecases
from linli.services.tickets import open311_formats as formats
from linli.services.tickets.models import Compound, Organization, Ticket, TicketMove
from linli.services.tickets.schemas import (
    Open311DiscoverySchema,
    Open311JurisdictionQuery,
    Open311PostedSchema,
    Open311RequestForm,
    Open311RequestQuery,
    Open311RequestSchema,
    Open311ServiceDefinitionSchema,
    Open311ServiceSchema,
    Open311TokenSchema,
)
from linli.shared.db import utcnow
from linli.shared.errors import NotFound, ValidationFailed
from linli.shared.http.auth import public
from linli.shared.http.openapi import PUBLIC_STANDARD
from linli.shared.http.operations import accepts
from linli.shared.http.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from linli.shared.http.problems import flatten_messages
from linli.shared.http.uow import db

FORM = "application/x-www-form-urlencoded"
STANDARD = "Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2)"

open311_blueprint = Blueprint(
    "open311", __name__, url_prefix="/open311/v2",
    description="Open311 GeoReport v2: services (ticket categories) and service requests (tickets), in XML or JSON. "
                "Reads are public and carry nothing of the reporter; a POST carries an api_key (see "
                "/v1/open311/keys). Errors are the standard's `errors` document in the format asked for.")


# --- Errors: the standard's document, in the format the path asks for --------------------------------------------

# The standard answers all bad input 400; the suite's finer statuses for it map onto that.
_STATUSES = {415: 400, 422: 400}


def _format() -> str:
    asked = (request.view_args or {}).get("format")
    return asked if asked in open311.FORMATS else open311.FORMATS[0]


@open311_blueprint.after_request
def _as_the_standard_says(response: Response) -> Response:
    """Every problem raised while answering (by a use case, the input guard, a parser) as the standard's errors."""
    if response.mimetype != PROBLEM_CONTENT_TYPE:
        return response
    problem = json.loads(response.get_data())
    status = _STATUSES.get(response.status_code, response.status_code)
    if response.status_code == 415:
        descriptions = [f"Content-Type: send the request form-encoded ({FORM})"]
    elif problem.get("errors"):
        descriptions = [f"{name}: {message}" for name, messages in problem["errors"].items() for message in messages]
    else:
        descriptions = [problem.get("detail") or problem.get("title") or "error"]
    body, content_type = formats.render("errors", formats.errors(status, descriptions), _format())
    response.set_data(body)
    response.status_code = status
    response.headers["Content-Type"] = content_type
    return response


def _answer(root: str, document: Any, fmt: str) -> Response:
    body, content_type = formats.render(root, document, fmt)
    return Response(body, status=200, content_type=content_type)


def _checked(fmt: str) -> str:
    if fmt not in open311.FORMATS:
        raise NotFound(f"format: no format {fmt!r}; use xml or json")
    return fmt


# --- What the OpenAPI says of each operation ------------------------------------------------------------------------

FORMAT = {"in": "path", "name": "format", "required": True, "schema": {"type": "string", "enum": list(open311.FORMATS)},
          "description": "xml (the standard's default) or json; errors come in the same format"}
_ERRORS_JSON = {"type": "array", "items": {"type": "object", "required": ["code", "description"], "properties": {
    "code": {"type": "integer"}, "description": {"type": "string"}}}}
_XML = {"schema": {"type": "string", "description": "the same document as XML"}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERRORS_JSON}, "text/xml": _XML}}


def _standard(*, writes: bool = False) -> dict[str, Any]:
    """The doc of an Open311 operation: its XML answer beside the JSON one, and the errors it answers."""
    responses: dict[int | str, Any] = {
        200: {"content": {"text/xml": _XML}},
        400: _error("bad input: a parameter is missing, malformed, or names nothing known"),
        404: _error("no such format, or no such item in this jurisdiction"),
        503: _error("the database is unavailable; nothing was changed"),
        "default": _error("any other error, as the standard's errors document"),
    }
    if writes:
        responses[403] = _error("the api_key is missing, unknown or revoked, or for another jurisdiction")
        responses[413] = _error("the body is too large")
    return {PUBLIC_STANDARD: STANDARD, "responses": responses}


# --- Discovery and services -----------------------------------------------------------------------------------------

@open311_blueprint.route("/discovery.<format>", parameters=[FORMAT])
class Discovery(MethodView):
    @public
    @open311_blueprint.response(200, Open311DiscoverySchema)
    @open311_blueprint.doc(**_standard())
    def get(self, format: str) -> Response:
        """Where the GeoReport v2 endpoint is and which formats it speaks (the standard's service discovery)"""
        fmt = _checked(format)
        endpoint = {"specification": open311.SPECIFICATION, "url": request.url_root + "open311/v2",
                    "changeset": open311.CHANGESET, "type": "production",
                    "formats": [open311.MEDIA_TYPES[f] for f in open311.FORMATS]}
        return _answer("discovery", {
            "changeset": open311.CHANGESET, "contact": "请联系所在区的社区治理平台运维人员",
            "key_service": "api_key 由区级运维人员在工单服务的 /v1/open311/keys 签发", "endpoints": [endpoint]}, fmt)


def _service(offered: open311.Service) -> dict[str, Any]:
    return {"service_code": offered.code, "service_name": offered.name, "description": offered.description,
            "metadata": offered.metadata, "type": offered.type, "keywords": ",".join(offered.keywords),
            "group": offered.group}


def _attribute(attribute: open311.Attribute) -> dict[str, Any]:
    return {"variable": attribute.variable, "code": attribute.code, "datatype": attribute.datatype,
            "required": attribute.required, "datatype_description": attribute.datatype_description,
            "order": attribute.order, "description": attribute.description,
            "values": [{"key": value.key, "name": value.name} for value in attribute.values]}


@open311_blueprint.route("/services.<format>", parameters=[FORMAT])
class Services(MethodView):
    @public
    @open311_blueprint.arguments(Open311JurisdictionQuery, location="query")
    @open311_blueprint.response(200, Open311ServiceSchema(many=True))
    @open311_blueprint.doc(**_standard())
    def get(self, args: dict[str, Any], format: str) -> Response:
        """The services requests can be raised for: tickets' categories"""
        fmt = _checked(format)
        usecases.open311_jurisdiction(db(), args.get("jurisdiction_id"))
        return _answer("services", [_service(offered) for offered in open311.services()], fmt)


SERVICE_CODE = {"in": "path", "name": "service_code", "required": True, "schema": {"type": "string"}}


@open311_blueprint.route("/services/<service_code>.<format>", parameters=[SERVICE_CODE, FORMAT])
class ServiceDefinition(MethodView):
    @public
    @open311_blueprint.arguments(Open311JurisdictionQuery, location="query")
    @open311_blueprint.response(200, Open311ServiceDefinitionSchema)
    @open311_blueprint.doc(**_standard())
    def get(self, args: dict[str, Any], service_code: str, format: str) -> Response:
        """What a service asks besides the standard's fields: `attribute[code]` in a POST"""
        fmt = _checked(format)
        usecases.open311_jurisdiction(db(), args.get("jurisdiction_id"))
        if open311.service(service_code) is None:
            raise NotFound(f"service_code: no service {service_code!r}")
        return _answer("service_definition", {"service_code": service_code,
                                              "attributes": [_attribute(a) for a in open311.ATTRIBUTES]}, fmt)


# --- Service requests -----------------------------------------------------------------------------------------------

def _lead_unit(ticket: Ticket) -> uuid.UUID | None:
    return next((part.unit_id for part in ticket.parts if part.lead and part.state != "withdrawn"), None)


def _names(model: type[Organization] | type[Compound], ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return {row.id: row.name for row in db().execute(select(model.id, model.name).where(model.id.in_(list(ids))))}


def _shown(tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
    """The tickets as the public sees them, with their lead units' names and their last moves' notes."""
    if not tickets:
        return []
    ids = [ticket.id for ticket in tickets]
    leads = {ticket.id: unit for ticket in tickets if (unit := _lead_unit(ticket)) is not None}
    names = _names(Organization, set(leads.values()))
    compounds = _names(Compound, {ticket.compound_id for ticket in tickets})
    latest = (select(func.max(TicketMove.seq).label("seq")).where(TicketMove.ticket_id.in_(ids))
              .group_by(TicketMove.ticket_id).subquery())
    last = {row.ticket_id: row for row in db().execute(
        select(TicketMove.ticket_id, TicketMove.note, TicketMove.reason).join(latest, TicketMove.seq == latest.c.seq))}
    shown = []
    for ticket in tickets:
        move = last.get(ticket.id)
        unit = leads.get(ticket.id)
        seen = open311.Seen(agency_responsible=names.get(unit) if unit else None,
                            last_note=move.note if move else None, last_reason=move.reason if move else None,
                            compound_name=compounds.get(ticket.compound_id))
        shown.append(open311.public_request(ticket, seen))
    return shown


def _ticket(district: str | None, service_request_id: str) -> Ticket:
    """The jurisdiction's ticket of that id; any other id, well-formed or not, is the standard's 404."""
    try:
        ticket_id = uuid.UUID(service_request_id)
    except ValueError as exc:
        raise NotFound("service_request_id: no such request") from exc
    ticket = db().get(Ticket, ticket_id)
    if ticket is None or ticket.district_id != district:
        raise NotFound("service_request_id: no such request")
    return ticket


def _form() -> dict[str, Any]:
    """POST's standard fields, checked; an empty field counts as absent, as form clients send them."""
    if request.get_data(cache=True) and request.mimetype != FORM:
        raise ValidationFailed.field("Content-Type", f"send the request form-encoded ({FORM})")
    fields = request.form
    for name, value in fields.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise ValidationFailed.field(name.replace("\x00", "\\u0000"), "must not contain NUL characters")
    given = {name: value for name, value in fields.items() if value != ""}
    try:
        return Open311RequestForm().load(given, partial=("api_key",))
    except ma.ValidationError as exc:
        errors = flatten_messages(exc.messages)
        raise ValidationFailed(f"invalid input: {', '.join(sorted(errors))}", errors=errors) from exc


POST_EXAMPLE = {"api_key": "o311_…", "service_code": "facilities", "address_string": "永川区星光小区3栋",
                "description": "3栋2单元楼道灯一周没亮", "first_name": "三", "last_name": "张", "phone": "13812345678",
                "attribute[urgency]": "normal"}


@open311_blueprint.route("/requests.<format>", parameters=[FORMAT])
class Requests(MethodView):
    @public
    @open311_blueprint.arguments(Open311RequestQuery, location="query")
    @open311_blueprint.response(200, Open311RequestSchema(many=True))
    @open311_blueprint.doc(**_standard())
    def get(self, args: dict[str, Any], format: str) -> Response:
        """The jurisdiction's requests, newest first: by id, or by service, status and date (the last 90 days)

        Public: no reporter's name, phone or email. At most 1000 (`page_size`).
        """
        fmt = _checked(format)
        district = usecases.open311_jurisdiction(db(), args.get("jurisdiction_id"))
        stmt = select(Ticket).where(Ticket.district_id == district)
        if "service_request_id" in args:
            stmt = stmt.where(Ticket.id.in_(open311.request_ids(args["service_request_id"])))
        else:
            stmt = self._filtered(stmt, args)
        tickets = list(db().scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                                    .limit(args["page_size"]))) if district else []
        return _answer("service_requests", _shown(tickets), fmt)

    @staticmethod
    def _filtered(stmt: Any, args: dict[str, Any]) -> Any:
        if "service_code" in args:
            codes = open311.split(args["service_code"])
            unknown = [code for code in codes if open311.service(code) is None]
            if unknown:
                raise ValidationFailed.field("service_code", f"no service {', '.join(map(repr, unknown))}")
            stmt = stmt.where(Ticket.category.in_(codes))
        if "status" in args:
            stmt = stmt.where(Ticket.state.in_(open311.states_of(open311.split(args["status"]))))
        start = open311.parse_time(args["start_date"], "start_date") if "start_date" in args else None
        end = open311.parse_time(args["end_date"], "end_date") if "end_date" in args else None
        start, end = open311.window(start, end, utcnow())
        return stmt.where(Ticket.created_at >= start, Ticket.created_at <= end)

    @public
    @accepts(FORM)
    @open311_blueprint.response(200, Open311PostedSchema(many=True))
    @open311_blueprint.doc(**_standard(writes=True), requestBody={"required": True, "content": {FORM: {
        "schema": Open311RequestForm, "example": POST_EXAMPLE}}})
    def post(self, format: str) -> Response:
        """Raise a request: a ticket of the api_key's district, source `open311`, as `POST /v1/tickets` raises one

        Form-encoded as the standard has it. The compound is `address_id` (its id) or the compound an
        `address_string` names; lat/long are kept with it. `phone` is required (the compound calls back);
        `attribute[urgency]`, `attribute[kind]` and `attribute[building_id]` as GET services/{code} lists them.
        Answers at once with the new request's id. Emits `tickets.ticket.submitted`.
        """
        fmt = _checked(format)
        form = _form()
        ticket = usecases.submit_open311_request(
            db(), form.get("api_key"), service_code=form["service_code"], now=utcnow(),
            jurisdiction_id=form.get("jurisdiction_id"), description=form.get("description"),
            first_name=form.get("first_name"), last_name=form.get("last_name"), phone=form.get("phone"),
            media_url=form.get("media_url"), attributes=open311.attributes_of(request.form.items(multi=True)),
            lat=form.get("lat"), lon=form.get("long"), address_string=form.get("address_string"),
            address_id=form.get("address_id"))
        return _answer("service_requests", [{"service_request_id": str(ticket.id),
                                             "service_notice": open311.service_notice(ticket.due_at),
                                             "account_id": form.get("account_id")}], fmt)


SERVICE_REQUEST_ID = {"in": "path", "name": "service_request_id", "required": True,
                      "schema": {"type": "string", "format": "uuid"}}


@open311_blueprint.route("/requests/<service_request_id>.<format>", parameters=[SERVICE_REQUEST_ID, FORMAT])
class RequestItem(MethodView):
    @public
    @open311_blueprint.arguments(Open311JurisdictionQuery, location="query")
    @open311_blueprint.response(200, Open311RequestSchema(many=True))
    @open311_blueprint.doc(**_standard())
    def get(self, args: dict[str, Any], service_request_id: str, format: str) -> Response:
        """One request of the jurisdiction (a list of one, as the standard has it)"""
        fmt = _checked(format)
        district = usecases.open311_jurisdiction(db(), args.get("jurisdiction_id"))
        return _answer("service_requests", _shown([_ticket(district, service_request_id)]), fmt)


TOKEN = {"in": "path", "name": "token", "required": True, "schema": {"type": "string"},
         "description": "a POST answers with the request's id at once, so the token is that id"}


@open311_blueprint.route("/tokens/<token>.<format>", parameters=[TOKEN, FORMAT])
class Tokens(MethodView):
    @public
    @open311_blueprint.arguments(Open311JurisdictionQuery, location="query")
    @open311_blueprint.response(200, Open311TokenSchema(many=True))
    @open311_blueprint.doc(**_standard())
    def get(self, args: dict[str, Any], token: str, format: str) -> Response:
        """The request id a token stands for (the standard's deferred answer; here a token is the id itself)"""
        fmt = _checked(format)
        district = usecases.open311_jurisdiction(db(), args.get("jurisdiction_id"))
        ticket = _ticket(district, token)
        return _answer("service_requests", [{"service_request_id": str(ticket.id), "token": token}], fmt)
