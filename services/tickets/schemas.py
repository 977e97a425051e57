"""tickets' API shapes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from linli.services.tickets.domain import (
    CATEGORIES,
    CLOSE_REASONS,
    DEFAULT_CATEGORY,
    DEFAULT_SOURCE,
    KINDS,
    NORMAL,
    PART_STATES,
    PROBLEM,
    RATINGS,
    SOURCES,
    STATES,
    URGENCIES,
)
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text

_PHONE_MASKED = "masked (138****5678) unless the caller holds tickets:pii"
MAX_ATTACHMENTS = 20


class PartSchema(ma.Schema):
    unit_id = ma.fields.UUID(metadata={"description": "the organization (unit) registry knows"})
    lead = ma.fields.Boolean(metadata={"description": "the lead unit: the ticket is resolved when it resolves"})
    state = ma.fields.String(validate=ma.validate.OneOf(PART_STATES))
    due_at = ma.fields.AwareDateTime(allow_none=True)


class ParticipantSchema(ma.Schema):
    member_id = ma.fields.UUID(required=True, metadata={"description": "registry's party member"})
    hours = ma.fields.Float(required=True, validate=ma.validate.Range(min=0, min_inclusive=False, max=1000),
                            metadata={"description": "hours the member gave, more than 0"})


class TicketSchema(EntitySchema):
    compound_id = ma.fields.UUID()
    building_id = ma.fields.UUID(allow_none=True)
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    urgency = ma.fields.String(validate=ma.validate.OneOf(URGENCIES))
    source = ma.fields.String(validate=ma.validate.OneOf(SOURCES))
    title = ma.fields.String()
    description = ma.fields.String()
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))
    address = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    attachments = ma.fields.List(ma.fields.String())
    reporter_name = ma.fields.String()
    reporter_phone = ma.fields.String(metadata={"description": _PHONE_MASKED})
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    due_at = ma.fields.AwareDateTime(metadata={"description": "when the ticket falls overdue (its category's SLA)"})
    overdue = ma.fields.Boolean()
    parts = ma.fields.List(ma.fields.Nested(PartSchema), metadata={
        "description": "the units it was dispatched to, in order; re-routed or unfinished ones withdrawn"})
    member_id = ma.fields.UUID(allow_none=True, metadata={"description": "the party member who claimed a wish"})
    participants = ma.fields.List(ma.fields.Nested(ParticipantSchema), metadata={
        "description": "members who took part, credited with their hours when the ticket closes"})
    master_id = ma.fields.UUID(allow_none=True, metadata={"description": "the ticket this one duplicates"})
    close_reason = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(CLOSE_REASONS))
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    rating = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(RATINGS))
    rating_comment = ma.fields.String(allow_none=True)


class TicketCreate(ma.Schema):
    compound_id = ma.fields.UUID(required=True)
    building_id = ma.fields.UUID(load_default=None, allow_none=True)
    kind = ma.fields.String(load_default=PROBLEM, validate=ma.validate.OneOf(KINDS), metadata={
        "description": "problem (诉求), or wish (微心愿: a small wish a party member may claim)"})
    urgency = ma.fields.String(load_default=NORMAL, validate=ma.validate.OneOf(URGENCIES), metadata={
        "description": "urgent tickets may be dispatched at once (急事急办)"})
    source = ma.fields.String(load_default=DEFAULT_SOURCE, validate=ma.validate.OneOf(SOURCES))
    title = Text(required=True, max_length=200)
    description = Text(required=True, max_length=4000)
    category = ma.fields.String(load_default=DEFAULT_CATEGORY, validate=ma.validate.OneOf(CATEGORIES))
    address = Text(load_default=None, allow_none=True, max_length=300)
    lat = ma.fields.Float(load_default=None, allow_none=True, validate=ma.validate.Range(min=-90, max=90))
    lon = ma.fields.Float(load_default=None, allow_none=True, validate=ma.validate.Range(min=-180, max=180))
    attachments = ma.fields.List(
        ma.fields.Url(schemes={"http", "https"}, validate=ma.validate.Length(max=2000)), load_default=list,
        validate=ma.validate.Length(max=MAX_ATTACHMENTS), metadata={"description": "URLs of photos or files"})
    reporter_name = Text(required=True, max_length=100)
    reporter_phone = ma.fields.String(required=True, validate=[
        ma.validate.Length(min=6, max=20),
        ma.validate.Regexp(r"^\+?[0-9]+$", error="digits only, optionally after a leading +"),
    ])

    @ma.validates_schema
    def _both_coordinates(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ma.ValidationError("give both lat and lon, or neither", "lat" if data.get("lat") is None
                                     else "lon")


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
