"""tickets' API shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import marshmallow as ma

from linli.services.tickets.domain import (
    CATEGORIES,
    CLOSE_REASONS,
    COMMITTEE_UNIT,
    DEFAULT_CATEGORY,
    DEFAULT_REMIND_PERCENT,
    DEFAULT_SOURCE,
    KINDS,
    MAX_STAGE_HOURS,
    NORMAL,
    PAIRED,
    PART_STATES,
    PROBLEM,
    RATINGS,
    RESOURCE_MATCH,
    SIMILAR_WINDOW_DAYS,
    SIMILARITY_THRESHOLD,
    SOURCES,
    STAGES,
    STATES,
    URGENCIES,
)
from linli.services.tickets.open311 import MAX_REQUESTS, STATUSES
from linli.services.tickets.rates import GROUPINGS
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, FlatRows, Text

_PHONE_MASKED = "masked (138****5678) unless the caller holds tickets:pii"
_NAME_MASKED = "masked to the family name (王**) unless the caller holds tickets:pii"
_TEXT_MASKED = "any phone number in it masked (138****5678) unless the caller holds tickets:pii"
MAX_ATTACHMENTS = 20


class PartSchema(ma.Schema):
    unit_id = ma.fields.UUID(metadata={"description": "the organization (unit) registry knows"})
    lead = ma.fields.Boolean(metadata={"description": "the lead unit: the ticket is resolved when it resolves"})
    state = ma.fields.String(validate=ma.validate.OneOf(PART_STATES))
    due_at = ma.fields.AwareDateTime(allow_none=True)
    overdue = ma.fields.Boolean(metadata={"description": "the unit's deadline passed with its part still open"})


class ParticipantSchema(ma.Schema):
    member_id = ma.fields.UUID(required=True, metadata={"description": "registry's party member"})
    hours = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, min_inclusive=False, max=1000),
                            metadata={"description": "hours the member gave, more than 0"})


class TicketSchema(EntitySchema):
    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # A ticket shown is an object (the row, or a stand-in masking its phone), never a mapping. marshmallow's
        # own lookup first asks it for `__getitem__`, which a stand-in answers by delegating and raising, for
        # every field: a tenth of a submission's Python calls.
        return getattr(obj, attr, default)

    compound_id = ma.fields.UUID()
    building_id = ma.fields.UUID(allow_none=True)
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    urgency = ma.fields.String(validate=ma.validate.OneOf(URGENCIES))
    source = ma.fields.String(validate=ma.validate.OneOf(SOURCES))
    title = ma.fields.String(metadata={"description": _TEXT_MASKED})
    description = ma.fields.String(metadata={"description": _TEXT_MASKED})
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))
    address = ma.fields.String(allow_none=True, metadata={"description": _TEXT_MASKED})
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    attachments = ma.fields.List(ma.fields.String())
    reporter_name = ma.fields.String(metadata={"description": _NAME_MASKED})
    reporter_phone = ma.fields.String(metadata={"description": _PHONE_MASKED})
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    due_at = ma.fields.AwareDateTime(metadata={
        "description": "the current stage's deadline (for dispatched work, the lead unit's), by the category's "
                       "deadlines in the ticket's district"})
    overdue = ma.fields.Boolean(metadata={"description": "the current stage's deadline (or a unit's) passed"})
    stage = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(STAGES), metadata={
        "description": "accept, dispatch or resolve: the stage the ticket is in; null once resolved or closed"})
    accept_due_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "the accept stage's deadline"})
    dispatch_due_at = ma.fields.AwareDateTime(allow_none=True, metadata={
        "description": "the dispatch stage's deadline, once the ticket was accepted"})
    resolve_due_at = ma.fields.AwareDateTime(allow_none=True, metadata={
        "description": "the resolve stage's deadline (the lead unit's, for dispatched work), as last set"})
    parts = ma.fields.List(ma.fields.Nested(PartSchema), metadata={
        "description": "the units it was dispatched to, in order; re-routed or unfinished ones withdrawn"})
    member_id = ma.fields.UUID(allow_none=True, metadata={"description": "the party member who claimed a wish"})
    participants = ma.fields.List(ma.fields.Nested(ParticipantSchema), metadata={
        "description": "members who took part, credited with their hours when the ticket closes"})
    master_id = ma.fields.UUID(allow_none=True, metadata={"description": "the ticket this one duplicates"})
    close_reason = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(CLOSE_REASONS))
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    rating = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(RATINGS))
    rating_comment = ma.fields.String(allow_none=True, metadata={"description": _TEXT_MASKED})


class TicketCreate(ma.Schema):
    compound_id = ma.fields.UUID(required=True)
    building_id = ma.fields.UUID(load_default=None, allow_none=True)
    kind = ma.fields.String(load_default=PROBLEM, validate=ma.validate.OneOf(KINDS), metadata={
        "description": "problem (诉求), or wish (微心愿: a small wish a party member may claim)"})
    urgency = ma.fields.String(load_default=NORMAL, validate=ma.validate.OneOf(URGENCIES), metadata={
        "description": "urgent tickets may be dispatched at once (急事急办)"})
    source = ma.fields.String(load_default=DEFAULT_SOURCE, validate=ma.validate.OneOf(SOURCES))
    title = Text(required=True, max_length=200)
    description = Text(required=True, max_length=4000)
    category = ma.fields.String(load_default=DEFAULT_CATEGORY, validate=ma.validate.OneOf(CATEGORIES))
    address = Text(load_default=None, allow_none=True, max_length=300)
    lat = ma.fields.Float(load_default=None, allow_none=True, validate=ma.validate.Range(min=-90, max=90))
    lon = ma.fields.Float(load_default=None, allow_none=True, validate=ma.validate.Range(min=-180, max=180))
    attachments = ma.fields.List(
        ma.fields.Url(schemes={"http", "https"}, validate=ma.validate.Length(max=2000)), load_default=list,
        validate=ma.validate.Length(max=MAX_ATTACHMENTS), metadata={"description": "URLs of photos or files"})
    reporter_name = Text(required=True, max_length=100)
    reporter_phone = ma.fields.String(required=True, validate=[
        ma.validate.Length(min=6, max=20),
        ma.validate.Regexp(r"^\+?[0-9]+$", error="digits only, optionally after a leading +"),
    ])

    @ma.validates_schema
    def _both_coordinates(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ma.ValidationError("give both lat and lon, or neither", "lat" if data.get("lat") is None
                                     else "lon")


class DayOrTime(ma.fields.String):
    """A day (`2026-01-01`: its midnight in the suite's time zone, Asia/Shanghai) or a time with its offset."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date | datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise ma.ValidationError("a day (2026-01-01) or a time with its offset (2026-01-01T08:00:00+08:00)")
        if len(value) == 10:
            try:
                return date.fromisoformat(value)
            except ValueError as exc:
                raise ma.ValidationError("not a day (2026-01-01)") from exc
        return ma.fields.AwareDateTime(format="iso")._deserialize(value, attr, data, **kwargs)


class TicketQuery(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    compound_id = ma.fields.UUID()
    overdue = ma.fields.Boolean()
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    urgency = ma.fields.String(validate=ma.validate.OneOf(URGENCIES))
    master_id = ma.fields.UUID(metadata={"description": "the duplicates merged into this ticket"})
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))
    starts = DayOrTime(data_key="from", metadata={
        "description": "submitted from this day (its midnight, Asia/Shanghai) or time on"})
    ends = DayOrTime(data_key="to", metadata={"description": "submitted before this day or time"})


class CompoundSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    district_id = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    community_id = ma.fields.UUID(dump_only=True, allow_none=True)
    kind = ma.fields.String(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True, metadata={"description": "registry's version of the area"})


class CompoundQuery(PageArgs):
    community_id = ma.fields.UUID()


TicketPage = page_schema(TicketSchema)
CompoundPage = page_schema(CompoundSchema)


# --- The lifecycle's verbs ---------------------------------------------------------------------------------------

MAX_UNITS = 50  # the seeds' largest joint effort sends 11 units
MAX_PARTICIPANTS = 500  # and 100 members


def _note() -> Text:
    return Text(load_default=None, allow_none=True, max_length=1000, metadata={
        "description": "kept with the move in the ticket's history"})


class MoveBody(ma.Schema):
    note = _note()


class RejectBody(ma.Schema):
    reason = Text(required=True, max_length=500, metadata={"description": "why the ticket is turned down"})
    note = _note()


class StartBody(ma.Schema):
    unit_id = ma.fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "the dispatched unit that starts on its part; none when the compound handles it itself"})
    note = _note()


class AssignmentSchema(ma.Schema):
    unit_id = ma.fields.UUID(required=True, metadata={"description": "an organization of the ticket's district"})
    lead = ma.fields.Boolean(load_default=False)
    due_at = ma.fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "by default the category's resolve deadline from now (its urgent one for an urgent ticket)"})


