"""registry's HTTP API: views parse the request, call the use case and present its result."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from linli.services.registry import usecases
from linli.services.registry.domain import DETAILS
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
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import check_if_match, etag
from linli.shared.http.pagination import PageArgs, paginate
from linli.shared.http.uow import db

areas = Blueprint("areas", __name__, url_prefix="/v1/areas", description="The administrative tree: district to grid.")
committees = Blueprint("committees", __name__, url_prefix="/v1/committees",
                       description="Communities' big party committees (大党委).")


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
        details = {name: body[name] for name in DETAILS if name in body}
        area = usecases.add_area(db(), principal(), level=body["level"], name=body["name"],
                                 parent_id=body["parent_id"], kind=body["kind"], time_zone=body["time_zone"],
                                 details=details)
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
        """Rename an area, change its kind, time zone or details (send If-Match with the ETag you read)"""
        area = usecases.edit_area(db(), principal(), area_id, body, check_version=check_if_match)
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
        committee = usecases.set_up_committee(db(), principal(), community_id=body["community_id"],
                                              name=body["name"])
        return committee, 201, {"Location": f"/v1/committees/{committee.id}", "ETag": etag(committee.version)}


@committees.route("/<uuid:committee_id>")
class CommitteeItem(MethodView):
    @requires("registry:read")
    @committees.response(200, CommitteeSchema)
    def get(self, committee_id: uuid.UUID) -> tuple[Committee, int, dict[str, str]]:
        """One committee"""
        committee = visible_or_404(db().get(Committee, committee_id), "committee")
        return committee, 200, {"ETag": etag(committee.version)}
