"""What rotation does with other services' events: keep its read models current."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.rotation.models import Committee
from linli.shared.consumer import Event, Subscription
from linli.shared.readmodel import apply_versioned

read_models = Subscription("rotation", "read-models")


class CommitteeData(ma.Schema):
    """registry's committee payload, as far as rotation uses it."""

    class Meta:
        # registry may add fields; a consumer that rejected them would break on every new release.
        unknown = ma.EXCLUDE

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.committee.created")
def committee_created(session: Session, event: Event) -> None:
    data = CommitteeData().load(event.data)
    committee_id, version = data.pop("id"), data.pop("version")
    apply_versioned(session, Committee, committee_id, version, data)
