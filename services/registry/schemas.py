"""registry's API shapes."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma

from linli.services.registry.domain import (
    COMPOUND_KINDS,
    FIRST_YEAR_BUILT,
    LAST_YEAR_BUILT,
    LEVELS,
    MANAGEMENT_MODES,
)
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text


def _time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ma.ValidationError("not an IANA time zone") from exc


_COUNT = ma.validate.Range(min=0, max=1_000_000)


class AreaDetails(ma.Schema):
    """What a compound (management, size, age, its property company and owners' committee) or a
    building (units, floors) is like; null clears a detail."""

    management_mode = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(MANAGEMENT_MODES))
    households = ma.fields.Integer(allow_none=True, validate=_COUNT)
    residents = ma.fields.Integer(allow_none=True, validate=_COUNT)
    year_built = ma.fields.Integer(allow_none=True,
                                   validate=ma.validate.Range(min=FIRST_YEAR_BUILT, max=LAST_YEAR_BUILT))
    property_company_id = ma.fields.UUID(allow_none=True, metadata={"description": "an organization's id"})
    owners_committee_id = ma.fields.UUID(allow_none=True, metadata={"description": "an organization's id"})
    units = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=1000))
    floors = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=300))


class AreaSchema(EntitySchema, AreaDetails):
    parent_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))
    name = ma.fields.String()
    kind = ma.fields.String(allow_none=True)
    time_zone = ma.fields.String()


class AreaCreate(AreaDetails):
    level = ma.fields.String(required=True, validate=ma.validate.OneOf(LEVELS))
    name = Text(required=True, max_length=200)
    parent_id = ma.fields.UUID(load_default=None, allow_none=True)
    kind = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(COMPOUND_KINDS))
    time_zone = ma.fields.String(load_default="Asia/Shanghai", validate=_time_zone)


class AreaUpdate(AreaDetails):
    name = Text(max_length=200)
    kind = ma.fields.String(validate=ma.validate.OneOf(COMPOUND_KINDS))
    time_zone = ma.fields.String(validate=_time_zone)


class AreaQuery(PageArgs):
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))
    parent_id = ma.fields.UUID()


class CommitteeSchema(EntitySchema):
    community_id = ma.fields.UUID()
    name = ma.fields.String()
    time_zone = ma.fields.String()


class CommitteeCreate(ma.Schema):
    community_id = ma.fields.UUID(required=True)
    name = Text(required=True, max_length=200)


AreaPage = page_schema(AreaSchema)
CommitteePage = page_schema(CommitteeSchema)


# --- Moving areas, paths, subtrees and grid coverage -------------------------------------------------


class AreaMove(ma.Schema):
    parent_id = ma.fields.UUID(required=True, metadata={"description": "the new parent, in the same district"})


class ChildrenQuery(PageArgs):
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))


class AreaPath(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AreaSchema), metadata={"description": "from the district down"})


class TreeQuery(ma.Schema):
    depth = ma.fields.Integer(load_default=len(LEVELS) - 1, validate=ma.validate.Range(min=1, max=len(LEVELS) - 1))
    max_nodes = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=5000))


class TreeNode(ma.Schema):
    id = ma.fields.UUID()
    parent_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String(allow_none=True)
    children = ma.fields.List(ma.fields.Nested(lambda: TreeNode()))


class AreaTree(ma.Schema):
    root = ma.fields.Nested(TreeNode)
    nodes = ma.fields.Integer(metadata={"description": "how many nodes the tree holds"})
    truncated = ma.fields.Boolean(metadata={"description": "true when depth or max_nodes left nodes out"})


class CoverageUpdate(ma.Schema):
    area_ids = ma.fields.List(ma.fields.UUID(), required=True, validate=ma.validate.Length(max=1000),
                              metadata={"description": "compounds and buildings of the grid's community"})


class CoverageSchema(ma.Schema):
    grid_id = ma.fields.UUID()
    area_ids = ma.fields.List(ma.fields.UUID())
    version = ma.fields.Integer(metadata={"description": "the grid's version, also sent as the ETag"})


# --- Bulk import ----------------------------------------------------------------------------------------


class ImportRow(AreaDetails):
    """One area of an import file; its parent is an id or a path below the caller's district."""

    level = ma.fields.String(required=True, validate=ma.validate.OneOf([lv for lv in LEVELS if lv != "district"]))
    name = Text(required=True, max_length=200)
    parent = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000), metadata={
        "description": "the parent's id, or its path below the district, e.g. 中山路街道/星光社区 "
                       "(empty: the district)"})
    kind = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(COMPOUND_KINDS))
    time_zone = ma.fields.String(validate=_time_zone, metadata={"description": "default: the parent's"})


class ImportQuery(ma.Schema):
    dry_run = ma.fields.Boolean(load_default=False, metadata={"description": "validate only, write nothing"})
    district_id = ma.fields.String(validate=ma.validate.Length(max=64), metadata={
        "description": "the district the paths are relative to; operators must name it, others default to theirs"})


class ImportedArea(ma.Schema):
    line = ma.fields.Integer()
    id = ma.fields.UUID(allow_none=True, metadata={"description": "null in a dry run"})
    level = ma.fields.String()
    name = ma.fields.String()
    path = ma.fields.String()


class ImportResult(ma.Schema):
    dry_run = ma.fields.Boolean()
    count = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(ImportedArea))
