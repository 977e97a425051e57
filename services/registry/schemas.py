"""registry's API shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from linli.services.registry.domain import (
    ACTIVITY_STATES,
    CHECK_IN_STATES,
    COMPOUND_KINDS,
    COVERAGE_LEVELS,
    FIRST_YEAR_BUILT,
    LAST_YEAR_BUILT,
    LEVELS,
    MANAGEMENT_MODES,
    MAX_LOGGED_HOURS,
    MEMBER_ROLES,
    MEMBER_STATUSES,
    MEMBERSHIPS,
    ORGANIZATION_KINDS,
    PAIRING_STATES,
    PLEDGE_STATUSES,
    RESOURCE_CATEGORIES,
    RESOURCE_KINDS,
    RESOURCE_STATES,
    SERVICE_RECORD_STATES,
    SERVICE_SOURCES,
    SIGN_UP_STATES,
)
from linli.services.registry.evaluation import FIRST_YEAR, LAST_YEAR, STANDINGS
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text
from linli.shared.zones import check_time_zone


def _time_zone(value: str) -> None:
    try:
        check_time_zone(value)
    except ValueError as exc:
        raise ma.ValidationError("not an IANA time zone") from exc


_COUNT = ma.validate.Range(min=0, max=1_000_000)


class AreaDetails(ma.Schema):
    """What a compound (management, size, age, its property company and owners' committee) or a
    building (units, floors) is like; null clears a detail."""

    management_mode = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(MANAGEMENT_MODES))
    households = ma.fields.Integer(allow_none=True, validate=_COUNT)
    residents = ma.fields.Integer(allow_none=True, validate=_COUNT)
    year_built = ma.fields.Integer(allow_none=True,
                                   validate=ma.validate.Range(min=FIRST_YEAR_BUILT, max=LAST_YEAR_BUILT))
    property_company_id = ma.fields.UUID(allow_none=True, metadata={"description": "an organization's id"})
    owners_committee_id = ma.fields.UUID(allow_none=True, metadata={"description": "an organization's id"})
    units = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=1000))
    floors = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=300))


class AreaSchema(EntitySchema, AreaDetails):
    parent_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))
    name = ma.fields.String()
    kind = ma.fields.String(allow_none=True)
    time_zone = ma.fields.String()


class AreaCreate(AreaDetails):
    level = ma.fields.String(required=True, validate=ma.validate.OneOf(LEVELS))
    name = Text(required=True, max_length=200)
    parent_id = ma.fields.UUID(load_default=None, allow_none=True)
    kind = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(COMPOUND_KINDS))
    time_zone = ma.fields.String(load_default="Asia/Shanghai", validate=_time_zone)


class AreaUpdate(AreaDetails):
    name = Text(max_length=200)
    kind = ma.fields.String(validate=ma.validate.OneOf(COMPOUND_KINDS))
    time_zone = ma.fields.String(validate=_time_zone)


class AreaQuery(PageArgs):
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))
    parent_id = ma.fields.UUID()


class CommitteeSchema(EntitySchema):
    community_id = ma.fields.UUID()
    name = ma.fields.String()
    time_zone = ma.fields.String()
    convenor_name = ma.fields.String(allow_none=True, metadata={"description": "the community party secretary"})
    convenor_member_id = ma.fields.UUID(allow_none=True)
    unit_count = ma.fields.Integer(metadata={"description": "current co-building units"})


class CommitteeCreate(ma.Schema):
    community_id = ma.fields.UUID(required=True)
    name = Text(required=True, max_length=200)
    convenor_name = Text(load_default=None, allow_none=True, max_length=100)
    convenor_member_id = ma.fields.UUID(load_default=None, allow_none=True)


AreaPage = page_schema(AreaSchema)
CommitteePage = page_schema(CommitteeSchema)


# --- Moving areas, paths, subtrees and grid coverage -------------------------------------------------


class AreaMove(ma.Schema):
    parent_id = ma.fields.UUID(required=True, metadata={"description": "the new parent, in the same district"})


class ChildrenQuery(PageArgs):
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))


class AreaPath(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AreaSchema), metadata={"description": "from the district down"})


class TreeQuery(ma.Schema):
    depth = ma.fields.Integer(load_default=len(LEVELS) - 1, validate=ma.validate.Range(min=1, max=len(LEVELS) - 1))
    max_nodes = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=5000))


class TreeNode(ma.Schema):
    id = ma.fields.UUID()
    parent_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String(allow_none=True)
    children = ma.fields.List(ma.fields.Nested(lambda: TreeNode()))


class AreaTree(ma.Schema):
    root = ma.fields.Nested(TreeNode)
    nodes = ma.fields.Integer(metadata={"description": "how many nodes the tree holds"})
    truncated = ma.fields.Boolean(metadata={"description": "true when depth or max_nodes left nodes out"})


class CoverageUpdate(ma.Schema):
    area_ids = ma.fields.List(ma.fields.UUID(), required=True, validate=ma.validate.Length(max=1000),
                              metadata={"description": "compounds and buildings of the grid's community"})


class CoverageSchema(ma.Schema):
    grid_id = ma.fields.UUID()
    area_ids = ma.fields.List(ma.fields.UUID())
    version = ma.fields.Integer(metadata={"description": "the grid's version, also sent as the ETag"})


# --- Bulk import ----------------------------------------------------------------------------------------


class ImportRow(AreaDetails):
    """One area of an import file; its parent is an id or a path below the caller's district."""

    level = ma.fields.String(required=True, validate=ma.validate.OneOf([lv for lv in LEVELS if lv != "district"]))
    name = Text(required=True, max_length=200)
    parent = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000), metadata={
        "description": "the parent's id, or its path below the district, e.g. 中山路街道/星光社区 "
                       "(empty: the district)"})
    kind = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(COMPOUND_KINDS))
    time_zone = ma.fields.String(validate=_time_zone, metadata={"description": "default: the parent's"})


