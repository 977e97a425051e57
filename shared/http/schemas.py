"""API shapes every service shares."""

from __future__ import annotations

import marshmallow as ma


class EntitySchema(ma.Schema):
    """The fields every item of the suite carries (DESIGN.md, "One API shape")."""

    id = ma.fields.UUID(dump_only=True)
    district_id = ma.fields.String(dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