def _units() -> ma.fields.List:
    return ma.fields.List(ma.fields.Nested(AssignmentSchema), required=True,
                          validate=ma.validate.Length(min=1, max=MAX_UNITS),
                          metadata={"description": "the units, exactly one of them the lead (unless it has one)"})


class DispatchBody(ma.Schema):
    units = _units()
    note = _note()


class ClaimBody(ma.Schema):
    unit_id = ma.fields.UUID(load_default=None, allow_none=True, metadata={"description": "a unit claiming a problem"})
    member_id = ma.fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "registry's party member claiming a wish"})
    note = _note()


class ResolveBody(ma.Schema):
    unit_id = ma.fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "the unit resolving its part; none when the compound or a wish's member resolves it"})
    participants = ma.fields.List(ma.fields.Nested(ParticipantSchema), load_default=list,
                                  validate=ma.validate.Length(max=MAX_PARTICIPANTS), metadata={
                                      "description": "members who took part and their hours (added up if named "
                                                     "again later); a wish's claimer must be among them"})
    note = _note()


class RerouteBody(ma.Schema):
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(CATEGORIES))
    units = _units()
    note = _note()


class ReviewBody(ma.Schema):
    passed = ma.fields.Boolean(required=True)
    note = _note()


class RateBody(ma.Schema):
    rating = ma.fields.String(required=True, validate=ma.validate.OneOf(RATINGS))
    comment = Text(load_default=None, allow_none=True, max_length=1000)


class CloseBody(ma.Schema):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(CLOSE_REASONS),
                              metadata={"description": "none for a reviewed ticket closed as fixed"})
    note = _note()


class MergeBody(ma.Schema):
    master_id = ma.fields.UUID(required=True, metadata={"description": "an open ticket of the same compound"})
    note = _note()


class MoveSchema(ma.Schema):
    verb = ma.fields.String(dump_only=True)
    from_state = ma.fields.String(dump_only=True)
    to_state = ma.fields.String(dump_only=True)
    actor = ma.fields.String(dump_only=True, metadata={"description": "the client that moved it (its token's sub)"})
    at = ma.fields.AwareDateTime(dump_only=True)
    reason = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "why (a rejection or closing reason), or the outcome (passed/failed, the rating); "
                       + _TEXT_MASKED})
    note = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": _TEXT_MASKED})
    unit_id = ma.fields.UUID(dump_only=True, allow_none=True)
    member_id = ma.fields.UUID(dump_only=True, allow_none=True)


class CommentSchema(EntitySchema):
    ticket_id = ma.fields.UUID(dump_only=True)
    author = ma.fields.String(dump_only=True, metadata={"description": "the client that wrote it (its token's sub)"})
    text = ma.fields.String(dump_only=True, metadata={"description": _TEXT_MASKED})


class CommentCreate(ma.Schema):
    text = Text(required=True, max_length=4000)


MovePage = page_schema(MoveSchema)
CommentPage = page_schema(CommentSchema)


# --- Dispatch suggestions and possible duplicates -------------------------------------------------------------------

class ReasonSchema(ma.Schema):
    code = ma.fields.String(dump_only=True, validate=ma.validate.OneOf([PAIRED, RESOURCE_MATCH, COMMITTEE_UNIT]),
                            metadata={"description": "paired (with the ticket's compound), resource_match (its "
                                                     "resources serve the category) or committee_unit"})
    zh = ma.fields.String(dump_only=True, metadata={"description": "the reason in Chinese, to show"})
    en = ma.fields.String(dump_only=True)
    categories = ma.fields.List(ma.fields.String(), dump_only=True, metadata={
        "description": "registry's resource categories that matched (for resource_match; else empty)"})


class SuggestionSchema(ma.Schema):
    organization_id = ma.fields.UUID(dump_only=True, metadata={"description": "the unit, as `unit_id` to dispatch"})
    name = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": "registry's organization kind"})
    rank = ma.fields.Integer(dump_only=True, metadata={"description": "1 for the unit to ask first"})
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema), dump_only=True)


