"""Events registry publishes; each payload is its schema dumping the entity (`shared.changes.record`)."""

from __future__ import annotations

import marshmallow as ma

from linli.shared.events import declare


class AreaData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    parent_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(allow_none=True)
    time_zone = ma.fields.String(required=True)
    # Compound details (None on other levels).
    management_mode = ma.fields.String(allow_none=True)
    households = ma.fields.Integer(allow_none=True)
    residents = ma.fields.Integer(allow_none=True)
    year_built = ma.fields.Integer(allow_none=True)
    property_company_id = ma.fields.UUID(allow_none=True)
    owners_committee_id = ma.fields.UUID(allow_none=True)
    # Building details (None on other levels).
    units = ma.fields.Integer(allow_none=True)
    floors = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer(required=True)


class CommitteeUnitData(ma.Schema):
    """A current unit of a committee, as read models keep it."""

    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    organization_kind = ma.fields.String(required=True)
    joined_on = ma.fields.Date(required=True)


class CommitteeData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    convenor_name = ma.fields.String(allow_none=True)
    convenor_member_id = ma.fields.UUID(allow_none=True)
    units = ma.fields.List(ma.fields.Nested(CommitteeUnitData), required=True, metadata={
        "description": "the committee's current units after the change, in the order they joined"})
    version = ma.fields.Integer(required=True)


AREA_CREATED = declare("registry.area.created", "An area (district to grid) was added to the tree.", AreaData)
AREA_UPDATED = declare("registry.area.updated", "An area's name, kind, time zone or details changed.", AreaData)
COMMITTEE_CREATED = declare(
    "registry.committee.created", "A community's big party committee was set up.", CommitteeData
)



# --- Moves and grid coverage -------------------------------------------------------------------------


class CoverageData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    parent_id = ma.fields.UUID(allow_none=True)
    covered_area_ids = ma.fields.List(ma.fields.UUID(), required=True)
    version = ma.fields.Integer(required=True)


AREA_MOVED = declare("registry.area.moved", "An area moved under another parent (its subtree with it).", AreaData)
AREA_COVERAGE_CHANGED = declare(
    "registry.area.coverage_changed",
    "A grid's coverage (the compounds and buildings it covers) was replaced; the grid's own id is the subject.",
    CoverageData,
)


# --- Organizations ---------------------------------------------------------------------------------------

class OrganizationData(ma.Schema):
    """An organization as anyone may read it: no contact person, no phone number."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    address = ma.fields.String(allow_none=True)
    area_id = ma.fields.UUID(allow_none=True, metadata={
        "description": "a party branch's compound, or its community for a community-level branch"})
    version = ma.fields.Integer(required=True)


class OrganizationContactData(ma.Schema):
    """Whom to call at an organization, for notify; personal data, so only on linli.private."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    contact_person = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    contact_email = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(required=True)


ORGANIZATION_CREATED = declare("registry.organization.created",
                               "An organization (agency, school, company, ...) was registered.", OrganizationData)
ORGANIZATION_UPDATED = declare("registry.organization.updated",
                               "An organization's kind, name, address or served area changed.", OrganizationData)
ORGANIZATION_CONTACT = declare(
    "registry.organization.contact",
    "An organization's contact person, phone number or e-mail address was set or changed (private: personal data).",
    OrganizationContactData, private=True)


# --- Resources ---------------------------------------------------------------------------------------------

class ResourceData(ma.Schema):
    """A resource after the change, with every category its organization now offers (for matching tickets)."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    state = ma.fields.String(required=True)
    organization_categories = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "the categories of all resources the organization offers after this change, sorted"})
    version = ma.fields.Integer(required=True)


RESOURCE_ADDED = declare("registry.resource.added", "An organization added a resource to its list (资源清单).",
                         ResourceData)
RESOURCE_REMOVED = declare("registry.resource.removed", "An organization took a resource off its list.",
                           ResourceData)


# --- Pairings ----------------------------------------------------------------------------------------------

class PairingData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    compound_id = ma.fields.UUID(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True, metadata={"description": "last day, inclusive; none: open-ended"})
    state = ma.fields.String(required=True)
    reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(required=True)


PAIRING_CREATED = declare("registry.pairing.created",
                          "An organization was paired with a compound it is responsible for (结对包建).", PairingData)
PAIRING_REMOVED = declare("registry.pairing.removed", "A pairing of an organization with a compound ended.",
                          PairingData)


# --- Committee units -----------------------------------------------------------------------------------------

class CommitteeUnitChangeData(CommitteeData):
    """A committee after a unit joined or left: the committee, the unit that moved, and the current units.

    `id` and `version` are the committee's, so a read model orders these with the committee's other events.
    """

    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    organization_kind = ma.fields.String(required=True)
    joined_on = ma.fields.Date(required=True)
    left_on = ma.fields.Date(allow_none=True)
    left_reason = ma.fields.String(allow_none=True)


class CommitteeUnitContactData(ma.Schema):
    """The part-time member (兼职委员) a unit sends, for notify; personal data, so only on linli.private."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    committee_id = ma.fields.UUID(required=True)
    organization_id = ma.fields.UUID(required=True)
    member_name = ma.fields.String(required=True)
    member_phone = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(required=True)


