"""Events registry publishes; each payload is its schema dumping the entity (`shared.changes.record`)."""

from __future__ import annotations

import marshmallow as ma

from linli.shared.events import declare


class AreaData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    parent_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(allow_none=True)
    time_zone = ma.fields.String(required=True)
    # Compound details (None on other levels).
    management_mode = ma.fields.String(allow_none=True)
    households = ma.fields.Integer(allow_none=True)
    residents = ma.fields.Integer(allow_none=True)
    year_built = ma.fields.Integer(allow_none=True)
    property_company_id = ma.fields.UUID(allow_none=True)
    owners_committee_id = ma.fields.UUID(allow_none=True)
    # Building details (None on other levels).
    units = ma.fields.Integer(allow_none=True)
    floors = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer(required=True)


class CommitteeData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


AREA_CREATED = declare("registry.area.created", "An area (district to grid) was added to the tree.", AreaData)
AREA_UPDATED = declare("registry.area.updated", "An area's name, kind, time zone or details changed.", AreaData)
COMMITTEE_CREATED = declare(
    "registry.committee.created", "A community's big party committee was set up.", CommitteeData
)



# --- Moves and grid coverage -------------------------------------------------------------------------


class CoverageData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    parent_id = ma.fields.UUID(allow_none=True)
    covered_area_ids = ma.fields.List(ma.fields.UUID(), required=True)
    version = ma.fields.Integer(required=True)


AREA_MOVED = declare("registry.area.moved", "An area moved under another parent (its subtree with it).", AreaData)
AREA_COVERAGE_CHANGED = declare(
    "registry.area.coverage_changed",
    "A grid's coverage (the compounds and buildings it covers) was replaced; the grid's own id is the subject.",
    CoverageData,
)