class SimilarQuery(ma.Schema):
    days = ma.fields.Integer(load_default=SIMILAR_WINDOW_DAYS, validate=ma.validate.Range(min=1, max=365), metadata={
        "description": "look at tickets submitted within this many days before or after this one"})
    min_score = ma.fields.Float(load_default=SIMILARITY_THRESHOLD,
                                validate=ma.validate.Range(min=0, min_inclusive=False, max=1),
                                metadata={"description": "least similarity of the texts, 0 to 1"})
    limit = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=50))


class SimilarTicketSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True, attribute="ticket.id")
    title = ma.fields.String(dump_only=True, attribute="ticket.title", metadata={"description": _TEXT_MASKED})
    state = ma.fields.String(dump_only=True, attribute="ticket.state")
    created_at = ma.fields.AwareDateTime(dump_only=True, attribute="ticket.created_at")
    master_id = ma.fields.UUID(dump_only=True, allow_none=True, attribute="ticket.master_id", metadata={
        "description": "set when it is itself a duplicate: merge into its master instead"})
    score = ma.fields.Float(dump_only=True, metadata={
        "description": "Jaccard similarity of the character pairs of title and description, 0 to 1"})


class SimilarRefSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True, attribute="ticket.id")
    score = ma.fields.Float(dump_only=True)


class TicketSubmittedSchema(TicketSchema):
    similar = ma.fields.List(ma.fields.Nested(SimilarRefSchema), dump_only=True, metadata={
        "description": "up to 3 recent tickets of the same compound and category this one may duplicate, open "
                       "ones first (see GET /v1/tickets/{id}/similar)"})


SuggestionPage = page_schema(SuggestionSchema)
SimilarPage = page_schema(SimilarTicketSchema)
# --- Categories and their deadlines ------------------------------------------------------------------------------

def _hours(stage: str, *, required: bool) -> ma.fields.Float:
    # Loaded under the stage's name, as the domain's StageHours has it.
    return ma.fields.Float(required=required, data_key=f"{stage}_hours",
                           validate=ma.validate.Range(min=0, min_inclusive=False, max=MAX_STAGE_HOURS),
                           metadata={"description": f"hours the {stage} stage may take"})


class StageHoursSchema(ma.Schema):
    """Hours each stage may take, each counted from the stage's start."""

    accept = _hours("accept", required=True)
    dispatch = _hours("dispatch", required=True)
    resolve = _hours("resolve", required=True)


class StageHoursEdit(ma.Schema):
    accept = _hours("accept", required=False)
    dispatch = _hours("dispatch", required=False)
    resolve = _hours("resolve", required=False)


_REMIND = "the reminder (`tickets.ticket.due_soon`) comes when this share of a stage's time is left; 0 for none"


class CategorySchema(ma.Schema):
    code = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(CATEGORIES))
    name_zh = ma.fields.String(dump_only=True)
    name_en = ma.fields.String(dump_only=True)
    district_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "whose deadlines these are; null for the suite's defaults"})
    overridden = ma.fields.Boolean(dump_only=True, metadata={
        "description": "the district set its own deadlines for this category"})
    normal = ma.fields.Nested(StageHoursSchema, dump_only=True, attribute="deadlines.normal")
    urgent = ma.fields.Nested(StageHoursSchema, dump_only=True, attribute="deadlines.urgent", metadata={
        "description": "an urgent ticket's deadlines (急事急办), never longer than a normal one's"})
    remind_before_percent = ma.fields.Integer(dump_only=True, attribute="deadlines.remind_before_percent",
                                              metadata={"description": _REMIND})
    version = ma.fields.Integer(dump_only=True, metadata={"description": "0 while the suite's defaults hold"})
    created_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)


class CategoryQuery(ma.Schema):
    district_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "the district whose deadlines to read or set: operators name it, others default to theirs"})


class CategoryPut(ma.Schema):
    normal = ma.fields.Nested(StageHoursSchema, required=True)
    urgent = ma.fields.Nested(StageHoursSchema, required=True)
    remind_before_percent = ma.fields.Integer(load_default=DEFAULT_REMIND_PERCENT, validate=ma.validate.Range(
        min=0, max=99), metadata={"description": _REMIND})


