"""registry's actions: one function per action, whoever asks (an HTTP view today, a command tomorrow).

Each takes the session and the acting caller, applies the domain rules, and records the
change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from linli.services.registry import domain, evaluation
from linli.services.registry.events import (
    ACTIVITY_CANCELLED,
    ACTIVITY_HELD,
    ACTIVITY_SCHEDULED,
    ACTIVITY_UPDATED,
    AREA_COVERAGE_CHANGED,
    AREA_CREATED,
    AREA_MOVED,
    AREA_UPDATED,
    CHECK_IN_CONFIRMED,
    CHECK_IN_ENDED,
    CHECK_IN_REJECTED,
    CHECK_IN_SUBMITTED,
    COMMITTEE_CREATED,
    COMMITTEE_UNIT_CONTACT,
    COMMITTEE_UNIT_JOINED,
    COMMITTEE_UNIT_LEFT,
    COMMITTEE_UPDATED,
    MEMBER_CONTACT,
    MEMBER_LEFT,
    MEMBER_MOVED,
    MEMBER_REGISTERED,
    MEMBER_UPDATED,
    ORGANIZATION_CONTACT,
    ORGANIZATION_CREATED,
    ORGANIZATION_UPDATED,
    PAIRING_CREATED,
    PAIRING_REMOVED,
    PLEDGE_ADDED,
    PLEDGE_FULFILLED,
    RESOURCE_ADDED,
    RESOURCE_REMOVED,
    SERVICE_RECORD_LOGGED,
    SERVICE_RECORD_REJECTED,
    SERVICE_RECORD_VERIFIED,
    AreaData,
    MemberData,
)
from linli.services.registry.models import (
    Activity,
    ActivitySignUp,
    Area,
    CheckIn,
    Committee,
    CommitteeUnit,
    Member,
    MemberRole,
    Organization,
    Pairing,
    Pledge,
    Resource,
    ServiceRecord,
    activity_attendees,
    grid_coverage,
)
from linli.shared.actors import Actor
from linli.shared.changes import edits, record
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import utcnow
from linli.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from linli.shared.logs import get_logger
from linli.shared.outbox import emit
from linli.shared.visibility import visible

log = get_logger(__name__)

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
    _raise_unless_organizations_fit(session, district_id, details)
    _check_name_free(session, parent_id, name)
    area = Area(id=area_id, district_id=district_id, parent_id=parent_id, level=level, name=name, kind=kind,
                time_zone=time_zone, **details)
    session.add(area)
    record(session, AREA_CREATED, area)
    return area


def edit_area(session: Session, actor: Actor, area_id: uuid.UUID, changes: Mapping[str, Any],
              *, check_version: VersionCheck | None = None) -> Area:
    """Rename an area, change its kind, time zone or details; an edit that changes nothing records nothing."""
    area = visible(session, actor, Area, area_id, what="area", for_update=True)
    if check_version is not None:
        check_version(area.version)
    changed = edits(area, changes, EDITABLE_AREA_FIELDS)
    if "kind" in changes:
        domain.check_kind(area.level, changes["kind"])
    # The details are judged as they will stand, so a three-no compound cannot gain a property company,
    # nor a compound with one become three-no, whichever field the edit names.
    after = {name: changes.get(name, getattr(area, name)) for name in domain.DETAILS}
    domain.check_details(area.level, changes.get("kind", area.kind), after)
    _raise_unless_organizations_fit(session, area.district_id, changed)
    if "name" in changed:
        _check_name_free(session, area.parent_id, changed["name"])
    if changed:
        for name, value in changed.items():
            setattr(area, name, value)
        record(session, AREA_UPDATED, area)
    return area


# A compound's detail naming an organization, and the kind that organization must be.
_ORGANIZATION_DETAILS = {"property_company_id": "property_company", "owners_committee_id": "owners_committee"}


def _organization_errors(session: Session, district_id: str, details: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with the organizations a compound's details name: each must be of its district and kind."""
    errors = {}
    for field, kind in _ORGANIZATION_DETAILS.items():
        organization_id = details.get(field)
        if organization_id is None:
            continue
        organization = session.get(Organization, organization_id)
        if organization is None or organization.district_id != district_id:
            errors[field] = "no such organization in this district"
        elif organization.kind != kind:
            errors[field] = f"must be an organization of kind {kind}, not {organization.kind}"
    return errors


def _raise_unless_organizations_fit(session: Session, district_id: str, details: Mapping[str, Any]) -> None:
    errors = _organization_errors(session, district_id, details)
    if errors:
        raise ValidationFailed(f"invalid input: {', '.join(sorted(errors))}",
                               errors={field: [message] for field, message in errors.items()})


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
    if convenor_member_id is not None:
        _check_convenor(session, community, convenor_member_id)
    committee = Committee(district_id=community.district_id, community_id=community.id, name=name,
                          time_zone=community.time_zone, convenor_name=convenor_name,
                          convenor_member_id=convenor_member_id, unit_count=0)
    session.add(committee)
    session.flush()
    record(session, COMMITTEE_CREATED, committee, payload_of=_committee_state(session, committee))
    return committee


# --- Moving areas, paths and grid coverage -----------------------------------------------------------

# A tree is at most district → street → community → compound → building deep.
MAX_DEPTH = len(domain.LEVELS)


def visible_area(session: Session, actor: Actor, area_id: uuid.UUID, *, for_update: bool = False) -> Area:
    return visible(session, actor, Area, area_id, what="area", for_update=for_update)


def ancestors(session: Session, area: Area) -> list[Area]:
    """The path from the district down to `area`, both included (a handful of primary-key reads)."""
    path = [area]
    while path[-1].parent_id is not None and len(path) <= MAX_DEPTH:
        parent = session.get(Area, path[-1].parent_id)
        if parent is None:
            break
        path.append(parent)
    return path[::-1]


def _community_of(session: Session, area: Area) -> uuid.UUID | None:
    """The community a compound, building or grid belongs to."""
    for node in ancestors(session, area):
        if node.level == "community":
            return node.id
    return None


def move_area(session: Session, actor: Actor, area_id: uuid.UUID, parent_id: uuid.UUID,
              *, check_version: VersionCheck | None = None) -> Area:
    """Move an area (and its subtree) under another parent of the same district; placement as for creation."""
    area = visible_area(session, actor, area_id, for_update=True)
    if check_version is not None:
        check_version(area.version)
    parent = session.get(Area, parent_id)
    if parent is None or not actor.sees(parent.district_id):
        raise ValidationFailed.field("parent_id", "no such area")
    if parent.district_id != area.district_id:
        raise ValidationFailed.field("parent_id", "must be in the area's own district")
    under_itself = any(node.id == area.id for node in ancestors(session, parent))
    domain.check_move(area.level, area.kind, parent.level, under_itself=under_itself)
    if parent.id == area.parent_id:
        return area
    _check_name_free(session, parent.id, area.name)
    _check_coverage_survives(session, area, parent)
    area.parent_id = parent.id
    record(session, AREA_MOVED, area)
    return area


