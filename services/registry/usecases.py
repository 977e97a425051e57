"""registry's actions: one function per action, whoever asks (an HTTP view today, a command tomorrow).

Each takes the session and the acting caller, applies the domain rules, and records the
change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linli.services.registry import domain
from linli.services.registry.events import (
    AREA_CREATED,
    AREA_UPDATED,
    COMMITTEE_CREATED,
    COMMITTEE_UNIT_CONTACT,
    COMMITTEE_UNIT_JOINED,
    COMMITTEE_UNIT_LEFT,
    COMMITTEE_UPDATED,
    ORGANIZATION_CONTACT,
    ORGANIZATION_CREATED,
    ORGANIZATION_UPDATED,
    PAIRING_CREATED,
    PAIRING_REMOVED,
    RESOURCE_ADDED,
    RESOURCE_REMOVED,
)
from linli.services.registry.models import Area, Committee, CommitteeUnit, Organization, Pairing, Resource
from linli.shared.actors import Actor
from linli.shared.changes import record
from linli.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed

# Called with the version an edit is about to change; raises if the caller expected another.
VersionCheck = Callable[[int], None]

EDITABLE_AREA_FIELDS = ("name", "kind", "time_zone")


def add_area(session: Session, actor: Actor, *, level: str, name: str, parent_id: uuid.UUID | None,
             kind: str | None, time_zone: str) -> Area:
    """Add an area under its parent; a district (no parent) starts a tree and only operators add one."""
    parent = None
    if parent_id is not None:
        parent = session.get(Area, parent_id)
        if parent is None or not actor.sees(parent.district_id):
            raise ValidationFailed.field("parent_id", "no such area")
    domain.check_placement(level, parent.level if parent else None, kind)
    area_id = uuid.uuid4()
    if parent is None:
        if not actor.is_operator:
            raise Forbidden("only operators add districts")
        district_id = str(area_id)
    else:
        district_id = parent.district_id
    _check_name_free(session, parent_id, name)
    area = Area(id=area_id, district_id=district_id, parent_id=parent_id, level=level, name=name, kind=kind,
                time_zone=time_zone)
    session.add(area)
    record(session, AREA_CREATED, area)
    return area


def edit_area(session: Session, actor: Actor, area_id: uuid.UUID, changes: Mapping[str, Any],
              *, check_version: VersionCheck | None = None) -> Area:
    """Rename an area or change its kind or time zone; an edit that changes nothing records nothing."""
    area = session.get(Area, area_id, with_for_update=True)
    if area is None or not actor.sees(area.district_id):
        raise NotFound("area not found")
    if check_version is not None:
        check_version(area.version)
    unknown = set(changes) - set(EDITABLE_AREA_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if "kind" in changes:
        domain.check_kind(area.level, changes["kind"])
    changed = {name: value for name, value in changes.items() if getattr(area, name) != value}
    if "name" in changed:
        _check_name_free(session, area.parent_id, changed["name"])
    if changed:
        for name, value in changed.items():
            setattr(area, name, value)
        record(session, AREA_UPDATED, area)
    return area


def _check_name_free(session: Session, parent_id: uuid.UUID | None, name: str) -> None:
    """Sibling areas have distinct names (a unique index holds it against racing writers too)."""
    same_parent = Area.parent_id.is_(None) if parent_id is None else Area.parent_id == parent_id
    if session.scalar(select(Area.id).where(same_parent, Area.name == name)):
        raise Conflict(f"an area named {name!r} already exists here", errors={"name": ["already taken"]})


def set_up_committee(session: Session, actor: Actor, *, community_id: uuid.UUID, name: str,
                     convenor_name: str | None = None, convenor_member_id: uuid.UUID | None = None) -> Committee:
    """Set up a community's big party committee; a community has one at most."""
    community = session.get(Area, community_id)
    if community is None or not actor.sees(community.district_id) or community.level != domain.COMMITTEE_LEVEL:
        raise ValidationFailed.field("community_id", "no such community")
    if session.scalar(select(Committee.id).where(Committee.community_id == community.id)):
        raise Conflict("this community already has a committee")
    committee = Committee(district_id=community.district_id, community_id=community.id, name=name,
                          time_zone=community.time_zone, convenor_name=convenor_name,
                          convenor_member_id=convenor_member_id, unit_count=0)
    session.add(committee)
    session.flush()
    record(session, COMMITTEE_CREATED, committee, payload_of=_committee_state(session, committee))
    return committee