class CategoryPatch(ma.Schema):
    normal = ma.fields.Nested(StageHoursEdit)
    urgent = ma.fields.Nested(StageHoursEdit)
    remind_before_percent = ma.fields.Integer(validate=ma.validate.Range(min=0, max=99),
                                              metadata={"description": _REMIND})


CategoryPage = page_schema(CategorySchema)
# --- Open311 GeoReport v2: api_keys over the JWT API --------------------------------------------------------------

KEY_STATES = ("active", "revoked")


class Open311KeySchema(EntitySchema):
    client_name = ma.fields.String(dump_only=True, metadata={"description": "who holds the key (a hotline, an app)"})
    key_prefix = ma.fields.String(dump_only=True, metadata={
        "description": "the key's first characters, to tell keys apart; the key itself is shown once only"})
    state = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(KEY_STATES))
    created_by = ma.fields.String(dump_only=True, metadata={"description": "the operator who made it (token's sub)"})
    revoked_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_by = ma.fields.String(dump_only=True, allow_none=True)
    revoked_reason = ma.fields.String(dump_only=True, allow_none=True)


class Open311KeyCreated(Open311KeySchema):
    api_key = ma.fields.String(dump_only=True, metadata={
        "description": "the key to give the client, shown in this answer only: only its hash is kept"})


class Open311KeyCreate(ma.Schema):
    client_name = Text(required=True, max_length=100, metadata={"description": "who will hold the key"})
    district_id = Text(load_default=None, allow_none=True, max_length=64, metadata={
        "description": "the district its requests go to; by default the caller's (required of operators)"})


class Open311KeyQuery(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(KEY_STATES))


class Open311KeyRevoke(ma.Schema):
    reason = Text(load_default=None, allow_none=True, max_length=500)


Open311KeyPage = page_schema(Open311KeySchema)


# --- Open311 GeoReport v2: the standard's documents (http://wiki.open311.org/GeoReport_v2) --------------------------
#
# Shapes of the JSON answers, for the OpenAPI; the XML answers hold the same fields as elements.

_W3C = "ISO 8601 with the offset, in the districts' local time (e.g. 2026-03-01T09:30:00+08:00)"


class Open311EndpointSchema(ma.Schema):
    specification = ma.fields.String()
    url = ma.fields.String()
    changeset = ma.fields.String()
    type = ma.fields.String()
    formats = ma.fields.List(ma.fields.String())


class Open311DiscoverySchema(ma.Schema):
    changeset = ma.fields.String()
    contact = ma.fields.String()
    key_service = ma.fields.String()
    endpoints = ma.fields.List(ma.fields.Nested(Open311EndpointSchema))


class Open311ServiceSchema(ma.Schema):
    service_code = ma.fields.String(metadata={"description": "a ticket category"})
    service_name = ma.fields.String()
    description = ma.fields.String()
    metadata = ma.fields.Boolean(metadata={"description": "true: GET services/{service_code} lists attributes"})
    type = ma.fields.String()
    keywords = ma.fields.String(metadata={"description": "comma-separated"})
    group = ma.fields.String()


class Open311ValueSchema(ma.Schema):
    key = ma.fields.String()
    name = ma.fields.String()


class Open311AttributeSchema(ma.Schema):
    variable = ma.fields.Boolean()
    code = ma.fields.String()
    datatype = ma.fields.String()
    required = ma.fields.Boolean()
    datatype_description = ma.fields.String(allow_none=True)
    order = ma.fields.Integer()
    description = ma.fields.String()
    values = ma.fields.List(ma.fields.Nested(Open311ValueSchema))


class Open311ServiceDefinitionSchema(ma.Schema):
    service_code = ma.fields.String()
    attributes = ma.fields.List(ma.fields.Nested(Open311AttributeSchema))


class Open311RequestSchema(ma.Schema):
    """A ticket as the public sees it: nothing of the reporter's name, phone or email."""

    service_request_id = ma.fields.String(metadata={"description": "the ticket's id"})
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    status_notes = ma.fields.String(metadata={"description": "the last move's note, else the state in Chinese"})
    service_name = ma.fields.String()
    service_code = ma.fields.String()
    description = ma.fields.String()
    agency_responsible = ma.fields.String(allow_none=True, metadata={"description": "the lead unit, once dispatched"})
    service_notice = ma.fields.String(allow_none=True)
    requested_datetime = ma.fields.String(metadata={"description": _W3C})
    updated_datetime = ma.fields.String(metadata={"description": _W3C})
    expected_datetime = ma.fields.String(metadata={"description": f"the ticket's deadline; {_W3C}"})
    address = ma.fields.String(allow_none=True)
    address_id = ma.fields.String(metadata={"description": "the compound's id"})
    zipcode = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    long = ma.fields.Float(allow_none=True)
    media_url = ma.fields.String(allow_none=True)


