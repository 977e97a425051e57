"""tickets' API shapes."""

from __future__ import annotations

import marshmallow as ma

from linli.services.tickets.domain import CATEGORIES, DEFAULT_CATEGORY, STATES
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text

_PHONE_MASKED = "masked (138****5678) unless the caller holds tickets:pii"


class TicketSchema(EntitySchema):
    compound_id = ma.fields.UUID()
    title = ma.fields.String()
    description = ma.fields.String()
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))
    reporter_name = ma.fields.String()
    reporter_phone = ma.fields.String(metadata={"description": _PHONE_MASKED})
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    due_at = ma.fields.AwareDateTime(metadata={"description": "when the ticket falls overdue (its category's SLA)"})
    overdue = ma.fields.Boolean()


class TicketCreate(ma.Schema):
    compound_id = ma.fields.UUID(required=True)
    title = Text(required=True, max_length=200)
    description = Text(required=True, max_length=4000)
    category = ma.fields.String(load_default=DEFAULT_CATEGORY, validate=ma.validate.OneOf(CATEGORIES))
    reporter_name = Text(required=True, max_length=100)
    reporter_phone = ma.fields.String(required=True, validate=[
        ma.validate.Length(min=6, max=20),
        ma.validate.Regexp(r"^\+?[0-9]+$", error="digits only, optionally after a leading +"),
    ])


class TicketQuery(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    compound_id = ma.fields.UUID()
    overdue = ma.fields.Boolean()


class CompoundSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    district_id = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    community_id = ma.fields.UUID(dump_only=True, allow_none=True)
    kind = ma.fields.String(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True, metadata={"description": "registry's version of the area"})


class CompoundQuery(PageArgs):
    community_id = ma.fields.UUID()


TicketPage = page_schema(TicketSchema)
CompoundPage = page_schema(CompoundSchema)