# --- Organizations -----------------------------------------------------------------------------------------

EDITABLE_ORGANIZATION_FIELDS = ("kind", "name", "address", "contact_person", "contact_phone")
_CONTACT_FIELDS = ("contact_person", "contact_phone")


def register_organization(session: Session, actor: Actor, *, kind: str, name: str, address: str | None = None,
                          contact_person: str | None = None, contact_phone: str | None = None,
                          district_id: str | None = None) -> Organization:
    """Register an organization in the caller's district (an operator names the district)."""
    district = domain.organization_district(None if actor.is_operator else actor.district, district_id)
    if actor.is_operator:
        _check_district_exists(session, district)
    organization = Organization(district_id=district, kind=kind, name=name, address=address,
                                contact_person=contact_person, contact_phone=contact_phone)
    session.add(organization)
    record(session, ORGANIZATION_CREATED, organization)
    if contact_person is not None or contact_phone is not None:
        record(session, ORGANIZATION_CONTACT, organization)
    return organization


def edit_organization(session: Session, actor: Actor, organization_id: uuid.UUID, changes: Mapping[str, Any],
                      *, check_version: VersionCheck | None = None) -> Organization:
    """Change an organization's fields; the contact goes out privately, the rest publicly, each only if changed."""
    organization = session.get(Organization, organization_id, with_for_update=True)
    if organization is None or not actor.sees(organization.district_id):
        raise NotFound("organization not found")
    if check_version is not None:
        check_version(organization.version)
    unknown = set(changes) - set(EDITABLE_ORGANIZATION_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    changed = {name: value for name, value in changes.items() if getattr(organization, name) != value}
    for name, value in changed.items():
        setattr(organization, name, value)
    if set(changed) - set(_CONTACT_FIELDS):
        record(session, ORGANIZATION_UPDATED, organization)
    if set(changed) & set(_CONTACT_FIELDS):
        record(session, ORGANIZATION_CONTACT, organization)
    return organization


def _check_district_exists(session: Session, district_id: str) -> None:
    try:
        area_id = uuid.UUID(district_id)
    except ValueError:
        raise ValidationFailed.field("district_id", "no such district") from None
    district = session.get(Area, area_id)
    if district is None or district.level != "district":
        raise ValidationFailed.field("district_id", "no such district")


# --- Resources ---------------------------------------------------------------------------------------------

def add_resource(session: Session, actor: Actor, organization_id: uuid.UUID, *, kind: str, category: str,
                 description: str, quantity: int = 1) -> Resource:
    """Add a resource to an organization's list."""
    organization = _visible_organization(session, actor, organization_id)
    domain.check_resource(kind, category, quantity)
    resource = Resource(district_id=organization.district_id, organization_id=organization.id, kind=kind,
                        category=category, description=description, quantity=quantity,
                        state=domain.RESOURCE_AVAILABLE)
    session.add(resource)
    session.flush()
    record(session, RESOURCE_ADDED, resource, payload_of=_resource_state(session, resource, organization))
    return resource


def remove_resource(session: Session, actor: Actor, organization_id: uuid.UUID, resource_id: uuid.UUID,
                    now: datetime) -> Resource:
    """Take a resource off an organization's list; it stays readable as removed."""
    organization = _visible_organization(session, actor, organization_id)
    resource = session.get(Resource, resource_id, with_for_update=True)
    if resource is None or resource.organization_id != organization.id:
        raise NotFound("resource not found")
    domain.check_resource_removable(resource.state)
    resource.state = domain.RESOURCE_REMOVED
    resource.removed_at = now
    session.flush()
    record(session, RESOURCE_REMOVED, resource, payload_of=_resource_state(session, resource, organization))
    return resource


def _visible_organization(session: Session, actor: Actor, organization_id: uuid.UUID) -> Organization:
    organization = session.get(Organization, organization_id)
    if organization is None or not actor.sees(organization.district_id):
        raise NotFound("organization not found")
    return organization


def _resource_state(session: Session, resource: Resource, organization: Organization) -> dict[str, Any]:
    offered = session.scalars(select(Resource.category).distinct().where(
        Resource.organization_id == organization.id, Resource.state == domain.RESOURCE_AVAILABLE))
    return {"id": resource.id, "district_id": resource.district_id, "organization_id": organization.id,
            "organization_name": organization.name, "kind": resource.kind, "category": resource.category,
            "description": resource.description, "quantity": resource.quantity, "state": resource.state,
            "organization_categories": sorted(offered), "version": resource.version}


# --- Pairings ----------------------------------------------------------------------------------------------

def pair(session: Session, actor: Actor, *, organization_id: uuid.UUID, compound_id: uuid.UUID, starts_on: date,
         ends_on: date | None = None) -> Pairing:
    """Pair an organization with a compound of its district; one pairing of the two at a time."""
    organization = _referenced_organization(session, actor, organization_id, "organization_id")
    compound = session.get(Area, compound_id)
    if compound is None or not actor.sees(compound.district_id) or compound.level != "compound":
        raise ValidationFailed.field("compound_id", "no such compound")
    if compound.district_id != organization.district_id:
        raise ValidationFailed.field("compound_id", "in another district than the organization")
    domain.check_pairing_dates(starts_on, ends_on)
    current = session.scalars(select(Pairing).where(
        Pairing.organization_id == organization.id, Pairing.compound_id == compound.id,
        Pairing.state == domain.PAIRING_ACTIVE))
    if any(domain.periods_overlap(p.starts_on, p.ends_on, starts_on, ends_on) for p in current):
        raise Conflict("this organization is already paired with this compound for these dates")
    pairing = Pairing(district_id=organization.district_id, organization_id=organization.id,
                      compound_id=compound.id, starts_on=starts_on, ends_on=ends_on, state=domain.PAIRING_ACTIVE)
    session.add(pairing)
    session.flush()
    record(session, PAIRING_CREATED, pairing, payload_of=_pairing_state(pairing, organization))
    return pairing


def unpair(session: Session, actor: Actor, pairing_id: uuid.UUID, *, ends_on: date,
           reason: str | None = None) -> Pairing:
    """End a pairing on `ends_on` (its last day); it stays listed, as removed."""
    pairing = session.get(Pairing, pairing_id, with_for_update=True)
    if pairing is None or not actor.sees(pairing.district_id):
        raise NotFound("pairing not found")
    domain.check_pairing_removal(pairing.state, pairing.starts_on, ends_on)
    pairing.state, pairing.ends_on, pairing.reason = domain.PAIRING_REMOVED, ends_on, reason
    session.flush()
    organization = session.get_one(Organization, pairing.organization_id)
    record(session, PAIRING_REMOVED, pairing, payload_of=_pairing_state(pairing, organization))
    return pairing


def _referenced_organization(session: Session, actor: Actor, organization_id: uuid.UUID, field: str) -> Organization:
    """An organization named in a request body: unknown or foreign is a validation error on that field."""
    organization = session.get(Organization, organization_id)
    if organization is None or not actor.sees(organization.district_id):
        raise ValidationFailed.field(field, "no such organization")
    return organization


def _pairing_state(pairing: Pairing, organization: Organization) -> dict[str, Any]:
    return {"id": pairing.id, "district_id": pairing.district_id, "organization_id": organization.id,
            "organization_name": organization.name, "compound_id": pairing.compound_id,
            "starts_on": pairing.starts_on, "ends_on": pairing.ends_on, "state": pairing.state,
            "reason": pairing.reason, "version": pairing.version}


# --- Committees: convenor and units ------------------------------------------------------------------------

EDITABLE_COMMITTEE_FIELDS = ("name", "convenor_name", "convenor_member_id")


def edit_committee(session: Session, actor: Actor, committee_id: uuid.UUID, changes: Mapping[str, Any],
                   *, check_version: VersionCheck | None = None) -> Committee:
    """Rename a committee or change its convenor; an edit that changes nothing records nothing."""
    committee = _visible_committee(session, actor, committee_id)
    if check_version is not None:
        check_version(committee.version)
    unknown = set(changes) - set(EDITABLE_COMMITTEE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    changed = {name: value for name, value in changes.items() if getattr(committee, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(committee, name, value)
        session.flush()
        record(session, COMMITTEE_UPDATED, committee, payload_of=_committee_state(session, committee))
    return committee


def join_committee(session: Session, actor: Actor, committee_id: uuid.UUID, *, organization_id: uuid.UUID,
                   joined_on: date, member_name: str, member_phone: str | None = None) -> CommitteeUnit:
    """An organization of the committee's district joins it, sending a part-time member (兼职委员)."""
    committee = _visible_committee(session, actor, committee_id)
    organization = _referenced_organization(session, actor, organization_id, "organization_id")
    if organization.district_id != committee.district_id:
        raise ValidationFailed.field("organization_id", "in another district than the committee")
    stints = list(session.scalars(select(CommitteeUnit).where(
        CommitteeUnit.committee_id == committee.id, CommitteeUnit.organization_id == organization.id)))
    last_left = max((s.left_on for s in stints if s.left_on is not None), default=None)
    domain.check_join(any(s.left_on is None for s in stints), last_left, joined_on)
    unit = CommitteeUnit(district_id=committee.district_id, committee_id=committee.id,
                         organization_id=organization.id, organization=organization, joined_on=joined_on,
                         member_name=member_name, member_phone=member_phone)
    session.add(unit)
    committee.unit_count += 1
    session.flush()
    record(session, COMMITTEE_UNIT_JOINED, committee, payload_of=_unit_change(session, committee, unit))
    record(session, COMMITTEE_UNIT_CONTACT, unit, payload_of=_unit_contact(unit))
    return unit


def leave_committee(session: Session, actor: Actor, committee_id: uuid.UUID, organization_id: uuid.UUID, *,
                    left_on: date, reason: str) -> CommitteeUnit:
    """A current unit leaves the committee; its stint stays listed with the day and the reason."""
    committee = _visible_committee(session, actor, committee_id)
    unit = session.scalar(select(CommitteeUnit).where(
        CommitteeUnit.committee_id == committee.id, CommitteeUnit.organization_id == organization_id,
        CommitteeUnit.left_on.is_(None)).with_for_update())
    domain.check_leave(None if unit is None else unit.joined_on, left_on)
    assert unit is not None  # check_leave refused a non-member
    unit.left_on, unit.left_reason = left_on, reason
    committee.unit_count -= 1
    session.flush()
    record(session, COMMITTEE_UNIT_LEFT, committee, payload_of=_unit_change(session, committee, unit))
    return unit


def _visible_committee(session: Session, actor: Actor, committee_id: uuid.UUID) -> Committee:
    # Locked: joins and leaves of one committee take turns, so its unit count and version stay true.
    committee = session.get(Committee, committee_id, with_for_update=True)
    if committee is None or not actor.sees(committee.district_id):
        raise NotFound("committee not found")
    return committee


def _committee_state(session: Session, committee: Committee) -> dict[str, Any]:
    current = session.scalars(select(CommitteeUnit).where(
        CommitteeUnit.committee_id == committee.id, CommitteeUnit.left_on.is_(None))
        .order_by(CommitteeUnit.joined_on, CommitteeUnit.created_at, CommitteeUnit.id))
    units = [{"organization_id": u.organization_id, "organization_name": u.organization.name,
              "organization_kind": u.organization.kind, "joined_on": u.joined_on} for u in current]
    return {"id": committee.id, "district_id": committee.district_id, "community_id": committee.community_id,
            "name": committee.name, "time_zone": committee.time_zone, "convenor_name": committee.convenor_name,
            "convenor_member_id": committee.convenor_member_id, "units": units, "version": committee.version}


def _unit_change(session: Session, committee: Committee, unit: CommitteeUnit) -> dict[str, Any]:
    return {**_committee_state(session, committee), "organization_id": unit.organization_id,
            "organization_name": unit.organization.name, "organization_kind": unit.organization.kind,
            "joined_on": unit.joined_on, "left_on": unit.left_on, "left_reason": unit.left_reason}


def _unit_contact(unit: CommitteeUnit) -> dict[str, Any]:
    return {"id": unit.id, "district_id": unit.district_id, "committee_id": unit.committee_id,
            "organization_id": unit.organization_id, "member_name": unit.member_name,
            "member_phone": unit.member_phone, "version": unit.version}