class Open311PostedSchema(ma.Schema):
    service_request_id = ma.fields.String()
    service_notice = ma.fields.String(allow_none=True)
    account_id = ma.fields.String(allow_none=True)


class Open311TokenSchema(ma.Schema):
    service_request_id = ma.fields.String()
    token = ma.fields.String()


# Anchored: marshmallow's Regexp only anchors the start, and an OpenAPI pattern neither end.
_LIST = r"^[^,]+(,[^,]+)*$"
_STATUSES = "^({0})(,({0}))*$".format("|".join(STATUSES))


class Open311RequestQuery(ma.Schema):
    jurisdiction_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "the district; required when the endpoint serves several"})
    service_request_id = ma.fields.String(validate=[ma.validate.Length(max=8000), ma.validate.Regexp(_LIST)],
                                          metadata={"description": "ids, comma-separated; overrides the other "
                                                                   "filters"})
    service_code = ma.fields.String(validate=[ma.validate.Length(max=400), ma.validate.Regexp(_LIST)],
                                    metadata={"description": "codes, comma-separated"})
    start_date = ma.fields.String(validate=ma.validate.Length(max=40), metadata={
        "description": "W3C date-time (2010-01-01T00:00:00Z); by default 90 days before end_date"})
    end_date = ma.fields.String(validate=ma.validate.Length(max=40), metadata={
        "description": "W3C date-time; by default now, or 90 days after start_date; at most 90 days after it"})
    status = ma.fields.String(validate=ma.validate.Regexp(_STATUSES), metadata={
        "description": "open, closed or both, comma-separated"})
    page_size = ma.fields.Integer(load_default=MAX_REQUESTS, validate=ma.validate.Range(min=1, max=MAX_REQUESTS),
                                  metadata={"description": "at most this many requests, newest first (the "
                                                           f"standard's limit, {MAX_REQUESTS}, by default)"})


class Open311JurisdictionQuery(ma.Schema):
    jurisdiction_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "the district; required when the endpoint serves several"})


class Open311RequestForm(ma.Schema):
    """POST requests' fields besides `attribute[code]` ones, form-encoded as the standard has them."""

    class Meta:
        unknown = ma.EXCLUDE  # the standard's clients send fields it has no use for (device_id...)

    # Loaded as optional (`partial`): the use case answers a missing key the standard's 403, like a wrong one.
    api_key = ma.fields.String(required=True, validate=ma.validate.Length(max=200), metadata={
        "description": "the key an operator made for the client (POST /v1/open311/keys)"})
    jurisdiction_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "the district; must be the api_key's when given"})
    service_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    lat = ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=-90, max=90))
    long = ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=-180, max=180))
    address_string = Text(max_length=300, metadata={"description": "an address naming the compound (星光小区3栋)"})
    address_id = ma.fields.UUID(metadata={"description": "the compound's id"})
    email = ma.fields.String(validate=ma.validate.Length(max=254), metadata={"description": "not kept"})
    device_id = ma.fields.String(validate=ma.validate.Length(max=200), metadata={"description": "not kept"})
    account_id = ma.fields.String(validate=ma.validate.Length(max=200), metadata={"description": "echoed back"})
    first_name = ma.fields.String(validate=ma.validate.Length(max=49))
    last_name = ma.fields.String(validate=ma.validate.Length(max=49))
    phone = ma.fields.String(validate=ma.validate.Length(max=30), metadata={
        "description": "required here: the compound calls the reporter back"})
    description = Text(max_length=4000)
    media_url = ma.fields.Url(schemes={"http", "https"}, validate=ma.validate.Length(max=2000))
    urgency = ma.fields.String(data_key="attribute[urgency]", validate=ma.validate.OneOf(URGENCIES), metadata={
        "description": "normal, or urgent (急事急办)"})
    kind = ma.fields.String(data_key="attribute[kind]", validate=ma.validate.OneOf(KINDS), metadata={
        "description": "problem, or wish (微心愿)"})
    building_id = ma.fields.UUID(data_key="attribute[building_id]", metadata={"description": "the building's id"})

    @ma.validates_schema
    def _both_coordinates(self, data: dict[str, Any], **_: Any) -> None:
        if ("lat" in data) != ("long" in data):
            raise ma.ValidationError("give both lat and long, or neither", "long" if "lat" in data else "lat")