class ImportQuery(ma.Schema):
    dry_run = ma.fields.Boolean(load_default=False, metadata={"description": "validate only, write nothing"})
    district_id = ma.fields.String(validate=ma.validate.Length(max=64), metadata={
        "description": "the district the paths are relative to; operators must name it, others default to theirs"})


class ImportedArea(ma.Schema):
    line = ma.fields.Integer()
    id = ma.fields.UUID(allow_none=True, metadata={"description": "null in a dry run"})
    level = ma.fields.String()
    name = ma.fields.String()
    path = ma.fields.String()


class ImportResult(ma.Schema):
    dry_run = ma.fields.Boolean()
    count = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(ImportedArea))


# --- Organizations -----------------------------------------------------------------------------------------

PHONE_MASKED = "masked (138****5678) unless the caller holds registry:pii"
EMAIL_MASKED = "masked (z***@example.org) unless the caller holds registry:pii"
BRANCH_AREA = "party branches only: the compound it serves, or the community for a community-level branch"


class Phone(ma.fields.String):
    """A phone number as typed: digits, optionally after a leading +."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(validate=[  # type: ignore[arg-type]
            ma.validate.Length(min=6, max=20),
            ma.validate.Regexp(r"^\+?[0-9]+$", error="digits only, optionally after a leading +"),
        ], **kwargs)


def _email(**kwargs: object) -> ma.fields.Email:
    """An e-mail address as SMTP takes it: one address, at most 254 characters."""
    return ma.fields.Email(validate=ma.validate.Length(max=254), **kwargs)  # type: ignore[arg-type]


class OrganizationSchema(EntitySchema):
    kind = ma.fields.String(validate=ma.validate.OneOf(ORGANIZATION_KINDS))
    name = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    contact_person = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True, metadata={"description": PHONE_MASKED})
    contact_email = ma.fields.String(allow_none=True, metadata={"description": EMAIL_MASKED})
    area_id = ma.fields.UUID(allow_none=True, metadata={"description": BRANCH_AREA})


class OrganizationCreate(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ORGANIZATION_KINDS))
    name = Text(required=True, max_length=200)
    address = Text(load_default=None, allow_none=True, max_length=300)
    contact_person = Text(load_default=None, allow_none=True, max_length=100)
    contact_phone = Phone(load_default=None, allow_none=True)
    contact_email = _email(load_default=None, allow_none=True)
    district_id = ma.fields.UUID(load_default=None, allow_none=True,
                                 metadata={"description": "operators only: the district it belongs to"})
    area_id = ma.fields.UUID(load_default=None, allow_none=True, metadata={"description": BRANCH_AREA})


class OrganizationUpdate(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf(ORGANIZATION_KINDS))
    name = Text(max_length=200)
    address = Text(allow_none=True, max_length=300)
    contact_person = Text(allow_none=True, max_length=100)
    contact_phone = Phone(allow_none=True)
    contact_email = _email(allow_none=True)
    area_id = ma.fields.UUID(allow_none=True, metadata={"description": BRANCH_AREA})


class OrganizationQuery(PageArgs):
    kind = ma.fields.String(validate=ma.validate.OneOf(ORGANIZATION_KINDS))
    area_id = ma.fields.UUID(metadata={"description": "only the party branches serving this area"})
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=100),
                         metadata={"description": "a fragment of the name"})


OrganizationPage = page_schema(OrganizationSchema)


# --- Resources ---------------------------------------------------------------------------------------------

class ResourceCategorySchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "the code resources, skills and tickets use"})
    zh = ma.fields.String(metadata={"description": "Chinese label"})
    en = ma.fields.String(metadata={"description": "English label"})


class ResourceSchema(EntitySchema):
    organization_id = ma.fields.UUID()
    kind = ma.fields.String(validate=ma.validate.OneOf(RESOURCE_KINDS))
    category = ma.fields.String(validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES)))
    description = ma.fields.String()
    quantity = ma.fields.Integer()
    state = ma.fields.String(validate=ma.validate.OneOf(RESOURCE_STATES))
    removed_at = ma.fields.AwareDateTime(allow_none=True)


class ResourceCreate(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(RESOURCE_KINDS))
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES)))
    description = Text(required=True, max_length=500)
    quantity = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))


class ResourceQuery(PageArgs):
    category = ma.fields.String(validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES)))
    include_removed = ma.fields.Boolean(load_default=False)


ResourceCategoryPage = page_schema(ResourceCategorySchema)
ResourcePage = page_schema(ResourceSchema)


# --- Pairings ----------------------------------------------------------------------------------------------

class PairingSchema(EntitySchema):
    organization_id = ma.fields.UUID()
    compound_id = ma.fields.UUID()
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date(allow_none=True, metadata={"description": "last day, inclusive; none: open-ended"})
    state = ma.fields.String(validate=ma.validate.OneOf(PAIRING_STATES))
    reason = ma.fields.String(allow_none=True, metadata={"description": "why it was removed"})


class PairingCreate(ma.Schema):
    organization_id = ma.fields.UUID(required=True)
    compound_id = ma.fields.UUID(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(load_default=None, allow_none=True, metadata={"description": "last day, inclusive"})


class PairingRemove(ma.Schema):
    ends_on = ma.fields.Date(required=True, metadata={"description": "the pairing's last day"})
    reason = Text(load_default=None, allow_none=True, max_length=500)


class PairingQuery(PageArgs):
    organization_id = ma.fields.UUID()
    compound_id = ma.fields.UUID()
    state = ma.fields.String(validate=ma.validate.OneOf(PAIRING_STATES))
    active_on = ma.fields.Date(metadata={"description": "only pairings whose dates include this day"})


PairingPage = page_schema(PairingSchema)


# --- Committees: convenor and units ------------------------------------------------------------------------

class CommitteeUpdate(ma.Schema):
    name = Text(max_length=200)
    convenor_name = Text(allow_none=True, max_length=100)
    convenor_member_id = ma.fields.UUID(allow_none=True)


class CommitteeUnitSchema(EntitySchema):
    committee_id = ma.fields.UUID()
    organization_id = ma.fields.UUID()
    organization_name = ma.fields.String(attribute="organization.name")
    organization_kind = ma.fields.String(attribute="organization.kind")
    joined_on = ma.fields.Date()
    member_name = ma.fields.String(metadata={"description": "the part-time member (兼职委员) the unit sends"})
    member_phone = ma.fields.String(allow_none=True, metadata={"description": PHONE_MASKED})
    left_on = ma.fields.Date(allow_none=True)
    left_reason = ma.fields.String(allow_none=True)
    state = ma.fields.Function(lambda unit: "left" if unit.left_on is not None else "member",
                               metadata={"enum": ["member", "left"]})


class CommitteeUnitJoin(ma.Schema):
    organization_id = ma.fields.UUID(required=True)
    joined_on = ma.fields.Date(required=True)
    member_name = Text(required=True, max_length=100)
    member_phone = Phone(load_default=None, allow_none=True)


class CommitteeUnitLeave(ma.Schema):
    left_on = ma.fields.Date(required=True)
    reason = Text(required=True, max_length=500)


class CommitteeUnitQuery(PageArgs):
    include_left = ma.fields.Boolean(load_default=False, metadata={"description": "also the units that left"})


CommitteeUnitPage = page_schema(CommitteeUnitSchema)


# --- Party members -----------------------------------------------------------------------------------------

def _skills(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES))),
                          validate=ma.validate.Length(max=len(RESOURCE_CATEGORIES)),
                          metadata={"description": "codes of GET /v1/resource-categories"}, **kwargs)


def _roles(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(MEMBER_ROLES)),
                          validate=ma.validate.Length(max=len(MEMBER_ROLES)),
                          metadata={"description": "building, unit and floor leaders need building_id"}, **kwargs)


class MemberSchema(EntitySchema):
    name = ma.fields.String()
    phone = ma.fields.String(metadata={"description": PHONE_MASKED})
    email = ma.fields.String(allow_none=True, metadata={"description": EMAIL_MASKED})
    employer_id = ma.fields.UUID(allow_none=True, metadata={"description": "an organization's id"})
    compound_id = ma.fields.UUID(metadata={"description": "the home compound; moves with a confirmed check-in"})
    building_id = ma.fields.UUID(allow_none=True)
    status = ma.fields.String(validate=ma.validate.OneOf(MEMBER_STATUSES))
    skills = ma.fields.List(ma.fields.String())
    roles = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(MEMBER_ROLES)))
    membership = ma.fields.String(validate=ma.validate.OneOf(MEMBERSHIPS))
    left_on = ma.fields.Date(allow_none=True)
    left_reason = ma.fields.String(allow_none=True)


class MemberCreate(ma.Schema):
    name = Text(required=True, max_length=100)
    phone = Phone(required=True)
    email = _email(load_default=None, allow_none=True)
    compound_id = ma.fields.UUID(required=True)
    building_id = ma.fields.UUID(load_default=None, allow_none=True,
                                 metadata={"description": "a building of the home compound"})
    employer_id = ma.fields.UUID(load_default=None, allow_none=True)
    status = ma.fields.String(load_default="in_service", validate=ma.validate.OneOf(MEMBER_STATUSES))
    skills = _skills(load_default=list)
    roles = _roles(load_default=list)


class MemberUpdate(ma.Schema):
    name = Text(max_length=100)
    phone = Phone()
    email = _email(allow_none=True)
    building_id = ma.fields.UUID(allow_none=True)
    employer_id = ma.fields.UUID(allow_none=True)
    status = ma.fields.String(validate=ma.validate.OneOf(MEMBER_STATUSES))
    skills = _skills()
    roles = _roles()


class MemberQuery(PageArgs):
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=100),
                         metadata={"description": "a fragment of the name"})
    compound_id = ma.fields.UUID()
    building_id = ma.fields.UUID()
    employer_id = ma.fields.UUID()
    skill = ma.fields.String(validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES)))
    role = ma.fields.String(validate=ma.validate.OneOf(MEMBER_ROLES))
    status = ma.fields.String(validate=ma.validate.OneOf(MEMBER_STATUSES))
    membership = ma.fields.String(validate=ma.validate.OneOf(MEMBERSHIPS))


MemberPage = page_schema(MemberSchema)


class PledgeSchema(EntitySchema):
    member_id = ma.fields.UUID()
    text = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(PLEDGE_STATUSES))
    fulfilled_at = ma.fields.AwareDateTime(allow_none=True)


class PledgeCreate(ma.Schema):
    text = Text(required=True, max_length=500, metadata={"description": "what the member pledges to do"})


class PledgeQuery(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(PLEDGE_STATUSES))


PledgePage = page_schema(PledgeSchema)



# --- Check-ins and leaving -------------------------------------------------------------------------------------

class CheckInSchema(EntitySchema):
    member_id = ma.fields.UUID()
    compound_id = ma.fields.UUID()
    building_id = ma.fields.UUID(allow_none=True)
    state = ma.fields.String(validate=ma.validate.OneOf(CHECK_IN_STATES))
    decided_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "when the branch decided"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "why the branch rejected it"})
    ended_at = ma.fields.AwareDateTime(allow_none=True)
    branch_id = ma.fields.UUID(allow_none=True, metadata={
        "description": "the party branch reported to: the one serving the compound, else its community; null "
                       "when neither has one"})


class CheckInCreate(ma.Schema):
    member_id = ma.fields.UUID(required=True)
    compound_id = ma.fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "the compound reported to; default the member's home. Another compound is a move, "
                       "done when the branch confirms"})
    building_id = ma.fields.UUID(load_default=None, allow_none=True,
                                 metadata={"description": "a building of that compound"})


class CheckInReject(ma.Schema):
    reason = Text(required=True, max_length=500)


class CheckInQuery(PageArgs):
    member_id = ma.fields.UUID()
    compound_id = ma.fields.UUID()
    branch_id = ma.fields.UUID()
    state = ma.fields.String(validate=ma.validate.OneOf(CHECK_IN_STATES))


class MemberLeave(ma.Schema):
    left_on = ma.fields.Date(required=True)
    reason = Text(load_default=None, allow_none=True, max_length=500)


CheckInPage = page_schema(CheckInSchema)


# --- Evaluations (双向评价) -----------------------------------------------------------------------------------

class EvaluationQuery(ma.Schema):
    year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=FIRST_YEAR, max=LAST_YEAR), metadata={
        "description": "the calendar year, in the district's time zone"})
    member_id = ma.fields.UUID(metadata={"description": "one member's evaluation"})
    organization_id = ma.fields.UUID(metadata={"description": "the table of every member the organization employs"})

    @ma.validates_schema
    def _one_subject(self, data: dict[str, object], **_kwargs: object) -> None:
        given = [name for name in ("member_id", "organization_id") if data.get(name) is not None]
        if len(given) != 1:
            message = "give member_id or organization_id, not both" if given else "give member_id or organization_id"
            raise ma.ValidationError({"member_id": [message], "organization_id": [message]})


class EvaluationCheckIn(ma.Schema):
    status_at_year_end = ma.fields.String(validate=ma.validate.OneOf(STANDINGS), metadata={
        "description": "confirmed: checked in at a compound's branch; submitted: waiting for the branch; none"})
    compound_id = ma.fields.UUID(allow_none=True, metadata={"description": "where, at the year's end"})
    compound_name = ma.fields.String(allow_none=True)
    checked_in_during_year = ma.fields.Boolean(metadata={
        "description": "a confirmed check-in was in force at some time of the year"})
    confirmed_in_year = ma.fields.Integer(metadata={
        "description": "check-ins the branches confirmed during the year (a move counts again)"})


class EvaluationPledge(ma.Schema):
    id = ma.fields.UUID()
    text = ma.fields.String()
    made_at = ma.fields.AwareDateTime()
    fulfilled_at = ma.fields.AwareDateTime(allow_none=True)
    status_at_year_end = ma.fields.String(validate=ma.validate.OneOf(PLEDGE_STATUSES))


class EvaluationPledges(ma.Schema):
    made = ma.fields.Integer(metadata={"description": "pledges made during the year"})
    fulfilled = ma.fields.Integer(metadata={"description": "pledges fulfilled during the year, whenever made"})
    open_at_year_end = ma.fields.Integer()


class CategoryHours(ma.Schema):
    category = ma.fields.String(metadata={"description": "a code of GET /v1/resource-categories"})
    minutes = ma.fields.Integer()
    hours = ma.fields.Float(metadata={"description": "minutes / 60, to the hundredth"})


class EvaluationHours(ma.Schema):
    by_category = ma.fields.List(ma.fields.Nested(CategoryHours), metadata={
        "description": "verified service only, categories in the order of GET /v1/resource-categories"})
    total_minutes = ma.fields.Integer()
    total_hours = ma.fields.Float(metadata={
        "description": "the total minutes as hours; may differ by 0.01 from the sum of the rounded categories"})
    unverified_minutes = ma.fields.Integer(metadata={"description": "logged, not yet verified: not in the totals"})
    unverified_hours = ma.fields.Float()


class EvaluationSchema(ma.Schema):
    member_id = ma.fields.UUID()
    name = ma.fields.String()
    phone = ma.fields.String(metadata={"description": "masked unless you hold registry:pii"})
    status = ma.fields.String(validate=ma.validate.OneOf(MEMBER_STATUSES))
    membership = ma.fields.String(validate=ma.validate.OneOf(MEMBERSHIPS))
    check_in = ma.fields.Nested(EvaluationCheckIn)
    pledges = ma.fields.Nested(EvaluationPledges)
    hours = ma.fields.Nested(EvaluationHours)
    activities = ma.fields.Integer(metadata={"description": "distinct activities with verified service in the year"})
    tickets = ma.fields.Integer(metadata={"description": "distinct tickets with verified service in the year"})
    pledge_items = ma.fields.List(ma.fields.Nested(EvaluationPledge), metadata={
        "description": "one member's evaluation only: every pledge open at some time of the year, oldest first"})
    activity_ids = ma.fields.List(ma.fields.UUID(), metadata={"description": "one member's evaluation only"})
    ticket_ids = ma.fields.List(ma.fields.UUID(), metadata={"description": "one member's evaluation only"})


class EvaluationCategory(ma.Schema):
    code = ma.fields.String()
    zh = ma.fields.String()
    en = ma.fields.String()


class EvaluationTableSchema(ma.Schema):
    year = ma.fields.Integer()
    time_zone = ma.fields.String(metadata={"description": "the district's, in which the year runs"})
    starts_at = ma.fields.AwareDateTime(metadata={"description": "the year's first instant"})
    ends_at = ma.fields.AwareDateTime(metadata={"description": "the next year's first instant"})
    member_id = ma.fields.UUID(allow_none=True)
    organization_id = ma.fields.UUID(allow_none=True)
    organization_name = ma.fields.String(allow_none=True)
    categories = ma.fields.List(ma.fields.Nested(EvaluationCategory), metadata={
        "description": "the categories any member of the table served in (the CSV's hours columns)"})
    count = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(EvaluationSchema), metadata={"description": "by name"})
# --- Coverage (覆盖情况) ---------------------------------------------------------------------------------------

_ROLE_COUNTS = {"description": "members holding each role, every role code present",
                "example": dict.fromkeys(MEMBER_ROLES, 0)}


class PlaceSchema(ma.Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()


class CoveredArea(PlaceSchema):
    level = ma.fields.String(validate=ma.validate.OneOf(COVERAGE_LEVELS))


class CoverageReportQuery(ma.Schema):
    area_id = ma.fields.UUID(required=True, metadata={"description": "a compound, community or street"})


class CompoundCoverageSchema(ma.Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    members = ma.fields.Integer(metadata={"description": "current members living here"})
    in_service = ma.fields.Integer(metadata={"description": "of them, in service (在职)"})
    checked_in = ma.fields.Integer(metadata={"description": "members with a confirmed check-in here"})
    roles = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata=_ROLE_COUNTS)
    buildings = ma.fields.Integer()
    buildings_without_group_leader = ma.fields.List(ma.fields.Nested(PlaceSchema), metadata={
        "description": "buildings where no current member living there is a party group leader"})
    has_branch = ma.fields.Boolean(metadata={"description": "a party branch serves the compound or its community"})
    has_pairing = ma.fields.Boolean(metadata={
        "description": "an organization is paired with it today (in the district's time zone)"})


class CoverageTotals(ma.Schema):
    compounds = ma.fields.Integer()
    members = ma.fields.Integer()
    in_service = ma.fields.Integer()
    checked_in = ma.fields.Integer()
    roles = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata=_ROLE_COUNTS)
    buildings = ma.fields.Integer()
    buildings_without_group_leader = ma.fields.Integer()
    compounds_without_branch = ma.fields.Integer()
    compounds_without_pairing = ma.fields.Integer()


class CoverageReport(ma.Schema):
    area = ma.fields.Nested(CoveredArea)
    on = ma.fields.Date(metadata={"description": "the local day pairings were judged on"})
    totals = ma.fields.Nested(CoverageTotals)
    compounds = ma.fields.List(ma.fields.Nested(CompoundCoverageSchema), metadata={"description": "by name"})
    compounds_without_branch = ma.fields.List(ma.fields.Nested(PlaceSchema))
    compounds_without_pairing = ma.fields.List(ma.fields.Nested(PlaceSchema))


# --- Service records -------------------------------------------------------------------------------------------

_HOURS = ma.validate.Range(min=0, min_inclusive=False, max=MAX_LOGGED_HOURS)
_HOURS_TEXT = f"more than 0, at most {MAX_LOGGED_HOURS}, in quarter-hour steps (0.25, 0.5, ...)"


def _hours(description: str = _HOURS_TEXT, **kwargs: object) -> ma.fields.Float:
    return ma.fields.Float(validate=_HOURS, metadata={"description": description, "multipleOf": 0.25},
                           **kwargs)  # type: ignore[arg-type]


class ServiceRecordSchema(EntitySchema):
    member_id = ma.fields.UUID()
    source = ma.fields.String(validate=ma.validate.OneOf(SERVICE_SOURCES), metadata={
        "description": "activity or ticket when credited automatically, other when logged by hand"})
    source_id = ma.fields.UUID(allow_none=True, metadata={"description": "the activity's or ticket's id"})
    served_on = ma.fields.Date(metadata={"description": "local date in the district's time zone"})
    hours = ma.fields.Float()
    minutes = ma.fields.Integer(metadata={"description": "the same time in whole minutes: sum these for exact totals"})
    category = ma.fields.String(metadata={"description": "a code of GET /v1/resource-categories"})
    note = ma.fields.String(allow_none=True)
    state = ma.fields.String(validate=ma.validate.OneOf(SERVICE_RECORD_STATES))
    decided_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "when it was verified or rejected"})
    decided_by = ma.fields.String(allow_none=True, metadata={
        "description": "the client that decided; `activity:<id>` or `ticket:<id>` for an automatic credit"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "why the branch rejected it"})


class ServiceRecordCreate(ma.Schema):
    member_id = ma.fields.UUID(required=True, metadata={"description": "a member whose membership is active"})
    served_on = ma.fields.Date(required=True, metadata={"description": "the day served; not in the future"})
    hours = _hours(required=True)
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES)),
                                metadata={"description": "a code of GET /v1/resource-categories"})
    note = Text(load_default=None, allow_none=True, max_length=500)


class ServiceRecordReject(ma.Schema):
    reason = Text(required=True, max_length=500)


class ServiceRecordQuery(PageArgs):
    member_id = ma.fields.UUID()
    state = ma.fields.String(validate=ma.validate.OneOf(SERVICE_RECORD_STATES))
    source = ma.fields.String(validate=ma.validate.OneOf(SERVICE_SOURCES))
    source_id = ma.fields.UUID(metadata={"description": "an activity's or ticket's id: who was credited for it"})
    from_ = ma.fields.Date(data_key="from", metadata={"description": "served on or after this day"})
    to = ma.fields.Date(metadata={"description": "served on or before this day"})


ServiceRecordPage = page_schema(ServiceRecordSchema)


# --- Activities ------------------------------------------------------------------------------------------------

# Times an activity can sensibly have; outside them a time is a typing slip (and far ones overflow in UTC).
FIRST_ACTIVITY_YEAR = 2000
LAST_ACTIVITY_YEAR = 2100


def _moment(value: datetime) -> None:
    try:
        year = value.astimezone(UTC).year
    except OverflowError as exc:
        raise ma.ValidationError("out of range") from exc
    if not FIRST_ACTIVITY_YEAR <= year <= LAST_ACTIVITY_YEAR:
        raise ma.ValidationError(f"between the years {FIRST_ACTIVITY_YEAR} and {LAST_ACTIVITY_YEAR}")


def _moment_field(**kwargs: object) -> ma.fields.AwareDateTime:
    return ma.fields.AwareDateTime(validate=_moment, **kwargs)  # type: ignore[arg-type]


class ActivitySchema(EntitySchema):
    host_organization_id = ma.fields.UUID()
    host_organization_name = ma.fields.String(attribute="host.name")
    area_id = ma.fields.UUID(metadata={"description": "the community or compound it is held in"})
    community_id = ma.fields.UUID(metadata={"description": "the community, also when held at a compound"})
    title = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    category = ma.fields.String(metadata={"description": "a code of GET /v1/resource-categories"})
    place = ma.fields.String()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    capacity = ma.fields.Integer(allow_none=True, metadata={"description": "places; null: no limit"})
    sign_up_count = ma.fields.Integer(metadata={"description": "members signed up now"})
    state = ma.fields.String(validate=ma.validate.OneOf(ACTIVITY_STATES))
    held_at = ma.fields.AwareDateTime(allow_none=True)
    attendee_count = ma.fields.Integer(metadata={"description": "members who attended, once held"})
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)
    reason = ma.fields.String(allow_none=True, metadata={"description": "why it was cancelled"})


_CAPACITY = ma.validate.Range(min=1, max=100_000)


class ActivityCreate(ma.Schema):
    host_organization_id = ma.fields.UUID(required=True, metadata={"description": "the unit hosting it"})
    area_id = ma.fields.UUID(required=True, metadata={"description": "a community, or a compound"})
    title = Text(required=True, max_length=200)
    description = Text(load_default=None, allow_none=True, max_length=2000)
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES)),
                                metadata={"description": "a code of GET /v1/resource-categories"})
    place = Text(required=True, max_length=300)
    starts_at = _moment_field(required=True)
    ends_at = _moment_field(required=True, metadata={"description": "after starts_at"})
    capacity = ma.fields.Integer(load_default=None, allow_none=True, validate=_CAPACITY,
                                 metadata={"description": "places; null: no limit"})


class ActivityUpdate(ma.Schema):
    title = Text(max_length=200)
    description = Text(allow_none=True, max_length=2000)
    category = ma.fields.String(validate=ma.validate.OneOf(list(RESOURCE_CATEGORIES)))
    place = Text(max_length=300)
    starts_at = _moment_field()
    ends_at = _moment_field()
    capacity = ma.fields.Integer(allow_none=True, validate=_CAPACITY,
                                 metadata={"description": "not below the members signed up now"})


class ActivityQuery(PageArgs):
    area_id = ma.fields.UUID(metadata={"description": "held in this community or compound"})
    community_id = ma.fields.UUID(metadata={"description": "held in this community or at one of its compounds"})
    host_organization_id = ma.fields.UUID()
    state = ma.fields.String(validate=ma.validate.OneOf(ACTIVITY_STATES))
    from_ = _moment_field(data_key="from", metadata={"description": "starting at or after this time"})
    to = _moment_field(metadata={"description": "starting before this time"})


class AttendeeSchema(ma.Schema):
    member_id = ma.fields.UUID(required=True)
    hours = _hours(required=True)


_MAX_ATTENDEES = 5000


class ActivityHold(ma.Schema):
    attendees = ma.fields.List(ma.fields.Nested(AttendeeSchema), validate=ma.validate.Length(max=_MAX_ATTENDEES),
                               metadata={"description": "who attended, each with their hours; or send member_ids "
                                                        "and hours"})
    member_ids = ma.fields.List(ma.fields.UUID(), validate=ma.validate.Length(max=_MAX_ATTENDEES),
                                metadata={"description": "who attended, all for the same `hours`"})
    hours = _hours(f"with member_ids: {_HOURS_TEXT}")
    held_at = _moment_field(metadata={"description": "when it was held; default now; not before starts_at"})


class ActivityCancel(ma.Schema):
    reason = Text(required=True, max_length=500)


class SignUpSchema(EntitySchema):
    activity_id = ma.fields.UUID()
    member_id = ma.fields.UUID()
    state = ma.fields.String(validate=ma.validate.OneOf(SIGN_UP_STATES))
    signed_up_at = ma.fields.AwareDateTime()
    cancelled_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "when it was withdrawn"})


class SignUpCreate(ma.Schema):
    member_id = ma.fields.UUID(required=True, metadata={"description": "a current member of the activity's district"})


class SignUpQuery(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(SIGN_UP_STATES))


ActivityPage = page_schema(ActivitySchema)
SignUpPage = page_schema(SignUpSchema)
