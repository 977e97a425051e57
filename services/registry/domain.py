"""Rules of the administrative tree: which level sits under which, and what a compound may be.

A district is the tenant: it is the root of its own tree, and every area below it
carries the district's id, so one district's data never mixes with another's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from linli.shared.errors import Conflict, InvalidTransition, ValidationFailed

LEVELS = ("district", "street", "community", "compound", "building", "grid")
PARENT_LEVEL = {
    "district": None,
    "street": "district",
    "community": "street",
    "compound": "community",
    "building": "compound",
    "grid": "community",
}
COMPOUND_KINDS = ("managed", "three_no", "resettlement", "old")
# The level that owns a big party committee (大党委).
COMMITTEE_LEVEL = "community"


def check_placement(level: str, parent_level: str | None, kind: str | None) -> None:
    """Raise unless an area of `level` (and `kind`) may sit under a parent of `parent_level`."""
    expected = PARENT_LEVEL[level]
    if expected is None and parent_level is not None:
        raise ValidationFailed.field("parent_id", "a district has no parent")
    if expected is not None and parent_level != expected:
        raise ValidationFailed.field("parent_id", f"a {level} must sit under a {expected}")
    check_kind(level, kind)


def check_kind(level: str, kind: str | None) -> None:
    """Raise unless `kind` fits `level`: compounds have one of COMPOUND_KINDS, other areas none."""
    if level == "compound" and kind not in COMPOUND_KINDS:
        raise ValidationFailed.field("kind", f"a compound's kind is one of {', '.join(COMPOUND_KINDS)}")
    if level != "compound" and kind is not None:
        raise ValidationFailed.field("kind", "only compounds have a kind")


# --- Area details: what a compound and a building are like -----------------------------------------

MANAGEMENT_MODES = ("property_company", "red_property", "self_managed", "soe_fallback", "none")
COMPOUND_DETAILS = ("management_mode", "households", "residents", "year_built", "property_company_id",
                    "owners_committee_id")
BUILDING_DETAILS = ("units", "floors")
DETAILS = COMPOUND_DETAILS + BUILDING_DETAILS
COUNTS = ("households", "residents", "units", "floors")
# Chongqing's oldest lived-in compounds go back to the late Qing; anything earlier is a typing slip.
FIRST_YEAR_BUILT = 1850
LAST_YEAR_BUILT = 2100


def detail_errors(level: str, kind: str | None, details: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with an area's details as they would stand (unset ones None), by field.

    Compounds carry the compound facts and buildings the building facts; a three-no compound
    (三无小区) has, by definition, no property company, no owners' committee and so no
    property-company management.
    """
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name in DETAILS:
        value = details.get(name)
        if value is None:
            continue
        if name in COMPOUND_DETAILS and level != "compound":
            fail(name, "only compounds have this")
        elif name in BUILDING_DETAILS and level != "building":
            fail(name, "only buildings have this")
        elif name in COUNTS and value < 0:
            fail(name, "must not be negative")
    mode = details.get("management_mode")
    if mode is not None and mode not in MANAGEMENT_MODES:
        fail("management_mode", f"one of {', '.join(MANAGEMENT_MODES)}")
    year = details.get("year_built")
    if year is not None and not FIRST_YEAR_BUILT <= year <= LAST_YEAR_BUILT:
        fail("year_built", f"between {FIRST_YEAR_BUILT} and {LAST_YEAR_BUILT}")
    if level == "compound" and kind == "three_no":
        if details.get("property_company_id") is not None:
            fail("property_company_id", "a three-no compound has no property company")
        if details.get("owners_committee_id") is not None:
            fail("owners_committee_id", "a three-no compound has no owners' committee")
        if mode == "property_company":
            fail("management_mode", "a three-no compound is not managed by a property company")
    return errors


def check_details(level: str, kind: str | None, details: Mapping[str, Any]) -> None:
    """Raise unless the details fit the area (see `detail_errors`)."""
    errors = detail_errors(level, kind, details)
    if errors:
        raise ValidationFailed(f"invalid details: {', '.join(sorted(errors))}", errors=errors)

# --- Moving areas and grid coverage ------------------------------------------------------------------

# What a grid (网格) covers: compounds, or single buildings of a compound split between grids.
COVERABLE_LEVELS = ("compound", "building")


