"""What tickets does with other services' events: keep its read models current."""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.services.tickets import usecases
from linli.shared.consumer import Event, Subscription
from linli.shared.incoming import Incoming, load

read_models = Subscription("tickets", "read-models")


class AreaData(Incoming):
    """registry's `area` payload, as far as tickets uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    parent_id = ma.fields.UUID(allow_none=True, load_default=None)
    level = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(allow_none=True, load_default=None)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.area.created", "registry.area.updated", "registry.area.moved")
def on_area(session: Session, event: Event) -> None:
    area = load(AreaData, event.data)
    if area["level"] != "compound":
        return  # tickets are raised against compounds only; the rest of the tree is registry's business
    # A compound always sits under its community in registry's tree.
    usecases.record_compound(session, area["id"], area["version"], district_id=area["district_id"],
                             name=area["name"], community_id=area["parent_id"], kind=area["kind"])


class OrganizationData(Incoming):
    """registry's `organization` payload, as far as tickets uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.organization.created", "registry.organization.updated")
def on_organization(session: Session, event: Event) -> None:
    organization = load(OrganizationData, event.data)
    # Every organization, not only committee units: a ticket may go to any unit of its district (a department).
    usecases.record_organization(session, organization["id"], organization["version"],
                                 district_id=organization["district_id"], name=organization["name"],
                                 kind=organization["kind"])
