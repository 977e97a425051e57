"""Events rotation publishes; each payload is its schema dumping what the use case hands `shared.changes.record`.

Payloads name what they tell of (the committee, the units, the terms' local dates), so a consumer such
as notify can word a message without looking anything up.
"""

from __future__ import annotations

import json
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


class UnitOrder(ma.fields.List):
    """The explicit order of organization ids, kept by the rotation as JSON text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ma.fields.UUID(), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[Any] | None:
        return super()._serialize(json.loads(value) if isinstance(value, str) else value, attr, obj, **kwargs)


class RotationData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    committee_id = ma.fields.UUID(required=True)
    term_months = ma.fields.Integer(required=True)
    starts_on = ma.fields.Date(required=True, metadata={"description": "local date in time_zone"})
    time_zone = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    order_policy = ma.fields.String(required=True, metadata={"description": "join_order or explicit"})
    order = UnitOrder(attribute="unit_order", required=True,
                      metadata={"description": "the explicit order of organization ids, if any"})
    ending_soon_days = ma.fields.Integer(required=True, metadata={
        "description": "`term.ending_soon` is sent this many days before a term ends"})
    report_due_days = ma.fields.Integer(required=True, metadata={
        "description": "a chair's term report is due this many days after its term ends"})
    version = ma.fields.Integer(required=True)


class TermRef(ma.Schema):
    """A term as events tell of it: its chair by id and name, its instants in UTC and its local days."""

    id = ma.fields.UUID(required=True)
    uid = ma.fields.String(required=True, metadata={"description": "stable calendar UID of this chair's term"})
    index = ma.fields.Integer(required=True, metadata={"description": "0-based term of the calendar"})
    part = ma.fields.Integer(required=True, metadata={"description": "0, or 1, 2, ... after handovers"})
    organization_id = ma.fields.UUID(required=True, allow_none=True, metadata={"description": "null: no chair"})
    organization_name = ma.fields.String(required=True, allow_none=True)
    starts_at = UTCInstant(required=True)
    ends_at = UTCInstant(required=True, metadata={"description": "exclusive: the next term's start"})
    starts_on = ma.fields.Date(required=True, metadata={"description": "first local day"})
    ends_on = ma.fields.Date(required=True, metadata={"description": "last local day"})
    state = ma.fields.String(required=True)
    reason = ma.fields.String(required=True, metadata={
        "description": "why this chair: turn, substitute, swap, handover or gap"})


class _AboutRotation(ma.Schema):
    rotation_id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    committee_id = ma.fields.UUID(required=True)
    committee_name = ma.fields.String(required=True)


class TermData(_AboutRotation):
    """A term of a rotation that began; flat fields of the term for consumers that keep the current chair."""

    term_id = ma.fields.UUID(required=True)
    uid = ma.fields.String(required=True)
    index = ma.fields.Integer(required=True, metadata={
        "description": "0-based; grows with every term, so a consumer keeps the highest it saw"})
    part = ma.fields.Integer(required=True)
    organization_id = ma.fields.UUID(required=True, allow_none=True, metadata={"description": "null: no chair"})
    organization_name = ma.fields.String(required=True, allow_none=True)
    starts_at = UTCInstant(required=True, metadata={"description": "RFC 3339, UTC"})
    ends_at = UTCInstant(required=True, metadata={"description": "RFC 3339, UTC"})
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)


class TermScheduledData(TermData):
    """A term newly planned: the plan's difference also lists it, under `rotation.schedule.changed`'s `added`."""

    state = ma.fields.String(required=True, metadata={
        "description": "planned; started for a chair taking over a running term (see `rotation.term.handed_over`)"})
    reason = ma.fields.String(required=True, metadata={
        "description": "why this chair: turn, substitute, swap, handover or gap (no chair)"})
    cause = ma.fields.String(required=True, metadata={
        "description": "what planned it, as `rotation.schedule.changed`'s `cause`"})
    version = ma.fields.Integer(required=True, metadata={
        "description": "the rotation's version after this plan: a consumer keeps the highest it saw"})


class TermNoticeData(TermData):
    """A term's later milestones, from the clock: what notify needs to word a message without looking anything up."""

    community_id = ma.fields.UUID(required=True, allow_none=True, metadata={
        "description": "the committee's community; null if registry has not told rotation of the committee"})
    time_zone = ma.fields.String(required=True, metadata={"description": "the zone the local dates are in"})
    report_due_at = UTCInstant(required=True, allow_none=True, metadata={
        "description": "when the chair's term report is due; null for a term without a chair"})
    report_due_on = ma.fields.Date(required=True, allow_none=True, metadata={
        "description": "the local day the report is due (at its start)"})