def _check_coverage_survives(session: Session, area: Area, parent: Area) -> None:
    """A grid covers only its own community's areas: a move across communities must not break that."""
    if area.level not in ("grid", *domain.COVERABLE_LEVELS):
        return  # a street or community moves with its grids and everything they cover
    if _community_of(session, parent) == _community_of(session, area):
        return
    if area.level == "grid":
        if session.scalar(select(grid_coverage.c.area_id).where(grid_coverage.c.grid_id == area.id).limit(1)):
            raise Conflict("the grid covers areas of its community: clear its coverage before moving it")
        return
    subtree = [area.id]
    if area.level == "compound":
        subtree += list(session.scalars(select(Area.id).where(Area.parent_id == area.id)))
    if session.scalar(select(grid_coverage.c.grid_id).where(grid_coverage.c.area_id.in_(subtree)).limit(1)):
        raise Conflict("a grid of its community covers this area: change that grid's coverage first")


def coverage_of(session: Session, grid: Area) -> list[uuid.UUID]:
    return list(session.scalars(select(grid_coverage.c.area_id).where(grid_coverage.c.grid_id == grid.id)
                                .order_by(grid_coverage.c.area_id)))


def set_coverage(session: Session, actor: Actor, grid_id: uuid.UUID, area_ids: list[uuid.UUID],
                 *, check_version: VersionCheck | None = None) -> tuple[Area, list[uuid.UUID]]:
    """Replace what a grid covers: compounds and buildings of the grid's own community."""
    grid = visible_area(session, actor, grid_id, for_update=True)
    if grid.level != "grid":
        raise Conflict(f"only grids cover areas; this is a {grid.level}")
    if check_version is not None:
        check_version(grid.version)
    wanted = list(dict.fromkeys(area_ids))
    found = {a.id: a for a in session.scalars(select(Area).where(Area.id.in_(wanted)))} if wanted else {}
    compounds = {a.id: a for a in found.values() if a.level == "compound"}
    missing_parents = {a.parent_id for a in found.values() if a.level == "building"} - set(compounds)
    if missing_parents:
        compounds.update({a.id: a for a in session.scalars(select(Area).where(Area.id.in_(missing_parents)))})
    errors: dict[str, list[str]] = {}
    for index, area_id in enumerate(area_ids):
        area = found.get(area_id)
        if area is None or area.district_id != grid.district_id:
            errors[f"area_ids.{index}"] = ["no such area"]
            continue
        community = area.parent_id if area.level == "compound" else (
            compounds[area.parent_id].parent_id if area.level == "building" else None)
        problem = domain.coverable_error(area.level, community, grid.parent_id)
        if problem:
            errors[f"area_ids.{index}"] = [problem]
    if errors:
        raise ValidationFailed(f"invalid coverage: {', '.join(sorted(errors))}", errors=errors)
    before = coverage_of(session, grid)
    after = sorted(wanted)
    if before == after:
        return grid, before
    session.execute(grid_coverage.delete().where(grid_coverage.c.grid_id == grid.id))
    if after:
        session.execute(grid_coverage.insert(), [{"grid_id": grid.id, "area_id": a, "district_id": grid.district_id}
                                                 for a in after])
    # The coverage is part of the grid: its version (the ETag) moves with it.
    grid.updated_at = utcnow()
    session.flush()
    record(session, AREA_COVERAGE_CHANGED, grid, payload_of={
        "id": grid.id, "district_id": grid.district_id, "parent_id": grid.parent_id, "covered_area_ids": after,
        "version": grid.version})
    return grid, after


def subtree(session: Session, root: Area, *, depth: int, max_nodes: int) -> tuple[dict[str, Any], int, bool]:
    """`root` and its descendants down to `depth` levels, at most `max_nodes` nodes in all.

    Read one level at a time (one query per level, a tree being at most five levels deep); a level that
    would pass `max_nodes` is cut there, siblings in level-then-name order, and the result says so.
    """
    def node(area: Area) -> dict[str, Any]:
        return {"id": area.id, "parent_id": area.parent_id, "level": area.level, "name": area.name,
                "kind": area.kind, "children": []}

    top = node(root)
    frontier = {root.id: top}
    count, truncated = 1, False
    for _ in range(depth):
        if not frontier or truncated:
            break
        room = max_nodes - count
        rows = list(session.scalars(select(Area).where(Area.parent_id.in_(list(frontier)))
                                    .order_by(Area.parent_id, Area.level, Area.name).limit(room + 1)))
        if len(rows) > room:
            rows, truncated = rows[:room], True
        rows.sort(key=lambda a: (domain.LEVELS.index(a.level), a.name))
        next_frontier: dict[uuid.UUID, dict[str, Any]] = {}
        for area in rows:
            child = node(area)
            frontier[area.parent_id]["children"].append(child)  # type: ignore[index]
            next_frontier[area.id] = child
        count += len(rows)
        frontier = next_frontier
    if not truncated and frontier and depth < MAX_DEPTH:
        # Whether the depth bound left anything out, so a client knows to ask below the leaves.
        truncated = session.scalar(select(Area.id).where(Area.parent_id.in_(list(frontier))).limit(1)) is not None
    return top, count, truncated


# --- Bulk import ------------------------------------------------------------------------------------


@dataclass
class _Node:
    id: uuid.UUID
    level: str
    time_zone: str
    path: str


@dataclass
class PlannedArea:
    line: int
    id: uuid.UUID
    parent_id: uuid.UUID
    level: str
    name: str
    kind: str | None
    time_zone: str
    details: dict[str, Any]
    path: str


def import_areas(session: Session, actor: Actor, rows: Sequence[tuple[int, Mapping[str, Any]]], *,
                 district_id: str, dry_run: bool = False,
                 errors: Mapping[str, list[str]] | None = None) -> list[PlannedArea]:
    """Add a file of areas to a district in one go: all of them, or none if any row is bad.

    `rows` are (line, fields as ImportRow loads them); `errors` what reading the file already found
    wrong, by `line N[.field]`. A row's parent is an area's id or its path below the district, an
    area of the district or of an earlier row. Every bad row is reported, by line and field. The
    areas go in with one multi-row INSERT and their `area.created` events with them.
    """
    errors = {key: list(value) for key, value in (errors or {}).items()}
    district = _import_district(session, actor, district_id)
    by_id: dict[uuid.UUID, _Node] = {}
    by_path: dict[str, _Node] = {}
    taken: set[tuple[uuid.UUID, str]] = set()
    existing = session.execute(select(Area.id, Area.parent_id, Area.level, Area.name, Area.time_zone)
                               .where(Area.district_id == district.district_id))
    found = sorted(existing, key=lambda a: domain.LEVELS.index(a.level))
    names = {a.id: (a.parent_id, a.name) for a in found}
    for area in found:
        parent = by_id.get(area.parent_id) if area.parent_id else None
        path = "" if area.parent_id is None else (f"{parent.path}/{area.name}" if parent and parent.path
                                                  else area.name)
        node = by_id[area.id] = _Node(area.id, area.level, area.time_zone, path)
        if area.parent_id is None or parent is not None:
            by_path[path] = node
        if area.parent_id is not None:
            taken.add(names[area.id])
    broken: dict[str, int] = {}  # paths of rows found bad, so their children say why they fail
    planned: list[PlannedArea] = []
    for line, row in rows:
        def fail(field: str, message: str, line: int = line) -> None:
            errors.setdefault(f"line {line}.{field}", []).append(message)

        parent = _import_parent(row.get("parent", ""), by_id, by_path)
        name = row["name"]
        if parent is None:
            reference = row.get("parent", "").strip("/")
            fail("parent", f"its row (line {broken[reference]}) is invalid" if reference in broken
                 else "no such area in this district")
        else:
            path = f"{parent.path}/{name}" if parent.path else name
            try:
                domain.check_placement(row["level"], parent.level, row.get("kind"))
            except ValidationFailed as exc:
                for key, messages in (exc.errors or {}).items():
                    for message in messages:
                        fail("parent" if key == "parent_id" else key, message)
            details = {key: row[key] for key in domain.DETAILS if row.get(key) is not None}
            for key, messages in domain.detail_errors(row["level"], row.get("kind"), details).items():
                for message in messages:
                    fail(key, message)
            for key, message in _organization_errors(session, district.district_id, details).items():
                fail(key, message)
            if (parent.id, name) in taken:
                fail("name", "already taken under this parent")
        if any(key.startswith(f"line {line}.") or key == f"line {line}" for key in errors) or parent is None:
            if parent is not None:
                broken[path] = line
            continue
        node = _Node(uuid.uuid4(), row["level"], row.get("time_zone") or parent.time_zone, path)
        by_id[node.id] = by_path[path] = node
        taken.add((parent.id, name))
        planned.append(PlannedArea(line, node.id, parent.id, node.level, name, row.get("kind"), node.time_zone,
                                   details, path))
    if errors:
        bad = len({key.split(".", 1)[0] for key in errors})
        raise ValidationFailed(f"{bad} of {len(rows)} rows are invalid; nothing was imported", errors=errors)
    if not planned:
        raise ValidationFailed.field("body", "the file holds no rows")
    if not dry_run:
        _insert_planned(session, district.district_id, planned)
    return planned


