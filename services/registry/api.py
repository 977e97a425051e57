"""registry's HTTP API: thin views over the domain rules and the outbox."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session

from linli.services.registry import domain
from linli.services.registry.events import (
    AREA_CREATED,
    AREA_UPDATED,
    COMMITTEE_CREATED,
    area_data,
    committee_data,
)
from linli.services.registry.models import Area, Committee
from linli.services.registry.schemas import (
    AreaCreate,
    AreaPage,
    AreaQuery,
    AreaSchema,
    AreaUpdate,
    CommitteeCreate,
    CommitteePage,
    CommitteeSchema,
)
from linli.shared.errors import Conflict, ValidationFailed
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import check_if_match, etag
from linli.shared.http.pagination import PageArgs, paginate
from linli.shared.http.problems import ProblemError
from linli.shared.http.uow import db
from linli.shared.outbox import emit

areas = Blueprint("areas", __name__, url_prefix="/v1/areas", description="The administrative tree: district to grid.")
committees = Blueprint("committees", __name__, url_prefix="/v1/committees",
                       description="Communities' big party committees (大党委).")


def _check_name_free(session: Session, parent_id: uuid.UUID | None, name: str) -> None:
    """Sibling areas have distinct names (a unique index holds it against racing writers too)."""
    if session.scalar(select(Area.id).where(Area.parent_id.is_(parent_id) if parent_id is None
                                            else Area.parent_id == parent_id, Area.name == name)):
        raise Conflict(f"an area named {name!r} already exists here", errors={"name": ["already taken"]})


@areas.route("")
class Areas(MethodView):
    @requires("registry:read")
    @areas.arguments(AreaQuery, location="query")
    @areas.response(200, AreaPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List areas, newest first"""
        stmt = in_district(select(Area), Area.district_id)
        if "level" in args:
            stmt = stmt.where(Area.level == args["level"])
        if "parent_id" in args:
            stmt = stmt.where(Area.parent_id == args["parent_id"])
        return paginate(db(), stmt, Area, args["limit"], args["cursor"])

    @requires("registry:write")
    @areas.arguments(AreaCreate)
    @areas.response(201, AreaSchema)
    def post(self, body: dict[str, Any]) -> tuple[Area, int, dict[str, str]]:
        """Add an area under its parent (a district is added by an operator)"""
        session = db()
        parent = None
        if body["parent_id"] is not None:
            parent = session.get(Area, body["parent_id"])
            if parent is None or not principal().sees(parent.district_id):
                raise ValidationFailed.field("parent_id", "no such area")
        domain.check_placement(body["level"], parent.level if parent else None, body["kind"])
        area_id = uuid.uuid4()
        if parent is None:
            if not principal().is_operator:
                raise ProblemError(403, "only operators add districts", slug="forbidden")
            district_id = str(area_id)
        else:
            district_id = parent.district_id
        _check_name_free(session, body["parent_id"], body["name"])
        area = Area(id=area_id, district_id=district_id, parent_id=body["parent_id"], level=body["level"],
                    name=body["name"], kind=body["kind"], time_zone=body["time_zone"], version=1)
        session.add(area)
        session.flush()
        emit(session, AREA_CREATED, subject=area.id, data=area_data(area), district=district_id)
        return area, 201, {"Location": f"/v1/areas/{area.id}", "ETag": etag(area.version)}


@areas.route("/<uuid:area_id>")
class AreaItem(MethodView):
    @requires("registry:read")
    @areas.response(200, AreaSchema)
    def get(self, area_id: uuid.UUID) -> tuple[Area, int, dict[str, str]]:
        """One area"""
        area = visible_or_404(db().get(Area, area_id), "area")
        return area, 200, {"ETag": etag(area.version)}

    @requires("registry:write")
    @areas.arguments(AreaUpdate)
    @areas.response(200, AreaSchema)
    def patch(self, body: dict[str, Any], area_id: uuid.UUID) -> tuple[Area, int, dict[str, str]]:
        """Rename an area or change its kind or time zone (send If-Match with the ETag you read)"""
        session = db()
        area = visible_or_404(session.get(Area, area_id, with_for_update=True), "area")
        check_if_match(area.version)
        if "kind" in body:
            domain.check_placement(area.level, domain.PARENT_LEVEL[area.level], body["kind"])
        changed = {k: v for k, v in body.items() if getattr(area, k) != v}
        if "name" in changed:
            _check_name_free(session, area.parent_id, changed["name"])
        if changed:
            for name, value in changed.items():
                setattr(area, name, value)
            session.flush()
            emit(session, AREA_UPDATED, subject=area.id, data=area_data(area), district=area.district_id)
        return area, 200, {"ETag": etag(area.version)}


@committees.route("")
class Committees(MethodView):
    @requires("registry:read")
    @committees.arguments(PageArgs, location="query")
    @committees.response(200, CommitteePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List committees, newest first"""
        stmt = in_district(select(Committee), Committee.district_id)
        return paginate(db(), stmt, Committee, args["limit"], args["cursor"])

    @requires("registry:write")
    @committees.arguments(CommitteeCreate)
    @committees.response(201, CommitteeSchema)
    def post(self, body: dict[str, Any]) -> tuple[Committee, int, dict[str, str]]:
        """Set up a community's big party committee (one per community)"""
        session = db()
        community = session.get(Area, body["community_id"])
        if community is None or not principal().sees(community.district_id) or community.level != "community":
            raise ValidationFailed.field("community_id", "no such community")
        if session.scalar(select(Committee.id).where(Committee.community_id == community.id)):
            raise ProblemError(409, "this community already has a committee", slug="conflict")
        committee = Committee(district_id=community.district_id, community_id=community.id, name=body["name"],
                              time_zone=community.time_zone, version=1)
        session.add(committee)
        session.flush()
        emit(session, COMMITTEE_CREATED, subject=committee.id, data=committee_data(committee),
             district=committee.district_id)
        return committee, 201, {"Location": f"/v1/committees/{committee.id}", "ETag": etag(committee.version)}


@committees.route("/<uuid:committee_id>")
class CommitteeItem(MethodView):
    @requires("registry:read")
    @committees.response(200, CommitteeSchema)
    def get(self, committee_id: uuid.UUID) -> tuple[Committee, int, dict[str, str]]:
        """One committee"""
        committee = visible_or_404(db().get(Committee, committee_id), "committee")
        return committee, 200, {"ETag": etag(committee.version)}