class TermEndingSoonData(TermNoticeData):
    ending_soon_days = ma.fields.Integer(required=True, metadata={
        "description": "the rotation's setting: sent this many days before the term ends (or at its start if "
                       "it is shorter)"})


class TermReportDueData(TermNoticeData):
    report_id = ma.fields.UUID(required=True)
    report_state = ma.fields.String(required=True, metadata={
        "description": "missing (not given: remind the chair unit), submitted or late"})


class FiguresData(ma.Schema):
    """What happened in the term's community during the term, gathered from tickets' and registry's events."""

    tickets_listed = ma.fields.Integer(required=True, metadata={"description": "tickets listed (挂单) in the term"})
    tickets_dispatched = ma.fields.Integer(required=True, metadata={"description": "tickets dispatched (派单)"})
    tickets_closed = ma.fields.Integer(required=True)
    tickets_overdue = ma.fields.Integer(required=True, metadata={"description": "tickets that went overdue"})
    activities_held = ma.fields.Integer(required=True)
    activities_hosted_by_chair = ma.fields.Integer(required=True)
    attendees = ma.fields.Integer(required=True, metadata={"description": "attendees of the activities held"})


class TermReportData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    rotation_id = ma.fields.UUID(required=True)
    committee_id = ma.fields.UUID(required=True)
    committee_name = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True, allow_none=True)
    term = ma.fields.Nested(TermRef, required=True)
    organization_id = ma.fields.UUID(required=True, metadata={"description": "the chair unit reporting"})
    organization_name = ma.fields.String(required=True)
    state = ma.fields.String(required=True, metadata={"description": "submitted (on time) or late"})
    due_at = UTCInstant(required=True)
    due_on = ma.fields.Date(required=True)
    submitted_at = UTCInstant(required=True)
    text = ma.fields.String(required=True)
    figures = ma.fields.Nested(FiguresData, required=True)
    version = ma.fields.Integer(required=True)


class HandoverData(_AboutRotation):
    handed_over_at = UTCInstant(required=True)
    handed_over_on = ma.fields.Date(required=True, metadata={"description": "the local day the new chair begins"})
    cause = ma.fields.String(required=True, metadata={
        "description": "chair_left (the sitting chair left the committee) or gap_filled (a unit took a term "
                       "that had no chair)"})
    reason = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "why, as registry was told it (the unit's leaving reason)"})
    previous = ma.fields.Nested(TermRef, required=True, metadata={
        "description": "the term cut short (state cancelled if it is dropped whole)"})
    term = ma.fields.Nested(TermRef, required=True, metadata={"description": "the new chair's term, to the end"})


class ScheduleChangedData(_AboutRotation):
    cause = ma.fields.String(required=True, metadata={
        "description": "rotation_created, rotation_updated, unit_joined, unit_left, override_created, "
                       "override_cancelled, swap_accepted or horizon (terms added as time passes)"})
    added = ma.fields.List(ma.fields.Nested(TermRef), required=True)
    cancelled = ma.fields.List(ma.fields.Nested(TermRef), required=True, metadata={
        "description": "terms no longer planned; calendars show them cancelled under their uid"})
    changed = ma.fields.List(ma.fields.Nested(TermRef), required=True, metadata={
        "description": "terms kept with another end (a handover) or another reason"})
    version = ma.fields.Integer(required=True, metadata={
        "description": "the rotation's version after this plan: a consumer keeps the highest it saw"})


class GapData(_AboutRotation):
    gaps = ma.fields.List(ma.fields.Nested(TermRef), required=True, metadata={
        "description": "terms newly planned without a chair: no unit is a member and available all through"})
    version = ma.fields.Integer(required=True, metadata={"description": "the rotation's version after this plan"})


