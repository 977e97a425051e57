"""What rotation does with other services' events: keep its read models current, and plan again when a
committee's units change."""

from __future__ import annotations

from datetime import UTC, datetime

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


class TicketMoveData(Incoming):
    at = ma.fields.AwareDateTime(required=True)


class TicketData(Incoming):
    """tickets' ticket payload (any event of its lifecycle), as far as rotation uses it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    compound_id = ma.fields.UUID(required=True)
    # Every lifecycle event but `submitted` names the compound's community.
    community_id = ma.fields.UUID(allow_none=True, load_default=None)
    title = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    urgency = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    move = ma.fields.Nested(TicketMoveData, load_default=None)
    closed_at = ma.fields.AwareDateTime(load_default=None)
    # On `overdue`: the deadline that passed, i.e. when the ticket became overdue (the clock may tell later).
    stage_due_at = ma.fields.AwareDateTime(load_default=None)


@read_models.handles(*(f"tickets.ticket.{verb}" for verb in (
    "submitted", "accepted", "rejected", "started", "escalated", "listed", "dispatched", "claimed", "resolved",
    "rerouted", "reviewed", "rated", "reopened", "closed", "merged", "due_soon", "overdue")))
def on_ticket(session: Session, event: Event) -> None:
    ticket = load(TicketData, event.data)
    verb = event.key.rsplit(".", 1)[1]
    told_at = _event_time(event)
    moment_at = ticket["stage_due_at"] if verb == "overdue" else (
        ticket["move"]["at"] if ticket["move"] is not None else told_at)
    usecases.record_ticket(session, usecases.TicketFacts(
        id=ticket["id"], version=ticket["version"], district_id=ticket["district_id"],
        community_id=ticket["community_id"], compound_id=ticket["compound_id"], title=ticket["title"],
        category=ticket["category"], state=ticket["state"], urgency=ticket["urgency"], updated_at=told_at,
        moment=verb if verb in usecases.TICKET_MOMENTS else None, moment_at=moment_at or told_at,
        closed_at=ticket["closed_at"]))


def _event_time(event: Event) -> datetime:
    try:
        at = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
    except ValueError:
        return utcnow()
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class ActivityData(Incoming):
    """registry's activity payload, as far as term reports use it."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    host_organization_id = ma.fields.UUID(required=True)
    host_organization_name = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    held_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    attendee_count = ma.fields.Integer(required=True)
    version = ma.fields.Integer(required=True)


@read_models.handles("registry.activity.held")
def on_activity(session: Session, event: Event) -> None:
    activity = load(ActivityData, event.data)
    usecases.record_activity(session, activity["id"], activity["version"], district_id=activity["district_id"],
                             community_id=activity["community_id"],
                             host_organization_id=activity["host_organization_id"],
                             host_organization_name=activity["host_organization_name"], title=activity["title"],
                             state=activity["state"], held_at=activity["held_at"],
                             attendee_count=activity["attendee_count"])
