"""Events rotation publishes."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from linli.services.rotation.domain import Term
from linli.services.rotation.models import Rotation
from linli.shared.events import declare


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
    rotation_id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    committee_id = ma.fields.UUID(required=True)
    index = ma.fields.Integer(required=True, metadata={
        "description": "0-based; grows with every term, so a consumer keeps the highest it saw"})
    starts_at = ma.fields.AwareDateTime(required=True, metadata={"description": "RFC 3339, UTC"})
    ends_at = ma.fields.AwareDateTime(required=True, metadata={"description": "RFC 3339, UTC"})


ROTATION_CREATED = declare("rotation.rotation.created", "A committee's chair rotation was set up.", RotationData)
TERM_STARTED = declare("rotation.term.started", "A term of a rotating chair began.", TermData)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rotation_data(rotation: Rotation) -> dict[str, object]:
    return {
        "id": str(rotation.id),
        "district_id": rotation.district_id,
        "committee_id": str(rotation.committee_id),
        "term_months": rotation.term_months,
        "starts_on": rotation.starts_on.isoformat(),
        "time_zone": rotation.time_zone,
        "state": rotation.state,
        "version": rotation.version,
    }


def term_data(rotation: Rotation, term: Term) -> dict[str, object]:
    return {
        "rotation_id": str(rotation.id),
        "district_id": rotation.district_id,
        "committee_id": str(rotation.committee_id),
        "index": term.index,
        "starts_at": rfc3339(term.starts_at),
        "ends_at": rfc3339(term.ends_at),
    }
