"""tickets' HTTP API: views parse the request, call the use case and present its result."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from linli.services.tickets import domain, rates, stats_files, usecases
from linli.services.tickets.models import Compound, Open311Key, Ticket, TicketComment, TicketMove
from linli.services.tickets.schemas import (
    CategoryPage,
    CategoryPatch,
    CategoryPut,
    CategoryQuery,
    CategorySchema,
    ClaimBody,
    CloseBody,
    CommentCreate,
    CommentPage,
    CommentSchema,
    CompoundPage,
    CompoundQuery,
    DispatchBody,
    MergeBody,
    MoveBody,
    MovePage,
    Open311KeyCreate,
    Open311KeyCreated,
    Open311KeyPage,
    Open311KeyQuery,
    Open311KeyRevoke,
    Open311KeySchema,
    RateBody,
    RejectBody,
    RerouteBody,
    ResolveBody,
    ReviewBody,
    SimilarPage,
    SimilarQuery,
    StartBody,
    StatsQuery,
    StatsSchema,
    SuggestionPage,
    TicketCreate,
    TicketPage,
    TicketQuery,
    TicketSchema,
    TicketSubmittedSchema,
)
from linli.services.tickets.stats import ticket_stats
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import utcnow
from linli.shared.http import spreadsheets as spreadsheet_answers
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import check_if_match, etag
from linli.shared.http.operations import secret_answer
from linli.shared.http.pagination import PageArgs, paginate
from linli.shared.http.uow import db

PII_SCOPE = "tickets:pii"

tickets = Blueprint("tickets", __name__, url_prefix="/v1/tickets",
                    description="Residents' problems and needs (诉求 / 工单).")
compounds = Blueprint("compounds", __name__, url_prefix="/v1/compounds",
                      description="The compounds tickets knows, copied from registry's events.")


# The text people write into a ticket, where a resident's phone number often is ("请回电13812345678").
_TICKET_TEXT = ("title", "description", "address", "rating_comment")
_MOVE_TEXT = ("reason", "note")
_COMMENT_TEXT = ("text",)


def _text_masked(row: Any, names: tuple[str, ...]) -> dict[str, str | None]:
    """The fields `names` of `row` with any phone number in them masked."""
    values = {name: getattr(row, name) for name in names}
    return {name: None if value is None else domain.mask_phones_in(value) for name, value in values.items()}


def _masked_fields(ticket: Ticket) -> dict[str, str | None]:
    """The reporter's name and phone, and any phone number in the ticket's text, masked."""
    return {"reporter_name": domain.mask_name(ticket.reporter_name),
            "reporter_phone": domain.mask_phone(ticket.reporter_phone), **_text_masked(ticket, _TICKET_TEXT)}


class _Masked:
    """A row (a ticket, a move, a comment) as a caller sees it: some fields masked, or added (a submission's
    `similar`).

    A stand-in rather than an edit of the row: the row is in the request's session,
    so a masked number set on it would be committed over the real one.
    """

    def __init__(self, row: Any, fields: dict[str, Any]) -> None:
        self._row = row
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _shown(ticket: Ticket) -> Ticket | _Masked:
    return ticket if principal().has(PII_SCOPE) else _Masked(ticket, _masked_fields(ticket))


def _shown_text(rows: list[Any], names: tuple[str, ...]) -> list[Any]:
    """Moves or comments as the caller may see them: their text's phone numbers masked without tickets:pii."""
    if principal().has(PII_SCOPE):
        return rows
    return [_Masked(row, _text_masked(row, names)) for row in rows]


Moved = tuple[Ticket | _Masked, int, dict[str, str]]


def _moved(ticket: Ticket) -> Moved:
    """The ticket after a move, with its new ETag."""
    return _shown(ticket), 200, {"ETag": etag(ticket.version)}


def _assignments(units: list[dict[str, Any]]) -> list[usecases.Assignment]:
    return [usecases.Assignment(**unit) for unit in units]