def _import_district(session: Session, actor: Actor, district_id: str) -> Area:
    try:
        district = session.get(Area, uuid.UUID(district_id))
    except ValueError:
        district = None
    if district is None or district.parent_id is not None or not actor.sees(district.district_id):
        raise ValidationFailed.field("district_id", "no such district")
    return district


def _import_parent(reference: str, by_id: Mapping[uuid.UUID, _Node], by_path: Mapping[str, _Node]) -> _Node | None:
    try:
        return by_id.get(uuid.UUID(reference))
    except ValueError:
        return by_path.get("/".join(part.strip() for part in reference.strip("/").split("/")) if reference else "")


def _insert_planned(session: Session, district_id: str, planned: Sequence[PlannedArea]) -> None:
    """One multi-row INSERT for the areas, and their events into the same transaction's outbox."""
    now = utcnow()
    values = [{"id": p.id, "district_id": district_id, "parent_id": p.parent_id, "level": p.level, "name": p.name,
               "kind": p.kind, "time_zone": p.time_zone, "created_at": now, "updated_at": now, "version": 1,
               **dict.fromkeys(domain.DETAILS), **p.details} for p in planned]
    session.execute(Area.__table__.insert(), values)
    for data, row in zip(AreaData(many=True).dump(values), values, strict=True):
        emit(session, AREA_CREATED, subject=row["id"], data=data, district=district_id)


# --- Organizations -----------------------------------------------------------------------------------------

EDITABLE_ORGANIZATION_FIELDS = ("kind", "name", "address", "contact_person", "contact_phone", "contact_email",
                                "area_id")
_CONTACT_FIELDS = ("contact_person", "contact_phone", "contact_email")


def register_organization(session: Session, actor: Actor, *, kind: str, name: str, address: str | None = None,
                          contact_person: str | None = None, contact_phone: str | None = None,
                          contact_email: str | None = None, district_id: str | None = None,
                          area_id: uuid.UUID | None = None) -> Organization:
    """Register an organization in the caller's district (an operator names the district).

    A party branch may name the area it serves (`area_id`): a compound, or a community.
    """
    district = domain.organization_district(None if actor.is_operator else actor.district, district_id)
    if actor.is_operator:
        _check_district_exists(session, district)
    domain.check_branch_area(kind, _branch_area_level(session, district, area_id))
    organization = Organization(district_id=district, kind=kind, name=name, address=address,
                                contact_person=contact_person, contact_phone=contact_phone,
                                contact_email=contact_email, area_id=area_id)
    session.add(organization)
    record(session, ORGANIZATION_CREATED, organization)
    if contact_person is not None or contact_phone is not None or contact_email is not None:
        record(session, ORGANIZATION_CONTACT, organization)
    return organization


def edit_organization(session: Session, actor: Actor, organization_id: uuid.UUID, changes: Mapping[str, Any],
                      *, check_version: VersionCheck | None = None) -> Organization:
    """Change an organization's fields; the contact goes out privately, the rest publicly, each only if changed."""
    organization = visible(session, actor, Organization, organization_id, what="organization", for_update=True)
    if check_version is not None:
        check_version(organization.version)
    changed = edits(organization, changes, EDITABLE_ORGANIZATION_FIELDS)
    if {"kind", "area_id"} & set(changed):
        # Judged as it will stand: a branch with an area cannot become a school, whichever field changes.
        domain.check_branch_area(changes.get("kind", organization.kind), _branch_area_level(
            session, organization.district_id, changes.get("area_id", organization.area_id)))
    for name, value in changed.items():
        setattr(organization, name, value)
    if set(changed) - set(_CONTACT_FIELDS):
        record(session, ORGANIZATION_UPDATED, organization)
    if set(changed) & set(_CONTACT_FIELDS):
        record(session, ORGANIZATION_CONTACT, organization)
    return organization


def _branch_area_level(session: Session, district_id: str, area_id: uuid.UUID | None) -> str | None:
    """The level of the area a branch would serve (None: no area); unknown or another district's is a 422."""
    if area_id is None:
        return None
    area = session.get(Area, area_id)
    if area is None or area.district_id != district_id:
        raise ValidationFailed.field("area_id", "no such area in the organization's district")
    return area.level


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
    return visible(session, actor, Organization, organization_id, what="organization")


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
    pairing = visible(session, actor, Pairing, pairing_id, what="pairing", for_update=True)
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
    if changed.get("convenor_member_id") is not None:
        _check_convenor(session, session.get_one(Area, committee.community_id), changed["convenor_member_id"])
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
    return visible(session, actor, Committee, committee_id, what="committee", for_update=True)


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


# --- Party members -----------------------------------------------------------------------------------------

EDITABLE_MEMBER_FIELDS = ("name", "phone", "email", "employer_id", "building_id", "status", "skills", "roles")
_MEMBER_CONTACT_FIELDS = ("name", "phone", "email")
# Fields that only the private contact event tells of.
_PRIVATE_MEMBER_FIELDS = {"phone", "email"}


def register_member(session: Session, actor: Actor, *, name: str, phone: str, compound_id: uuid.UUID,
                    email: str | None = None,
                    building_id: uuid.UUID | None = None, employer_id: uuid.UUID | None = None,
                    status: str = "in_service", skills: Sequence[str] = (), roles: Sequence[str] = ()) -> Member:
    """Register a party member living in a compound; the compound's district is the member's."""
    compound = _referenced_area(session, actor, compound_id, "compound_id", "compound")
    _check_building(session, compound, building_id)
    if employer_id is not None:
        _check_employer(session, actor, compound.district_id, employer_id)
    skills, roles = sorted(set(skills)), sorted(set(roles))
    domain.check_member(skills, roles, building_id is not None)
    _check_phone_free(session, compound.district_id, phone, None)
    member = Member(district_id=compound.district_id, name=name, phone=phone, email=email, compound_id=compound.id,
                    building_id=building_id, employer_id=employer_id, status=status,
                    membership=domain.MEMBERSHIP_ACTIVE)
    member.skills, member.roles = skills, roles
    session.add(member)
    record(session, MEMBER_REGISTERED, member)
    record(session, MEMBER_CONTACT, member)
    return member


