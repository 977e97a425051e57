"""registry's HTTP API: views parse the request, call the use case and present its result."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from linli.services.registry import import_files, usecases
from linli.services.registry.domain import DETAILS
from linli.services.registry.models import Area, Committee
from linli.services.registry.schemas import (
    AreaCreate,
    AreaMove,
    AreaPage,
    AreaPath,
    AreaQuery,
    AreaSchema,
    AreaTree,
    AreaUpdate,
    ChildrenQuery,
    CommitteeCreate,
    CommitteePage,
    CommitteeSchema,
    CoverageSchema,
    CoverageUpdate,
    ImportQuery,
    ImportResult,
    ImportRow,
    TreeQuery,
)
from linli.shared.errors import ValidationFailed
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import check_if_match, etag
from linli.shared.http.guards import json_body, raw_text
from linli.shared.http.operations import accepts
from linli.shared.http.pagination import PageArgs, paginate
from linli.shared.http.problems import flatten_messages
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


# --- Moving areas, children, paths, subtrees and grid coverage ---------------------------------------


@areas.route("/<uuid:area_id>/move")
class AreaMoveAction(MethodView):
    @requires("registry:write")
    @areas.arguments(AreaMove)
    @areas.response(200, AreaSchema)
    def post(self, body: dict[str, Any], area_id: uuid.UUID) -> tuple[Area, int, dict[str, str]]:
        """Move an area, with everything below it, under another parent of the same district

        Placement is as for creation (a compound under a community, ...); not under itself or its own
        descendant (409). A compound or building that a grid covers stays in that grid's community (409).
        Honours If-Match. Emits `registry.area.moved`.
        """
        area = usecases.move_area(db(), principal(), area_id, body["parent_id"], check_version=check_if_match)
        return area, 200, {"ETag": etag(area.version)}


@areas.route("/<uuid:area_id>/children")
class AreaChildren(MethodView):
    @requires("registry:read")
    @areas.arguments(ChildrenQuery, location="query")
    @areas.response(200, AreaPage)
    def get(self, args: dict[str, Any], area_id: uuid.UUID) -> dict[str, Any]:
        """The areas right below one, by name"""
        parent = visible_or_404(db().get(Area, area_id), "area")
        stmt = select(Area).where(Area.parent_id == parent.id)
        if "level" in args:
            stmt = stmt.where(Area.level == args["level"])
        return paginate(db(), stmt, Area, args["limit"], args["cursor"], keys=[Area.name, Area.id],
                        descending=False)


@areas.route("/<uuid:area_id>/path")
class AreaPathView(MethodView):
    @requires("registry:read")
    @areas.response(200, AreaPath)
    def get(self, area_id: uuid.UUID) -> dict[str, Any]:
        """The full path of an area: its district, street, ... down to the area itself"""
        area = visible_or_404(db().get(Area, area_id), "area")
        return {"items": usecases.ancestors(db(), area)}


@areas.route("/<uuid:area_id>/tree")
class AreaTreeView(MethodView):
    @requires("registry:read")
    @areas.arguments(TreeQuery, location="query")
    @areas.response(200, AreaTree)
    def get(self, args: dict[str, Any], area_id: uuid.UUID) -> dict[str, Any]:
        """The subtree below an area, `depth` levels deep and at most `max_nodes` nodes (`truncated` if cut)"""
        area = visible_or_404(db().get(Area, area_id), "area")
        root, count, truncated = usecases.subtree(db(), area, depth=args["depth"], max_nodes=args["max_nodes"])
        return {"root": root, "nodes": count, "truncated": truncated}


@areas.route("/<uuid:area_id>/coverage")
class GridCoverage(MethodView):
    @requires("registry:read")
    @areas.response(200, CoverageSchema)
    def get(self, area_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """The compounds and buildings a grid covers"""
        grid = visible_or_404(db().get(Area, area_id), "area")
        covered = usecases.coverage_of(db(), grid)
        return {"grid_id": grid.id, "area_ids": covered, "version": grid.version}, 200, {"ETag": etag(grid.version)}

    @requires("registry:write")
    @areas.arguments(CoverageUpdate)
    @areas.response(200, CoverageSchema)
    def put(self, body: dict[str, Any], area_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Replace what a grid covers (compounds and buildings of its community)

        Only an area of level `grid` has coverage (409 otherwise). Honours If-Match. Emits
        `registry.area.coverage_changed` when the set changes.
        """
        grid, covered = usecases.set_coverage(db(), principal(), area_id, body["area_ids"],
                                              check_version=check_if_match)
        return {"grid_id": grid.id, "area_ids": covered, "version": grid.version}, 200, {"ETag": etag(grid.version)}


# --- Bulk import -----------------------------------------------------------------------------------------

_IMPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "maxItems": import_files.MAX_ROWS, "items": ImportRow}},
        "text/csv": {"schema": {"type": "string", "description": (
            "UTF-8, a header row naming the columns of ImportRow (level,name,parent,kind,...); blank cells are "
            "left out")}},
    },
}
_ROW = ImportRow()


@areas.route("/import")
class AreaImport(MethodView):
    @requires("registry:write")
    @accepts("text/csv")
    @areas.arguments(ImportQuery, location="query")
    @areas.doc(requestBody=_IMPORT_BODY)
    @areas.response(201, ImportResult)
    @areas.alt_response(200, schema=ImportResult, description="a dry run: what would be imported")
    def post(self, args: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Import a file of areas (CSV or a JSON array), all in one transaction

        Parents are named by id or by path below the district (`中山路街道/星光社区`), existing areas or
        earlier rows. Nothing is imported when any row is bad: the 422 names each bad row as `line N` (the
        CSV line, the header being line 1; the item's 1-based position in a JSON array) and its field, e.g.
        `line 7.name`. `?dry_run=true` validates without writing. Emits `registry.area.created` per area.
        """
        who = principal()
        district_id = args.get("district_id") or ("" if who.is_operator else who.district)
        if not who.sees(district_id):
            raise ValidationFailed.field("district_id", "no such district")
        text = raw_text()
        rows, errors = (import_files.rows_of_csv(text) if text is not None and request.mimetype == "text/csv"
                        else import_files.rows_of_json(json_body()))
        loaded = []
        for line, row in rows:
            try:
                loaded.append((line, _ROW.load(row)))
            except ma.ValidationError as exc:
                errors.update(flatten_messages(exc.messages, f"line {line}"))
        planned = usecases.import_areas(db(), who, loaded, district_id=district_id, dry_run=args["dry_run"],
                                        errors=errors)
        items = [{"line": p.line, "id": None if args["dry_run"] else p.id, "level": p.level, "name": p.name,
                  "path": p.path} for p in planned]
        return {"dry_run": args["dry_run"], "count": len(items), "items": items}, 200 if args["dry_run"] else 201

