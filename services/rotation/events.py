"""Events rotation publishes; each payload is its schema dumping the rotation (`shared.changes.record`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma

from linli.shared.events import declare


class UTCInstant(ma.fields.AwareDateTime):
    """An instant sent as RFC 3339 in UTC with the `Z` suffix (2024-01-31T16:00:00Z)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


class RotationData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    committee_id = ma.fields.UUID(required=True)
    term_months = ma.fields.Integer(required=True)
    starts_on = ma.fields.Date(required=True, metadata={"description": "local date in time_zone"})
    time_zone = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


class TermData(ma.Schema):
    """A term of a rotation: dumped from `{"rotation": Rotation, "term": domain.Term}`."""

    rotation_id = ma.fields.UUID(required=True, attribute="rotation.id")
    district_id = ma.fields.String(required=True, attribute="rotation.district_id")
    committee_id = ma.fields.UUID(required=True, attribute="rotation.committee_id")
    index = ma.fields.Integer(required=True, attribute="term.index", metadata={
        "description": "0-based; grows with every term, so a consumer keeps the highest it saw"})
    starts_at = UTCInstant(required=True, attribute="term.starts_at", metadata={"description": "RFC 3339, UTC"})
    ends_at = UTCInstant(required=True, attribute="term.ends_at", metadata={"description": "RFC 3339, UTC"})


ROTATION_CREATED = declare("rotation.rotation.created", "A committee's chair rotation was set up.", RotationData)
TERM_STARTED = declare("rotation.term.started", "A term of a rotating chair began.", TermData)
