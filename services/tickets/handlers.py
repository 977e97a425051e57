"""What tickets does with other services' events: keep its read models current."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.tickets.models import Compound
from linli.shared.consumer import Event, Subscription
from linli.shared.readmodel import apply_versioned

read_models = Subscription("tickets", "read-models")


class AreaEvent(ma.Schema):
    """The part of registry's `area` payload tickets reads; other fields may come and go."""

    class Meta:
        unknown = ma.EXCLUDE

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    parent_id = ma.fields.UUID(allow_none=True, load_default=None)
    level = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(allow_none=True, load_default=None)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.area.created", "registry.area.updated")
def on_area(session: Session, event: Event) -> None:
    area = AreaEvent().load(event.data)
    if area["level"] != "compound":
        return  # tickets are raised against compounds only; the rest of the tree is registry's business
    apply_versioned(session, Compound, area["id"], area["version"], {
        "district_id": area["district_id"],
        "name": area["name"],
        # A compound always sits under its community in registry's tree.
        "community_id": area["parent_id"],
        "kind": area["kind"],
    })