def edit_member(session: Session, actor: Actor, member_id: uuid.UUID, changes: Mapping[str, Any],
                *, check_version: VersionCheck | None = None) -> Member:
    """Change a member's fields; the home compound changes only through a confirmed check-in.

    The name, phone and e-mail go out privately, the rest publicly (the name both ways), each only if changed.
    """
    member = visible(session, actor, Member, member_id, what="member", for_update=True)
    if check_version is not None:
        check_version(member.version)
    changes = {name: sorted(set(value)) if name in ("skills", "roles") else value for name, value in changes.items()}
    changed = edits(member, changes, EDITABLE_MEMBER_FIELDS)
    if "building_id" in changed and changed["building_id"] is not None:
        _check_building(session, session.get_one(Area, member.compound_id), changed["building_id"])
    if changed.get("employer_id") is not None:
        _check_employer(session, actor, member.district_id, changed["employer_id"])
    domain.check_member(changes.get("skills", member.skills), changes.get("roles", member.roles),
                        changes.get("building_id", member.building_id) is not None)
    if "phone" in changed:
        _check_phone_free(session, member.district_id, changed["phone"], member.id)
    if not changed:
        return member
    for name, value in changed.items():
        setattr(member, name, value)
    # Skills and roles are rows of their own: touching the member's row makes its version move with them.
    member.updated_at = utcnow()
    if set(changed) - _PRIVATE_MEMBER_FIELDS:
        record(session, MEMBER_UPDATED, member)
    if set(changed) & set(_MEMBER_CONTACT_FIELDS):
        record(session, MEMBER_CONTACT, member)
    return member


def _referenced_area(session: Session, actor: Actor, area_id: uuid.UUID, field: str, level: str) -> Area:
    """An area of `level` named in a request body: unknown, foreign or of another level is an error on `field`."""
    area = session.get(Area, area_id)
    if area is None or not actor.sees(area.district_id) or area.level != level:
        raise ValidationFailed.field(field, f"no such {level}")
    return area


def _check_building(session: Session, compound: Area, building_id: uuid.UUID | None) -> None:
    if building_id is None:
        return
    building = session.get(Area, building_id)
    if building is None or building.level != "building" or building.district_id != compound.district_id:
        raise ValidationFailed.field("building_id", "no such building")
    if building.parent_id != compound.id:
        raise ValidationFailed.field("building_id", "not a building of the member's home compound")


def _check_employer(session: Session, actor: Actor, district_id: str, employer_id: uuid.UUID) -> None:
    employer = _referenced_organization(session, actor, employer_id, "employer_id")
    if employer.district_id != district_id:
        raise ValidationFailed.field("employer_id", "in another district than the member")


def _check_phone_free(session: Session, district_id: str, phone: str, member_id: uuid.UUID | None) -> None:
    """One member per phone number within a district (a unique index holds it against racing writers too)."""
    taken = session.scalar(select(Member.id).where(Member.district_id == district_id, Member.phone == phone))
    if taken is not None and taken != member_id:
        raise Conflict("a member with this phone number is already registered in the district",
                       errors={"phone": ["already registered"]})


# --- Pledges -----------------------------------------------------------------------------------------------

def add_pledge(session: Session, actor: Actor, member_id: uuid.UUID, *, text: str) -> Pledge:
    """A current member makes a public pledge; it is open until fulfilled."""
    member = visible(session, actor, Member, member_id, what="member")
    domain.check_active(member.membership)
    pledge = Pledge(district_id=member.district_id, member_id=member.id, text=text, status=domain.PLEDGE_OPEN)
    session.add(pledge)
    record(session, PLEDGE_ADDED, pledge)
    return pledge


def fulfil_pledge(session: Session, actor: Actor, member_id: uuid.UUID, pledge_id: uuid.UUID,
                  now: datetime) -> Pledge:
    """Mark a member's open pledge fulfilled; a fulfilled one stays so (409 on a second try)."""
    member = visible(session, actor, Member, member_id, what="member")
    pledge = session.get(Pledge, pledge_id, with_for_update=True)
    if pledge is None or pledge.member_id != member.id:
        raise NotFound("pledge not found")
    domain.check_fulfillable(pledge.status)
    pledge.status, pledge.fulfilled_at = domain.PLEDGE_FULFILLED, now
    record(session, PLEDGE_FULFILLED, pledge)
    return pledge


# --- Check-ins, moves and leaving ---------------------------------------------------------------------------

def submit_check_in(session: Session, actor: Actor, *, member_id: uuid.UUID, compound_id: uuid.UUID | None = None,
                    building_id: uuid.UUID | None = None) -> CheckIn:
    """A member reports to the branch of a compound: their home one, or the one they are moving to."""
    member = session.get(Member, member_id, with_for_update=True)
    if member is None or not actor.sees(member.district_id):
        raise ValidationFailed.field("member_id", "no such member")
    if compound_id is None:
        compound_id = member.compound_id
        building_id = building_id or member.building_id
    compound = _referenced_area(session, actor, compound_id, "compound_id", "compound")
    if compound.district_id != member.district_id:
        raise ValidationFailed.field("compound_id", "in another district than the member")
    _check_building(session, compound, building_id)
    open_ones = list(session.scalars(select(CheckIn).where(
        CheckIn.member_id == member.id,
        CheckIn.state.in_((domain.CHECK_IN_SUBMITTED, domain.CHECK_IN_CONFIRMED)))))
    domain.check_submission(
        member.membership,
        pending=any(c.state == domain.CHECK_IN_SUBMITTED for c in open_ones),
        confirmed_here=any(c.state == domain.CHECK_IN_CONFIRMED and c.compound_id == compound.id for c in open_ones))
    check_in = CheckIn(district_id=member.district_id, member_id=member.id, compound_id=compound.id,
                       building_id=building_id, state=domain.CHECK_IN_SUBMITTED,
                       branch_id=_branch_serving(session, compound))
    session.add(check_in)
    record(session, CHECK_IN_SUBMITTED, check_in)
    return check_in


def confirm_check_in(session: Session, actor: Actor, check_in_id: uuid.UUID, now: datetime,
                     *, check_version: VersionCheck | None = None) -> CheckIn:
    """The branch confirms: the member's check-in in force elsewhere ends and their home moves here."""
    check_in = _visible_check_in(session, actor, check_in_id, check_version)
    confirmed = domain.check_in_after(check_in.state, "confirm")
    member = session.get_one(Member, check_in.member_id, with_for_update=True)
    previous = session.scalar(select(CheckIn).where(CheckIn.member_id == member.id,
                                                    CheckIn.state == domain.CHECK_IN_CONFIRMED)
                              .with_for_update())
    if previous is not None:
        # Ended (and flushed) first: the member has one check-in in force at a time, by a unique index.
        _end(session, previous, now)
    check_in.state, check_in.decided_at = confirmed, now
    record(session, CHECK_IN_CONFIRMED, check_in)
    building = check_in.building_id
    if check_in.compound_id == member.compound_id and building is None:
        building = member.building_id
    if (check_in.compound_id, building) != (member.compound_id, member.building_id):
        moved_from = (member.compound_id, member.building_id)
        member.roles = domain.roles_after_move(member.roles, building != member.building_id)
        member.compound_id, member.building_id = check_in.compound_id, building
        member.updated_at = now
        session.flush()
        record(session, MEMBER_MOVED, member, payload_of={
            **MemberData().dump(member), "previous_compound_id": moved_from[0],
            "previous_building_id": moved_from[1], "check_in_id": check_in.id})
    return check_in


