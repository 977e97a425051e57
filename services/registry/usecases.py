"""registry's actions: one function per action, whoever asks (an HTTP view today, a command tomorrow).

Each takes the session and the acting caller, applies the domain rules, and records the
change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linli.services.registry import domain
from linli.services.registry.events import AREA_CREATED, AREA_UPDATED, COMMITTEE_CREATED
from linli.services.registry.models import Area, Committee
from linli.shared.actors import Actor
from linli.shared.changes import record
from linli.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed

# Called with the version an edit is about to change; raises if the caller expected another.
VersionCheck = Callable[[int], None]

EDITABLE_AREA_FIELDS = ("name", "kind", "time_zone", *domain.DETAILS)


def add_area(session: Session, actor: Actor, *, level: str, name: str, parent_id: uuid.UUID | None,
             kind: str | None, time_zone: str, details: Mapping[str, Any] | None = None) -> Area:
    """Add an area under its parent; a district (no parent) starts a tree and only operators add one."""
    details = {field: value for field, value in (details or {}).items() if value is not None}
    unknown = set(details) - set(domain.DETAILS)
    if unknown:
        raise ValueError(f"not details of an area: {', '.join(sorted(unknown))}")
    parent = None
    if parent_id is not None:
        parent = session.get(Area, parent_id)
        if parent is None or not actor.sees(parent.district_id):
            raise ValidationFailed.field("parent_id", "no such area")
    domain.check_placement(level, parent.level if parent else None, kind)
    domain.check_details(level, kind, details)
    area_id = uuid.uuid4()
    if parent is None:
        if not actor.is_operator:
            raise Forbidden("only operators add districts")
        district_id = str(area_id)
    else:
        district_id = parent.district_id
    _check_name_free(session, parent_id, name)
    area = Area(id=area_id, district_id=district_id, parent_id=parent_id, level=level, name=name, kind=kind,
                time_zone=time_zone, **details)
    session.add(area)
    record(session, AREA_CREATED, area)
    return area


def edit_area(session: Session, actor: Actor, area_id: uuid.UUID, changes: Mapping[str, Any],
              *, check_version: VersionCheck | None = None) -> Area:
    """Rename an area, change its kind, time zone or details; an edit that changes nothing records nothing."""
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
    # The details are judged as they will stand, so a three-no compound cannot gain a property company,
    # nor a compound with one become three-no, whichever field the edit names.
    after = {name: changes.get(name, getattr(area, name)) for name in domain.DETAILS}
    domain.check_details(area.level, changes.get("kind", area.kind), after)
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
