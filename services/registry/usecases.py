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
    ORGANIZATION_CONTACT,
    ORGANIZATION_CREATED,
    ORGANIZATION_UPDATED,
    PAIRING_CREATED,
    PAIRING_REMOVED,
    RESOURCE_ADDED,
    RESOURCE_REMOVED,
)
from linli.services.registry.models import Area, Committee, Organization, Pairing, Resource
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


def set_up_committee(session: Session, actor: Actor, *, community_id: uuid.UUID, name: str) -> Committee:
    """Set up a community's big party committee; a community has one at most."""
    community = session.get(Area, community_id)
    if community is None or not actor.sees(community.district_id) or community.level != domain.COMMITTEE_LEVEL:
        raise ValidationFailed.field("community_id", "no such community")
    if session.scalar(select(Committee.id).where(Committee.community_id == community.id)):
        raise Conflict("this community already has a committee")
    committee = Committee(district_id=community.district_id, community_id=community.id, name=name,
                          time_zone=community.time_zone)
    session.add(committee)
    record(session, COMMITTEE_CREATED, committee)
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