def reject_check_in(session: Session, actor: Actor, check_in_id: uuid.UUID, now: datetime, *, reason: str,
                    check_version: VersionCheck | None = None) -> CheckIn:
    """The branch turns a check-in down, saying why; the member may submit another."""
    check_in = _visible_check_in(session, actor, check_in_id, check_version)
    check_in.state = domain.check_in_after(check_in.state, "reject")
    check_in.decided_at, check_in.reason = now, reason
    record(session, CHECK_IN_REJECTED, check_in)
    return check_in


def leave(session: Session, actor: Actor, member_id: uuid.UUID, now: datetime, *, left_on: date,
          reason: str | None = None, check_version: VersionCheck | None = None) -> Member:
    """A member's membership here ends: their check-ins in force or awaiting the branch end with it."""
    member = visible(session, actor, Member, member_id, what="member", for_update=True)
    if check_version is not None:
        check_version(member.version)
    domain.check_active(member.membership)
    ending = list(session.scalars(select(CheckIn).where(
        CheckIn.member_id == member.id,
        CheckIn.state.in_((domain.CHECK_IN_SUBMITTED, domain.CHECK_IN_CONFIRMED))).with_for_update()))
    for check_in in ending:
        _end(session, check_in, now)
    member.membership, member.left_on, member.left_reason = domain.MEMBERSHIP_LEFT, left_on, reason
    record(session, MEMBER_LEFT, member)
    return member


def _visible_check_in(session: Session, actor: Actor, check_in_id: uuid.UUID,
                      check_version: VersionCheck | None) -> CheckIn:
    check_in = visible(session, actor, CheckIn, check_in_id, what="check-in", for_update=True)
    if check_version is not None:
        check_version(check_in.version)
    return check_in


def _end(session: Session, check_in: CheckIn, now: datetime) -> None:
    check_in.state = domain.check_in_after(check_in.state, "end")
    check_in.ended_at = now
    record(session, CHECK_IN_ENDED, check_in)


# --- Evaluations (双向评价) -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EvaluationTable:
    """A year's evaluations: of one member, or one row per member of an employer."""

    year: evaluation.Year
    time_zone: str
    member_id: uuid.UUID | None
    organization: Organization | None
    rows: list[evaluation.Evaluation]
    categories: list[str]
    compound_names: dict[uuid.UUID, str]
    # The distinct activities and tickets of one member's verified service; None for an employer's table.
    activity_ids: list[uuid.UUID] | None = None
    ticket_ids: list[uuid.UUID] | None = None


def evaluate_member(session: Session, actor: Actor, member_id: uuid.UUID, *, year: int) -> EvaluationTable:
    """What one member did in `year`: check-in, pledges, hours of verified service, activities, tickets."""
    member = visible(session, actor, Member, member_id, what="member")
    time_zone = _time_zone_of(session, member.district_id)
    span = evaluation.year_of(year, time_zone)
    rows = _evaluations(session, span, Member.id == member.id, members_in_span=False)
    activity_ids, ticket_ids = _sources_of(session, member.id, span)
    return EvaluationTable(span, time_zone, member.id, None, rows, evaluation.table_categories(rows),
                           _compound_names(session, rows), activity_ids, ticket_ids)


def evaluate_organization(session: Session, actor: Actor, organization_id: uuid.UUID, *,
                          year: int) -> EvaluationTable:
    """The employer's table for `year` (its yearly party-building assessment): one row per member it employs.

    Members are those whose employer the organization is now and who had not left before the year began
    (when they were registered here says nothing of when they joined the party, so it does not count); the
    table is complete or refused (evaluation.MAX_TABLE_ROWS).
    """
    organization = visible(session, actor, Organization, organization_id, what="organization")
    time_zone = _time_zone_of(session, organization.district_id)
    span = evaluation.year_of(year, time_zone)
    rows = _evaluations(session, span, Member.employer_id == organization.id, members_in_span=True)
    return EvaluationTable(span, time_zone, None, organization, rows, evaluation.table_categories(rows),
                           _compound_names(session, rows))


def _time_zone_of(session: Session, district_id: str) -> str:
    """The district's time zone; a district id with no area row (a test's) keeps the suite's default."""
    try:
        district = session.get(Area, uuid.UUID(district_id))
    except ValueError:
        district = None
    return district.time_zone if district is not None else DEFAULT_TIME_ZONE


def _evaluations(session: Session, span: evaluation.Year, which: ColumnElement[bool], *,
                 members_in_span: bool) -> list[evaluation.Evaluation]:
    """The evaluations of the members `which` selects, in five queries whatever their number.

    Service minutes and distinct activities and tickets are summed by the database (GROUP BY member);
    pledges and check-ins, a handful per member, come as rows that the domain rules read.
    """
    stmt = select(Member.id, Member.name, Member.phone, Member.status, Member.membership).where(which)
    if members_in_span:
        stmt = stmt.where(or_(Member.left_on.is_(None), Member.left_on >= span.first_day))
    members = session.execute(stmt.limit(evaluation.MAX_TABLE_ROWS + 1)).all()
    evaluation.check_table_size(len(members))
    ids = select(Member.id).where(which).scalar_subquery()
    minutes = _minutes_by_member(session, ids, span)
    sources = _source_counts(session, ids, span)
    pledges = _pledges_by_member(session, ids, span)
    check_ins = _check_ins_by_member(session, ids, span)
    facts = [evaluation.MemberFacts(
        member_id=m.id, name=m.name, phone=m.phone, status=m.status, membership=m.membership,
        check_ins=check_ins.get(m.id, []), pledges=pledges.get(m.id, []), minutes=minutes.get(m.id, []),
        activities=sources.get((m.id, evaluation.SOURCE_ACTIVITY), 0),
        tickets=sources.get((m.id, evaluation.SOURCE_TICKET), 0)) for m in members]
    # Sorted here rather than by the database, so every database lists a table in the same order.
    return sorted((evaluation.evaluate(f, span) for f in facts), key=lambda e: (e.name, str(e.member_id)))


def _served_in(span: evaluation.Year) -> ColumnElement[bool]:
    return ServiceRecord.served_on.between(span.first_day, span.last_day)


def _minutes_by_member(session: Session, ids: Any,
                       span: evaluation.Year) -> dict[uuid.UUID, list[evaluation.MinutesFact]]:
    stmt = (select(ServiceRecord.member_id, ServiceRecord.category, ServiceRecord.state,
                   func.sum(ServiceRecord.minutes))
            .where(ServiceRecord.member_id.in_(ids), _served_in(span),
                   ServiceRecord.state.in_((evaluation.RECORD_VERIFIED, evaluation.RECORD_LOGGED)))
            .group_by(ServiceRecord.member_id, ServiceRecord.category, ServiceRecord.state))
    found: dict[uuid.UUID, list[evaluation.MinutesFact]] = {}
    for member_id, category, state, minutes in session.execute(stmt):
        found.setdefault(member_id, []).append(evaluation.MinutesFact(category, state, int(minutes)))
    return found


