"""registry's API shapes."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma

from linli.services.registry.domain import COMPOUND_KINDS, LEVELS
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text


def _time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ma.ValidationError("not an IANA time zone") from exc


class AreaSchema(EntitySchema):
    parent_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))
    name = ma.fields.String()
    kind = ma.fields.String(allow_none=True)
    time_zone = ma.fields.String()


class AreaCreate(ma.Schema):
    level = ma.fields.String(required=True, validate=ma.validate.OneOf(LEVELS))
    name = Text(required=True, max_length=200)
    parent_id = ma.fields.UUID(load_default=None, allow_none=True)
    kind = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(COMPOUND_KINDS))
    time_zone = ma.fields.String(load_default="Asia/Shanghai", validate=_time_zone)


class AreaUpdate(ma.Schema):
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