COMMITTEE_UPDATED = declare("registry.committee.updated", "A committee's name or convenor changed.", CommitteeData)
COMMITTEE_UNIT_JOINED = declare("registry.committee.unit_joined",
                                "An organization joined a committee as a co-building unit (共建单位).",
                                CommitteeUnitChangeData)
COMMITTEE_UNIT_LEFT = declare("registry.committee.unit_left", "A co-building unit left a committee.",
                              CommitteeUnitChangeData)
COMMITTEE_UNIT_CONTACT = declare(
    "registry.committee_unit.contact",
    "The part-time member a unit sends to a committee, with their phone (private: personal data).",
    CommitteeUnitContactData, private=True)


# --- Party members -----------------------------------------------------------------------------------------

class MemberData(ma.Schema):
    """A member as anyone may read it: no phone number."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    employer_id = ma.fields.UUID(allow_none=True)
    compound_id = ma.fields.UUID(required=True)
    building_id = ma.fields.UUID(allow_none=True)
    status = ma.fields.String(required=True)
    skills = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "resource categories"})
    roles = ma.fields.List(ma.fields.String(), required=True)
    membership = ma.fields.String(required=True, metadata={"description": "active, or left"})
    left_on = ma.fields.Date(allow_none=True)
    version = ma.fields.Integer(required=True)


class MemberContactData(ma.Schema):
    """How to reach a member, for notify; personal data, so only on linli.private."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    phone = ma.fields.String(required=True)
    email = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(required=True)


MEMBER_REGISTERED = declare("registry.member.registered", "A party member was registered.", MemberData)
MEMBER_UPDATED = declare("registry.member.updated",
                         "A member's name, employer, building, status, skills or roles changed.", MemberData)
MEMBER_CONTACT = declare("registry.member.contact",
                         "A member's name, phone number and e-mail address, when set or changed "
                         "(private: personal data).",
                         MemberContactData, private=True)


class PledgeData(ma.Schema):
    """A member's public pledge: the member's id and the pledge's text, nothing personal besides."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    member_id = ma.fields.UUID(required=True)
    text = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "open, or fulfilled"})
    fulfilled_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer(required=True)


PLEDGE_ADDED = declare("registry.pledge.added", "A member made a public pledge (承诺).", PledgeData)
PLEDGE_FULFILLED = declare("registry.pledge.fulfilled", "A member's pledge was fulfilled.", PledgeData)


# --- Check-ins, moves and leaving ---------------------------------------------------------------------------

class CheckInData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    member_id = ma.fields.UUID(required=True)
    compound_id = ma.fields.UUID(required=True)
    building_id = ma.fields.UUID(allow_none=True)
    state = ma.fields.String(required=True, metadata={"description": "submitted, confirmed, rejected or ended"})
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    reason = ma.fields.String(allow_none=True, metadata={"description": "why the branch rejected it"})
    ended_at = ma.fields.AwareDateTime(allow_none=True)
    branch_id = ma.fields.UUID(allow_none=True, metadata={
        "description": "the party branch serving the compound, else its community, when the member reported"})
    version = ma.fields.Integer(required=True)


class MemberMoveData(MemberData):
    """A member after a confirmed check-in at another home; id and version are the member's."""

    previous_compound_id = ma.fields.UUID(required=True)
    previous_building_id = ma.fields.UUID(allow_none=True)
    check_in_id = ma.fields.UUID(required=True, metadata={"description": "the confirmed check-in that moved them"})


