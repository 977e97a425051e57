"""registry's HTTP API: views parse the request, call the use case and present its result."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select

from linli.services.registry import domain, evaluation, evaluation_files, import_files, usecases
from linli.services.registry.domain import DETAILS
from linli.services.registry.models import (
    SHORT_NAME,
    Activity,
    ActivitySignUp,
    Area,
    CheckIn,
    Committee,
    CommitteeUnit,
    Member,
    MemberRole,
    MemberSkill,
    Organization,
    Pairing,
    Pledge,
    Resource,
    ServiceRecord,
)
from linli.services.registry.schemas import (
    ActivityCancel,
    ActivityCreate,
    ActivityHold,
    ActivityPage,
    ActivityQuery,
    ActivitySchema,
    ActivityUpdate,
    AreaCreate,
    AreaMove,
    AreaPage,
    AreaPath,
    AreaQuery,
    AreaSchema,
    AreaTree,
    AreaUpdate,
    CheckInCreate,
    CheckInPage,
    CheckInQuery,
    CheckInReject,
    CheckInSchema,
    ChildrenQuery,
    CommitteeCreate,
    CommitteePage,
    CommitteeSchema,
    CommitteeUnitJoin,
    CommitteeUnitLeave,
    CommitteeUnitPage,
    CommitteeUnitQuery,
    CommitteeUnitSchema,
    CommitteeUpdate,
    CoverageReport,
    CoverageReportQuery,
    CoverageSchema,
    CoverageUpdate,
    EvaluationQuery,
    EvaluationTableSchema,
    ImportQuery,
    ImportResult,
    ImportRow,
    MemberCreate,
    MemberLeave,
    MemberPage,
    MemberQuery,
    MemberSchema,
    MemberUpdate,
    OrganizationCreate,
    OrganizationPage,
    OrganizationQuery,
    OrganizationSchema,
    OrganizationUpdate,
    PairingCreate,
    PairingPage,
    PairingQuery,
    PairingRemove,
    PairingSchema,
    PledgeCreate,
    PledgePage,
    PledgeQuery,
    PledgeSchema,
    ResourceCategoryPage,
    ResourceCreate,
    ResourcePage,
    ResourceQuery,
    ResourceSchema,
    ServiceRecordCreate,
    ServiceRecordPage,
    ServiceRecordQuery,
    ServiceRecordReject,
    ServiceRecordSchema,
    SignUpCreate,
    SignUpPage,
    SignUpQuery,
    SignUpSchema,
    TreeQuery,
)
from linli.shared.db import utcnow
from linli.shared.errors import NotFound, ValidationFailed
from linli.shared.http import spreadsheets as spreadsheet_answers
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import check_if_match, etag
from linli.shared.http.guards import json_body, raw_text
from linli.shared.http.operations import accepts
from linli.shared.http.pagination import PageArgs, paginate
from linli.shared.http.problems import flatten_messages
from linli.shared.http.uow import db
from linli.shared.phones import mask_email, mask_phone

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
        committee = usecases.set_up_committee(db(), principal(), **body)
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


# --- Organizations -----------------------------------------------------------------------------------------

PII_SCOPE = "registry:pii"

organizations = Blueprint("organizations", __name__, url_prefix="/v1/organizations",
                          description="Agencies, schools, companies and other organizations (单位 / 组织).")


class _Masked:
    """A row as a caller without registry:pii sees it: its phone numbers masked.

    A stand-in rather than an edit of the row: the row is in the request's session, so a masked
    number set on it would be committed over the real one.
    """

    def __init__(self, row: Any, *fields: str) -> None:
        self._row = row
        for name in fields:
            value = getattr(row, name)
            mask = mask_email if name.endswith("email") else mask_phone
            self.__dict__[name] = None if value is None else mask(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _shown(row: Any, *fields: str) -> Any:
    return row if principal().has(PII_SCOPE) else _Masked(row, *fields)


def _organization(row: Organization) -> Any:
    return _shown(row, "contact_phone", "contact_email")


@organizations.route("")
class Organizations(MethodView):
    @requires("registry:read")
    @organizations.arguments(OrganizationQuery, location="query")
    @organizations.response(200, OrganizationPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List organizations, newest first (contact phones masked unless you hold registry:pii)"""
        stmt = in_district(select(Organization), Organization.district_id)
        if "kind" in args:
            stmt = stmt.where(Organization.kind == args["kind"])
        if "area_id" in args:
            stmt = stmt.where(Organization.area_id == args["area_id"])
        if "q" in args:
            stmt = stmt.where(Organization.name.contains(args["q"], autoescape=True))
        page = paginate(db(), stmt, Organization, args["limit"], args["cursor"])
        return {**page, "items": [_organization(row) for row in page["items"]]}

    @requires("registry:write")
    @organizations.arguments(OrganizationCreate)
    @organizations.response(201, OrganizationSchema)
    def post(self, body: dict[str, Any]) -> tuple[Any, int, dict[str, str]]:
        """Register an organization in your district (an operator names `district_id`)"""
        district_id = body.pop("district_id")
        organization = usecases.register_organization(
            db(), principal(), **body, district_id=None if district_id is None else str(district_id))
        return _organization(organization), 201, {"Location": f"/v1/organizations/{organization.id}",
                                                  "ETag": etag(organization.version)}


