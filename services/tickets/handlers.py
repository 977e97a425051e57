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
    if area["level"] in usecases.GROUPING_LEVELS:
        # The levels above compounds that the rates are grouped by; buildings and grids are registry's business.
        usecases.record_area(session, area["id"], area["version"], district_id=area["district_id"],
                             level=area["level"], name=area["name"], parent_id=area["parent_id"])
        return
    if area["level"] != "compound":
        return
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


# --- Read models for dispatch suggestions ---------------------------------------------------------------------------

class PairingData(Incoming):
    """registry's `pairing` payload, as far as tickets uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    compound_id = ma.fields.UUID(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True, load_default=None)
    state = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.pairing.created", "registry.pairing.removed")
def on_pairing(session: Session, event: Event) -> None:
    pairing = load(PairingData, event.data)
    usecases.record_pairing(session, pairing.pop("id"), pairing.pop("version"), **pairing)


class ResourceData(Incoming):
    """registry's `resource` payload, as far as tickets uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    organization_id = ma.fields.UUID(required=True)
    category = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.resource.added", "registry.resource.removed")
def on_resource(session: Session, event: Event) -> None:
    resource = load(ResourceData, event.data)
    usecases.record_resource(session, resource.pop("id"), resource.pop("version"), **resource)


class CommitteeUnitData(Incoming):
    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    organization_kind = ma.fields.String(required=True)
    joined_on = ma.fields.Date(required=True)


class CommitteeData(Incoming):
    """registry's `committee` payload (every event of a committee carries all of it, with its current units), as
    far as tickets uses it: the units for suggestions, the convenor for escalation; a `unit_left` event also names
    the unit that left and the day."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    convenor_name = ma.fields.String(allow_none=True, load_default=None)
    convenor_member_id = ma.fields.UUID(allow_none=True, load_default=None)
    units = ma.fields.List(ma.fields.Nested(CommitteeUnitData), required=True)
    version = ma.fields.Integer(required=True)
    organization_id = ma.fields.UUID(load_default=None, allow_none=True)
    left_on = ma.fields.Date(load_default=None, allow_none=True)


@read_models.handles("registry.committee.created", "registry.committee.updated", "registry.committee.unit_joined",
                     "registry.committee.unit_left")
def on_committee(session: Session, event: Event) -> None:
    committee = load(CommitteeData, event.data)
    units = [usecases.RosterUnit(u["organization_id"], u["organization_name"], u["organization_kind"], u["joined_on"])
             for u in committee["units"]]
    left = (committee["organization_id"], committee["left_on"]) if committee["left_on"] is not None else None
    usecases.record_committee(session, committee["id"], committee["version"], district_id=committee["district_id"],
                              community_id=committee["community_id"], name=committee["name"],
                              time_zone=committee["time_zone"], convenor_name=committee["convenor_name"],
                              convenor_member_id=committee["convenor_member_id"], units=units, left=left)


class TermData(Incoming):
    """rotation's `term` payload, as far as knowing the sitting chair uses it.

    The chair unit (`organization_id`, `organization_name`) and a handover's `part` are read when rotation sends
    them; a term without them is a term whose chair tickets cannot name.
    """

    committee_id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    index = ma.fields.Integer(required=True)
    part = ma.fields.Integer(allow_none=True, load_default=None)
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    organization_id = ma.fields.UUID(allow_none=True, load_default=None)
    organization_name = ma.fields.String(allow_none=True, load_default=None)


# A term began, or its chair left and the next unit took over: either way a chair now sits.
@read_models.handles("rotation.term.started", "rotation.term.handed_over")
def on_term(session: Session, event: Event) -> None:
    term = load(TermData, event.data)
    # Without a part number, a handover ranks after the start of the window it shares with the term it cut.
    part = term["part"] if term["part"] is not None else int(event.key == "rotation.term.handed_over")
    usecases.record_chair_term(session, committee_id=term["committee_id"], district_id=term["district_id"],
                               term_index=term["index"], part=part, starts_at=term["starts_at"],
                               ends_at=term["ends_at"], organization_id=term["organization_id"],
                               organization_name=term["organization_name"])