@tickets.route("")
class Tickets(MethodView):
    @requires("tickets:read")
    @tickets.arguments(TicketQuery, location="query")
    @tickets.response(200, TicketPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List tickets, newest first (reporters' phone numbers masked unless you hold tickets:pii)

        `from`/`to` narrow them to those submitted in a period (a day is its midnight in Asia/Shanghai; `to` is
        excluded).
        """
        stmt = in_district(select(Ticket), Ticket.district_id)
        for name in ("state", "compound_id", "kind", "urgency", "master_id"):
            if name in args:
                stmt = stmt.where(getattr(Ticket, name) == args[name])
        if "overdue" in args:
            stmt = stmt.where(Ticket.overdue.is_(args["overdue"]))
        if "category" in args:
            stmt = stmt.where(Ticket.category == args["category"])
        if "starts" in args:
            stmt = stmt.where(Ticket.created_at >= rates.instant(args["starts"], DEFAULT_TIME_ZONE))
        if "ends" in args:
            stmt = stmt.where(Ticket.created_at < rates.instant(args["ends"], DEFAULT_TIME_ZONE, "to"))
        page = paginate(db(), stmt, Ticket, args["limit"], args["cursor"])
        return {**page, "items": [_shown(ticket) for ticket in page["items"]]}

    @requires("tickets:write")
    # An instance, not the class: webargs would build a schema from the class on every request.
    @tickets.arguments(TicketCreate())
    @tickets.response(201, TicketSubmittedSchema)
    def post(self, body: dict[str, Any]) -> tuple[_Masked, int, dict[str, str]]:
        """Raise a resident's ticket (or a wish) against a compound; its deadline follows from the category

        The answer names in `similar` recent tickets of the same compound and category it may duplicate.
        Emits `tickets.ticket.submitted` (the reporter's phone masked), and the reporter's contact privately
        (`tickets.ticket.contact`, on linli.private only).
        """
        submission = usecases.submit_with_duplicates(db(), principal(), **body, now=utcnow())
        ticket = submission.ticket
        # One stand-in, masked or not, carrying `similar` too: each field of the answer is read through it.
        shown = {} if principal().has(PII_SCOPE) else _masked_fields(ticket)
        return (_Masked(ticket, {"similar": submission.similar, **shown}), 201,
                {"Location": f"/v1/tickets/{ticket.id}", "ETag": etag(ticket.version)})


@tickets.route("/<uuid:ticket_id>")
class TicketItem(MethodView):
    @requires("tickets:read")
    @tickets.response(200, TicketSchema)
    def get(self, ticket_id: uuid.UUID) -> tuple[Ticket | _Masked, int, dict[str, str]]:
        """One ticket (the reporter's phone number masked unless you hold tickets:pii)"""
        ticket = visible_or_404(db().get(Ticket, ticket_id), "ticket")
        return _shown(ticket), 200, {"ETag": etag(ticket.version)}


# --- The lifecycle: one POST per verb; each answers the ticket after the move (409 naming the state and the verbs
# allowed now when the move is not; honours If-Match) ---------------------------------------------------------------

@tickets.route("/<uuid:ticket_id>/accept")
class TicketAcceptance(MethodView):
    @requires("tickets:write")
    @tickets.arguments(MoveBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """The compound takes a submitted ticket on; emits `tickets.ticket.accepted`"""
        return _moved(usecases.accept(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/reject")
class TicketRejection(MethodView):
    @requires("tickets:write")
    @tickets.arguments(RejectBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """Turn a submitted ticket down for good, saying why; emits `tickets.ticket.rejected`"""
        return _moved(usecases.reject(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/start")
class TicketStart(MethodView):
    @requires("tickets:write")
    @tickets.arguments(StartBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """Work begins: the compound on an accepted ticket, or a dispatched unit on its part (`unit_id`)

        Emits `tickets.ticket.started`.
        """
        return _moved(usecases.start(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/escalate")
class TicketEscalation(MethodView):
    @requires("tickets:write")
    @tickets.arguments(MoveBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """The compound blows the whistle to the community (吹哨); emits `tickets.ticket.escalated`"""
        return _moved(usecases.escalate(db(), principal(), ticket_id, utcnow(), **body,
                                        check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/list")
class TicketListing(MethodView):
    @requires("tickets:write")
    @tickets.arguments(MoveBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """List an escalated ticket for the committee's joint meeting (挂单); emits `tickets.ticket.listed`"""
        return _moved(usecases.list_for_meeting(db(), principal(), ticket_id, utcnow(), **body,
                                                check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/dispatch")
class TicketDispatch(MethodView):
    @requires("tickets:write")
    @tickets.arguments(DispatchBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """Send a listed (or urgent) ticket to units, one the lead, each with its deadline (派单)

        Later calls add units to a dispatched ticket. A unit registry's events have not brought yet is 422
        `/problems/reference-not-yet-known`. Emits `tickets.ticket.dispatched`.
        """
        return _moved(usecases.dispatch(db(), principal(), ticket_id, utcnow(), units=_assignments(body["units"]),
                                        note=body["note"], check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/claim")
class TicketClaim(MethodView):
    @requires("tickets:write")
    @tickets.arguments(ClaimBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """A unit claims a listed problem as its lead (`unit_id`), or a party member a wish (`member_id`) (认领)

        Emits `tickets.ticket.claimed`.
        """
        return _moved(usecases.claim(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/resolve")
class TicketResolution(MethodView):
    @requires("tickets:write")
    @tickets.arguments(ResolveBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """A unit resolves its part (the ticket, when it leads), or the compound or a wish's member the ticket

        The members who took part are recorded with their hours and listed in `tickets.ticket.closed`.
        Emits `tickets.ticket.resolved`.
        """
        participants = [usecases.Participant(**p) for p in body.pop("participants")]
        return _moved(usecases.resolve(db(), principal(), ticket_id, utcnow(), **body, participants=participants,
                                       check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/reroute")
class TicketRerouting(MethodView):
    @requires("tickets:write")
    @tickets.arguments(RerouteBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """Change a dispatched ticket's category: its open parts are withdrawn and it goes to the units named

        Emits `tickets.ticket.rerouted`, naming the units it left and those it went to.
        """
        return _moved(usecases.reroute(db(), principal(), ticket_id, utcnow(), category=body["category"],
                                       units=_assignments(body["units"]), note=body["note"],
                                       check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/review")
class TicketReview(MethodView):
    @requires("tickets:write")
    @tickets.arguments(ReviewBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """The on-site check of a resolved ticket (回头看): passed, or failed and back to work

        Emits `tickets.ticket.reviewed`, and `tickets.ticket.reopened` after it when the review failed.
        """
        return _moved(usecases.review(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/rate")
class TicketRating(MethodView):
    @requires("tickets:write")
    @tickets.arguments(RateBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """The resident rates the fix of a reviewed (or closed-as-fixed) ticket, once per fix

        Emits `tickets.ticket.rated`; then `tickets.ticket.closed` when a content rating closes the ticket, or
        `tickets.ticket.reopened` when a dissatisfied one sends it back to work.
        """
        return _moved(usecases.rate(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/close")
class TicketClosing(MethodView):
    @requires("tickets:write")
    @tickets.arguments(CloseBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """Close a reviewed ticket as fixed, or any open one unfixed for a `reason`

        Tickets merged into it close with it, as `duplicate`. Emits `tickets.ticket.closed` for each.
        """
        return _moved(usecases.close(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/merge")
class TicketMerge(MethodView):
    @requires("tickets:write")
    @tickets.arguments(MergeBody())
    @tickets.response(200, TicketSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> Moved:
        """Mark the ticket a duplicate of an open ticket of its compound; it closes with its master

        Emits `tickets.ticket.merged`.
        """
        return _moved(usecases.merge(db(), principal(), ticket_id, utcnow(), **body, check_version=check_if_match))


@tickets.route("/<uuid:ticket_id>/history")
class TicketHistory(MethodView):
    @requires("tickets:read")
    @tickets.arguments(PageArgs, location="query")
    @tickets.response(200, MovePage)
    def get(self, args: dict[str, Any], ticket_id: uuid.UUID) -> dict[str, Any]:
        """Every move of the ticket, oldest first: who, when, from and to which state, why, and the note"""
        ticket = visible_or_404(db().get(Ticket, ticket_id), "ticket")
        stmt = select(TicketMove).where(TicketMove.ticket_id == ticket.id)
        page = paginate(db(), stmt, TicketMove, args["limit"], args["cursor"], keys=[TicketMove.seq],
                        descending=False)
        return {**page, "items": _shown_text(page["items"], _MOVE_TEXT)}


@tickets.route("/<uuid:ticket_id>/comments")
class TicketComments(MethodView):
    @requires("tickets:read")
    @tickets.arguments(PageArgs, location="query")
    @tickets.response(200, CommentPage)
    def get(self, args: dict[str, Any], ticket_id: uuid.UUID) -> dict[str, Any]:
        """The comments on the ticket, oldest first"""
        ticket = visible_or_404(db().get(Ticket, ticket_id), "ticket")
        stmt = select(TicketComment).where(TicketComment.ticket_id == ticket.id)
        page = paginate(db(), stmt, TicketComment, args["limit"], args["cursor"], descending=False)
        return {**page, "items": _shown_text(page["items"], _COMMENT_TEXT)}

    @requires("tickets:write")
    @tickets.arguments(CommentCreate())
    @tickets.response(201, CommentSchema)
    def post(self, body: dict[str, Any], ticket_id: uuid.UUID) -> tuple[Any, int]:
        """Comment on the ticket, in any state (its version stays); emits `tickets.ticket.commented`"""
        comment = usecases.add_comment(db(), principal(), ticket_id, utcnow(), **body)
        return _shown_text([comment], _COMMENT_TEXT)[0], 201


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



# --- Dispatch suggestions and possible duplicates -------------------------------------------------------------------

@tickets.route("/<uuid:ticket_id>/suggestions")
class TicketSuggestions(MethodView):
    @requires("tickets:read")
    @tickets.response(200, SuggestionPage)
    def get(self, ticket_id: uuid.UUID) -> dict[str, Any]:
        """Units to dispatch the ticket to, best first, each with why (one page: a committee's units are few)

        First the unit paired with the ticket's compound, then the units of the community's committee whose
        resource list serves the ticket's category, then its other units; units holding a part of the ticket
        already are left out. From registry's pairing, committee and resource events as tickets keeps them.
        """
        return {"items": usecases.suggest_units(db(), principal(), ticket_id, utcnow()), "next_cursor": None}


@tickets.route("/<uuid:ticket_id>/similar")
class SimilarTickets(MethodView):
    @requires("tickets:read")
    @tickets.arguments(SimilarQuery, location="query")
    @tickets.response(200, SimilarPage)
    def get(self, args: dict[str, Any], ticket_id: uuid.UUID) -> dict[str, Any]:
        """Possible duplicates: tickets of the same compound and category submitted within `days` of this one
        whose text is alike, open ones first, then the most alike (one page, at most `limit`)

        Alike: the Jaccard index of the sets of adjacent character pairs of title and description, at least
        `min_score`. Merge a duplicate with `POST /v1/tickets/{id}/merge`.
        """
        found = usecases.similar_tickets(db(), principal(), ticket_id, **args)
        if not principal().has(PII_SCOPE):
            found = [replace(alike, ticket=replace(alike.ticket, title=domain.mask_phones_in(alike.ticket.title)))
                     for alike in found]
        return {"items": found, "next_cursor": None}
# --- Categories and their deadlines ----------------------------------------------------------------------------

categories = Blueprint("categories", __name__, url_prefix="/v1/categories",
                       description="Ticket categories and each stage's deadline, normal and urgent, per district.")


def _category(view: usecases.CategoryView) -> tuple[usecases.CategoryView, int, dict[str, str]]:
    return view, 200, {"ETag": etag(view.version)}


@categories.route("")
class Categories(MethodView):
    @requires("tickets:read")
    @categories.arguments(CategoryQuery, location="query")
    @categories.response(200, CategoryPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every category with its deadlines in your district: the district's own where it set them, else the
        suite's defaults (an operator names `district_id`, or sees the defaults) — one page: the list is short"""
        return {"items": usecases.list_categories(db(), principal(), **args), "next_cursor": None}


@categories.route("/<code>")
class CategoryItem(MethodView):
    @requires("tickets:read")
    @categories.arguments(CategoryQuery, location="query")
    @categories.response(200, CategorySchema)
    def get(self, args: dict[str, Any], code: str) -> tuple[usecases.CategoryView, int, dict[str, str]]:
        """One category with its deadlines in your district (an operator names `district_id`)"""
        return _category(usecases.get_category(db(), principal(), code, **args))

    @requires("tickets:admin")
    @categories.arguments(CategoryQuery, location="query")
    @categories.arguments(CategoryPut())
    @categories.response(200, CategorySchema)
    def put(self, args: dict[str, Any], body: dict[str, Any], code: str) -> tuple[usecases.CategoryView, int,
                                                                                   dict[str, str]]:
        """Set your district's deadlines for a category: every stage's hours, normal and urgent

        An operator names `district_id`. Send If-Match with the ETag you read (`"0"` while the suite's defaults
        hold). Stages begun afterwards run by the new deadlines; those running keep theirs.
        """
        return _category(usecases.set_category_deadlines(db(), principal(), code, **args, **body,
                                                         check_version=check_if_match))

    @requires("tickets:admin")
    @categories.arguments(CategoryQuery, location="query")
    @categories.arguments(CategoryPatch())
    @categories.response(200, CategorySchema)
    def patch(self, args: dict[str, Any], body: dict[str, Any], code: str) -> tuple[usecases.CategoryView, int,
                                                                                     dict[str, str]]:
        """Change some of your district's deadlines for a category; the others stay (send If-Match)"""
        return _category(usecases.edit_category_deadlines(db(), principal(), code, **args, **body,
                                                          check_version=check_if_match))
# --- Open311 GeoReport v2: the clients' api_keys, managed by operators ----------------------------------------------

open311_keys = Blueprint("open311_keys", __name__, url_prefix="/v1/open311/keys",
                         description="api_keys of Open311 GeoReport v2 clients (hotlines, 311 apps); see /open311/v2.")


class _NewKey:
    """A key just made, with the secret it stands for: answered once, never kept."""

    def __init__(self, key: Open311Key, secret: str) -> None:
        self._key = key
        self.api_key = secret

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)


@open311_keys.route("")
class Open311Keys(MethodView):
    @requires("tickets:admin")
    @open311_keys.arguments(Open311KeyQuery, location="query")
    @open311_keys.response(200, Open311KeyPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the api_keys, newest first (their prefixes only: a key is shown once, when it is made)"""
        stmt = in_district(select(Open311Key), Open311Key.district_id)
        if args.get("state") == "active":
            stmt = stmt.where(Open311Key.revoked_at.is_(None))
        elif args.get("state") == "revoked":
            stmt = stmt.where(Open311Key.revoked_at.is_not(None))
        return paginate(db(), stmt, Open311Key, args["limit"], args["cursor"])

    @requires("tickets:admin")
    @secret_answer
    @open311_keys.arguments(Open311KeyCreate())
    @open311_keys.response(201, Open311KeyCreated)
    def post(self, body: dict[str, Any]) -> tuple[_NewKey, int, dict[str, str]]:
        """Make an api_key for an Open311 client of a district; the answer holds the key, shown this once

        Only the key's hash is kept. A retry with the same Idempotency-Key answers 409 with the key's Location,
        not the key again.
        """
        key, secret = usecases.create_open311_key(db(), principal(), **body, now=utcnow())
        return _NewKey(key, secret), 201, {"Location": f"/v1/open311/keys/{key.id}", "ETag": etag(key.version)}


@open311_keys.route("/<uuid:key_id>")
class Open311KeyItem(MethodView):
    @requires("tickets:admin")
    @open311_keys.response(200, Open311KeySchema)
    def get(self, key_id: uuid.UUID) -> tuple[Open311Key, int, dict[str, str]]:
        """One api_key (its prefix only)"""
        key = visible_or_404(db().get(Open311Key, key_id), "api_key")
        return key, 200, {"ETag": etag(key.version)}


@open311_keys.route("/<uuid:key_id>/revoke")
class Open311KeyRevocation(MethodView):
    @requires("tickets:admin")
    @open311_keys.arguments(Open311KeyRevoke())
    @open311_keys.response(200, Open311KeySchema)
    def post(self, body: dict[str, Any], key_id: uuid.UUID) -> tuple[Open311Key, int, dict[str, str]]:
        """Revoke an api_key for good: the client's next POST answers 403 (a revoked key: 409)"""
        key = usecases.revoke_open311_key(db(), principal(), key_id, utcnow(), **body)
        return key, 200, {"ETag": etag(key.version)}


# --- The rates (三率) -------------------------------------------------------------------------------------------------

stats = Blueprint("stats", __name__, url_prefix="/v1/stats",
                  description="The response, resolution, satisfaction and on-time rates (docs/tickets-stats.md).")

_STATS_CSV = {"type": "string", "description": (
    "UTF-8 with a byte-order mark (so Excel reads the Chinese); a header row, then one row per group: its name and "
    "id, then the figures of the JSON answer in its order, an empty cell for a null rate. Headers in Chinese, in "
    "English with `Accept-Language: en`")}
_STATS_ANSWER = "the figures: JSON by default; with `Accept: text/csv`, the same table as a CSV file"


@stats.route("")
class Stats(MethodView):
    @requires("tickets:read")
    @stats.arguments(StatsQuery, location="query")
    @stats.response(200, StatsSchema, description=_STATS_ANSWER)
    @stats.alt_response(200, schema=_STATS_CSV, content_type="text/csv", success=True, description=_STATS_ANSWER)
    def get(self, args: dict[str, Any]) -> Any:
        """The rates over the tickets submitted in a period, per district, street, community, compound or lead unit

        `by` chooses what a row is; `from`/`to` the period (a day is its midnight in Asia/Shanghai, `to` excluded;
        default the 30 days up to now); the other parameters narrow the tickets counted. Per group: counts, the
        response rate (answered within the accept deadline), the resolution rate, the satisfaction rate
        (satisfied and basically satisfied over every rating given), the on-time rate (finished on time over
        finished plus open overdue: an open overdue ticket counts against it like a late one) and the median
        hours to resolve. A rate with nothing to judge is null. Open and overdue are judged now (`as_of`).
        A district's client counts its own district's tickets only. Definitions: docs/tickets-stats.md.
        `Accept: text/csv` answers a CSV file instead, for spreadsheets.
        """
        now = utcnow()
        by = args.pop("by")
        period, groups = ticket_stats(db(), principal(), now=now, by=by, **args)
        if spreadsheet_answers.wants_csv():
            language = spreadsheet_answers.language()
            return _stats_file(by, period, groups, language)
        return ({"by": by, "starts_at": period.starts_at, "ends_at": period.ends_at, "as_of": now, "items": groups},
                200, spreadsheet_answers.VARY)


def _stats_file(by: str, period: Any, groups: Any, language: str) -> Response:
    return spreadsheet_answers.csv_answer(stats_files.csv_of(by, groups, language), language,
                                          stats_files.disposition(by, period, language))