@organizations.route("/<uuid:organization_id>")
class OrganizationItem(MethodView):
    @requires("registry:read")
    @organizations.response(200, OrganizationSchema)
    def get(self, organization_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """One organization (its contact phone masked unless you hold registry:pii)"""
        organization = visible_or_404(db().get(Organization, organization_id), "organization")
        return _organization(organization), 200, {"ETag": etag(organization.version)}

    @requires("registry:write")
    @organizations.arguments(OrganizationUpdate)
    @organizations.response(200, OrganizationSchema)
    def patch(self, body: dict[str, Any], organization_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """Change an organization's kind, name, address or contact (send If-Match with the ETag you read)"""
        organization = usecases.edit_organization(db(), principal(), organization_id, body,
                                                  check_version=check_if_match)
        return _organization(organization), 200, {"ETag": etag(organization.version)}


# --- Resources ---------------------------------------------------------------------------------------------

resource_categories = Blueprint("resource_categories", __name__, url_prefix="/v1/resource-categories",
                                description="The suite's one vocabulary of resource, skill and ticket categories.")


@resource_categories.route("")
class ResourceCategories(MethodView):
    @requires("registry:read")
    @resource_categories.response(200, ResourceCategoryPage)
    def get(self) -> dict[str, Any]:
        """Every category code with its Chinese and English label (one page: the list is short)"""
        items = [{"code": code, "zh": zh, "en": en} for code, (zh, en) in domain.RESOURCE_CATEGORIES.items()]
        return {"items": items, "next_cursor": None}


@organizations.route("/<uuid:organization_id>/resources")
class OrganizationResources(MethodView):
    @requires("registry:read")
    @organizations.arguments(ResourceQuery, location="query")
    @organizations.response(200, ResourcePage)
    def get(self, args: dict[str, Any], organization_id: uuid.UUID) -> dict[str, Any]:
        """An organization's resources, newest first (removed ones only with include_removed=true)"""
        organization = visible_or_404(db().get(Organization, organization_id), "organization")
        stmt = select(Resource).where(Resource.organization_id == organization.id)
        if not args["include_removed"]:
            stmt = stmt.where(Resource.state == domain.RESOURCE_AVAILABLE)
        if "category" in args:
            stmt = stmt.where(Resource.category == args["category"])
        return paginate(db(), stmt, Resource, args["limit"], args["cursor"])

    @requires("registry:write")
    @organizations.arguments(ResourceCreate)
    @organizations.response(201, ResourceSchema)
    def post(self, body: dict[str, Any], organization_id: uuid.UUID) -> tuple[Resource, int, dict[str, str]]:
        """Add a resource to the organization's list"""
        resource = usecases.add_resource(db(), principal(), organization_id, **body)
        return resource, 201, {"Location": f"/v1/organizations/{organization_id}/resources/{resource.id}",
                               "ETag": etag(resource.version)}


@organizations.route("/<uuid:organization_id>/resources/<uuid:resource_id>")
class OrganizationResourceItem(MethodView):
    @requires("registry:read")
    @organizations.response(200, ResourceSchema)
    def get(self, organization_id: uuid.UUID, resource_id: uuid.UUID) -> tuple[Resource, int, dict[str, str]]:
        """One resource of the organization"""
        resource = visible_or_404(db().get(Resource, resource_id), "resource")
        if resource.organization_id != organization_id:
            raise NotFound("resource not found")
        return resource, 200, {"ETag": etag(resource.version)}


@organizations.route("/<uuid:organization_id>/resources/<uuid:resource_id>/remove")
class OrganizationResourceRemove(MethodView):
    @requires("registry:write")
    @organizations.response(200, ResourceSchema)
    def post(self, organization_id: uuid.UUID, resource_id: uuid.UUID) -> tuple[Resource, int, dict[str, str]]:
        """Take a resource off the list (it stays readable as removed; removing it again is 409)"""
        resource = usecases.remove_resource(db(), principal(), organization_id, resource_id, utcnow())
        return resource, 200, {"ETag": etag(resource.version)}


# --- Pairings ----------------------------------------------------------------------------------------------

pairings = Blueprint("pairings", __name__, url_prefix="/v1/pairings",
                     description="Organizations paired with the compounds they are responsible for (结对包建).")


@pairings.route("")
class Pairings(MethodView):
    @requires("registry:read")
    @pairings.arguments(PairingQuery, location="query")
    @pairings.response(200, PairingPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List pairings, newest first"""
        stmt = in_district(select(Pairing), Pairing.district_id)
        for name in ("organization_id", "compound_id", "state"):
            if name in args:
                stmt = stmt.where(getattr(Pairing, name) == args[name])
        if "active_on" in args:
            day = args["active_on"]
            stmt = stmt.where(Pairing.starts_on <= day, or_(Pairing.ends_on.is_(None), Pairing.ends_on >= day))
        return paginate(db(), stmt, Pairing, args["limit"], args["cursor"])

    @requires("registry:write")
    @pairings.arguments(PairingCreate)
    @pairings.response(201, PairingSchema)
    def post(self, body: dict[str, Any]) -> tuple[Pairing, int, dict[str, str]]:
        """Pair an organization with a compound of its district (one pairing of the two at a time)"""
        pairing = usecases.pair(db(), principal(), **body)
        return pairing, 201, {"Location": f"/v1/pairings/{pairing.id}", "ETag": etag(pairing.version)}


@pairings.route("/<uuid:pairing_id>")
class PairingItem(MethodView):
    @requires("registry:read")
    @pairings.response(200, PairingSchema)
    def get(self, pairing_id: uuid.UUID) -> tuple[Pairing, int, dict[str, str]]:
        """One pairing"""
        pairing = visible_or_404(db().get(Pairing, pairing_id), "pairing")
        return pairing, 200, {"ETag": etag(pairing.version)}


@pairings.route("/<uuid:pairing_id>/remove")
class PairingRemoval(MethodView):
    @requires("registry:write")
    @pairings.arguments(PairingRemove)
    @pairings.response(200, PairingSchema)
    def post(self, body: dict[str, Any], pairing_id: uuid.UUID) -> tuple[Pairing, int, dict[str, str]]:
        """End a pairing on `ends_on` (its last day); removing it again is 409"""
        pairing = usecases.unpair(db(), principal(), pairing_id, **body)
        return pairing, 200, {"ETag": etag(pairing.version)}


# --- Committees: convenor and units ------------------------------------------------------------------------

@committees.route("/<uuid:committee_id>")
class CommitteeEdit(MethodView):
    @requires("registry:write")
    @committees.arguments(CommitteeUpdate)
    @committees.response(200, CommitteeSchema)
    def patch(self, body: dict[str, Any], committee_id: uuid.UUID) -> tuple[Committee, int, dict[str, str]]:
        """Rename a committee or change its convenor (send If-Match with the ETag you read)"""
        committee = usecases.edit_committee(db(), principal(), committee_id, body, check_version=check_if_match)
        return committee, 200, {"ETag": etag(committee.version)}


def _unit(row: CommitteeUnit) -> Any:
    return _shown(row, "member_phone")


@committees.route("/<uuid:committee_id>/units")
class CommitteeUnits(MethodView):
    @requires("registry:read")
    @committees.arguments(CommitteeUnitQuery, location="query")
    @committees.response(200, CommitteeUnitPage)
    def get(self, args: dict[str, Any], committee_id: uuid.UUID) -> dict[str, Any]:
        """The committee's units, newest first; with include_left=true its whole history"""
        committee = visible_or_404(db().get(Committee, committee_id), "committee")
        stmt = select(CommitteeUnit).where(CommitteeUnit.committee_id == committee.id)
        if not args["include_left"]:
            stmt = stmt.where(CommitteeUnit.left_on.is_(None))
        page = paginate(db(), stmt, CommitteeUnit, args["limit"], args["cursor"])
        return {**page, "items": [_unit(row) for row in page["items"]]}

    @requires("registry:write")
    @committees.arguments(CommitteeUnitJoin)
    @committees.response(201, CommitteeUnitSchema)
    def post(self, body: dict[str, Any], committee_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """An organization joins the committee with the part-time member it sends (joining twice is 409)"""
        unit = usecases.join_committee(db(), principal(), committee_id, **body)
        return _unit(unit), 201, {"ETag": etag(unit.version)}


@committees.route("/<uuid:committee_id>/units/<uuid:organization_id>/leave")
class CommitteeUnitLeaving(MethodView):
    @requires("registry:write")
    @committees.arguments(CommitteeUnitLeave)
    @committees.response(200, CommitteeUnitSchema)
    def post(self, body: dict[str, Any], committee_id: uuid.UUID,
             organization_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """A unit leaves the committee on `left_on`, for `reason` (leaving when not a unit is 409)"""
        unit = usecases.leave_committee(db(), principal(), committee_id, organization_id, **body)
        return _unit(unit), 200, {"ETag": etag(unit.version)}


# --- Party members -----------------------------------------------------------------------------------------

members = Blueprint("members", __name__, url_prefix="/v1/members",
                    description="Party members (党员): home, employer, skills, roles, pledges.")


def _member(row: Member) -> Any:
    return _shown(row, "phone", "email")


def _name_contains(fragment: str) -> ColumnElement[bool]:
    """Names holding `fragment` anywhere, spelled so that PostgreSQL's trigram index finds them when it is short.

    Three characters or more have trigrams of their own. Two have none, but in a name of at most three
    characters, as nearly every Chinese name is, they are its start or its end, which carry the padded
    trigrams " ab" and "ab "; the few longer names are read through an index of their own
    (`ix_members_name_length`). Migration 0008 gives names the finer statistics the planner needs to
    prefer these over walking the district. One character is looked for along the newest-first index,
    stopping when the page is full, or through the whole district when it is rare.

    Chinese has no case, so such a fragment is matched by LIKE, sparing each row read ILIKE's case
    folding (about two thirds of a scan's time).
    """
    name = Member.name
    cased = fragment.lower() != fragment.upper()
    contains, starts, ends = ((name.icontains, name.istartswith, name.iendswith) if cased
                              else (name.contains, name.startswith, name.endswith))
    anywhere = contains(fragment, autoescape=True)
    if len(fragment) != 2:
        return anywhere
    return or_(starts(fragment, autoescape=True), ends(fragment, autoescape=True),
               and_(func.length(name) > literal_column(str(SHORT_NAME)), anywhere))


@members.route("")
class Members(MethodView):
    @requires("registry:read")
    @members.arguments(MemberQuery, location="query")
    @members.response(200, MemberPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search members, newest first (phones masked unless you hold registry:pii)

        `q` finds a fragment of the name anywhere in it, Chinese included; the other filters are exact.
        """
        stmt = in_district(select(Member), Member.district_id)
        for name in ("compound_id", "building_id", "employer_id", "status", "membership"):
            if name in args:
                stmt = stmt.where(getattr(Member, name) == args[name])
        if "q" in args:
            stmt = stmt.where(_name_contains(args["q"]))
            if db().get_bind().dialect.name == "postgresql":
                # The best plan depends on the fragment (trigram index, or the newest-first walk): a plan
                # cached for one fragment of a prepared statement would be reused, badly, for the next.
                db().execute(select(func.set_config("plan_cache_mode", "force_custom_plan", True)))
        if "skill" in args:
            stmt = stmt.where(Member.id.in_(select(MemberSkill.member_id).where(MemberSkill.skill == args["skill"])))
        if "role" in args:
            stmt = stmt.where(Member.id.in_(select(MemberRole.member_id).where(MemberRole.role == args["role"])))
        page = paginate(db(), stmt, Member, args["limit"], args["cursor"])
        return {**page, "items": [_member(row) for row in page["items"]]}

    @requires("registry:write")
    @members.arguments(MemberCreate)
    @members.response(201, MemberSchema)
    def post(self, body: dict[str, Any]) -> tuple[Any, int, dict[str, str]]:
        """Register a party member living in a compound of your district (one member per phone: 409)

        Emits `registry.member.registered` (no phone) and, privately, `registry.member.contact`.
        """
        member = usecases.register_member(db(), principal(), **body)
        return _member(member), 201, {"Location": f"/v1/members/{member.id}", "ETag": etag(member.version)}


@members.route("/<uuid:member_id>")
class MemberItem(MethodView):
    @requires("registry:read")
    @members.response(200, MemberSchema)
    def get(self, member_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """One member (the phone masked unless you hold registry:pii)"""
        member = visible_or_404(db().get(Member, member_id), "member")
        return _member(member), 200, {"ETag": etag(member.version)}

    @requires("registry:write")
    @members.arguments(MemberUpdate)
    @members.response(200, MemberSchema)
    def patch(self, body: dict[str, Any], member_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """Change a member's name, phone, employer, building, status, skills or roles (send If-Match)

        The home compound changes only when a check-in at another compound is confirmed.
        """
        member = usecases.edit_member(db(), principal(), member_id, body, check_version=check_if_match)
        return _member(member), 200, {"ETag": etag(member.version)}


@members.route("/<uuid:member_id>/pledges")
class MemberPledges(MethodView):
    @requires("registry:read")
    @members.arguments(PledgeQuery, location="query")
    @members.response(200, PledgePage)
    def get(self, args: dict[str, Any], member_id: uuid.UUID) -> dict[str, Any]:
        """A member's public pledges, newest first"""
        member = visible_or_404(db().get(Member, member_id), "member")
        stmt = select(Pledge).where(Pledge.member_id == member.id)
        if "status" in args:
            stmt = stmt.where(Pledge.status == args["status"])
        return paginate(db(), stmt, Pledge, args["limit"], args["cursor"])

    @requires("registry:write")
    @members.arguments(PledgeCreate)
    @members.response(201, PledgeSchema)
    def post(self, body: dict[str, Any], member_id: uuid.UUID) -> tuple[Pledge, int, dict[str, str]]:
        """A member makes a public pledge (a member who left: 409); emits `registry.pledge.added`"""
        pledge = usecases.add_pledge(db(), principal(), member_id, **body)
        return pledge, 201, {"Location": f"/v1/members/{member_id}/pledges/{pledge.id}",
                             "ETag": etag(pledge.version)}


@members.route("/<uuid:member_id>/pledges/<uuid:pledge_id>")
class MemberPledgeItem(MethodView):
    @requires("registry:read")
    @members.response(200, PledgeSchema)
    def get(self, member_id: uuid.UUID, pledge_id: uuid.UUID) -> tuple[Pledge, int, dict[str, str]]:
        """One pledge of the member"""
        pledge = visible_or_404(db().get(Pledge, pledge_id), "pledge")
        if pledge.member_id != member_id:
            raise NotFound("pledge not found")
        return pledge, 200, {"ETag": etag(pledge.version)}


@members.route("/<uuid:member_id>/pledges/<uuid:pledge_id>/fulfil")
class MemberPledgeFulfilment(MethodView):
    @requires("registry:write")
    @members.response(200, PledgeSchema)
    def post(self, member_id: uuid.UUID, pledge_id: uuid.UUID) -> tuple[Pledge, int, dict[str, str]]:
        """Mark the pledge fulfilled (again: 409); emits `registry.pledge.fulfilled`"""
        pledge = usecases.fulfil_pledge(db(), principal(), member_id, pledge_id, utcnow())
        return pledge, 200, {"ETag": etag(pledge.version)}



@members.route("/<uuid:member_id>/leave")
class MemberLeaving(MethodView):
    @requires("registry:write")
    @members.arguments(MemberLeave)
    @members.response(200, MemberSchema)
    def post(self, body: dict[str, Any], member_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """End the membership here: the member's check-ins end with it (leaving twice: 409; honours If-Match)

        Emits `registry.check_in.ended` for each check-in that ends, then `registry.member.left`.
        """
        member = usecases.leave(db(), principal(), member_id, utcnow(), **body, check_version=check_if_match)
        return _member(member), 200, {"ETag": etag(member.version)}


# --- Check-ins -------------------------------------------------------------------------------------------------

check_ins = Blueprint("check_ins", __name__, url_prefix="/v1/check-ins",
                      description="Members reporting to the branch of the compound they live in (报到).")


@check_ins.route("")
class CheckIns(MethodView):
    @requires("registry:read")
    @check_ins.arguments(CheckInQuery, location="query")
    @check_ins.response(200, CheckInPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List check-ins, newest first"""
        stmt = in_district(select(CheckIn), CheckIn.district_id)
        for name in ("member_id", "compound_id", "branch_id", "state"):
            if name in args:
                stmt = stmt.where(getattr(CheckIn, name) == args[name])
        return paginate(db(), stmt, CheckIn, args["limit"], args["cursor"])

    @requires("registry:write")
    @check_ins.arguments(CheckInCreate)
    @check_ins.response(201, CheckInSchema)
    def post(self, body: dict[str, Any]) -> tuple[CheckIn, int, dict[str, str]]:
        """A member reports to the branch of their home compound, or of the one they move to (`submitted`)

        One check-in awaiting the branch per member, and none at a compound they are checked in at (409).
        Emits `registry.check_in.submitted`.
        """
        check_in = usecases.submit_check_in(db(), principal(), **body)
        return check_in, 201, {"Location": f"/v1/check-ins/{check_in.id}", "ETag": etag(check_in.version)}


@check_ins.route("/<uuid:check_in_id>")
class CheckInItem(MethodView):
    @requires("registry:read")
    @check_ins.response(200, CheckInSchema)
    def get(self, check_in_id: uuid.UUID) -> tuple[CheckIn, int, dict[str, str]]:
        """One check-in"""
        check_in = visible_or_404(db().get(CheckIn, check_in_id), "check-in")
        return check_in, 200, {"ETag": etag(check_in.version)}


@check_ins.route("/<uuid:check_in_id>/confirm")
class CheckInConfirmation(MethodView):
    @requires("registry:write")
    @check_ins.response(200, CheckInSchema)
    def post(self, check_in_id: uuid.UUID) -> tuple[CheckIn, int, dict[str, str]]:
        """The branch confirms a submitted check-in (other states: 409 naming the state; honours If-Match)

        The member's earlier confirmed check-in ends (`registry.check_in.ended`) and, when it was at another
        compound or building, their home moves here (`registry.member.moved`). Emits `registry.check_in.confirmed`.
        """
        check_in = usecases.confirm_check_in(db(), principal(), check_in_id, utcnow(), check_version=check_if_match)
        return check_in, 200, {"ETag": etag(check_in.version)}


@check_ins.route("/<uuid:check_in_id>/reject")
class CheckInRejection(MethodView):
    @requires("registry:write")
    @check_ins.arguments(CheckInReject)
    @check_ins.response(200, CheckInSchema)
    def post(self, body: dict[str, Any], check_in_id: uuid.UUID) -> tuple[CheckIn, int, dict[str, str]]:
        """The branch rejects a submitted check-in with a reason (other states: 409; honours If-Match)

        Emits `registry.check_in.rejected`.
        """
        check_in = usecases.reject_check_in(db(), principal(), check_in_id, utcnow(), **body,
                                            check_version=check_if_match)
        return check_in, 200, {"ETag": etag(check_in.version)}


# --- Evaluations (双向评价) -----------------------------------------------------------------------------------

evaluations = Blueprint("evaluations", __name__, url_prefix="/v1/evaluations",
                        description="What party members did in a year, for their employers' assessment (双向评价).")

_CSV_RESPONSE = {
    "schema": {"type": "string", "description": (
        "UTF-8 with a byte-order mark (so Excel reads the Chinese); a header row, then one row per member: name, "
        "phone (masked unless registry:pii), check-in, pledges, one column of verified hours per category present, "
        "total verified hours, hours awaiting verification, activities, tickets, member id. Headers in Chinese, "
        "in English with `Accept-Language: en`")},
    "headers": {"Content-Disposition": {"schema": {"type": "string"}, "description": (
        "CSV only: attachment, under a file name saying whose evaluations of which year")}},
}
_EVALUATIONS_ANSWER = "the evaluations: JSON by default; with `Accept: text/csv`, the same table as a CSV file"


@evaluations.route("")
class Evaluations(MethodView):
    @requires("registry:read")
    @evaluations.arguments(EvaluationQuery, location="query")
    @evaluations.response(200, EvaluationTableSchema, description=_EVALUATIONS_ANSWER)
    @evaluations.alt_response(200, schema=_CSV_RESPONSE["schema"], content_type=evaluation_files.MEDIA_TYPE,
                              headers=_CSV_RESPONSE["headers"], success=True, description=_EVALUATIONS_ANSWER)
    @evaluations.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any]) -> Any:
        """A year's evaluations: one member's (member_id), or an employer's table of its members (organization_id)

        Give `year` and exactly one of `member_id` and `organization_id` (422 naming them otherwise). Per member:
        the check-in standing at the year's end (for this year: now) and whether one was in force during it;
        pledges made, fulfilled and still open; hours of service by category and their total, counting
        **verified** service records only, with logged but not yet verified hours as a separate figure;
        how many distinct activities and tickets the member served (verified records of the year). The year
        runs from 1 January to 1 January in the district's time zone; service counts by the day it was given.

        An organization's table lists every member whose employer it is now and who had not left before the
        year began, by name, complete in one answer: past 5000 members it is refused (422 naming
        organization_id) rather than cut; a member or organization of another district is 404. Pledge items
        and activity and ticket ids come only with one member's evaluation. Phones are masked unless you hold
        registry:pii. `Accept: text/csv` answers a CSV file instead, for spreadsheets.
        """
        who = principal()
        if "member_id" in args:
            table = usecases.evaluate_member(db(), who, args["member_id"], year=args["year"])
        else:
            table = usecases.evaluate_organization(db(), who, args["organization_id"], year=args["year"])
        shown = [_evaluation_shown(row, who.has(PII_SCOPE)) for row in table.rows]
        if spreadsheet_answers.wants_csv():
            return _evaluation_file(table, shown)
        return _evaluation_json(table, shown), 200, spreadsheet_answers.VARY


def _evaluation_shown(row: Any, pii: bool) -> Any:
    return row if pii else dataclasses.replace(row, phone=mask_phone(row.phone))


def _evaluation_file(table: usecases.EvaluationTable, rows: list[Any]) -> Response:
    language = spreadsheet_answers.language()
    subject_id = table.organization.id if table.organization else table.member_id
    title = table.organization.name if table.organization else rows[0].name
    body = evaluation_files.csv_of(rows, table.categories, table.compound_names, language)
    return spreadsheet_answers.csv_answer(body, language,
                                          evaluation_files.disposition(title, table.year.number, subject_id, language))


def _evaluation_json(table: usecases.EvaluationTable, rows: list[Any]) -> dict[str, Any]:
    one_member = table.member_id is not None
    return {
        "year": table.year.number, "time_zone": table.time_zone, "starts_at": table.year.starts_at,
        "ends_at": table.year.ends_at, "member_id": table.member_id,
        "organization_id": table.organization.id if table.organization else None,
        "organization_name": table.organization.name if table.organization else None,
        "categories": [{"code": code, "zh": domain.RESOURCE_CATEGORIES.get(code, (code, code))[0],
                        "en": domain.RESOURCE_CATEGORIES.get(code, (code, code))[1]} for code in table.categories],
        "count": len(rows),
        "items": [_evaluation_item(row, table, one_member) for row in rows],
    }


def _evaluation_item(row: Any, table: usecases.EvaluationTable, one_member: bool) -> dict[str, Any]:
    standing, pledges, service = row.check_in, row.pledges, row.service
    item = {
        "member_id": row.member_id, "name": row.name, "phone": row.phone, "status": row.status,
        "membership": row.membership,
        "check_in": {"status_at_year_end": standing.status_at_year_end, "compound_id": standing.compound_id,
                     "compound_name": table.compound_names.get(standing.compound_id) if standing.compound_id else None,
                     "checked_in_during_year": standing.checked_in_during_year,
                     "confirmed_in_year": standing.confirmed_in_year},
        "pledges": {"made": pledges.made, "fulfilled": pledges.fulfilled, "open_at_year_end": pledges.open_at_year_end},
        "hours": {"by_category": [{"category": code, "minutes": minutes, "hours": evaluation.hours(minutes)}
                                  for code, minutes in service.by_category],
                  "total_minutes": service.total_minutes, "total_hours": service.total_hours,
                  "unverified_minutes": service.unverified_minutes, "unverified_hours": service.unverified_hours},
        "activities": row.activities, "tickets": row.tickets,
    }
    if one_member:
        item["pledge_items"] = [dataclasses.asdict(pledge) for pledge in pledges.items]
        item["activity_ids"], item["ticket_ids"] = table.activity_ids, table.ticket_ids
    return item
# --- Coverage ---------------------------------------------------------------------------------------------------

coverage = Blueprint("coverage", __name__, url_prefix="/v1/coverage",
                     description="How far party members, branches and pairings reach an area's compounds (覆盖情况).")


@coverage.route("")
class Coverage(MethodView):
    @requires("registry:read")
    @coverage.arguments(CoverageReportQuery, location="query")
    @coverage.response(200, CoverageReport)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Coverage of a compound, or of every compound of a community or street, with totals

        Per compound: current members living there, those in service, those checked in there (a confirmed
        check-in), role holders per role, buildings where no member living there is a party group leader,
        and whether a party branch serves it (or its community) and an organization is paired with it
        today in the district's time zone. Another district's area is 404; a district, building or grid 422.
        """
        return usecases.area_coverage(db(), principal(), args["area_id"], utcnow())


# --- Service records -------------------------------------------------------------------------------------------

service_records = Blueprint("service_records", __name__, url_prefix="/v1/service-records",
                            description="Hours of service members gave (服务记录), logged by hand or credited by "
                                        "closed tickets and held activities.")


@service_records.route("")
class ServiceRecords(MethodView):
    @requires("registry:read")
    @service_records.arguments(ServiceRecordQuery, location="query")
    @service_records.response(200, ServiceRecordPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List service records, newest first; `from`/`to` bound the day served (both inclusive)"""
        stmt = in_district(select(ServiceRecord), ServiceRecord.district_id)
        for name in ("member_id", "state", "source", "source_id"):
            if name in args:
                stmt = stmt.where(getattr(ServiceRecord, name) == args[name])
        if "from_" in args:
            stmt = stmt.where(ServiceRecord.served_on >= args["from_"])
        if "to" in args:
            stmt = stmt.where(ServiceRecord.served_on <= args["to"])
        return paginate(db(), stmt, ServiceRecord, args["limit"], args["cursor"])

    @requires("registry:write")
    @service_records.arguments(ServiceRecordCreate)
    @service_records.response(201, ServiceRecordSchema)
    def post(self, body: dict[str, Any]) -> tuple[ServiceRecord, int, dict[str, str]]:
        """Log hours a member gave, by hand (`logged`, awaiting the branch's verification)

        The member's membership must be active (409 otherwise). Emits `registry.service_record.logged`.
        """
        service_record = usecases.log_service(db(), principal(), utcnow(), **body)
        return service_record, 201, {"Location": f"/v1/service-records/{service_record.id}",
                                     "ETag": etag(service_record.version)}


@service_records.route("/<uuid:service_record_id>")
class ServiceRecordItem(MethodView):
    @requires("registry:read")
    @service_records.response(200, ServiceRecordSchema)
    def get(self, service_record_id: uuid.UUID) -> tuple[ServiceRecord, int, dict[str, str]]:
        """One service record"""
        service_record = visible_or_404(db().get(ServiceRecord, service_record_id), "service record")
        return service_record, 200, {"ETag": etag(service_record.version)}


@service_records.route("/<uuid:service_record_id>/verify")
class ServiceRecordVerification(MethodView):
    @requires("registry:write")
    @service_records.response(200, ServiceRecordSchema)
    def post(self, service_record_id: uuid.UUID) -> tuple[ServiceRecord, int, dict[str, str]]:
        """The branch verifies a logged record (other states: 409 naming the state; honours If-Match)

        Emits `registry.service_record.verified`.
        """
        service_record = usecases.verify_service_record(db(), principal(), service_record_id, utcnow(),
                                                        check_version=check_if_match)
        return service_record, 200, {"ETag": etag(service_record.version)}


@service_records.route("/<uuid:service_record_id>/reject")
class ServiceRecordRejection(MethodView):
    @requires("registry:write")
    @service_records.arguments(ServiceRecordReject)
    @service_records.response(200, ServiceRecordSchema)
    def post(self, body: dict[str, Any], service_record_id: uuid.UUID) -> tuple[ServiceRecord, int, dict[str, str]]:
        """The branch rejects a logged record with a reason (other states: 409; honours If-Match)

        Emits `registry.service_record.rejected`.
        """
        service_record = usecases.reject_service_record(db(), principal(), service_record_id, utcnow(), **body,
                                                        check_version=check_if_match)
        return service_record, 200, {"ETag": etag(service_record.version)}


# --- Activities ------------------------------------------------------------------------------------------------

activities = Blueprint("activities", __name__, url_prefix="/v1/activities",
                       description="Activities units host for residents (义诊, 讲座, 清扫, 节庆), members' sign-ups "
                                   "and attendance.")


@activities.route("")
class Activities(MethodView):
    @requires("registry:read")
    @activities.arguments(ActivityQuery, location="query")
    @activities.response(200, ActivityPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List activities, newest first; `from`/`to` bound when they start (`to` exclusive)"""
        stmt = in_district(select(Activity), Activity.district_id)
        for name in ("area_id", "community_id", "host_organization_id", "state"):
            if name in args:
                stmt = stmt.where(getattr(Activity, name) == args[name])
        if "from_" in args:
            stmt = stmt.where(Activity.starts_at >= args["from_"])
        if "to" in args:
            stmt = stmt.where(Activity.starts_at < args["to"])
        return paginate(db(), stmt, Activity, args["limit"], args["cursor"])

    @requires("registry:write")
    @activities.arguments(ActivityCreate)
    @activities.response(201, ActivitySchema)
    def post(self, body: dict[str, Any]) -> tuple[Activity, int, dict[str, str]]:
        """Schedule an activity a unit of your district hosts in a community or at one of its compounds

        Emits `registry.activity.scheduled`.
        """
        activity = usecases.schedule_activity(db(), principal(), **body)
        return activity, 201, {"Location": f"/v1/activities/{activity.id}", "ETag": etag(activity.version)}


@activities.route("/<uuid:activity_id>")
class ActivityItem(MethodView):
    @requires("registry:read")
    @activities.response(200, ActivitySchema)
    def get(self, activity_id: uuid.UUID) -> tuple[Activity, int, dict[str, str]]:
        """One activity"""
        activity = visible_or_404(db().get(Activity, activity_id), "activity")
        return activity, 200, {"ETag": etag(activity.version)}

    @requires("registry:write")
    @activities.arguments(ActivityUpdate)
    @activities.response(200, ActivitySchema)
    def patch(self, body: dict[str, Any], activity_id: uuid.UUID) -> tuple[Activity, int, dict[str, str]]:
        """Change a scheduled activity's details (held or cancelled: 409; send If-Match with the ETag you read)

        Emits `registry.activity.updated` when something changed.
        """
        activity = usecases.edit_activity(db(), principal(), activity_id, body, check_version=check_if_match)
        return activity, 200, {"ETag": etag(activity.version)}


@activities.route("/<uuid:activity_id>/sign-ups")
class ActivitySignUps(MethodView):
    @requires("registry:read")
    @activities.arguments(SignUpQuery, location="query")
    @activities.response(200, SignUpPage)
    def get(self, args: dict[str, Any], activity_id: uuid.UUID) -> dict[str, Any]:
        """The activity's sign-ups, newest first (withdrawn ones are `cancelled`)"""
        activity = visible_or_404(db().get(Activity, activity_id), "activity")
        stmt = select(ActivitySignUp).where(ActivitySignUp.activity_id == activity.id)
        if "state" in args:
            stmt = stmt.where(ActivitySignUp.state == args["state"])
        return paginate(db(), stmt, ActivitySignUp, args["limit"], args["cursor"])

    @requires("registry:write")
    @activities.arguments(SignUpCreate)
    @activities.response(201, SignUpSchema)
    def post(self, body: dict[str, Any], activity_id: uuid.UUID) -> tuple[ActivitySignUp, int, dict[str, str]]:
        """A current member takes a place (full, already signed up, or not scheduled: 409; unknown member: 422)"""
        signed = usecases.sign_up(db(), principal(), activity_id, utcnow(), **body)
        return signed, 201, {"Location": f"/v1/activities/{activity_id}/sign-ups", "ETag": etag(signed.version)}


@activities.route("/<uuid:activity_id>/sign-ups/<uuid:member_id>/cancel")
class ActivitySignUpCancel(MethodView):
    @requires("registry:write")
    @activities.response(200, SignUpSchema)
    def post(self, activity_id: uuid.UUID, member_id: uuid.UUID) -> tuple[ActivitySignUp, int, dict[str, str]]:
        """The member withdraws their sign-up while the activity is scheduled (again, or later: 409)"""
        signed = usecases.withdraw_sign_up(db(), principal(), activity_id, member_id, utcnow())
        return signed, 200, {"ETag": etag(signed.version)}


@activities.route("/<uuid:activity_id>/hold")
class ActivityHolding(MethodView):
    @requires("registry:write")
    @activities.arguments(ActivityHold)
    @activities.response(200, ActivitySchema)
    def post(self, body: dict[str, Any], activity_id: uuid.UUID) -> tuple[Activity, int, dict[str, str]]:
        """Record that the activity was held and who attended (not scheduled: 409; honours If-Match)

        Send `attendees` (each member with their hours) or `member_ids` with one `hours` for all; members of
        the district, signed up or not. Each attendee's hours are credited as a verified service record
        (source `activity`), once. Emits `registry.activity.held`, then `registry.service_record.verified`
        per attendee.
        """
        attendees = body.get("attendees")
        activity = usecases.hold_activity(
            db(), principal(), activity_id, utcnow(),
            attendees=None if attendees is None else [(a["member_id"], a["hours"]) for a in attendees],
            member_ids=body.get("member_ids"), hours=body.get("hours"), held_at=body.get("held_at"),
            check_version=check_if_match)
        return activity, 200, {"ETag": etag(activity.version)}


@activities.route("/<uuid:activity_id>/cancel")
class ActivityCancellation(MethodView):
    @requires("registry:write")
    @activities.arguments(ActivityCancel)
    @activities.response(200, ActivitySchema)
    def post(self, body: dict[str, Any], activity_id: uuid.UUID) -> tuple[Activity, int, dict[str, str]]:
        """Call a scheduled activity off with a reason (held or cancelled: 409; honours If-Match)

        Emits `registry.activity.cancelled`.
        """
        activity = usecases.cancel_activity(db(), principal(), activity_id, utcnow(), **body,
                                            check_version=check_if_match)
        return activity, 200, {"ETag": etag(activity.version)}