def _source_counts(session: Session, ids: Any, span: evaluation.Year) -> dict[tuple[uuid.UUID, str], int]:
    """How many distinct activities and tickets each member gave verified service to in the year."""
    stmt = (select(ServiceRecord.member_id, ServiceRecord.source, func.count(distinct(ServiceRecord.source_id)))
            .where(ServiceRecord.member_id.in_(ids), _served_in(span),
                   ServiceRecord.state == evaluation.RECORD_VERIFIED,
                   ServiceRecord.source.in_((evaluation.SOURCE_ACTIVITY, evaluation.SOURCE_TICKET)))
            .group_by(ServiceRecord.member_id, ServiceRecord.source))
    return {(member_id, source): count for member_id, source, count in session.execute(stmt)}


def _sources_of(session: Session, member_id: uuid.UUID,
                span: evaluation.Year) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    stmt = (select(ServiceRecord.source, ServiceRecord.source_id).distinct()
            .where(ServiceRecord.member_id == member_id, _served_in(span),
                   ServiceRecord.state == evaluation.RECORD_VERIFIED, ServiceRecord.source_id.is_not(None),
                   ServiceRecord.source.in_((evaluation.SOURCE_ACTIVITY, evaluation.SOURCE_TICKET))))
    found: dict[str, list[uuid.UUID]] = {evaluation.SOURCE_ACTIVITY: [], evaluation.SOURCE_TICKET: []}
    for source, source_id in session.execute(stmt):
        found[source].append(source_id)
    return sorted(found[evaluation.SOURCE_ACTIVITY], key=str), sorted(found[evaluation.SOURCE_TICKET], key=str)


def _pledges_by_member(session: Session, ids: Any,
                       span: evaluation.Year) -> dict[uuid.UUID, list[evaluation.PledgeFact]]:
    stmt = (select(Pledge.member_id, Pledge.id, Pledge.text, Pledge.created_at, Pledge.fulfilled_at)
            .where(Pledge.member_id.in_(ids), Pledge.created_at < span.ends_at,
                   or_(Pledge.fulfilled_at.is_(None), Pledge.fulfilled_at >= span.starts_at)))
    found: dict[uuid.UUID, list[evaluation.PledgeFact]] = {}
    for member_id, pledge_id, text, made_at, fulfilled_at in session.execute(stmt):
        found.setdefault(member_id, []).append(evaluation.PledgeFact(pledge_id, text, made_at, fulfilled_at))
    return found


def _check_ins_by_member(session: Session, ids: Any,
                         span: evaluation.Year) -> dict[uuid.UUID, list[evaluation.CheckInFact]]:
    stmt = (select(CheckIn.member_id, CheckIn.compound_id, CheckIn.state, CheckIn.created_at, CheckIn.decided_at,
                   CheckIn.ended_at)
            .where(CheckIn.member_id.in_(ids), CheckIn.created_at < span.ends_at,
                   or_(CheckIn.ended_at.is_(None), CheckIn.ended_at >= span.starts_at)))
    found: dict[uuid.UUID, list[evaluation.CheckInFact]] = {}
    for member_id, compound_id, state, submitted_at, decided_at, ended_at in session.execute(stmt):
        found.setdefault(member_id, []).append(evaluation.CheckInFact(
            compound_id, submitted_at, decided_at, rejected=state == domain.CHECK_IN_REJECTED, ended_at=ended_at))
    return found


def _compound_names(session: Session, rows: Sequence[evaluation.Evaluation]) -> dict[uuid.UUID, str]:
    ids = {row.check_in.compound_id for row in rows if row.check_in.compound_id is not None}
    if not ids:
        return {}
    return {area_id: name for area_id, name in session.execute(select(Area.id, Area.name).where(Area.id.in_(ids)))}
# --- Party branches, convenors and coverage -------------------------------------------------------------------

def _branch_serving(session: Session, compound: Area) -> uuid.UUID | None:
    """The party branch a member of `compound` reports to: the compound's own, else its community's, else None.

    Of several branches serving one area, the first registered.
    """
    rows = session.execute(select(Organization.area_id, Organization.id).where(
        Organization.kind == domain.PARTY_BRANCH, Organization.area_id.in_((compound.id, compound.parent_id)))
        .order_by(Organization.created_at.desc(), Organization.id.desc()))
    # Newest first, so the first registered per area is the one the dict keeps.
    return domain.branch_for(compound.id, compound.parent_id, {area: branch for area, branch in rows})


def _check_convenor(session: Session, community: Area, member_id: uuid.UUID) -> None:
    member = session.get(Member, member_id)
    if member is None or member.district_id != community.district_id:
        domain.check_convenor(membership=None, home_community_id=None, community_id=community.id)
        return
    home_community = session.scalar(select(Area.parent_id).where(Area.id == member.compound_id))
    domain.check_convenor(membership=member.membership, home_community_id=home_community,
                          community_id=community.id)


def _compounds_under(area: Area) -> Any:
    """The condition on Area picking the compounds of a compound, community or street."""
    if area.level == "compound":
        return Area.id == area.id
    if area.level == "community":
        return (Area.parent_id == area.id) & (Area.level == "compound")
    communities = select(Area.id).where(Area.parent_id == area.id, Area.level == "community")
    return Area.parent_id.in_(communities) & (Area.level == "compound")