def check_move(level: str, kind: str | None, new_parent_level: str, *, under_itself: bool) -> None:
    """Raise unless an area may move under a parent of `new_parent_level`; placement is as for creation.

    `under_itself`: the new parent is the area or one of its descendants, which would cut the subtree
    off the tree (a nonsense change, so a conflict rather than a bad field).
    """
    if under_itself:
        raise Conflict("an area cannot move under itself or its own descendant",
                       errors={"parent_id": ["is the area itself or one of its descendants"]})
    check_placement(level, new_parent_level, kind)


def coverable_error(level: str, community_id: object, grid_community_id: object) -> str | None:
    """Why a grid of `grid_community_id` cannot cover an area of `level` in `community_id`; None if it can."""
    if level not in COVERABLE_LEVELS:
        return f"a grid covers compounds and buildings, not a {level}"
    if community_id != grid_community_id:
        return "not in the grid's community"
    return None



# --- Organizations (单位 / 组织) ----------------------------------------------------------------------

ORGANIZATION_KINDS = (
    "government_agency",  # 机关
    "soe",  # 国企
    "school",  # 学校
    "hospital",  # 医院
    "police_station",  # 派出所
    "enterprise",  # 企业
    "social_organization",  # 社会组织
    "property_company",  # 物业公司
    "owners_committee",  # 业委会
    "party_branch",  # 党支部
)


def organization_district(actor_district: str | None, asked: str | None) -> str:
    """The district a new organization belongs to: the caller's own, or the one an operator names.

    `actor_district` is None for an operator, who must name the district; a district client may
    name only its own.
    """
    if actor_district is None:
        if asked is None:
            raise ValidationFailed.field("district_id", "an operator names the organization's district")
        return asked
    if asked is not None and asked != actor_district:
        raise ValidationFailed.field("district_id", "not your district")
    return actor_district


# --- Resources (资源清单) ------------------------------------------------------------------------------------

RESOURCE_KINDS = ("staff", "venue", "funds", "vehicles", "skills")
# The suite's one vocabulary of what a resource, a member's skill or a ticket is about: code -> (zh, en).
# Tickets match units and members to a ticket by these codes, so a code, once published, is never renamed.
RESOURCE_CATEGORIES: dict[str, tuple[str, str]] = {
    "tree_trimming": ("树木修剪", "Tree trimming"),
    "medical": ("医疗卫生", "Medical care"),
    "legal_aid": ("法律援助", "Legal aid"),
    "noise": ("噪音治理", "Noise control"),
    "fire_safety": ("消防安全", "Fire safety"),
    "parking": ("停车管理", "Parking"),
    "venue": ("活动场地", "Venue"),
    "funds": ("资金支持", "Funds"),
    "elderly_care": ("养老服务", "Elderly care"),
    "education": ("教育辅导", "Education"),
    "child_care": ("托幼照护", "Child care"),
    "sanitation": ("环境卫生", "Sanitation"),
    "repairs": ("维修服务", "Repairs"),
    "dispute_mediation": ("矛盾调解", "Dispute mediation"),
    "public_security": ("治安巡逻", "Public security"),
    "employment": ("就业帮扶", "Employment help"),
    "mental_health": ("心理疏导", "Counselling"),
    "disability_support": ("助残服务", "Disability support"),
    # What a member's service counts as when nothing above fits (a ticket of a category not listed here).
    "community_service": ("社区服务", "Community service"),
}
RESOURCE_AVAILABLE = "available"
RESOURCE_REMOVED = "removed"
RESOURCE_STATES = (RESOURCE_AVAILABLE, RESOURCE_REMOVED)


def check_resource_removable(state: str) -> None:
    """A resource is taken off the list once; removing it again is a nonsense move."""
    if state != RESOURCE_AVAILABLE:
        raise InvalidTransition("this resource was already removed")


def check_resource(kind: str, category: str, quantity: int) -> None:
    """Raise unless a resource's kind and category are known codes and it offers at least one of something."""
    if kind not in RESOURCE_KINDS:
        raise ValidationFailed.field("kind", f"one of {', '.join(RESOURCE_KINDS)}")
    if category not in RESOURCE_CATEGORIES:
        raise ValidationFailed.field("category", "not a category of GET /v1/resource-categories")
    if quantity < 1:
        raise ValidationFailed.field("quantity", "at least 1")


# --- Pairings (一对一结对包建) -------------------------------------------------------------------------------

