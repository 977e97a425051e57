"""rotation's API shapes."""

from __future__ import annotations

from datetime import date

import marshmallow as ma

from linli.services.rotation.domain import TERM_MONTHS
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema


class TermSchema(ma.Schema):
    index = ma.fields.Integer(metadata={"description": "0-based"})
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()


class RotationSchema(EntitySchema):
    committee_id = ma.fields.UUID()
    term_months = ma.fields.Integer()
    starts_on = ma.fields.Date(metadata={"description": "local date in time_zone; term 0 starts at its midnight"})
    time_zone = ma.fields.String(metadata={"description": "the committee's IANA time zone"})
    state = ma.fields.String()


class RotationItemSchema(RotationSchema):
    current_term = ma.fields.Nested(TermSchema, allow_none=True,
                                    metadata={"description": "the term running now; null before the first"})


class RotationCreate(ma.Schema):
    committee_id = ma.fields.UUID(required=True)
    term_months = ma.fields.Integer(required=True, strict=True, validate=ma.validate.OneOf(TERM_MONTHS))
    # A rotation is planned for real committees: far-off years only overflow the calendar arithmetic.
    starts_on = ma.fields.Date(required=True, validate=ma.validate.Range(min=date(2000, 1, 1), max=date(2199, 12, 31)))


class RotationQuery(PageArgs):
    committee_id = ma.fields.UUID()


class CommitteeSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    district_id = ma.fields.String(dump_only=True)
    community_id = ma.fields.UUID()
    name = ma.fields.String()
    time_zone = ma.fields.String()
    version = ma.fields.Integer(dump_only=True)


RotationPage = page_schema(RotationSchema)
CommitteePage = page_schema(CommitteeSchema)