# --- The rates (GET /v1/stats) -------------------------------------------------------------------------------------

class StatsQuery(ma.Schema):
    by = ma.fields.String(load_default="district", validate=ma.validate.OneOf(GROUPINGS), metadata={
        "description": "what a row of the answer is: a district, street, community, compound or the unit leading "
                       "the work (tickets no unit took on are left out)"})
    starts = DayOrTime(data_key="from", metadata={
        "description": "tickets submitted from this day (its midnight, Asia/Shanghai) or time on; default: 30 days "
                       "before `to`"})
    ends = DayOrTime(data_key="to", metadata={
        "description": "... until this day (excluded) or time; default: now"})
    district_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "one district (an operator may name any; a district's client sees only its own)"})
    street_id = ma.fields.UUID(metadata={"description": "one street: its communities' compounds"})
    community_id = ma.fields.UUID(metadata={"description": "one community: its compounds"})
    compound_id = ma.fields.UUID()
    unit_id = ma.fields.UUID(metadata={"description": "the tickets this unit leads"})
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    urgency = ma.fields.String(validate=ma.validate.OneOf(URGENCIES))


_RATE = "null when its denominator is 0"


class StatsRowSchema(ma.Schema):
    id = ma.fields.String(allow_none=True, metadata={
        "description": "the group: a district's id, or the street's, community's, compound's or unit's UUID; null "
                       "for tickets whose compound (or its community) registry has not told of"})
    name = ma.fields.String(allow_none=True, metadata={"description": "as registry's events named it"})
    submitted = ma.fields.Integer(metadata={"description": "tickets submitted in the period"})
    duplicates = ma.fields.Integer(metadata={"description": "of them merged into another; counted in no rate"})
    rejected = ma.fields.Integer()
    open = ma.fields.Integer(metadata={"description": "taken on, neither resolved nor closed"})
    response_due = ma.fields.Integer(metadata={
        "description": "answered (accepted, rejected, dispatched or closed) or past the accept deadline"})
    responded_in_time = ma.fields.Integer(metadata={"description": "answered by the accept deadline"})
    response_rate = ma.fields.Float(allow_none=True, metadata={
        "description": f"responded_in_time ÷ response_due; {_RATE}"})
    taken_on = ma.fields.Integer(metadata={"description": "submitted, not rejected, not duplicates"})
    resolved = ma.fields.Integer(metadata={"description": "taken on and resolved, the fix not sent back since"})
    resolution_rate = ma.fields.Float(allow_none=True, metadata={"description": f"resolved ÷ taken_on; {_RATE}"})
    ratings = ma.fields.Integer(metadata={"description": "every rating given, dissatisfied ones included"})
    satisfied = ma.fields.Integer(metadata={"description": "satisfied or basically_satisfied ratings"})
    satisfaction_rate = ma.fields.Float(allow_none=True, metadata={"description": f"satisfied ÷ ratings; {_RATE}"})
    finished = ma.fields.Integer(metadata={"description": "taken on and resolved, or closed without a fix"})
    finished_on_time = ma.fields.Integer(metadata={
        "description": "finished by the deadline of the stage it finished in, no deadline missed before"})
    open_overdue = ma.fields.Integer(metadata={"description": "open with a deadline missed"})
    on_time_rate = ma.fields.Float(allow_none=True, metadata={
        "description": f"finished_on_time ÷ (finished + open_overdue); {_RATE}"})
    median_hours_to_resolve = ma.fields.Float(allow_none=True, metadata={
        "description": "from submission to the fix, over the resolved tickets; null when none"})


class StatsSchema(ma.Schema):
    by = ma.fields.String()
    starts_at = ma.fields.AwareDateTime(data_key="from")
    ends_at = ma.fields.AwareDateTime(data_key="to")
    as_of = ma.fields.AwareDateTime(metadata={"description": "the instant open and overdue tickets are judged at"})
    items = FlatRows(StatsRowSchema)  # a district's 800 compounds: marshmallow's own dump cost ~35 ms
