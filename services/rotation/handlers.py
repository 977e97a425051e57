"""What rotation does with other services' events: keep its read models current."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.rotation import usecases
from linli.shared.consumer import Event, Subscription
from linli.shared.incoming import Incoming, load

read_models = Subscription("rotation", "read-models")


class CommitteeData(Incoming):
    """registry's `committee` payload, as far as rotation uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.committee.created")
def on_committee_created(session: Session, event: Event) -> None:
    committee = load(CommitteeData, event.data)
    usecases.record_committee(session, committee["id"], committee["version"],
                              district_id=committee["district_id"], community_id=committee["community_id"],
                              name=committee["name"], time_zone=committee["time_zone"])
