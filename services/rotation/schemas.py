"""rotation's API shapes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import marshmallow as ma

from linli.services.rotation.domain import DEFAULT_ENDING_SOON_DAYS, DEFAULT_REPORT_DUE_DAYS, TERM_MONTHS
from linli.services.rotation.events import UnitOrder
from linli.services.rotation.schedule import ORDER_POLICIES, REASONS
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text

TERM_STATES = ("planned", "started", "ended", "cancelled")
OVERRIDE_KINDS = ("substitute", "unavailable")
OVERRIDE_STATES = ("active", "cancelled")
SWAP_STATES = ("requested", "accepted", "declined", "expired")

# A rotation is planned for real committees: far-off years only overflow the calendar arithmetic.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)
_DAYS = ma.validate.Range(min=FIRST_DAY, max=LAST_DAY)


def _moment(value: datetime) -> None:
    try:
        day = value.astimezone(UTC).date()
    except (OverflowError, ValueError) as exc:
        raise ma.ValidationError("out of range") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ma.ValidationError(f"must be between {FIRST_DAY.year} and {LAST_DAY.year}")


def _moment_field(**kwargs: Any) -> ma.fields.AwareDateTime:
    return ma.fields.AwareDateTime(validate=_moment, **kwargs)


# --- Terms --------------------------------------------------------------------------------------------------

class TermSchema(EntitySchema):
    rotation_id = ma.fields.UUID()
    index = ma.fields.Integer(metadata={"description": "0-based term of the rotation's calendar"})
    part = ma.fields.Integer(metadata={"description": "0; 1, 2, ... for chairs that took over after a handover"})
    organization_id = ma.fields.UUID(allow_none=True, metadata={"description": "the chair; null: no chair (a gap)"})
    organization_name = ma.fields.String(allow_none=True)
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime(metadata={"description": "exclusive: the next term's start"})
    starts_on = ma.fields.Date(metadata={"description": "first local day, in the rotation's time zone"})
    ends_on = ma.fields.Date(metadata={"description": "last local day"})
    state = ma.fields.String(metadata={
        "description": "planned, started, ended or cancelled (a later plan replaced it)"})
    uid = ma.fields.String(metadata={"description": "stable calendar UID of this unit's term"})
    reason = ma.fields.String(metadata={"description": "why this chair: " + ", ".join(REASONS)})
    source_id = ma.fields.UUID(allow_none=True, metadata={"description": "the override or swap that set it"})
    note = ma.fields.String(allow_none=True)


class TermQuery(PageArgs):
    organization_id = ma.fields.UUID(metadata={"description": "terms this unit chairs"})
    rotation_id = ma.fields.UUID()
    from_ = _moment_field(data_key="from", metadata={"description": "terms still running at or after; default now"})
    state = ma.fields.String(validate=ma.validate.OneOf(TERM_STATES), metadata={
        "description": "default: all but cancelled"})


class ScheduleQuery(PageArgs):
    from_ = _moment_field(data_key="from", metadata={"description": "terms running at or after; default: all"})
    to = _moment_field(metadata={"description": "terms starting before; default: the end of the plan"})


class ChairQuery(ma.Schema):
    at = _moment_field(metadata={"description": "the instant; default now"})


class ChairSchema(ma.Schema):
    at = ma.fields.AwareDateTime()
    term = ma.fields.Nested(TermSchema, allow_none=True, metadata={
        "description": "the term running then (its organization_id null in a gap); null outside the plan"})


# --- Rotations ----------------------------------------------------------------------------------------------

class CurrentTermSchema(ma.Schema):
    index = ma.fields.Integer(metadata={"description": "0-based"})
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    organization_id = ma.fields.UUID(allow_none=True)
    organization_name = ma.fields.String(allow_none=True)


class RotationSchema(EntitySchema):
    committee_id = ma.fields.UUID()
    term_months = ma.fields.Integer()
    starts_on = ma.fields.Date(metadata={"description": "local date in time_zone; term 0 starts at its midnight"})
    time_zone = ma.fields.String(metadata={"description": "IANA time zone the terms are counted in"})
    state = ma.fields.String()
    order_policy = ma.fields.String(metadata={"description": "join_order or explicit"})
    order = UnitOrder(attribute="unit_order", metadata={
        "description": "the explicit order of organization ids (units not named follow in join order)"})
    planned_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "when the plan last changed"})
    ending_soon_days = ma.fields.Integer(metadata={"description": "term.ending_soon this many days before a term ends"})
    report_due_days = ma.fields.Integer(metadata={"description": "a term report is due this many days after its term"})


class RotationItemSchema(RotationSchema):
    current_term = ma.fields.Nested(CurrentTermSchema, allow_none=True,
                                    metadata={"description": "the term running now; null before the first"})


def _ending_soon_days(**kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=28), metadata={
        "description": "send term.ending_soon this many days before a term ends (1-28; default 7)"}, **kwargs)


def _report_due_days(**kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=90), metadata={
        "description": "a chair's term report is due this many days after its term ends (1-90; default 14)"},
        **kwargs)


class RotationCreate(ma.Schema):
    committee_id = ma.fields.UUID(required=True)
    term_months = ma.fields.Integer(required=True, strict=True, validate=ma.validate.OneOf(TERM_MONTHS))
    starts_on = ma.fields.Date(required=True, validate=_DAYS)
    time_zone = ma.fields.String(load_default=None, validate=[
        ma.validate.Length(min=1, max=64), ma.validate.Regexp(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$",
                                                              error="not an IANA time zone (e.g. Asia/Shanghai)")],
        metadata={"description": "IANA time zone; default the committee's"})
    order_policy = ma.fields.String(load_default="join_order", validate=ma.validate.OneOf(ORDER_POLICIES))
    order = ma.fields.List(ma.fields.UUID(), load_default=list, validate=ma.validate.Length(max=200), metadata={
        "description": "organization ids of current units, for the explicit policy"})
    ending_soon_days = _ending_soon_days(load_default=DEFAULT_ENDING_SOON_DAYS)
    report_due_days = _report_due_days(load_default=DEFAULT_REPORT_DUE_DAYS)


class RotationUpdate(ma.Schema):
    order_policy = ma.fields.String(validate=ma.validate.OneOf(ORDER_POLICIES))
    order = ma.fields.List(ma.fields.UUID(), validate=ma.validate.Length(max=200))
    ending_soon_days = _ending_soon_days()
    report_due_days = _report_due_days()
    reason = Text(load_default=None, max_length=500)


class RotationQuery(PageArgs):
    committee_id = ma.fields.UUID()


# --- Fairness and history -----------------------------------------------------------------------------------

class FairnessQuery(ma.Schema):
    from_ = _moment_field(data_key="from", metadata={"description": "default: the rotation's first term"})
    to = _moment_field(metadata={"description": "default: the end of the plan"})


class ShareSchema(ma.Schema):
    organization_id = ma.fields.UUID()
    organization_name = ma.fields.String(allow_none=True)
    served = ma.fields.Integer(metadata={"description": "terms begun by now"})
    scheduled = ma.fields.Integer(metadata={"description": "terms planned ahead"})
    compared = ma.fields.Boolean(metadata={"description": "a member all through the period, so in the balance"})


class FairnessSchema(ma.Schema):
    rotation_id = ma.fields.UUID()
    from_ = ma.fields.AwareDateTime(data_key="from")
    to = ma.fields.AwareDateTime()
    units = ma.fields.List(ma.fields.Nested(ShareSchema))
    balance = ma.fields.Float(metadata={
        "description": "mean over pairs of compared units of fewer ÷ more terms; 1.0 is perfectly even"})
    gaps = ma.fields.List(ma.fields.Nested(TermSchema), metadata={"description": "terms without a chair"})


class AuditSchema(ma.Schema):
    id = ma.fields.UUID()
    rotation_id = ma.fields.UUID()
    at = ma.fields.AwareDateTime()
    actor = ma.fields.String(metadata={"description": "the API client, or registry / clock"})
    action = ma.fields.String()
    why = ma.fields.String(allow_none=True)
    what = ma.fields.Function(lambda entry: json.loads(entry.what), metadata={"type": "object"})


# --- Overrides and swaps ------------------------------------------------------------------------------------

class OverrideSchema(EntitySchema):
    rotation_id = ma.fields.UUID()
    kind = ma.fields.String(metadata={"description": "substitute or unavailable"})
    state = ma.fields.String(metadata={"description": "active or cancelled"})
    organization_id = ma.fields.UUID()
    organization_name = ma.fields.String()
    term_id = ma.fields.UUID(allow_none=True, metadata={"description": "a substitute's term, as asked for"})
    term_index = ma.fields.Integer(allow_none=True)
    from_ = ma.fields.Date(attribute="from_on", data_key="from", allow_none=True)
    to = ma.fields.Date(attribute="to_on", allow_none=True, metadata={"description": "exclusive"})
    reason = ma.fields.String()
    created_by = ma.fields.String()
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)


class OverrideCreate(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf(OVERRIDE_KINDS), metadata={
        "description": "default: substitute when term_id is given, else unavailable"})
    term_id = ma.fields.UUID(metadata={"description": "substitute: the term"})
    organization_id = ma.fields.UUID(required=True, metadata={"description": "the substitute, or the unit away"})
    rotation_id = ma.fields.UUID(metadata={"description": "unavailable: needed only for a unit in several"})
    from_ = ma.fields.Date(data_key="from", validate=_DAYS, metadata={"description": "unavailable: first day"})
    to = ma.fields.Date(validate=_DAYS, metadata={"description": "unavailable: first day it can chair again"})
    reason = Text(required=True, max_length=500)

    @staticmethod
    def kind_of(data: dict[str, Any]) -> str:
        return str(data.get("kind") or ("substitute" if "term_id" in data else "unavailable"))

    @ma.post_load
    def _with_kind(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "kind": self.kind_of(data)}

    @ma.validates_schema
    def _kind_fits(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = self.kind_of(data)
        needed = ["term_id"] if kind == "substitute" else ["from_", "to"]
        missing = {("from" if name == "from_" else name): ["required for " + kind]
                   for name in needed if name not in data}
        if missing:
            raise ma.ValidationError(missing)
        stray = ["from_", "to"] if kind == "substitute" else ["term_id"]
        extra = {("from" if name == "from_" else name): ["not for " + kind] for name in stray if name in data}
        if extra:
            raise ma.ValidationError(extra)


class OverrideQuery(PageArgs):
    rotation_id = ma.fields.UUID()
    organization_id = ma.fields.UUID()
    kind = ma.fields.String(validate=ma.validate.OneOf(OVERRIDE_KINDS))
    state = ma.fields.String(validate=ma.validate.OneOf(OVERRIDE_STATES))


class Answer(ma.Schema):
    reason = Text(load_default=None, max_length=500)


class SwapSchema(EntitySchema):
    rotation_id = ma.fields.UUID()
    state = ma.fields.String(metadata={"description": "requested, accepted, declined or expired"})
    term_id = ma.fields.UUID()
    with_term_id = ma.fields.UUID()
    term_index = ma.fields.Integer()
    with_term_index = ma.fields.Integer()
    organization_id = ma.fields.UUID(metadata={"description": "the unit that asked (the first term's chair)"})
    organization_name = ma.fields.String()
    with_organization_id = ma.fields.UUID()
    with_organization_name = ma.fields.String()
    expires_at = ma.fields.AwareDateTime(metadata={"description": "when the earlier term begins"})
    reason = ma.fields.String()
    requested_by = ma.fields.String()
    answered_at = ma.fields.AwareDateTime(allow_none=True)
    answer_reason = ma.fields.String(allow_none=True)


class SwapCreate(ma.Schema):
    term_id = ma.fields.UUID(required=True, metadata={"description": "the asking unit's term"})
    with_term_id = ma.fields.UUID(required=True, metadata={"description": "the term it would take instead"})
    reason = Text(required=True, max_length=500)


class SwapQuery(PageArgs):
    rotation_id = ma.fields.UUID()
    organization_id = ma.fields.UUID(metadata={"description": "swaps asked by or of this unit"})
    state = ma.fields.String(validate=ma.validate.OneOf(SWAP_STATES))


# --- Term reports -------------------------------------------------------------------------------------------

REPORT_STATES = ("pending", "missing", "submitted", "late")


class HeldActivitySchema(ma.Schema):
    id = ma.fields.UUID()
    title = ma.fields.String()
    held_at = ma.fields.AwareDateTime()
    host_organization_id = ma.fields.UUID()
    host_organization_name = ma.fields.String()
    attendee_count = ma.fields.Integer()


class FigureCountsSchema(ma.Schema):
    tickets_listed = ma.fields.Integer(metadata={"description": "the community's tickets listed (挂单) in the term"})
    tickets_dispatched = ma.fields.Integer(metadata={"description": "tickets dispatched (派单) in the term"})
    tickets_closed = ma.fields.Integer(metadata={"description": "tickets closed in the term"})
    tickets_overdue = ma.fields.Integer(metadata={"description": "tickets that went overdue in the term"})
    activities_held = ma.fields.Integer(metadata={"description": "activities held in the community in the term"})
    activities_hosted_by_chair = ma.fields.Integer()
    attendees = ma.fields.Integer(metadata={"description": "attendees of those activities, summed"})
    activities = ma.fields.List(ma.fields.Nested(HeldActivitySchema))


class FiguresSchema(FigureCountsSchema):
    """A term's figures as they stand: the preview of what its report will carry."""

    term_id = ma.fields.UUID()
    community_id = ma.fields.UUID(allow_none=True, metadata={
        "description": "the committee's community; null if registry has not told rotation of the committee"})
    from_ = ma.fields.AwareDateTime(data_key="from", metadata={"description": "the term's start"})
    to = ma.fields.AwareDateTime(metadata={"description": "the term's end (exclusive)"})