class SwapData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    rotation_id = ma.fields.UUID(required=True)
    committee_id = ma.fields.UUID(required=True)
    committee_name = ma.fields.String(required=True)
    state = ma.fields.String(required=True, metadata={"description": "requested, accepted, declined or expired"})
    organization_id = ma.fields.UUID(required=True, metadata={"description": "the unit that asked"})
    organization_name = ma.fields.String(required=True)
    with_organization_id = ma.fields.UUID(required=True, metadata={"description": "the unit asked"})
    with_organization_name = ma.fields.String(required=True)
    term = ma.fields.Nested(TermRef, required=True, metadata={"description": "the asking unit's term"})
    with_term = ma.fields.Nested(TermRef, required=True, metadata={"description": "the asked unit's term"})
    reason = ma.fields.String(required=True)
    answer_reason = ma.fields.String(required=True, allow_none=True)
    expires_at = UTCInstant(required=True)
    version = ma.fields.Integer(required=True)


class OverrideData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    rotation_id = ma.fields.UUID(required=True)
    committee_id = ma.fields.UUID(required=True)
    committee_name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "substitute or unavailable"})
    state = ma.fields.String(required=True, metadata={"description": "active or cancelled"})
    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    term = ma.fields.Nested(TermRef, required=True, allow_none=True, metadata={
        "description": "a substitute's term as asked for"})
    from_ = ma.fields.Date(required=True, allow_none=True, data_key="from",
                           metadata={"description": "unavailable from this local day"})
    to = ma.fields.Date(required=True, allow_none=True, metadata={
        "description": "available again on this local day (exclusive end)"})
    reason = ma.fields.String(required=True)
    cancel_reason = ma.fields.String(required=True, allow_none=True)
    version = ma.fields.Integer(required=True)


ROTATION_CREATED = declare("rotation.rotation.created", "A committee's chair rotation was set up.", RotationData)
ROTATION_UPDATED = declare("rotation.rotation.updated", "A rotation's order or order policy changed.", RotationData)
TERM_SCHEDULED = declare("rotation.term.scheduled",
                         "A term was newly planned, with its chair or none; one event per term, after the "
                         "`rotation.schedule.changed` that lists the whole plan's difference (a chair changed "
                         "by a swap or an override is its term cancelled there and a new one scheduled).",
                         TermScheduledData)
TERM_STARTED = declare("rotation.term.started", "A term of a rotating chair began.", TermData)
TERM_ENDING_SOON = declare("rotation.term.ending_soon",
                            "A chaired term ends in the rotation's `ending_soon_days` (sent once per term).",
                            TermEndingSoonData)
TERM_ENDED = declare("rotation.term.ended", "A term ended (before the next one's `started`); its chair's report is "
                     "due on `report_due_on`.", TermNoticeData)
TERM_REPORT_DUE = declare("rotation.term.report_due", "A chair's term report fell due (the rotation's "
                          "`report_due_days` after the term ended): `report_state` says if it was given.",
                          TermReportDueData)
TERM_REPORT_SUBMITTED = declare("rotation.term.report_submitted",
                                "A chair unit gave its term report (任期述职), with the term's figures.",
                                TermReportData)
TERM_HANDED_OVER = declare(
    "rotation.term.handed_over",
    "A running term changed chair: its chair left the committee, or a unit took a term that had none.",
    HandoverData)
SCHEDULE_CHANGED = declare("rotation.schedule.changed",
                           "A rotation's future terms were planned again (the terms added, cancelled or changed).",
                           ScheduleChangedData)
GAP_FOUND = declare("rotation.schedule.gap_found", "Future terms of a rotation have no unit that can chair them.",
                    GapData)
SWAP_REQUESTED = declare("rotation.swap.requested", "A unit asked another to swap terms.", SwapData)
SWAP_ACCEPTED = declare("rotation.swap.accepted", "A unit agreed to swap terms; the plan has the swap.", SwapData)
SWAP_DECLINED = declare("rotation.swap.declined", "A unit declined to swap terms.", SwapData)
SWAP_EXPIRED = declare("rotation.swap.expired", "A swap request went unanswered until one of its terms began.",
                       SwapData)