CHECK_IN_SUBMITTED = declare("registry.check_in.submitted",
                             "A member reported to the branch of their home compound (报到).", CheckInData)
CHECK_IN_CONFIRMED = declare("registry.check_in.confirmed", "The branch confirmed a member's check-in.", CheckInData)
CHECK_IN_REJECTED = declare("registry.check_in.rejected", "The branch rejected a member's check-in, with a reason.",
                            CheckInData)
CHECK_IN_ENDED = declare("registry.check_in.ended",
                         "A check-in stopped being in force: the member checked in elsewhere, or left.", CheckInData)
MEMBER_MOVED = declare("registry.member.moved",
                       "A member's home moved to the compound of their newly confirmed check-in.", MemberMoveData)
MEMBER_LEFT = declare("registry.member.left", "A member's membership here ended.", MemberData)


# --- Service records ------------------------------------------------------------------------------------------

class ServiceRecordData(ma.Schema):
    """Hours a member gave: the member's id, never their phone."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    member_id = ma.fields.UUID(required=True)
    source = ma.fields.String(required=True, metadata={"description": "activity, ticket, or other (logged by hand)"})
    source_id = ma.fields.UUID(allow_none=True, metadata={"description": "the activity's or ticket's id"})
    served_on = ma.fields.Date(required=True, metadata={"description": "local date in the district's time zone"})
    minutes = ma.fields.Integer(required=True, metadata={"description": "exact; sum these, not hours"})
    hours = ma.fields.Float(required=True, metadata={"description": "minutes / 60"})
    category = ma.fields.String(required=True, metadata={"description": "a code of GET /v1/resource-categories"})
    note = ma.fields.String(allow_none=True)
    state = ma.fields.String(required=True, metadata={"description": "logged, verified or rejected"})
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    decided_by = ma.fields.String(allow_none=True, metadata={
        "description": "the client that verified or rejected it; `activity:<id>` or `ticket:<id>` for a credit"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "why it was rejected"})
    version = ma.fields.Integer(required=True)


SERVICE_RECORD_LOGGED = declare("registry.service_record.logged",
                                "A member's hours of service were logged by hand, awaiting the branch.",
                                ServiceRecordData)
SERVICE_RECORD_VERIFIED = declare(
    "registry.service_record.verified",
    "A member's hours of service count: the branch verified a logged record, or a closed ticket or a held "
    "activity credited it (then this is the record's only event).", ServiceRecordData)
SERVICE_RECORD_REJECTED = declare("registry.service_record.rejected",
                                  "The branch rejected a logged record of service, with a reason.",
                                  ServiceRecordData)


# --- Activities -----------------------------------------------------------------------------------------------

class ActivityData(ma.Schema):
    """An activity after the change; `community_id` is set also when it is held at a compound."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    host_organization_id = ma.fields.UUID(required=True)
    host_organization_name = ma.fields.String(required=True, attribute="host.name")
    area_id = ma.fields.UUID(required=True, metadata={"description": "the community or compound it is held in"})
    community_id = ma.fields.UUID(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    category = ma.fields.String(required=True, metadata={"description": "a code of GET /v1/resource-categories"})
    place = ma.fields.String(required=True)
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    capacity = ma.fields.Integer(allow_none=True, metadata={"description": "null: no limit"})
    sign_up_count = ma.fields.Integer(required=True)
    state = ma.fields.String(required=True, metadata={"description": "scheduled, held or cancelled"})
    held_at = ma.fields.AwareDateTime(allow_none=True)
    attendee_count = ma.fields.Integer(required=True, metadata={"description": "members who attended, once held"})
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)
    reason = ma.fields.String(allow_none=True, metadata={"description": "why it was cancelled"})
    version = ma.fields.Integer(required=True)


ACTIVITY_SCHEDULED = declare("registry.activity.scheduled",
                             "A unit scheduled an activity for a community's residents (义诊, 讲座, 清扫, ...).",
                             ActivityData)
ACTIVITY_UPDATED = declare("registry.activity.updated", "A scheduled activity's details changed.", ActivityData)
ACTIVITY_HELD = declare(
    "registry.activity.held",
    "An activity was held: its attendance is recorded and each attendee's hours credited.", ActivityData)
ACTIVITY_CANCELLED = declare("registry.activity.cancelled", "A scheduled activity was cancelled, with a reason.",
                             ActivityData)
