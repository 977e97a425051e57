"""What rotation does with other services' events: keep its read models current, and plan again when a
committee's units change."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.rotation import usecases
from linli.shared.consumer import Event, Subscription
from linli.shared.db import utcnow
from linli.shared.incoming import Incoming, load

read_models = Subscription("rotation", "read-models")


class CommitteeUnitData(Incoming):
    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    joined_on = ma.fields.Date(required=True)


class CommitteeData(Incoming):
    """registry's `committee` payload, as far as rotation uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    # The community party secretary, who convenes the joint meetings.
    convenor_member_id = ma.fields.UUID(allow_none=True, load_default=None)
    convenor_name = ma.fields.String(allow_none=True, load_default=None)
    units = ma.fields.List(ma.fields.Nested(CommitteeUnitData), load_default=list)
    version = ma.fields.Integer(required=True)


class CommitteeChangeData(CommitteeData):
    """On unit_joined and unit_left, registry adds the unit that moved."""

    organization_id = ma.fields.UUID(load_default=None)
    organization_name = ma.fields.String(load_default=None)
    joined_on = ma.fields.Date(load_default=None)
    left_on = ma.fields.Date(allow_none=True, load_default=None)
    left_reason = ma.fields.String(allow_none=True, load_default=None)


@read_models.handles("registry.committee.created", "registry.committee.updated", "registry.committee.unit_joined",
                     "registry.committee.unit_left")
def on_committee(session: Session, event: Event) -> None:
    committee = load(CommitteeChangeData, event.data)
    usecases.record_committee(session, committee["id"], committee["version"],
                              district_id=committee["district_id"], community_id=committee["community_id"],
                              name=committee["name"], time_zone=committee["time_zone"],
                              convenor_member_id=committee["convenor_member_id"],
                              convenor_name=committee["convenor_name"])
    moved = []
    if event.key.endswith((".unit_joined", ".unit_left")):
        moved = [usecases.UnitStint(committee["organization_id"], committee["organization_name"],
                                    committee["joined_on"], committee["left_on"], committee["left_reason"])]
    # The current units come along too, so a stint this read model missed is filled in.
    current = [usecases.UnitStint(u["organization_id"], u["organization_name"], u["joined_on"])
               for u in committee["units"]]
    usecases.record_units(session, committee["id"], committee["version"], district_id=committee["district_id"],
                          units=[*moved, *current], now=utcnow(),
                          cause="unit_left" if event.key.endswith(".unit_left") else "unit_joined")