OVERRIDE_CREATED = declare("rotation.override.created",
                           "A unit substitutes for one term, or is marked unavailable for a period.", OverrideData)
OVERRIDE_CANCELLED = declare("rotation.override.cancelled", "An override was withdrawn; the plan follows the turns.",
                             OverrideData)


# --- Joint meetings -----------------------------------------------------------------------------------------

class JSONList(ma.fields.List):
    """A list the meeting keeps as JSON text (free items, attendance, decisions, the agenda as held)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[Any] | None:
        return super()._serialize(json.loads(value) if isinstance(value, str) else value, attr, obj, **kwargs)


class LocalTime(ma.fields.Time):
    """A local wall time sent as HH:MM."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")


class AttendanceData(ma.Schema):
    organization_id = ma.fields.UUID(required=True)
    organization_name = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "present, absent or excused"})


class DecisionData(ma.Schema):
    ticket_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "list (挂单) or dispatch (派单)"})
    unit_ids = ma.fields.List(ma.fields.UUID(), required=True)
    note = ma.fields.String(required=True, allow_none=True)


class AgendaItemData(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"description": "ticket (listed at meeting time) or free"})
    text = ma.fields.String(required=True, metadata={"description": "the ticket's title, or the free item"})
    ticket_id = ma.fields.UUID(required=True, allow_none=True)


class MeetingData(ma.Schema):
    """A joint meeting as its events tell of it: who convenes, where and when (local and UTC)."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    committee_id = ma.fields.UUID(required=True)
    committee_name = ma.fields.String(required=True)
    community_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "rule (from the committee's rule) or ad_hoc"})
    title = ma.fields.String(required=True)
    state = ma.fields.String(required=True, metadata={"description": "scheduled, held or cancelled"})
    local_date = ma.fields.Date(required=True, metadata={"description": "local day in time_zone"})
    local_time = LocalTime(required=True, metadata={"description": "local wall time, HH:MM"})
    time_zone = ma.fields.String(required=True)
    starts_at = UTCInstant(required=True)
    ends_at = UTCInstant(required=True)
    place = ma.fields.String(required=True, allow_none=True)
    convenor_member_id = ma.fields.UUID(required=True, allow_none=True, metadata={
        "description": "the community party secretary convening it"})
    convenor_name = ma.fields.String(required=True, allow_none=True)
    uid = ma.fields.String(required=True, metadata={"description": "stable calendar UID"})
    reason = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "why it was cancelled or moved (a change of the rule says so)"})
    free_items = JSONList(ma.fields.String(), required=True)
    version = ma.fields.Integer(required=True)


class MeetingMovedData(MeetingData):
    previous_local_date = ma.fields.Date(required=True)
    previous_local_time = LocalTime(required=True)
    previous_starts_at = UTCInstant(required=True)


class MeetingHeldData(MeetingData):
    held_at = UTCInstant(required=True)
    attendance = JSONList(ma.fields.Nested(AttendanceData), required=True, metadata={
        "description": "every unit of the committee that day"})
    minutes = ma.fields.String(required=True, allow_none=True)
    decisions = JSONList(ma.fields.Nested(DecisionData), required=True, metadata={
        "description": "tickets the meeting decided to list or dispatch (recorded here; tickets acts on its own)"})
    agenda = JSONList(ma.fields.Nested(AgendaItemData), required=True, metadata={
        "description": "the agenda as it stood: listed tickets, then free items"})


MEETING_SCHEDULED = declare("rotation.meeting.scheduled",
                            "A joint meeting was scheduled, by the committee's rule or ad hoc.", MeetingData)
MEETING_UPDATED = declare("rotation.meeting.updated", "A scheduled joint meeting's title or free agenda items changed.",
                          MeetingData)
MEETING_MOVED = declare("rotation.meeting.moved", "A scheduled joint meeting moved to another time or place.",
                        MeetingMovedData)
MEETING_CANCELLED = declare("rotation.meeting.cancelled", "A scheduled joint meeting was called off.", MeetingData)
MEETING_HELD = declare("rotation.meeting.held",
                       "A joint meeting was held: attendance, minutes and its decisions on tickets.",
                       MeetingHeldData)