def area_coverage(session: Session, actor: Actor, area_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """How far members, branches and pairings reach the compounds of a compound, community or street.

    A fixed handful of grouped queries, whatever the number of compounds and members: each counts for all
    the area's compounds at once and the domain assembles the lines and totals.
    """
    area = visible_area(session, actor, area_id)
    domain.check_coverage_level(area.level)
    district = session.get(Area, uuid.UUID(area.district_id))
    day = domain.day_in(now, district.time_zone if district is not None else area.time_zone)
    compounds = session.execute(select(Area.id, Area.name, Area.parent_id).where(_compounds_under(area))
                                .order_by(Area.name, Area.id)).all()
    # The ids themselves rather than a subquery: PostgreSQL then expects a street's 100,000 members, not a
    # handful, and hashes member_roles instead of probing it once per member.
    scope = [c.id for c in compounds]
    tallies = _tallies(session, scope)
    buildings: dict[uuid.UUID, list[domain.Place]] = {}
    for building in session.execute(select(Area.id, Area.name, Area.parent_id).where(
            Area.level == "building", Area.parent_id.in_(scope)).order_by(Area.name, Area.id)):
        buildings.setdefault(building.parent_id, []).append(domain.Place(building.id, building.name))
    led = set(session.scalars(select(Member.building_id).distinct().join(
        MemberRole, MemberRole.member_id == Member.id).where(
        MemberRole.role == domain.GROUP_LEADER_ROLE, Member.membership == domain.MEMBERSHIP_ACTIVE,
        Member.compound_id.in_(scope), Member.building_id.is_not(None))))
    communities = sorted({c.parent_id for c in compounds})
    served = set(session.scalars(select(Organization.area_id).distinct().where(
        Organization.kind == domain.PARTY_BRANCH, Organization.area_id.in_([*scope, *communities]))))
    paired = set(session.scalars(select(Pairing.compound_id).distinct().where(
        Pairing.compound_id.in_(scope), Pairing.starts_on <= day,
        or_(Pairing.ends_on.is_(None), Pairing.ends_on >= day))))
    lines = [domain.compound_coverage(domain.Place(c.id, c.name), c.parent_id, tallies.get(c.id, domain.Tally()),
                                      buildings.get(c.id, []), led_buildings=led, served_areas=served,
                                      paired_compounds=paired) for c in compounds]
    return domain.coverage_report({"id": area.id, "name": area.name, "level": area.level}, day, lines)


def _tallies(session: Session, scope: Sequence[uuid.UUID]) -> dict[uuid.UUID, domain.Tally]:
    """Current members, those in service, confirmed check-ins and role holders per compound of `scope`."""
    tallies: dict[uuid.UUID, domain.Tally] = {}
    current = (Member.membership == domain.MEMBERSHIP_ACTIVE) & Member.compound_id.in_(scope)
    for compound_id, members, in_service in session.execute(
            select(Member.compound_id, func.count(), func.sum(case((Member.status == domain.IN_SERVICE, 1), else_=0)))
            .where(current).group_by(Member.compound_id)):
        tallies[compound_id] = domain.Tally(members=members, in_service=in_service)
    for compound_id, checked_in in session.execute(
            select(CheckIn.compound_id, func.count()).where(
                CheckIn.state == domain.CHECK_IN_CONFIRMED, CheckIn.compound_id.in_(scope))
            .group_by(CheckIn.compound_id)):
        tallies.setdefault(compound_id, domain.Tally()).checked_in = checked_in
    for compound_id, role, holders in session.execute(
            select(Member.compound_id, MemberRole.role, func.count())
            .join(MemberRole, MemberRole.member_id == Member.id).where(current)
            .group_by(Member.compound_id, MemberRole.role)):
        tallies.setdefault(compound_id, domain.Tally()).roles[role] = holders
    return tallies


# --- Service records -----------------------------------------------------------------------------------------


def log_service(session: Session, actor: Actor, now: datetime, *, member_id: uuid.UUID, served_on: date,
                hours: float, category: str, note: str | None = None) -> ServiceRecord:
    """Log hours a current member gave, by hand; the record awaits the branch's verification."""
    member = _referenced_member(session, actor, member_id, "member_id")
    minutes = domain.logged_minutes(hours)
    domain.check_service_category(category)
    domain.check_served_on(served_on, now.astimezone(ZoneInfo(_time_zone_of(session, member.district_id))).date())
    domain.check_active(member.membership)
    service_record = ServiceRecord(district_id=member.district_id, member_id=member.id, source=domain.SOURCE_OTHER,
                                   source_id=None, served_on=served_on, minutes=minutes, category=category, note=note,
                                   state=domain.SERVICE_LOGGED)
    session.add(service_record)
    record(session, SERVICE_RECORD_LOGGED, service_record)
    return service_record


def verify_service_record(session: Session, actor: Actor, record_id: uuid.UUID, now: datetime,
                          *, check_version: VersionCheck | None = None) -> ServiceRecord:
    """The branch confirms a logged record: its hours count from now on."""
    service_record = _visible_service_record(session, actor, record_id, check_version)
    service_record.state = domain.service_record_after(service_record.state, "verify")
    service_record.decided_at, service_record.decided_by = now, actor.sub
    record(session, SERVICE_RECORD_VERIFIED, service_record)
    return service_record


def reject_service_record(session: Session, actor: Actor, record_id: uuid.UUID, now: datetime, *, reason: str,
                          check_version: VersionCheck | None = None) -> ServiceRecord:
    """The branch turns a logged record down, saying why; its hours never count."""
    service_record = _visible_service_record(session, actor, record_id, check_version)
    service_record.state = domain.service_record_after(service_record.state, "reject")
    service_record.decided_at, service_record.decided_by, service_record.reason = now, actor.sub, reason
    record(session, SERVICE_RECORD_REJECTED, service_record)
    return service_record


@dataclass(frozen=True)
class Participant:
    """A member who took part in a ticket, as tickets tells it, with the hours they gave."""

    member_id: uuid.UUID
    hours: float


def credit_ticket(session: Session, *, ticket_id: uuid.UUID, district_id: str, category: str, closed_at: datetime,
                  participants: Sequence[Participant]) -> list[ServiceRecord]:
    """Credit each member of the district who took part in a closed ticket, once however often it closes.

    The credit is verified at once (the ticket's review checked the work) and dated the day the ticket
    closed, in the district's time zone. Its category is the ticket's when that is a code of the shared
    vocabulary, else the nearest (`domain.service_category_of_ticket`). A participant who is no member of
    the district, or whose hours are no service, is skipped and logged: the others are still credited.
    A member who has left since is credited too: the service was given while a member.
    """
    hours_of: dict[uuid.UUID, float] = {}
    for participant in participants:
        hours_of.setdefault(participant.member_id, participant.hours)  # listed twice: the first entry counts
    wanted = list(hours_of)
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(wanted)))} if wanted else {}
    served_on = closed_at.astimezone(ZoneInfo(_time_zone_of(session, district_id))).date()
    ticket_category = domain.service_category_of_ticket(category)
    credits = []
    for member_id in wanted:
        member, minutes = members.get(member_id), domain.credited_minutes(hours_of[member_id])
        skipped = ("not a member of the district" if member is None or member.district_id != district_id
                   else "hours are no service" if minutes is None else None)
        if skipped is not None:
            log.warning("ticket_credit_skipped", ticket_id=str(ticket_id), member_id=str(member_id),
                        hours=hours_of[member_id], why=skipped)
            continue
        assert member is not None and minutes is not None
        credit = _credit(session, member, domain.SOURCE_TICKET, ticket_id, served_on=served_on, minutes=minutes,
                         category=ticket_category, decided_at=closed_at)
        if credit is not None:
            credits.append(credit)
    return credits


def _credit(session: Session, member: Member, source: str, source_id: uuid.UUID, *, served_on: date, minutes: int,
            category: str, decided_at: datetime) -> ServiceRecord | None:
    """A verified record of `member`'s service for an activity or ticket; None if it was credited before.

    Looked for first, so a ticket closed again credits nothing twice; the unique index on (member, source,
    source id) stops a racing writer, whose transaction then fails and is retried into this check.
    """
    credited = session.scalar(select(ServiceRecord.id).where(
        ServiceRecord.member_id == member.id, ServiceRecord.source == source, ServiceRecord.source_id == source_id))
    if credited is not None:
        return None
    service_record = ServiceRecord(district_id=member.district_id, member_id=member.id, source=source,
                                   source_id=source_id, served_on=served_on, minutes=minutes, category=category,
                                   state=domain.SERVICE_VERIFIED, decided_at=decided_at,
                                   decided_by=f"{source}:{source_id}")
    session.add(service_record)
    record(session, SERVICE_RECORD_VERIFIED, service_record)
    return service_record


def _visible_service_record(session: Session, actor: Actor, record_id: uuid.UUID,
                            check_version: VersionCheck | None) -> ServiceRecord:
    service_record = visible(session, actor, ServiceRecord, record_id, what="service record", for_update=True)
    if check_version is not None:
        check_version(service_record.version)
    return service_record


def _referenced_member(session: Session, actor: Actor, member_id: uuid.UUID, field: str) -> Member:
    """A member named in a request body: unknown or foreign is a validation error on `field`."""
    member = session.get(Member, member_id)
    if member is None or not actor.sees(member.district_id):
        raise ValidationFailed.field(field, "no such member")
    return member


# --- Activities ------------------------------------------------------------------------------------------------

EDITABLE_ACTIVITY_FIELDS = ("title", "description", "category", "place", "starts_at", "ends_at", "capacity")