PAIRING_ACTIVE = "active"
PAIRING_REMOVED = "removed"
PAIRING_STATES = (PAIRING_ACTIVE, PAIRING_REMOVED)


def check_pairing_dates(starts_on: date, ends_on: date | None) -> None:
    """A pairing ends (its last day, inclusive) no earlier than it starts."""
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed.field("ends_on", "before starts_on")


def periods_overlap(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    """Whether two periods of inclusive days (None: open-ended) share a day."""
    return (a_end is None or b_start <= a_end) and (b_end is None or a_start <= b_end)


def check_pairing_removal(state: str, starts_on: date, ends_on: date) -> None:
    """An active pairing ends on a day no earlier than its start; an ended one cannot end again."""
    if state != PAIRING_ACTIVE:
        raise InvalidTransition("this pairing was already removed")
    check_pairing_dates(starts_on, ends_on)


# --- Committee units (共建单位) ----------------------------------------------------------------------------


def check_join(already_member: bool, last_left_on: date | None, joined_on: date) -> None:
    """An organization joins a committee it is not in, no earlier than the day it last left."""
    if already_member:
        raise InvalidTransition("this organization is already a unit of the committee")
    if last_left_on is not None and joined_on < last_left_on:
        raise ValidationFailed.field("joined_on", "before the day this organization last left")


def check_leave(joined_on: date | None, left_on: date) -> None:
    """Only a current unit leaves (`joined_on` None: not a member), no earlier than it joined."""
    if joined_on is None:
        raise InvalidTransition("this organization is not a unit of the committee")
    if left_on < joined_on:
        raise ValidationFailed.field("left_on", "before the day it joined")


# --- Party members (党员) ------------------------------------------------------------------------------------

MEMBER_STATUSES = ("in_service", "retired")  # 在职 / 退休
MEMBER_ROLES = (
    "building_leader",  # 楼栋长
    "unit_leader",  # 单元长
    "floor_leader",  # 楼层长
    "party_group_leader",  # 党小组长
    "branch_committee_member",  # 支委委员
    "branch_secretary",  # 支部书记
)
# Roles that look after part of a building, so only a member living in a known building holds one.
BUILDING_ROLES = ("building_leader", "unit_leader", "floor_leader")
MEMBERSHIP_ACTIVE = "active"
MEMBERSHIP_LEFT = "left"
MEMBERSHIPS = (MEMBERSHIP_ACTIVE, MEMBERSHIP_LEFT)


def member_errors(skills: list[str], roles: list[str], building_known: bool) -> dict[str, list[str]]:
    """What is wrong with a member's skills and roles as they would stand, by field."""
    errors: dict[str, list[str]] = {}
    unknown_skills = sorted(set(skills) - set(RESOURCE_CATEGORIES))
    if unknown_skills:
        errors["skills"] = [f"not categories of GET /v1/resource-categories: {', '.join(unknown_skills)}"]
    unknown_roles = sorted(set(roles) - set(MEMBER_ROLES))
    if unknown_roles:
        errors["roles"] = [f"unknown roles: {', '.join(unknown_roles)}; one of {', '.join(MEMBER_ROLES)}"]
    building_roles = sorted(set(roles) & set(BUILDING_ROLES))
    if building_roles and not building_known:
        errors.setdefault("roles", []).append(
            f"{', '.join(building_roles)} need the member's home building (building_id)")
    return errors


def check_member(skills: list[str], roles: list[str], building_known: bool) -> None:
    """Raise unless the skills are known categories and the roles known ones the member can hold."""
    errors = member_errors(skills, roles, building_known)
    if errors:
        raise ValidationFailed(f"invalid member: {', '.join(sorted(errors))}", errors=errors)


def check_active(membership: str) -> None:
    """A member who left takes no new step (check-in, pledge, leaving again) here."""
    if membership != MEMBERSHIP_ACTIVE:
        raise InvalidTransition("this member has left; their membership here has ended")



# --- Pledges (承诺) ---------------------------------------------------------------------------------------------

PLEDGE_OPEN = "open"
PLEDGE_FULFILLED = "fulfilled"
PLEDGE_STATUSES = (PLEDGE_OPEN, PLEDGE_FULFILLED)


def check_fulfillable(status: str) -> None:
    """A pledge is fulfilled once."""
    if status != PLEDGE_OPEN:
        raise InvalidTransition("this pledge was already fulfilled")


# --- Check-ins (报到) -------------------------------------------------------------------------------------------

CHECK_IN_SUBMITTED = "submitted"
CHECK_IN_CONFIRMED = "confirmed"
CHECK_IN_REJECTED = "rejected"
CHECK_IN_ENDED = "ended"
CHECK_IN_STATES = (CHECK_IN_SUBMITTED, CHECK_IN_CONFIRMED, CHECK_IN_REJECTED, CHECK_IN_ENDED)
# What the branch may do to a check-in in each state. "end" is no request of its own: a check-in ends
# when the member's check-in elsewhere is confirmed, or when the member leaves.
CHECK_IN_MOVES: dict[str, dict[str, str]] = {
    CHECK_IN_SUBMITTED: {"confirm": CHECK_IN_CONFIRMED, "reject": CHECK_IN_REJECTED, "end": CHECK_IN_ENDED},
    CHECK_IN_CONFIRMED: {"end": CHECK_IN_ENDED},
    CHECK_IN_REJECTED: {},
    CHECK_IN_ENDED: {},
}


def check_in_after(state: str, verb: str) -> str:
    """The state a check-in in `state` reaches by `verb`; a move not allowed from there is a 409 naming both."""
    allowed = CHECK_IN_MOVES[state]
    if verb not in allowed:
        verbs = [v for v in allowed if v != "end"]
        raise InvalidTransition(
            f"a {state} check-in cannot be {verb}ed; allowed now: {', '.join(verbs) or 'nothing'}",
            errors={"state": [f"is {state}; allowed: {', '.join(verbs) or 'nothing'}"]})
    return allowed[verb]


def check_submission(membership: str, *, pending: bool, confirmed_here: bool) -> None:
    """A current member with no check-in awaiting the branch reports to a compound they are not checked in at."""
    check_active(membership)
    if pending:
        raise InvalidTransition("this member already has a check-in awaiting the branch's decision")
    if confirmed_here:
        raise InvalidTransition("this member is already checked in at this compound")


def roles_after_move(roles: list[str], building_changed: bool) -> list[str]:
    """A member moving to another building gives up the roles that belonged to the old one."""
    if not building_changed:
        return roles
    return [role for role in roles if role not in BUILDING_ROLES]


# --- Party branches, committee convenors and coverage (支部覆盖) -----------------------------------------------

PARTY_BRANCH = "party_branch"
# A branch serves one compound, or a whole community (a community-level branch) for compounds without their own.
BRANCH_AREA_LEVELS = ("compound", "community")


def check_branch_area(kind: str, area_level: str | None) -> None:
    """Only a party branch serves an area, and that area is a compound or a community (`area_level` None: none)."""
    if area_level is None:
        return
    if kind != PARTY_BRANCH:
        raise ValidationFailed.field("area_id", f"only organizations of kind {PARTY_BRANCH} serve an area")
    if area_level not in BRANCH_AREA_LEVELS:
        raise ValidationFailed.field("area_id", f"a party branch serves a compound or a community, not a {area_level}")


def branch_for(compound_id: object, community_id: object, branches: Mapping[Any, Any]) -> Any | None:
    """The branch a member of `compound_id` reports to: the compound's own, else its community's, else none.

    `branches` maps an area's id to the branch serving it.
    """
    return branches.get(compound_id) or branches.get(community_id)


def check_convenor(*, membership: str | None, home_community_id: object, community_id: object) -> None:
    """A committee's convenor is a current member living in one of the committee's community's compounds.

    `membership` None: no such member in the committee's district.
    """
    if membership is None:
        raise ValidationFailed.field("convenor_member_id", "no such member in the committee's district")
    if membership != MEMBERSHIP_ACTIVE:
        raise ValidationFailed.field("convenor_member_id", "this member has left")
    if home_community_id != community_id:
        raise ValidationFailed.field("convenor_member_id", "does not live in a compound of the committee's community")


# What a coverage report may be asked of: one compound, or all the compounds of a community or a street.
COVERAGE_LEVELS = ("compound", "community", "street")
GROUP_LEADER_ROLE = "party_group_leader"
IN_SERVICE = "in_service"
# Every role is counted, those nobody holds as 0, so a report's columns are the same for every compound.
COUNTED_ROLES = MEMBER_ROLES


def check_coverage_level(level: str) -> None:
    if level not in COVERAGE_LEVELS:
        raise ValidationFailed.field("area_id", f"coverage is reported for a compound, community or street, "
                                                f"not a {level}")


def day_in(now: datetime, time_zone: str) -> date:
    """The local date at `now` in `time_zone`: a pairing is in force on whole local days."""
    return now.astimezone(ZoneInfo(time_zone)).date()


@dataclass(frozen=True)
class Place:
    """An area as a report names it."""

    id: Any
    name: str


@dataclass
class Tally:
    """What the grouped counts found for one compound: its current members' numbers."""

    members: int = 0
    in_service: int = 0
    checked_in: int = 0
    roles: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CompoundCoverage:
    id: Any
    name: str
    members: int
    in_service: int
    checked_in: int
    roles: dict[str, int]
    buildings: int
    buildings_without_group_leader: list[Place]
    has_branch: bool
    has_pairing: bool


def role_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Members per counted role, in the order of COUNTED_ROLES; a code no longer known is not counted."""
    return {role: counts.get(role, 0) for role in COUNTED_ROLES}


def compound_coverage(compound: Place, community_id: object, tally: Tally, buildings: Sequence[Place], *,
                      led_buildings: Collection[Any], served_areas: Collection[Any],
                      paired_compounds: Collection[Any]) -> CompoundCoverage:
    """One compound's line of the report.

    `led_buildings`: buildings where a current member living there is a party group leader;
    `served_areas`: areas a party branch serves (the compound counts as served when its community is);
    `paired_compounds`: compounds with a pairing in force.
    """
    return CompoundCoverage(
        id=compound.id, name=compound.name, members=tally.members, in_service=tally.in_service,
        checked_in=tally.checked_in, roles=role_counts(tally.roles), buildings=len(buildings),
        buildings_without_group_leader=[b for b in buildings if b.id not in led_buildings],
        has_branch=compound.id in served_areas or community_id in served_areas,
        has_pairing=compound.id in paired_compounds)


def roll_up(compounds: Sequence[CompoundCoverage]) -> dict[str, Any]:
    """The totals of an area over its compounds' lines."""
    return {
        "compounds": len(compounds),
        "members": sum(c.members for c in compounds),
        "in_service": sum(c.in_service for c in compounds),
        "checked_in": sum(c.checked_in for c in compounds),
        "roles": {role: sum(c.roles.get(role, 0) for c in compounds) for role in COUNTED_ROLES},
        "buildings": sum(c.buildings for c in compounds),
        "buildings_without_group_leader": sum(len(c.buildings_without_group_leader) for c in compounds),
        "compounds_without_branch": sum(not c.has_branch for c in compounds),
        "compounds_without_pairing": sum(not c.has_pairing for c in compounds),
    }


def coverage_report(area: Mapping[str, Any], on: date, compounds: Sequence[CompoundCoverage]) -> dict[str, Any]:
    """The whole report: the area, its totals, each compound's line and the compounds lacking a branch or pairing.

    `on`: the local day the pairings were judged on.
    """
    return {
        "area": area,
        "on": on,
        "totals": roll_up(compounds),
        "compounds": compounds,
        "compounds_without_branch": [Place(c.id, c.name) for c in compounds if not c.has_branch],
        "compounds_without_pairing": [Place(c.id, c.name) for c in compounds if not c.has_pairing],
    }


# --- Service records (服务记录) ----------------------------------------------------------------------------

SERVICE_LOGGED = "logged"
SERVICE_VERIFIED = "verified"
SERVICE_REJECTED = "rejected"
SERVICE_RECORD_STATES = (SERVICE_LOGGED, SERVICE_VERIFIED, SERVICE_REJECTED)
SERVICE_RECORD_MOVES: dict[str, dict[str, str]] = {
    SERVICE_LOGGED: {"verify": SERVICE_VERIFIED, "reject": SERVICE_REJECTED},
    SERVICE_VERIFIED: {},
    SERVICE_REJECTED: {},
}
# How a move reads in a message ("cannot be verified").
_DONE = {"verify": "verified", "reject": "rejected", "hold": "held", "cancel": "cancelled"}
SOURCE_ACTIVITY = "activity"
SOURCE_TICKET = "ticket"
SOURCE_OTHER = "other"
SERVICE_SOURCES = (SOURCE_ACTIVITY, SOURCE_TICKET, SOURCE_OTHER)
# A day's service logged by hand: at most a whole day, counted in quarter hours as branches record it.
MAX_LOGGED_HOURS = 24
STEPS_PER_HOUR = 4
# An automatic credit tells of a whole ticket, which may have taken a member several days; the bound only
# keeps a producer's slip (hours in minutes, say) out of a year's sums.
MAX_CREDITED_HOURS = 1000
# A ticket's category becomes the record's when it is a code of the shared vocabulary; tickets' own coarse
# categories go to the nearest one; anything else counts as general community service.
FALLBACK_SERVICE_CATEGORY = "community_service"
TICKET_CATEGORY_SERVICE: dict[str, str] = {
    "environment": "sanitation",
    "facilities": "repairs",
    "dispute": "dispute_mediation",
}


def service_record_after(state: str, verb: str) -> str:
    """The state a service record in `state` reaches by `verb`; a move not allowed is a 409 naming both."""
    allowed = SERVICE_RECORD_MOVES[state]
    if verb not in allowed:
        verbs = ", ".join(allowed) or "nothing"
        raise InvalidTransition(f"a {state} service record cannot be {_DONE.get(verb, verb)}; allowed now: {verbs}",
                                errors={"state": [f"is {state}; allowed: {verbs}"]})
    return allowed[verb]


def logged_minutes(hours: float) -> int:
    """Minutes of a hand-logged day: more than nothing, at most a day, in whole quarter hours."""
    if not 0 < hours <= MAX_LOGGED_HOURS:
        raise ValidationFailed.field("hours", f"more than 0 and at most {MAX_LOGGED_HOURS}")
    steps = hours * STEPS_PER_HOUR
    if steps != int(steps):
        raise ValidationFailed.field("hours", "in quarter-hour steps (0.25, 0.5, 0.75, ...)")
    return int(steps) * (60 // STEPS_PER_HOUR)


def credited_minutes(hours: float) -> int | None:
    """Whole minutes of an automatic credit; None when the hours are no service to credit (0, negative, absurd)."""
    if not 0 < hours <= MAX_CREDITED_HOURS:
        return None
    minutes = round(hours * 60)
    return minutes if minutes > 0 else None


def check_service_category(category: str, field: str = "category") -> None:
    if category not in RESOURCE_CATEGORIES:
        raise ValidationFailed.field(field, "not a category of GET /v1/resource-categories")


def check_served_on(served_on: date, today: date) -> None:
    """Service is logged once given: a day after today (in the district's time zone) is a slip."""
    if served_on > today:
        raise ValidationFailed.field("served_on", "in the future")


def service_category_of_ticket(category: str) -> str:
    """The category a ticket's credit is counted under (see TICKET_CATEGORY_SERVICE)."""
    if category in RESOURCE_CATEGORIES:
        return category
    return TICKET_CATEGORY_SERVICE.get(category, FALLBACK_SERVICE_CATEGORY)


# --- Activities (活动) -------------------------------------------------------------------------------------

ACTIVITY_SCHEDULED = "scheduled"
ACTIVITY_HELD = "held"
ACTIVITY_CANCELLED = "cancelled"
ACTIVITY_STATES = (ACTIVITY_SCHEDULED, ACTIVITY_HELD, ACTIVITY_CANCELLED)
ACTIVITY_MOVES: dict[str, dict[str, str]] = {
    ACTIVITY_SCHEDULED: {"hold": ACTIVITY_HELD, "cancel": ACTIVITY_CANCELLED},
    ACTIVITY_HELD: {},
    ACTIVITY_CANCELLED: {},
}
# Activities are held for a community's residents: in the community itself or at one of its compounds.
ACTIVITY_AREA_LEVELS = ("community", "compound")
SIGN_UP_ACTIVE = "signed_up"
SIGN_UP_CANCELLED = "cancelled"
SIGN_UP_STATES = (SIGN_UP_ACTIVE, SIGN_UP_CANCELLED)


def activity_after(state: str, verb: str) -> str:
    """The state an activity in `state` reaches by `verb`; a move not allowed is a 409 naming both."""
    allowed = ACTIVITY_MOVES[state]
    if verb not in allowed:
        verbs = ", ".join(allowed) or "nothing"
        raise InvalidTransition(f"a {state} activity cannot be {_DONE.get(verb, verb)}; "
                                f"allowed now: {verbs}", errors={"state": [f"is {state}; allowed: {verbs}"]})
    return allowed[verb]


def check_editable(state: str) -> None:
    """An activity's details change only while it is still to come."""
    if state != ACTIVITY_SCHEDULED:
        raise InvalidTransition(f"a {state} activity cannot be edited; only a scheduled one can",
                                errors={"state": [f"is {state}; allowed: nothing"]})


def check_activity_area(level: str) -> None:
    if level not in ACTIVITY_AREA_LEVELS:
        raise ValidationFailed.field("area_id", f"a community or a compound, not a {level}")


def check_activity_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValidationFailed.field("ends_at", "not after starts_at")


def check_capacity(capacity: int | None, signed_up: int) -> None:
    """A capacity (None: no limit) holds at least one, and no fewer than have signed up already."""
    if capacity is None:
        return
    if capacity < 1:
        raise ValidationFailed.field("capacity", "at least 1")
    if capacity < signed_up:
        raise Conflict(f"{signed_up} members have signed up already; cancel sign-ups before lowering the capacity",
                       errors={"capacity": [f"below the {signed_up} sign-ups"]})


def check_sign_up(state: str, membership: str, *, signed_up_already: bool, capacity: int | None,
                  signed_up: int) -> None:
    """A current member signs up once for a scheduled activity that has room."""
    if state != ACTIVITY_SCHEDULED:
        raise InvalidTransition(f"a {state} activity takes no sign-ups",
                                errors={"state": [f"is {state}; sign-ups need scheduled"]})
    check_active(membership)
    if signed_up_already:
        raise Conflict("this member has already signed up", errors={"member_id": ["already signed up"]})
    if capacity is not None and signed_up >= capacity:
        raise Conflict(f"the activity is full ({capacity} places)", errors={"capacity": ["full"]})


def check_withdrawal(state: str, signed_up: bool) -> None:
    """A member withdraws a sign-up they hold, before the activity is held or cancelled."""
    if state != ACTIVITY_SCHEDULED:
        raise InvalidTransition(f"a {state} activity's sign-ups stand as they are",
                                errors={"state": [f"is {state}; withdrawing needs scheduled"]})
    if not signed_up:
        raise InvalidTransition("this member has no sign-up to withdraw")


def check_held_at(held_at: datetime, starts_at: datetime, now: datetime) -> None:
    """Attendance is recorded once the activity has begun, and not for a time still to come."""
    if held_at > now:
        raise ValidationFailed.field("held_at", "in the future")
    if held_at < starts_at:
        raise ValidationFailed.field("held_at", "before the activity starts (starts_at)")


@dataclass(frozen=True)
class Attendee:
    """A member who attended, the minutes they served, and the request field that named them (for errors)."""

    field: str
    member_id: Any
    minutes: int


def attendance(attendees: list[tuple[Any, float]] | None, member_ids: list[Any] | None,
               hours: float | None) -> list[Attendee]:
    """Who attended, each once: `attendees` with their own hours, or `member_ids` who all gave `hours`.

    Hours are as for a hand-logged day. The errors name each bad entry (`attendees.2.hours`), so a long
    list is fixed in one go.
    """
    if attendees is not None and (member_ids is not None or hours is not None):
        raise ValidationFailed.field("attendees", "send attendees, or member_ids with hours, not both")
    if attendees is None:
        if member_ids is None:
            raise ValidationFailed.field("attendees", "required (or member_ids with hours)")
        if hours is None:
            raise ValidationFailed.field("hours", "required with member_ids")
        each = logged_minutes(hours)
        entries = [(f"member_ids.{index}", member_id, hours) for index, member_id in enumerate(member_ids)]
    else:
        entries = [(f"attendees.{index}.member_id", member_id, given)
                   for index, (member_id, given) in enumerate(attendees)]
    errors: dict[str, list[str]] = {}
    seen: set[Any] = set()
    result = []
    for entry, member_id, given in entries:
        if member_id in seen:
            errors[entry] = ["listed twice"]
            continue
        seen.add(member_id)
        if attendees is None:
            result.append(Attendee(entry, member_id, each))
            continue
        try:
            result.append(Attendee(entry, member_id, logged_minutes(given)))
        except ValidationFailed as exc:
            errors[entry.removesuffix("member_id") + "hours"] = (exc.errors or {}).get("hours", [exc.detail])
    if errors:
        raise ValidationFailed(f"invalid attendees: {', '.join(sorted(errors))}", errors=errors)
    return result