class FiguresText(ma.fields.Nested):
    """The figures a report froze when it was submitted, kept as JSON text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(FigureCountsSchema, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value)
            value["activities"] = [{**a, "held_at": datetime.fromisoformat(a["held_at"])}
                                   for a in value.get("activities", [])]
        return super()._serialize(value, attr, obj, **kwargs)


class TermReportSchema(EntitySchema):
    rotation_id = ma.fields.UUID()
    term_id = ma.fields.UUID()
    committee_id = ma.fields.UUID()
    organization_id = ma.fields.UUID(metadata={"description": "the term's chair unit, who reports"})
    organization_name = ma.fields.String()
    state = ma.fields.String(metadata={
        "description": "pending (not yet due), missing (due and not given), submitted (on time) or late"})
    due_at = ma.fields.AwareDateTime()
    due_on = ma.fields.Date(metadata={"description": "local day it is due (at its start), in the rotation's zone"})
    text = ma.fields.String(allow_none=True)
    figures = FiguresText(allow_none=True, metadata={"description": "gathered when submitted; null until then"})
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    submitted_by = ma.fields.String(allow_none=True)


class TermReportCreate(ma.Schema):
    term_id = ma.fields.UUID(required=True, metadata={"description": "the ended term reported on"})
    organization_id = ma.fields.UUID(required=True, metadata={
        "description": "the unit reporting: must be the term's chair"})
    text = Text(required=True, max_length=20000, metadata={"description": "the report (任期述职)"})


class TermReportQuery(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(REPORT_STATES))
    rotation_id = ma.fields.UUID()
    organization_id = ma.fields.UUID()
    term_id = ma.fields.UUID()


# --- Committees (read model) --------------------------------------------------------------------------------

class CommitteeSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    district_id = ma.fields.String(dump_only=True)
    community_id = ma.fields.UUID()
    name = ma.fields.String()
    time_zone = ma.fields.String()
    version = ma.fields.Integer(dump_only=True)


RotationPage = page_schema(RotationSchema)
CommitteePage = page_schema(CommitteeSchema)
TermPage = page_schema(TermSchema)
OverridePage = page_schema(OverrideSchema)
SwapPage = page_schema(SwapSchema)
AuditPage = page_schema(AuditSchema)
TermReportPage = page_schema(TermReportSchema)


# --- Joint meetings -----------------------------------------------------------------------------------------

MEETING_STATES = ("scheduled", "held", "cancelled")
MEETING_KINDS = ("rule", "ad_hoc")


class LocalTimeField(ma.fields.Time):
    """A local wall time: HH:MM (seconds, if sent, must be 0; no offset, the committee's zone applies)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"description": "local wall time in the committee's zone, HH:MM", "example": "09:30",
                    **dict(kwargs.pop("metadata", None) or {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            raise ma.ValidationError("a local time, without an offset")
        if parsed.second or parsed.microsecond:
            raise ma.ValidationError("whole minutes (HH:MM)")
        return parsed

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")


_MINUTES = ma.validate.Range(min=1, max=24 * 60)


class MeetingRuleSchema(EntitySchema):
    committee_id = ma.fields.UUID()
    rrule = ma.fields.String(metadata={"description": "RFC 5545 RRULE value, e.g. FREQ=MONTHLY;INTERVAL=3"})
    starts_on = ma.fields.Date(metadata={"description": "local day the recurrence counts from (its DTSTART)"})
    local_time = LocalTimeField()
    duration_minutes = ma.fields.Integer()
    place = ma.fields.String(allow_none=True)
    time_zone = ma.fields.String()
    planned_until = ma.fields.AwareDateTime(allow_none=True, metadata={
        "description": "meetings are materialized up to here (a year ahead)"})
    updated_by = ma.fields.String()


class MeetingRuleSet(ma.Schema):
    rrule = Text(load_default="FREQ=MONTHLY;INTERVAL=3", max_length=500, metadata={
        "description": "RFC 5545 RRULE value (without DTSTART), at most one meeting a day; default quarterly. "
                       "E.g. FREQ=WEEKLY;INTERVAL=2, or FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=2TU (the second "
                       "Tuesday of each quarter's first month)"})
    starts_on = ma.fields.Date(required=True, validate=_DAYS, metadata={
        "description": "local day the recurrence counts from"})
    local_time = LocalTimeField(load_default=None, metadata={"description": "default 09:30"})
    duration_minutes = ma.fields.Integer(load_default=120, strict=True, validate=_MINUTES)
    place = Text(load_default=None, allow_none=True, max_length=200)
    reason = Text(load_default=None, max_length=500, metadata={
        "description": "why, told with the meetings it moves or cancels"})


class AgendaItemSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "ticket (listed, 挂单) or free"})
    ticket_id = ma.fields.UUID(allow_none=True)
    text = ma.fields.String()


class AttendanceSchema(ma.Schema):
    organization_id = ma.fields.UUID()
    organization_name = ma.fields.String()
    status = ma.fields.String(metadata={"description": "present, absent or excused"})


class DecisionSchema(ma.Schema):
    ticket_id = ma.fields.UUID()
    kind = ma.fields.String(metadata={"description": "list or dispatch"})
    unit_ids = ma.fields.List(ma.fields.UUID())
    note = ma.fields.String(allow_none=True)


class JSONText(ma.fields.Field):
    """A list kept as JSON text, shown as the list."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class MeetingSchema(EntitySchema):
    committee_id = ma.fields.UUID()
    community_id = ma.fields.UUID()
    kind = ma.fields.String(metadata={"description": "rule or ad_hoc"})
    rule_id = ma.fields.UUID(allow_none=True)
    rule_day = ma.fields.Date(allow_none=True, metadata={"description": "the rule's day this meeting is for"})
    title = ma.fields.String()
    state = ma.fields.String(metadata={"description": "scheduled, held or cancelled"})
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    local_date = ma.fields.Date(metadata={"description": "local day in time_zone"})
    local_time = LocalTimeField()
    duration_minutes = ma.fields.Integer()
    time_zone = ma.fields.String()
    place = ma.fields.String(allow_none=True)
    convenor_member_id = ma.fields.UUID(allow_none=True, metadata={"description": "the community party secretary"})
    convenor_name = ma.fields.String(allow_none=True)
    moved = ma.fields.Boolean()
    free_items = JSONText(metadata={"type": "array", "items": {"type": "string"}})
    attendance = JSONText(metadata={"type": "array", "items": {"type": "object"},
                                    "description": "once held: every unit of the committee that day"})
    minutes = ma.fields.String(allow_none=True)
    decisions = JSONText(metadata={"type": "array", "items": {"type": "object"}})
    held_at = ma.fields.AwareDateTime(allow_none=True)
    reason = ma.fields.String(allow_none=True, metadata={"description": "why it was last moved or cancelled"})
    uid = ma.fields.String(metadata={"description": "stable calendar UID"})


_FREE_ITEMS = ma.fields.List(Text(max_length=500), validate=ma.validate.Length(max=50), metadata={
    "description": "free agenda items, after the listed tickets"})


class MeetingCreate(ma.Schema):
    committee_id = ma.fields.UUID(required=True)
    date = ma.fields.Date(required=True, validate=_DAYS, metadata={"description": "local day"})
    time = LocalTimeField(required=True)
    duration_minutes = ma.fields.Integer(load_default=120, strict=True, validate=_MINUTES)
    place = Text(load_default=None, allow_none=True, max_length=200)
    title = Text(load_default=None, allow_none=True, max_length=200, metadata={
        "description": "default: <committee>联席会议"})
    free_items = ma.fields.List(Text(max_length=500), load_default=list, validate=ma.validate.Length(max=50))


class MeetingUpdate(ma.Schema):
    title = Text(max_length=200)
    free_items = _FREE_ITEMS


class MeetingMove(ma.Schema):
    date = ma.fields.Date(required=True, validate=_DAYS, metadata={"description": "local day"})
    time = LocalTimeField(required=True)
    duration_minutes = ma.fields.Integer(load_default=None, strict=True, validate=_MINUTES)
    place = Text(load_default=None, max_length=200)
    reason = Text(required=True, max_length=500)


class MeetingCancel(ma.Schema):
    reason = Text(required=True, max_length=500)


class AttendanceIn(ma.Schema):
    organization_id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(("present", "absent", "excused")))


class DecisionIn(ma.Schema):
    ticket_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(("list", "dispatch")))
    unit_ids = ma.fields.List(ma.fields.UUID(), load_default=list, validate=ma.validate.Length(max=100))
    note = Text(load_default=None, max_length=500)


class MeetingHold(ma.Schema):
    attendance = ma.fields.List(ma.fields.Nested(AttendanceIn), required=True, validate=ma.validate.Length(max=200),
                                metadata={"description": "units of the committee; one not named was absent"})
    minutes = Text(load_default=None, max_length=20000)
    decisions = ma.fields.List(ma.fields.Nested(DecisionIn), load_default=list,
                               validate=ma.validate.Length(max=200), metadata={
                                   "description": "tickets the meeting decided to list or dispatch: recorded only"})


class MeetingQuery(PageArgs):
    committee_id = ma.fields.UUID()
    community_id = ma.fields.UUID()
    state = ma.fields.String(validate=ma.validate.OneOf(MEETING_STATES))
    kind = ma.fields.String(validate=ma.validate.OneOf(MEETING_KINDS))
    from_ = _moment_field(data_key="from", metadata={"description": "meetings starting at or after"})
    to = _moment_field(metadata={"description": "meetings starting before"})


class AgendaSchema(ma.Schema):
    meeting_id = ma.fields.UUID()
    items = ma.fields.List(ma.fields.Nested(AgendaItemSchema), metadata={
        "description": "the community's listed tickets (as of now, or as held), then the free items"})


# --- Calendar feeds -----------------------------------------------------------------------------------------

class FeedSchema(EntitySchema):
    kind = ma.fields.String(metadata={"description": "committee or unit"})
    committee_id = ma.fields.UUID(allow_none=True)
    organization_id = ma.fields.UUID(allow_none=True)
    name = ma.fields.String()
    created_by = ma.fields.String()
    rotated_at = ma.fields.AwareDateTime(allow_none=True)


class IssuedFeedSchema(FeedSchema):
    token = ma.fields.String(metadata={"description": "the secret; told only now, stored hashed"})
    url = ma.fields.String(metadata={"description": "the feed's address, to subscribe to (webcal or https)"})


class FeedCreate(ma.Schema):
    committee_id = ma.fields.UUID(load_default=None, metadata={"description": "a committee's terms and meetings"})
    organization_id = ma.fields.UUID(load_default=None, metadata={
        "description": "a unit's terms and its committees' meetings"})
    name = Text(load_default=None, max_length=200)


class FeedRotate(ma.Schema):
    reason = Text(load_default=None, max_length=500)


class FeedQuery(PageArgs):
    committee_id = ma.fields.UUID()
    organization_id = ma.fields.UUID()


MeetingPage = page_schema(MeetingSchema)
FeedPage = page_schema(FeedSchema)