def schedule_activity(session: Session, actor: Actor, *, host_organization_id: uuid.UUID, area_id: uuid.UUID,
                      title: str, category: str, place: str, starts_at: datetime, ends_at: datetime,
                      description: str | None = None, capacity: int | None = None) -> Activity:
    """An organization of the district schedules an activity in a community or at one of its compounds."""
    area = session.get(Area, area_id)
    if area is None or not actor.sees(area.district_id):
        raise ValidationFailed.field("area_id", "no such area")
    domain.check_activity_area(area.level)
    host = _referenced_organization(session, actor, host_organization_id, "host_organization_id")
    if host.district_id != area.district_id:
        raise ValidationFailed.field("host_organization_id", "in another district than the area")
    domain.check_service_category(category)
    domain.check_activity_times(starts_at, ends_at)
    domain.check_capacity(capacity, 0)
    community_id = area.id if area.level == "community" else area.parent_id
    activity = Activity(district_id=area.district_id, host_organization_id=host.id, host=host, area_id=area.id,
                        community_id=community_id, title=title, description=description, category=category,
                        place=place, starts_at=starts_at, ends_at=ends_at, capacity=capacity, sign_up_count=0,
                        state=domain.ACTIVITY_SCHEDULED, attendee_count=0)
    session.add(activity)
    record(session, ACTIVITY_SCHEDULED, activity)
    return activity


def edit_activity(session: Session, actor: Actor, activity_id: uuid.UUID, changes: Mapping[str, Any],
                  *, check_version: VersionCheck | None = None) -> Activity:
    """Change a scheduled activity's details; an edit that changes nothing records nothing."""
    activity = _visible_activity(session, actor, activity_id, check_version)
    domain.check_editable(activity.state)
    changed = edits(activity, changes, EDITABLE_ACTIVITY_FIELDS)
    if "category" in changed:
        domain.check_service_category(changed["category"])
    domain.check_activity_times(changes.get("starts_at", activity.starts_at), changes.get("ends_at", activity.ends_at))
    if "capacity" in changed:
        domain.check_capacity(changed["capacity"], activity.sign_up_count)
    if changed:
        for name, value in changed.items():
            setattr(activity, name, value)
        record(session, ACTIVITY_UPDATED, activity)
    return activity


def sign_up(session: Session, actor: Actor, activity_id: uuid.UUID, now: datetime, *,
            member_id: uuid.UUID) -> ActivitySignUp:
    """A current member of the activity's district takes a place; a withdrawn sign-up is taken up again."""
    activity = _visible_activity(session, actor, activity_id, None)
    member = _referenced_member(session, actor, member_id, "member_id")
    if member.district_id != activity.district_id:
        raise ValidationFailed.field("member_id", "in another district than the activity")
    existing = session.scalar(select(ActivitySignUp).where(
        ActivitySignUp.activity_id == activity.id, ActivitySignUp.member_id == member.id).with_for_update())
    domain.check_sign_up(activity.state, member.membership,
                         signed_up_already=existing is not None and existing.state == domain.SIGN_UP_ACTIVE,
                         capacity=activity.capacity, signed_up=activity.sign_up_count)
    if existing is None:
        existing = ActivitySignUp(district_id=activity.district_id, activity_id=activity.id, member_id=member.id)
        session.add(existing)
    existing.state, existing.signed_up_at, existing.cancelled_at = domain.SIGN_UP_ACTIVE, now, None
    activity.sign_up_count += 1
    session.flush()
    return existing


def withdraw_sign_up(session: Session, actor: Actor, activity_id: uuid.UUID, member_id: uuid.UUID,
                     now: datetime) -> ActivitySignUp:
    """A member gives their place back while the activity is still to come; the row stays, cancelled."""
    activity = _visible_activity(session, actor, activity_id, None)
    signed = session.scalar(select(ActivitySignUp).where(
        ActivitySignUp.activity_id == activity.id, ActivitySignUp.member_id == member_id).with_for_update())
    if signed is None:
        raise NotFound("sign-up not found")
    domain.check_withdrawal(activity.state, signed.state == domain.SIGN_UP_ACTIVE)
    signed.state, signed.cancelled_at = domain.SIGN_UP_CANCELLED, now
    activity.sign_up_count -= 1
    session.flush()
    return signed


def hold_activity(session: Session, actor: Actor, activity_id: uuid.UUID, now: datetime, *,
                  attendees: Sequence[tuple[uuid.UUID, float]] | None = None,
                  member_ids: Sequence[uuid.UUID] | None = None, hours: float | None = None,
                  held_at: datetime | None = None, check_version: VersionCheck | None = None) -> Activity:
    """Record that an activity was held and who attended: each attendee's hours are credited, verified, once.

    Attendees come with their own hours, or as member ids who all gave the same hours. They are members
    of the activity's district, signed up or not (people come on the day); the credit is dated the day it
    was held in the area's time zone and counted under the activity's category.
    """
    activity = _visible_activity(session, actor, activity_id, check_version)
    held = domain.activity_after(activity.state, "hold")
    held_at = held_at or now
    domain.check_held_at(held_at, activity.starts_at, now)
    attended = domain.attendance(None if attendees is None else list(attendees),
                                 None if member_ids is None else list(member_ids), hours)
    members = _attending_members(session, activity, attended)
    activity.state, activity.held_at, activity.attendee_count = held, held_at, len(attended)
    if attended:
        session.execute(activity_attendees.insert(), [
            {"activity_id": activity.id, "member_id": a.member_id, "minutes": a.minutes,
             "district_id": activity.district_id} for a in attended])
    record(session, ACTIVITY_HELD, activity)
    area = session.get_one(Area, activity.area_id)
    served_on = held_at.astimezone(ZoneInfo(area.time_zone)).date()
    for attendee in attended:
        _credit(session, members[attendee.member_id], domain.SOURCE_ACTIVITY, activity.id, served_on=served_on,
                minutes=attendee.minutes, category=activity.category, decided_at=now)
    return activity


def cancel_activity(session: Session, actor: Actor, activity_id: uuid.UUID, now: datetime, *, reason: str,
                    check_version: VersionCheck | None = None) -> Activity:
    """Call a scheduled activity off, saying why; its sign-ups stay as they were."""
    activity = _visible_activity(session, actor, activity_id, check_version)
    activity.state = domain.activity_after(activity.state, "cancel")
    activity.cancelled_at, activity.reason = now, reason
    record(session, ACTIVITY_CANCELLED, activity)
    return activity


def _visible_activity(session: Session, actor: Actor, activity_id: uuid.UUID,
                      check_version: VersionCheck | None) -> Activity:
    # Locked: sign-ups, edits and holding one activity take turns, so its count and state stay true.
    activity = visible(session, actor, Activity, activity_id, what="activity", for_update=True)
    if check_version is not None:
        check_version(activity.version)
    return activity


def _attending_members(session: Session, activity: Activity,
                       attended: Sequence[domain.Attendee]) -> dict[uuid.UUID, Member]:
    """The attendees' rows; an id that is no member of the activity's district is an error naming its entry."""
    ids = [a.member_id for a in attended]
    found = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))} if ids else {}
    errors = {a.field: ["no such member in the activity's district"] for a in attended
              if a.member_id not in found or found[a.member_id].district_id != activity.district_id}
    if errors:
        raise ValidationFailed(f"invalid attendees: {', '.join(sorted(errors))}", errors=errors)
    return found
