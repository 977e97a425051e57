"""rotation's actions: one function per action, whatever triggers it (an HTTP call, the clock, an event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.

Every change that can move a chair (the roster, an override, a swap, the order, time passing) ends in
`replan`, which asks the planner (schedule.py) for the whole plan and stores only the difference: a term
kept for the same unit keeps its row and calendar uid, one planned for another unit is cancelled and a
new row added.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from linli.services.rotation import calendars, domain, meetings, schedule
from linli.services.rotation.events import (
    GAP_FOUND,
    MEETING_CANCELLED,
    MEETING_HELD,
    MEETING_MOVED,
    MEETING_SCHEDULED,
    MEETING_UPDATED,
    OVERRIDE_CANCELLED,
    OVERRIDE_CREATED,
    ROTATION_CREATED,
    ROTATION_UPDATED,
    SCHEDULE_CHANGED,
    SWAP_ACCEPTED,
    SWAP_DECLINED,
    SWAP_EXPIRED,
    SWAP_REQUESTED,
    TERM_ENDED,
    TERM_ENDING_SOON,
    TERM_HANDED_OVER,
    TERM_REPORT_DUE,
    TERM_REPORT_SUBMITTED,
    TERM_SCHEDULED,
    TERM_STARTED,
)
from linli.services.rotation.models import (
    Activity,
    AuditEntry,
    Committee,
    CommitteeUnit,
    Feed,
    Meeting,
    MeetingRule,
    Override,
    Rotation,
    RotationTicket,
    Swap,
    Term,
    TermReport,
    TicketMoment,
)
from linli.shared.actors import Actor
from linli.shared.changes import edits, record
from linli.shared.clock import DEFAULT_TIME_ZONE, being_fired
from linli.shared.clock import schedule as schedule_timer
from linli.shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, NotYetKnown, ValidationFailed
from linli.shared.readmodel import apply_versioned
from linli.shared.visibility import visible
from linli.shared.zones import check_time_zone

# Timer kinds, `<entity>.<condition>`; the clock hands each to the handler named after it.
TERM_START = "term.start"
SWAP_EXPIRE = "swap.expire"
# One per rotation, due at its next milestone (a term starting, ending soon or ending, a report falling due); the
# rotation's earlier `term.start` timers, still pending where they were set, are handled alike.
ROTATION_MILESTONE = "rotation.milestone"

# Term states.
PLANNED, STARTED, ENDED, CANCELLED = "planned", "started", "ended", "cancelled"
# Override kinds and states.
SUBSTITUTE, UNAVAILABLE = "substitute", "unavailable"
ACTIVE_OVERRIDE, CANCELLED_OVERRIDE = "active", "cancelled"
# Swap states.
REQUESTED, ACCEPTED, DECLINED, EXPIRED = "requested", "accepted", "declined", "expired"
# Term report states: made pending when the term ends; missing once due unsubmitted; submitted on time, or late.
PENDING, MISSING, SUBMITTED, LATE = "pending", "missing", "submitted", "late"
REPORT_STATES = (PENDING, MISSING, SUBMITTED, LATE)

# Who acts when no API caller does.
REGISTRY_ACTOR = "registry"
CLOCK_ACTOR = "clock"

VersionCheck = Callable[[int], None]


# --- Rotations ----------------------------------------------------------------------------------------------

def set_up_rotation(session: Session, actor: Actor, *, committee_id: uuid.UUID, term_months: int,
                    starts_on: date, time_zone: str | None = None, order_policy: str = schedule.JOIN_ORDER,
                    order: Sequence[uuid.UUID] = (), ending_soon_days: int = domain.DEFAULT_ENDING_SOON_DAYS,
                    report_due_days: int = domain.DEFAULT_REPORT_DUE_DAYS, now: datetime) -> Rotation:
    """Set up a committee's rotating chair (one per committee) and plan its terms; term 0 starts at local
    midnight of starts_on in the committee's zone (or `time_zone`)."""
    committee = session.get(Committee, committee_id)
    if committee is None or not actor.sees(committee.district_id):
        # Another district's committee answers exactly like one not heard of, so ids of other districts leak nothing.
        raise NotYetKnown.field("committee_id", "committee")
    zone = time_zone or committee.time_zone
    _check_zone(zone)
    schedule.check_policy(order_policy, list(order), _current_units(session, committee.id))
    if session.scalar(select(Rotation.id).where(Rotation.committee_id == committee.id)):
        raise Conflict("this committee already has a rotation")
    rotation = Rotation(district_id=committee.district_id, committee_id=committee.id, term_months=term_months,
                        starts_on=starts_on, time_zone=zone, state=domain.ACTIVE, order_policy=order_policy,
                        unit_order=_order_text(order), planned_at=now, ending_soon_days=ending_soon_days,
                        report_due_days=report_due_days)
    session.add(rotation)
    record(session, ROTATION_CREATED, rotation)
    _audit(session, rotation, actor.sub, "rotation.created", None, {"term_months": term_months,
                                                                     "starts_on": starts_on.isoformat()}, now)
    replan(session, rotation, now=now, actor=actor.sub, cause="rotation_created")
    _wake(session, rotation, by_clock=False)
    return rotation


def update_rotation(session: Session, actor: Actor, rotation_id: uuid.UUID, *, now: datetime,
                    order_policy: str | None = None, order: Sequence[uuid.UUID] | None = None,
                    ending_soon_days: int | None = None, report_due_days: int | None = None,
                    reason: str | None = None, check_version: VersionCheck | None = None) -> Rotation:
    """Change the order policy or the explicit order (the future is planned again in the new order), or when
    terms are told ending soon and their reports fall due (from the next term told or ended on)."""
    rotation = visible(session, actor, Rotation, rotation_id, what="rotation", for_update=True)
    if check_version is not None:
        check_version(rotation.version)
    policy = order_policy if order_policy is not None else rotation.order_policy
    wanted = list(order) if order is not None else (
        [] if policy == schedule.JOIN_ORDER else [uuid.UUID(u) for u in json.loads(rotation.unit_order)])
    schedule.check_policy(policy, wanted, _current_units(session, rotation.committee_id))
    noticed = _set_notice_days(session, actor, rotation, ending_soon_days, report_due_days, reason, now)
    if policy == rotation.order_policy and _order_text(wanted) == rotation.unit_order:
        if noticed:
            record(session, ROTATION_UPDATED, rotation)
        return rotation
    rotation.order_policy, rotation.unit_order, rotation.order_since = policy, _order_text(wanted), now
    rotation.planned_at = now  # with the edit, so the re-plan below moves the version no further
    record(session, ROTATION_UPDATED, rotation)
    _audit(session, rotation, actor.sub, "rotation.updated", reason,
           {"order_policy": policy, "order": [str(u) for u in wanted]}, now)
    replan(session, rotation, now=now, actor=actor.sub, cause="rotation_updated", why=reason)
    return rotation


def _set_notice_days(session: Session, actor: Actor, rotation: Rotation, ending_soon_days: int | None,
                     report_due_days: int | None, reason: str | None, now: datetime) -> bool:
    """Set when terms are told ending soon and reports fall due; the caller records the rotation's change."""
    changes = {name: value for name, value in (("ending_soon_days", ending_soon_days),
                                                ("report_due_days", report_due_days))
               if value is not None and getattr(rotation, name) != value}
    if not changes:
        return False
    for name, value in changes.items():
        setattr(rotation, name, value)
    _audit(session, rotation, actor.sub, "rotation.updated", reason, changes, now)
    # The sitting chair's reminder moves with the setting; reports already due keep the day `ended` told.
    _wake(session, rotation, by_clock=False)
    return True


def start_term(session: Session, rotation_id: uuid.UUID, index: int, now: datetime) -> Term | None:
    """Tell the rotation's milestones due by `now` (term `index`'s start among them); the term that began, or None
    if the rotation is gone or the term has not begun."""
    rotation = session.get(Rotation, rotation_id, with_for_update=True)
    if rotation is None or rotation.state != domain.ACTIVE:
        return None
    starts_at, _ = domain.term_window(rotation.starts_on, rotation.term_months, index, rotation.time_zone)
    if now < starts_at:
        return None  # a term is announced once it has begun, never ahead
    _advance(session, rotation, now, by_clock=True)
    return _first_chair(session, rotation.id, index)


def _first_chair(session: Session, rotation_id: uuid.UUID, index: int) -> Term | None:
    return session.scalar(select(Term).where(Term.rotation_id == rotation_id, Term.index == index,
                                             Term.state != CANCELLED).order_by(Term.part).limit(1))


# --- The clock: a rotation's milestones, told once each and in order ------------------------------------------
#
# A term's milestones are its start, `ending_soon` (`ending_soon_days` before its end), its end and its report
# falling due (`report_due_days` after). They are not timers each: they follow from the stored terms and reports,
# and a rotation has one timer, due at its next milestone. Whichever clock replica fires it holds the rotation
# and tells every milestone due by then, earliest first, then sets the timer to the next one; so after downtime
# one tick tells the missed ones in order, two replicas never race over one rotation, and a re-plan has no timers
# of future terms to move (it sets the rotation's timer again when a handover moved a running term's end).

# At one instant: a term's `ending_soon` before an end, an end before a report falling due, all before a start.
_NEAR_END, _END, _REPORT_DUE, _START = 0, 1, 2, 3


@dataclass(frozen=True, order=True)
class _Milestone:
    at: datetime
    rank: int
    index: int
    part: int
    subject: Any = field(compare=False)


def advance(session: Session, rotation_id: uuid.UUID, now: datetime) -> int:
    """The clock: tell every milestone of the rotation due by `now`, in order; how many were told."""
    rotation = session.get(Rotation, rotation_id, with_for_update=True)
    if rotation is None or rotation.state != domain.ACTIVE:
        return 0
    return _advance(session, rotation, now, by_clock=True)


def _advance(session: Session, rotation: Rotation, now: datetime, *, by_clock: bool) -> int:
    told = 0
    step = _next_milestone(session, rotation)
    while step.at <= now:
        _tell(session, rotation, step, now)
        told += 1
        step = _next_milestone(session, rotation)
    _wake(session, rotation, step, by_clock=by_clock)
    return told


def _next_milestone(session: Session, rotation: Rotation) -> _Milestone:
    found = []
    for term in session.scalars(select(Term).where(Term.rotation_id == rotation.id, Term.state == STARTED)):
        found.append(_Milestone(term.ends_at, _END, term.index, term.part, term))
        if term.organization_id is not None and term.ending_soon_told_at is None:
            found.append(_Milestone(_ending_soon_at(rotation, term), _NEAR_END, term.index, term.part, term))
    for report, index, part in session.execute(
            select(TermReport, Term.index, Term.part).join(Term, Term.id == TermReport.term_id)
            .where(TermReport.rotation_id == rotation.id, TermReport.due_told_at.is_(None))):
        found.append(_Milestone(report.due_at, _REPORT_DUE, index, part, report))
    last = session.scalar(select(func.max(Term.index)).where(Term.rotation_id == rotation.id,
                                                             Term.state.in_((STARTED, ENDED))))
    following = 0 if last is None else last + 1
    starts_at, _ = domain.term_window(rotation.starts_on, rotation.term_months, following, rotation.time_zone)
    found.append(_Milestone(starts_at, _START, following, 0, following))
    return min(found)


def _tell(session: Session, rotation: Rotation, step: _Milestone, now: datetime) -> None:
    if step.rank == _START:
        _start(session, rotation, step.index, now)
    elif step.rank == _END:
        _end(session, rotation, step.subject, now)
        _seat_successors(session, rotation, step.subject, now)
    elif step.rank == _NEAR_END:
        term = step.subject
        term.ending_soon_told_at = now
        record(session, TERM_ENDING_SOON, rotation, payload_of={
            **_notice(session, rotation, term, None), "ending_soon_days": rotation.ending_soon_days})
    else:
        report = step.subject
        report.due_told_at = now
        if report.state == PENDING:
            report.state = MISSING
        term = session.get_one(Term, report.term_id)
        record(session, TERM_REPORT_DUE, rotation, payload_of={
            **_notice(session, rotation, term, report), "report_id": report.id, "report_state": report.state})


def _wake(session: Session, rotation: Rotation, step: _Milestone | None = None, *, by_clock: bool) -> None:
    """Set the rotation's timer to its next milestone. Outside the clock, a timer a replica is firing is left to
    it: that replica waits for this transaction's lock on the rotation, then sets the timer itself."""
    step = step or _next_milestone(session, rotation)
    if not by_clock and being_fired(session, ROTATION_MILESTONE, rotation.id):
        return
    schedule_timer(session, ROTATION_MILESTONE, rotation.id, step.at, district_id=rotation.district_id,
                   payload={"index": step.index, "part": step.part, "milestone": _MILESTONE_NAMES[step.rank]})


_MILESTONE_NAMES = {_NEAR_END: "ending_soon", _END: "ended", _REPORT_DUE: "report_due", _START: "started"}


def _start(session: Session, rotation: Rotation, index: int, now: datetime) -> Term:
    term = _first_chair(session, rotation.id, index)
    if term is None:
        # A rotation set up before terms were stored: plan it first.
        replan(session, rotation, now=now, actor=CLOCK_ACTOR, cause="horizon")
        term = _first_chair(session, rotation.id, index)
    assert term is not None, "a planned rotation has every term up to its horizon"
    for earlier in list(session.scalars(select(Term).where(Term.rotation_id == rotation.id, Term.index < index,
                                                           Term.state.in_((PLANNED, STARTED)))
                                        .order_by(Term.index, Term.part))):
        if earlier.state == STARTED:
            _end(session, rotation, earlier, now)
        else:
            earlier.state = ENDED  # never seated (stored before chairs taking over were): nothing to tell
    term.state = STARTED
    record(session, TERM_STARTED, rotation, payload_of=_term_event(session, rotation, term))
    # Each start moves the horizon a term further.
    replan(session, rotation, now=now, actor=CLOCK_ACTOR, cause="horizon")
    return term


def _ending_soon_at(rotation: Rotation, term: Term) -> datetime:
    """Local midnight `ending_soon_days` before the term's end, or its start if it is shorter than that."""
    day = term.ends_on + timedelta(days=1 - rotation.ending_soon_days)
    return max(term.starts_at, domain.local_midnight(day, rotation.time_zone))


def _report_due_on(rotation: Rotation, term: Term) -> date:
    return term.ends_on + timedelta(days=1 + rotation.report_due_days)


def _seat_successors(session: Session, rotation: Rotation, term: Term, now: datetime) -> None:
    """A handover's successor planned to take over at this term's end sits now (handed_over told of it)."""
    for successor in session.scalars(select(Term).where(
            Term.rotation_id == rotation.id, Term.index == term.index, Term.part > term.part, Term.state == PLANNED,
            Term.starts_at <= now).order_by(Term.part)):
        successor.state = STARTED


def _end(session: Session, rotation: Rotation, term: Term, now: datetime) -> TermReport | None:
    """End a term: `term.ended`; a chaired term's report is due `report_due_days` after (pending till given).
    A term ended before its `ending_soon` was told (a handover cut it short) is never told it."""
    term.state = ENDED
    report = None
    if term.organization_id is not None:
        due_on = _report_due_on(rotation, term)
        report = TermReport(district_id=term.district_id, rotation_id=rotation.id, term_id=term.id,
                            committee_id=rotation.committee_id, organization_id=term.organization_id,
                            organization_name=term.organization_name or "", state=PENDING,
                            due_at=domain.local_midnight(due_on, rotation.time_zone), due_on=due_on)
        session.add(report)
        session.flush()
    record(session, TERM_ENDED, rotation, payload_of=_notice(session, rotation, term, report))
    return report


def _after_handover(session: Session, rotation: Rotation, handover: tuple[Term, Term], now: datetime) -> None:
    """A running term cut at a moment already come ends now, told before the handover; the rotation's timer
    follows the cut."""
    previous, _ = handover
    if previous.state == STARTED and previous.ends_at <= now:
        _end(session, rotation, previous, now)
    _wake(session, rotation, by_clock=False)


def _notice(session: Session, rotation: Rotation, term: Term, report: TermReport | None) -> dict[str, Any]:
    committee = session.get(Committee, rotation.committee_id)
    due_on = report.due_on if report is not None else (
        _report_due_on(rotation, term) if term.organization_id is not None else None)
    return {**_term_event(session, rotation, term),
            "community_id": committee.community_id if committee is not None else None,
            "time_zone": rotation.time_zone,
            "report_due_on": due_on,
            "report_due_at": None if due_on is None else domain.local_midnight(due_on, rotation.time_zone)}


# --- Term reports -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeldActivity:
    id: uuid.UUID
    title: str
    held_at: datetime
    host_organization_id: uuid.UUID
    host_organization_name: str
    attendee_count: int


@dataclass(frozen=True)
class Figures:
    """What happened in a term's community during the term: tickets by their moments, activities held."""

    term_id: uuid.UUID
    community_id: uuid.UUID | None
    start: datetime
    end: datetime
    tickets_listed: int
    tickets_dispatched: int
    tickets_closed: int
    tickets_overdue: int
    activities: list[HeldActivity]
    organization_id: uuid.UUID | None

    @property
    def activities_held(self) -> int:
        return len(self.activities)

    @property
    def activities_hosted_by_chair(self) -> int:
        return sum(1 for a in self.activities if a.host_organization_id == self.organization_id)

    @property
    def attendees(self) -> int:
        return sum(a.attendee_count for a in self.activities)

    def counts(self) -> dict[str, int]:
        return {"tickets_listed": self.tickets_listed, "tickets_dispatched": self.tickets_dispatched,
                "tickets_closed": self.tickets_closed, "tickets_overdue": self.tickets_overdue,
                "activities_held": self.activities_held,
                "activities_hosted_by_chair": self.activities_hosted_by_chair, "attendees": self.attendees}


def term_figures(session: Session, term: Term) -> Figures:
    """The figures of the term so far: tickets of its committee's community with a moment in [start, end) (each
    ticket once per kind), and the activities held there then."""
    rotation = session.get_one(Rotation, term.rotation_id)
    committee = session.get(Committee, rotation.committee_id)
    community_id = committee.community_id if committee is not None else None
    counts = dict.fromkeys(TICKET_MOMENTS, 0)
    activities: list[HeldActivity] = []
    if community_id is not None:
        rows = session.execute(
            select(TicketMoment.kind, func.count(func.distinct(TicketMoment.ticket_id)))
            .where(TicketMoment.community_id == community_id, TicketMoment.district_id == term.district_id,
                   TicketMoment.at >= term.starts_at, TicketMoment.at < term.ends_at)
            .group_by(TicketMoment.kind))
        counts.update({kind: count for kind, count in rows})
        activities = [HeldActivity(a.id, a.title, a.held_at, a.host_organization_id, a.host_organization_name,
                                   a.attendee_count)
                      for a in session.scalars(select(Activity).where(
                          Activity.community_id == community_id, Activity.district_id == term.district_id,
                          Activity.held_at >= term.starts_at, Activity.held_at < term.ends_at)
                          .order_by(Activity.held_at, Activity.id)) if a.held_at is not None]
    return Figures(term.id, community_id, term.starts_at, term.ends_at, counts[LISTED], counts[DISPATCHED],
                   counts[CLOSED], counts[OVERDUE], activities, term.organization_id)


def submit_report(session: Session, actor: Actor, *, term_id: uuid.UUID, organization_id: uuid.UUID, text: str,
                  now: datetime) -> TermReport:
    """The term's chair unit gives its report once the term has ended; its figures are gathered and frozen."""
    term = session.get(Term, term_id)
    if term is None or not actor.sees(term.district_id):
        raise ValidationFailed.field("term_id", "no such term")
    rotation = _locked_rotation(session, term.rotation_id)
    term = session.get_one(Term, term_id, populate_existing=True)
    if term.organization_id is None or term.organization_id != organization_id:
        raise Forbidden("organization_id: the unit did not chair this term",
                        errors={"organization_id": ["the unit did not chair this term"]})
    report = session.scalar(select(TermReport).where(TermReport.term_id == term.id))
    if report is None:
        raise Conflict("term_id: the term has not ended; its report is given after it ends",
                       errors={"term_id": ["the term has not ended"]})
    if report.state in (SUBMITTED, LATE):
        raise Conflict("term_id: the term's report was already submitted",
                       errors={"term_id": ["the report was already submitted"]})
    figures = term_figures(session, term)
    report.text, report.submitted_at, report.submitted_by = text, now, actor.sub
    report.state = LATE if now >= report.due_at else SUBMITTED
    report.figures = json.dumps({**figures.counts(), "activities": [
        {"id": str(a.id), "title": a.title, "held_at": a.held_at.isoformat(),
         "host_organization_id": str(a.host_organization_id), "host_organization_name": a.host_organization_name,
         "attendee_count": a.attendee_count} for a in figures.activities]}, ensure_ascii=False)
    session.flush()
    about = _about(session, rotation)
    committee = session.get(Committee, rotation.committee_id)
    record(session, TERM_REPORT_SUBMITTED, report, payload_of={
        **{k: getattr(report, k) for k in ("id", "district_id", "rotation_id", "committee_id", "organization_id",
                                           "organization_name", "state", "due_at", "due_on", "submitted_at",
                                           "text", "version")},
        "committee_name": about["committee_name"],
        "community_id": committee.community_id if committee is not None else None,
        "term": term, "figures": figures.counts()})
    _audit(session, rotation, actor.sub, "report.submitted", None,
           {"report": str(report.id), "term": str(term.id), "state": report.state}, now)
    return report


def report_state(report: TermReport, now: datetime) -> str:
    """A pending report past due reads as missing even before the clock records it."""
    return MISSING if report.state == PENDING and report.due_at <= now else report.state


# --- Planning -----------------------------------------------------------------------------------------------

@dataclass
class Replanned:
    added: list[Term] = field(default_factory=list)
    cancelled: list[Term] = field(default_factory=list)
    changed: list[Term] = field(default_factory=list)
    handover: tuple[Term, Term] | None = None
    dropped_pins: list[schedule.Pin] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.added or self.cancelled or self.changed)


def replan(session: Session, rotation: Rotation, *, now: datetime, actor: str, cause: str,
           why: str | None = None) -> Replanned:
    """Plan the rotation's terms again and store the difference, with its events and an audit entry.

    The caller holds the rotation (locked where it changes it), so two re-plans of one rotation take turns.
    """
    stints = _stints(session, rotation.committee_id)
    names = {s.organization_id: s.organization_name for s in stints}
    stored = list(session.scalars(select(Term).where(Term.rotation_id == rotation.id, Term.state != CANCELLED)
                                  .order_by(Term.index, Term.part)))
    unavailable, pins = _overrides_and_swaps(session, rotation.id)
    rules = schedule.Rules(rotation.starts_on, rotation.term_months, rotation.time_zone, rotation.order_policy,
                           tuple(uuid.UUID(u) for u in json.loads(rotation.unit_order)), rotation.order_since)
    result = schedule.plan(rules, [schedule.Stint(s.organization_id, s.joined_on, s.left_on) for s in stints],
                           [_planned(t) for t in stored], now=now, pins=pins, unavailable=unavailable)
    outcome = _store(session, rotation, stored, result, names, now)
    outcome.dropped_pins = list(result.dropped_pins)
    if not outcome.anything:
        return outcome
    rotation.planned_at = now
    session.flush()  # the plan events carry the version this gives the rotation
    if outcome.handover is not None:
        _after_handover(session, rotation, outcome.handover, now)
        _announce_handover(session, rotation, outcome.handover, stints, now, actor)
    record(session, SCHEDULE_CHANGED, rotation, payload_of={
        **_about(session, rotation), "cause": cause, "added": outcome.added, "cancelled": outcome.cancelled,
        "changed": outcome.changed, "version": rotation.version})
    # One event per term as well, for a consumer that keeps terms one by one (DESIGN's `term.scheduled`).
    for term in sorted(outcome.added, key=lambda t: (t.index, t.part)):
        record(session, TERM_SCHEDULED, rotation, payload_of={
            **_term_event(session, rotation, term), "state": term.state, "reason": term.reason, "cause": cause,
            "version": rotation.version})
    gaps = [t for t in outcome.added if t.organization_id is None]
    if gaps:
        record(session, GAP_FOUND, rotation, payload_of={**_about(session, rotation), "gaps": gaps,
                                                         "version": rotation.version})
    if cause != "horizon" or outcome.cancelled or outcome.changed:
        _audit(session, rotation, actor, "schedule.replanned", why, {
            "cause": cause, "added": [str(t.id) for t in outcome.added],
            "cancelled": [str(t.id) for t in outcome.cancelled], "changed": [str(t.id) for t in outcome.changed],
            "dropped_overrides": sorted({str(p.source) for p in result.dropped_pins if p.source is not None})}, now)
    return outcome


def _store(session: Session, rotation: Rotation, stored: list[Term], result: schedule.Plan,
           names: dict[uuid.UUID, str], now: datetime) -> Replanned:
    outcome = Replanned()
    by_key = {(t.index, t.part): t for t in stored}
    begun = {key for key, row in by_key.items() if row.starts_at <= now}
    handed: Term | None = None
    if result.handover is not None:
        handed = by_key[result.handover.was.key]
        if result.handover.dropped:
            handed.state, handed.note = CANCELLED, "its chair was no member when the term began"
            outcome.cancelled.append(handed)
        else:
            handed.ends_at = result.handover.cut.ends_at
            handed.ends_on = domain.last_day(handed.ends_at, rotation.time_zone)
            outcome.changed.append(handed)
    planned_keys = set()
    for term in result.terms:
        planned_keys.add(term.key)
        if term.key in begun:
            continue  # it has begun: the planner kept it (a cut one is handled above)
        row = by_key.get(term.key)
        if row is not None and _planned(row).same_chair(term):
            if (row.reason, row.source_id) != (term.reason, _source(term)):
                row.reason, row.source_id = term.reason, _source(term)
                outcome.changed.append(row)
            continue
        if row is not None:
            row.state = CANCELLED
            outcome.cancelled.append(row)
        new = _new_term(rotation, term, names, now)
        session.add(new)
        outcome.added.append(new)
        if handed is not None and result.handover is not None and term == result.handover.successor:
            outcome.handover = (handed, new)
    for key, row in by_key.items():
        if key not in planned_keys and key not in begun:
            row.state = CANCELLED
            outcome.cancelled.append(row)
    session.flush()
    return outcome


def _new_term(rotation: Rotation, term: schedule.PlannedTerm, names: dict[uuid.UUID, str], now: datetime) -> Term:
    term_id = uuid.uuid4()
    # Only a chair that takes over a running term is never announced by the clock; it starts as it is made.
    state = STARTED if term.reason == schedule.HANDOVER and term.starts_at <= now else PLANNED
    unit = term.unit if isinstance(term.unit, uuid.UUID) else None
    return Term(id=term_id, district_id=rotation.district_id, rotation_id=rotation.id, index=term.index,
                part=term.part, organization_id=unit, organization_name=names.get(unit) if unit else None,
                starts_at=term.starts_at, ends_at=term.ends_at,
                starts_on=domain.local_day(term.starts_at, rotation.time_zone),
                ends_on=domain.last_day(term.ends_at, rotation.time_zone), state=state,
                uid=f"{term_id}@rotation.linli", reason=term.reason, source_id=_source(term))


def _source(term: schedule.PlannedTerm) -> uuid.UUID | None:
    return term.source if isinstance(term.source, uuid.UUID) else None


def _planned(row: Term) -> schedule.PlannedTerm:
    return schedule.PlannedTerm(row.index, row.part, row.organization_id, row.starts_at, row.ends_at, row.reason,
                                row.source_id)


def _announce_handover(session: Session, rotation: Rotation, handover: tuple[Term, Term],
                       stints: list[CommitteeUnit], now: datetime, actor: str) -> None:
    previous, successor = handover
    left = next((s for s in stints if s.organization_id == previous.organization_id and s.left_on is not None
                 and domain.local_midnight(s.left_on, rotation.time_zone) <= previous.ends_at), None)
    record(session, TERM_HANDED_OVER, rotation, payload_of={
        **_about(session, rotation), "handed_over_at": successor.starts_at, "handed_over_on": successor.starts_on,
        "cause": "chair_left" if previous.organization_id is not None else "gap_filled",
        "reason": left.left_reason if left is not None else None, "previous": previous, "term": successor})
    _audit(session, rotation, actor, "term.handed_over", left.left_reason if left is not None else None,
           {"previous": str(previous.id), "term": str(successor.id)}, now)


def _overrides_and_swaps(session: Session, rotation_id: uuid.UUID,
                         ) -> tuple[list[schedule.Unavailable], list[schedule.Pin]]:
    unavailable, pins = [], []
    for override in session.scalars(select(Override).where(Override.rotation_id == rotation_id,
                                                           Override.state == ACTIVE_OVERRIDE)
                                    .order_by(Override.created_at, Override.id)):
        if override.kind == UNAVAILABLE:
            assert override.from_on is not None and override.to_on is not None
            unavailable.append(schedule.Unavailable(override.organization_id, override.from_on, override.to_on))
        else:
            assert override.term_index is not None
            pins.append(schedule.Pin(override.term_index, override.organization_id, schedule.SUBSTITUTE,
                                     override.id))
    for swap in session.scalars(select(Swap).where(Swap.rotation_id == rotation_id, Swap.state == ACCEPTED)
                                .order_by(Swap.created_at, Swap.id)):
        pins.append(schedule.Pin(swap.term_index, swap.with_organization_id, schedule.SWAP, swap.id))
        pins.append(schedule.Pin(swap.with_term_index, swap.organization_id, schedule.SWAP, swap.id))
    return unavailable, pins


# --- The roster (registry's committees and their units) ------------------------------------------------------

def record_committee(session: Session, committee_id: uuid.UUID, version: int, *, district_id: str,
                     community_id: uuid.UUID, name: str, time_zone: str, convenor_member_id: uuid.UUID | None = None,
                     convenor_name: str | None = None) -> bool:
    """Keep registry's committee at `version` in the read model; False when a newer one is already kept."""
    return apply_versioned(session, Committee, committee_id, version, {
        "district_id": district_id, "community_id": community_id, "name": name, "time_zone": time_zone,
        "convenor_member_id": convenor_member_id, "convenor_name": convenor_name,
    })


@dataclass(frozen=True)
class UnitStint:
    organization_id: uuid.UUID
    organization_name: str
    joined_on: date
    left_on: date | None = None
    left_reason: str | None = None


def record_units(session: Session, committee_id: uuid.UUID, version: int, *, district_id: str,
                 units: Sequence[UnitStint], now: datetime, cause: str) -> bool:
    """Keep the committee's units' stints; a stint is found again by its unit and the day it joined, so a
    repeated or late event changes nothing. Plans the committee's rotation again when a stint changed."""
    changed = False
    for unit in units:
        row = session.scalar(select(CommitteeUnit).where(
            CommitteeUnit.committee_id == committee_id, CommitteeUnit.organization_id == unit.organization_id,
            CommitteeUnit.joined_on == unit.joined_on).with_for_update())
        if row is None:
            seq = session.scalar(select(func.count()).select_from(CommitteeUnit)
                                 .where(CommitteeUnit.committee_id == committee_id))
            session.add(CommitteeUnit(district_id=district_id, committee_id=committee_id,
                                      organization_id=unit.organization_id, organization_name=unit.organization_name,
                                      joined_on=unit.joined_on, left_on=unit.left_on, left_reason=unit.left_reason,
                                      seq=seq or 0, version=version))
            session.flush()
            changed = True
            continue
        if unit.left_on is not None and row.left_on != unit.left_on:
            row.left_on, row.left_reason = unit.left_on, unit.left_reason
            changed = True
        if version > row.version:
            row.organization_name, row.version = unit.organization_name, version
    if not changed:
        return False
    session.flush()
    rotation = session.scalar(select(Rotation).where(Rotation.committee_id == committee_id).with_for_update())
    if rotation is not None and rotation.state == domain.ACTIVE:
        left = next((u for u in units if u.left_on is not None), None)
        replan(session, rotation, now=now, actor=REGISTRY_ACTOR, cause=cause,
               why=left.left_reason if left is not None else None)
    return True


def _stints(session: Session, committee_id: uuid.UUID) -> list[CommitteeUnit]:
    return list(session.scalars(select(CommitteeUnit).where(CommitteeUnit.committee_id == committee_id)
                                .order_by(CommitteeUnit.joined_on, CommitteeUnit.seq)))


def _current_units(session: Session, committee_id: uuid.UUID) -> list[uuid.UUID]:
    return [s.organization_id for s in _stints(session, committee_id) if s.left_on is None]


def _current_unit(session: Session, rotation: Rotation, organization_id: uuid.UUID, field_name: str) -> CommitteeUnit:
    stint = next((s for s in _stints(session, rotation.committee_id)
                  if s.organization_id == organization_id and s.left_on is None), None)
    if stint is None:
        raise ValidationFailed.field(field_name, "not a current unit of the rotation's committee")
    return stint


# --- tickets' tickets (joint meetings' agendas, term reports' figures) ----------------------------------------

# The moments of a ticket a term report counts, named like tickets' events.
LISTED, DISPATCHED, CLOSED, OVERDUE = "listed", "dispatched", "closed", "overdue"
TICKET_MOMENTS = (LISTED, DISPATCHED, CLOSED, OVERDUE)
TICKET_LISTED_STATE, TICKET_CLOSED_STATE = "listed", "closed"


@dataclass(frozen=True)
class TicketFacts:
    """A ticket as one of tickets' events tells it, and the moment the event marks (if it is one we count)."""

    id: uuid.UUID
    version: int
    district_id: str
    community_id: uuid.UUID | None
    compound_id: uuid.UUID
    title: str
    category: str
    state: str
    urgency: str
    updated_at: datetime
    moment: str | None = None
    moment_at: datetime | None = None
    closed_at: datetime | None = None


def record_ticket(session: Session, facts: TicketFacts) -> bool:
    """Keep the ticket at `facts.version`; False when the event was stale for the row.

    A stale event still adds its moment (history does not go stale) and an instant it is the first to tell of."""
    row = session.get(RotationTicket, facts.id, with_for_update=True)
    closed_at = None
    if facts.state == TICKET_CLOSED_STATE:
        closed_at = facts.closed_at or (row.closed_at if row is not None else None) or facts.moment_at
    community_known = row.community_id if row is not None else None
    community_id = facts.community_id or community_known
    fresh = apply_versioned(session, RotationTicket, facts.id, facts.version, {
        "district_id": facts.district_id, "community_id": community_id, "compound_id": facts.compound_id,
        "title": facts.title, "category": facts.category, "state": facts.state, "urgency": facts.urgency,
        "closed_at": closed_at, "updated_at": facts.updated_at})
    session.flush()
    row = session.get_one(RotationTicket, facts.id)
    if row.community_id is None and facts.community_id is not None:
        row.community_id = facts.community_id
    if community_known is None and row.community_id is not None:
        # Moments told before anyone named the ticket's community count for it once it is known.
        session.execute(update(TicketMoment).where(TicketMoment.ticket_id == row.id,
                                                   TicketMoment.community_id.is_(None))
                        .values(community_id=row.community_id))
    if facts.moment in TICKET_MOMENTS and facts.moment_at is not None:
        _add_moment(session, row, facts.moment, facts.moment_at)
    return fresh


def _add_moment(session: Session, row: RotationTicket, kind: str, at: datetime) -> None:
    known = session.scalar(select(TicketMoment.id).where(TicketMoment.ticket_id == row.id, TicketMoment.kind == kind,
                                                         TicketMoment.at == at))
    if known is None:
        session.add(TicketMoment(district_id=row.district_id, ticket_id=row.id, community_id=row.community_id,
                                 kind=kind, at=at))
    first = {LISTED: "listed_at", DISPATCHED: "dispatched_at", OVERDUE: "overdue_at"}.get(kind)
    if first is not None:
        earlier = getattr(row, first)
        if earlier is None or at < earlier:
            setattr(row, first, at)


def listed_tickets(session: Session, community_id: uuid.UUID) -> list[RotationTicket]:
    """The community's tickets listed for the committee (挂单) and not yet taken further, oldest first."""
    return list(session.scalars(select(RotationTicket).where(
        RotationTicket.community_id == community_id, RotationTicket.state == TICKET_LISTED_STATE)
        .order_by(RotationTicket.listed_at, RotationTicket.id)))


# --- registry's activities (term reports' figures) ----------------------------------------------------------

def record_activity(session: Session, activity_id: uuid.UUID, version: int, *, district_id: str,
                    community_id: uuid.UUID, host_organization_id: uuid.UUID, host_organization_name: str,
                    title: str, state: str, held_at: datetime | None, attendee_count: int) -> bool:
    """Keep registry's activity at `version`; False when a newer one is already kept."""
    return apply_versioned(session, Activity, activity_id, version, {
        "district_id": district_id, "community_id": community_id, "host_organization_id": host_organization_id,
        "host_organization_name": host_organization_name, "title": title, "state": state, "held_at": held_at,
        "attendee_count": attendee_count})


# --- Overrides ----------------------------------------------------------------------------------------------

def substitute(session: Session, actor: Actor, *, term_id: uuid.UUID, organization_id: uuid.UUID, reason: str,
               now: datetime) -> Override:
    """Another unit chairs one planned term; the unit whose turn it was goes next."""
    term = _referenced_term(session, actor, term_id, "term_id")
    rotation = _locked_rotation(session, term.rotation_id)
    _check_future(term, now, "term_id")
    if term.organization_id == organization_id:
        raise ValidationFailed.field("organization_id", "already chairs this term")
    unit = _current_unit(session, rotation, organization_id, "organization_id")
    if unit.joined_on > term.starts_on:
        raise ValidationFailed.field("organization_id", "not yet a member on the term's first day")
    unavailable, _ = _overrides_and_swaps(session, rotation.id)
    if any(p.unit == organization_id and p.overlaps(term.starts_on, term.ends_on + timedelta(days=1))
           for p in unavailable):
        raise ValidationFailed.field("organization_id", "marked unavailable during the term")
    _check_unpinned(session, rotation.id, term.index, "term_id")
    override = Override(district_id=rotation.district_id, rotation_id=rotation.id, kind=SUBSTITUTE,
                        state=ACTIVE_OVERRIDE, organization_id=unit.organization_id,
                        organization_name=unit.organization_name, term_id=term.id, term_index=term.index,
                        reason=reason, created_by=actor.sub)
    session.add(override)
    payload = _override_event(session, rotation, override, term)
    record(session, OVERRIDE_CREATED, override, payload_of=payload)
    _audit(session, rotation, actor.sub, "override.created", reason,
           {"override": str(override.id), "kind": SUBSTITUTE, "term": str(term.id),
            "organization_id": str(organization_id)}, now)
    replan(session, rotation, now=now, actor=actor.sub, cause="override_created", why=reason)
    return override


def mark_unavailable(session: Session, actor: Actor, *, rotation_id: uuid.UUID | None, organization_id: uuid.UUID,
                     from_on: date, to_on: date, reason: str, now: datetime) -> Override:
    """A unit cannot chair on [from_on, to_on): it is skipped, and keeps its place for when it can again."""
    schedule.check_period(from_on, to_on)
    rotation = _rotation_of_unit(session, actor, rotation_id, organization_id)
    unit = _current_unit(session, rotation, organization_id, "organization_id")
    override = Override(district_id=rotation.district_id, rotation_id=rotation.id, kind=UNAVAILABLE,
                        state=ACTIVE_OVERRIDE, organization_id=unit.organization_id,
                        organization_name=unit.organization_name, from_on=from_on, to_on=to_on, reason=reason,
                        created_by=actor.sub)
    session.add(override)
    record(session, OVERRIDE_CREATED, override, payload_of=_override_event(session, rotation, override, None))
    _audit(session, rotation, actor.sub, "override.created", reason,
           {"override": str(override.id), "kind": UNAVAILABLE, "organization_id": str(organization_id),
            "from": from_on.isoformat(), "to": to_on.isoformat()}, now)
    replan(session, rotation, now=now, actor=actor.sub, cause="override_created", why=reason)
    return override


def cancel_override(session: Session, actor: Actor, override_id: uuid.UUID, *, reason: str | None,
                    now: datetime, check_version: VersionCheck | None = None) -> Override:
    """Withdraw an override; the terms it moved are planned by the turns again (a begun term stays)."""
    override = visible(session, actor, Override, override_id, what="override", for_update=True)
    if check_version is not None:
        check_version(override.version)
    if override.state != ACTIVE_OVERRIDE:
        raise InvalidTransition(f"the override is {override.state}; only an active one can be cancelled",
                                errors={"state": [override.state]})
    rotation = _locked_rotation(session, override.rotation_id)
    term = session.get(Term, override.term_id) if override.term_id else None
    if override.kind == SUBSTITUTE:
        start, _ = domain.term_window(rotation.starts_on, rotation.term_months, override.term_index or 0,
                                      rotation.time_zone)
        if start <= now:
            raise Conflict("term_id: the substitute's term has begun; nothing changes a begun term",
                           errors={"term_id": ["the term has begun"]})
    override.state, override.cancelled_at, override.cancelled_by = CANCELLED_OVERRIDE, now, actor.sub
    override.cancel_reason = reason
    record(session, OVERRIDE_CANCELLED, override, payload_of=_override_event(session, rotation, override, term))
    _audit(session, rotation, actor.sub, "override.cancelled", reason, {"override": str(override.id)}, now)
    replan(session, rotation, now=now, actor=actor.sub, cause="override_cancelled", why=reason)
    return override


def _check_unpinned(session: Session, rotation_id: uuid.UUID, index: int, field_name: str) -> None:
    """One term takes one override or swap: a second would silently lose to the first."""
    _, pins = _overrides_and_swaps(session, rotation_id)
    if any(pin.index == index for pin in pins):
        raise Conflict(f"{field_name}: the term already has an active substitute or accepted swap",
                       errors={field_name: ["the term already has an active substitute or accepted swap"]})


def _rotation_of_unit(session: Session, actor: Actor, rotation_id: uuid.UUID | None,
                      organization_id: uuid.UUID) -> Rotation:
    """The rotation named, or the one of the committee the unit is in (a unit is in few committees)."""
    if rotation_id is not None:
        rotation = session.get(Rotation, rotation_id)
        if rotation is None or not actor.sees(rotation.district_id):
            raise ValidationFailed.field("rotation_id", "no such rotation")
        return _locked_rotation(session, rotation.id)
    committees = list(session.scalars(select(CommitteeUnit.committee_id).where(
        CommitteeUnit.organization_id == organization_id, CommitteeUnit.left_on.is_(None))))
    rotations = [r for r in session.scalars(select(Rotation).where(Rotation.committee_id.in_(committees)))
                 if actor.sees(r.district_id)]
    if not rotations:
        raise ValidationFailed.field("organization_id", "not a current unit of any rotation's committee")
    if len(rotations) > 1:
        raise ValidationFailed.field("rotation_id", "the unit is in several committees: name the rotation")
    return _locked_rotation(session, rotations[0].id)


# --- Swaps --------------------------------------------------------------------------------------------------

def request_swap(session: Session, actor: Actor, *, term_id: uuid.UUID, with_term_id: uuid.UUID, reason: str,
                 now: datetime) -> Swap:
    """The chair of `term_id` asks the chair of `with_term_id` to exchange terms."""
    term = _referenced_term(session, actor, term_id, "term_id")
    other = _referenced_term(session, actor, with_term_id, "with_term_id")
    rotation = _locked_rotation(session, term.rotation_id)
    if other.rotation_id != rotation.id:
        raise ValidationFailed.field("with_term_id", "a term of another rotation")
    _check_future(term, now, "term_id")
    _check_future(other, now, "with_term_id")
    if term.organization_id is None or other.organization_id is None:
        field_name = "term_id" if term.organization_id is None else "with_term_id"
        raise ValidationFailed.field(field_name, "the term has no chair to swap")
    if term.organization_id == other.organization_id:
        raise ValidationFailed.field("with_term_id", "the same unit chairs both terms")
    _check_unpinned(session, rotation.id, term.index, "term_id")
    _check_unpinned(session, rotation.id, other.index, "with_term_id")
    swap = Swap(district_id=rotation.district_id, rotation_id=rotation.id, state=REQUESTED, term_id=term.id,
                with_term_id=other.id, term_index=term.index, with_term_index=other.index,
                organization_id=term.organization_id, organization_name=term.organization_name or "",
                with_organization_id=other.organization_id, with_organization_name=other.organization_name or "",
                expires_at=min(term.starts_at, other.starts_at), reason=reason, requested_by=actor.sub)
    session.add(swap)
    record(session, SWAP_REQUESTED, swap, payload_of=_swap_event(session, rotation, swap))
    _audit(session, rotation, actor.sub, "swap.requested", reason,
           {"swap": str(swap.id), "term": str(term.id), "with_term": str(other.id)}, now)
    schedule_timer(session, SWAP_EXPIRE, swap.id, swap.expires_at, district_id=swap.district_id)
    return swap


def accept_swap(session: Session, actor: Actor, swap_id: uuid.UUID, *, reason: str | None, now: datetime,
                check_version: VersionCheck | None = None) -> Swap:
    """The asked unit agrees: the two terms change chairs, and keep them through later re-plans."""
    swap, rotation = _answerable_swap(session, actor, swap_id, now, check_version)
    for index, unit, field_name in ((swap.term_index, swap.organization_id, "term_id"),
                                    (swap.with_term_index, swap.with_organization_id, "with_term_id")):
        current = _first_chair(session, rotation.id, index)
        if current is None or current.organization_id != unit:
            raise Conflict(f"{field_name}: the plan changed since the request; the unit no longer chairs it",
                           errors={field_name: ["the plan changed since the request"]})
        _check_unpinned(session, rotation.id, index, field_name)
    _answer(session, actor, rotation, swap, ACCEPTED, reason, now)
    replan(session, rotation, now=now, actor=actor.sub, cause="swap_accepted", why=reason)
    return swap


def decline_swap(session: Session, actor: Actor, swap_id: uuid.UUID, *, reason: str | None, now: datetime,
                 check_version: VersionCheck | None = None) -> Swap:
    swap, rotation = _answerable_swap(session, actor, swap_id, now, check_version)
    _answer(session, actor, rotation, swap, DECLINED, reason, now)
    return swap


def expire_swap(session: Session, swap_id: uuid.UUID, now: datetime) -> Swap | None:
    """An unanswered request lapses when the earlier of its terms begins (once, whichever clock fires)."""
    swap = session.get(Swap, swap_id, with_for_update=True)
    if swap is None or swap.state != REQUESTED or now < swap.expires_at:
        return None
    rotation = session.get_one(Rotation, swap.rotation_id)
    swap.state = EXPIRED
    record(session, SWAP_EXPIRED, swap, payload_of=_swap_event(session, rotation, swap))
    _audit(session, rotation, CLOCK_ACTOR, "swap.expired", None, {"swap": str(swap.id)}, now)
    return swap


def _answerable_swap(session: Session, actor: Actor, swap_id: uuid.UUID, now: datetime,
                     check_version: VersionCheck | None) -> tuple[Swap, Rotation]:
    swap = visible(session, actor, Swap, swap_id, what="swap", for_update=True)
    if check_version is not None:
        check_version(swap.version)
    if swap.state == REQUESTED and now >= swap.expires_at:
        expire_swap(session, swap.id, now)
    if swap.state != REQUESTED:
        raise InvalidTransition(f"the swap is {swap.state}; only a requested one can be accepted or declined",
                                errors={"state": [swap.state]})
    return swap, _locked_rotation(session, swap.rotation_id)


def _answer(session: Session, actor: Actor, rotation: Rotation, swap: Swap, state: str, reason: str | None,
            now: datetime) -> None:
    swap.state, swap.answered_at, swap.answered_by, swap.answer_reason = state, now, actor.sub, reason
    event = SWAP_ACCEPTED if state == ACCEPTED else SWAP_DECLINED
    record(session, event, swap, payload_of=_swap_event(session, rotation, swap))
    _audit(session, rotation, actor.sub, f"swap.{state}", reason, {"swap": str(swap.id)}, now)


# --- Queries ------------------------------------------------------------------------------------------------

def chair_at(session: Session, rotation: Rotation, at: datetime) -> Term | None:
    """The term running at `at` (its chair may be none: a gap), or None outside the stored plan."""
    return session.scalar(select(Term).where(Term.rotation_id == rotation.id, Term.state != CANCELLED,
                                             Term.starts_at <= at, Term.ends_at > at).limit(1))


def terms_between(session: Session, rotation: Rotation, start: datetime | None, end: datetime | None) -> list[Term]:
    """The terms (not cancelled) that overlap [start, end), in order."""
    stmt = select(Term).where(Term.rotation_id == rotation.id, Term.state != CANCELLED)
    if start is not None:
        stmt = stmt.where(Term.ends_at > start)
    if end is not None:
        stmt = stmt.where(Term.starts_at < end)
    return list(session.scalars(stmt.order_by(Term.index, Term.part)))


@dataclass(frozen=True)
class FairnessReport:
    rotation: Rotation
    start: datetime
    end: datetime
    result: schedule.Fairness
    names: dict[uuid.UUID, str]
    compared: list[uuid.UUID]


def fairness_report(session: Session, rotation: Rotation, start: datetime, end: datetime,
                    now: datetime) -> FairnessReport:
    """Terms per unit starting in [start, end); the balance compares the units that were members all through."""
    if end <= start:
        raise ValidationFailed.field("to", "must be after from")
    stints = _stints(session, rotation.committee_id)
    terms = [_planned(t) for t in terms_between(session, rotation, start, end)]
    tz = rotation.time_zone
    compared = schedule.members_throughout(
        [schedule.Stint(s.organization_id, s.joined_on, s.left_on) for s in stints],
        domain.local_day(start, tz), domain.local_day(end, tz))
    result = schedule.fairness(terms, compared, start=start, end=end, now=now)
    names = {s.organization_id: s.organization_name for s in stints}
    return FairnessReport(rotation, start, end, result, names, [u for u in compared if isinstance(u, uuid.UUID)])


# --- Helpers ------------------------------------------------------------------------------------------------

def _check_zone(zone: str) -> None:
    try:
        check_time_zone(zone)
    except ValueError as exc:
        raise ValidationFailed.field("time_zone", "not an IANA time zone (e.g. Asia/Shanghai)") from exc


def _order_text(order: Sequence[uuid.UUID]) -> str:
    return json.dumps([str(u) for u in order])


def _locked_rotation(session: Session, rotation_id: uuid.UUID) -> Rotation:
    return session.get_one(Rotation, rotation_id, with_for_update=True)


def _referenced_term(session: Session, actor: Actor, term_id: uuid.UUID, field_name: str) -> Term:
    term = session.get(Term, term_id)
    if term is None or not actor.sees(term.district_id):
        raise ValidationFailed.field(field_name, "no such term")
    return term


def _check_future(term: Term, now: datetime, field_name: str) -> None:
    if term.state == CANCELLED:
        raise Conflict(f"{field_name}: the term is no longer planned (a later plan replaced it)",
                       errors={field_name: ["the term was cancelled by a later plan"]})
    if term.starts_at <= now:
        raise Conflict(f"{field_name}: the term has begun; nothing changes a begun term",
                       errors={field_name: ["the term has begun"]})


def _about(session: Session, rotation: Rotation) -> dict[str, Any]:
    committee = session.get(Committee, rotation.committee_id)
    return {"rotation_id": rotation.id, "district_id": rotation.district_id, "committee_id": rotation.committee_id,
            "committee_name": committee.name if committee is not None else ""}


def _term_event(session: Session, rotation: Rotation, term: Term) -> dict[str, Any]:
    return {**_about(session, rotation), "term_id": term.id, "uid": term.uid, "index": term.index,
            "part": term.part, "organization_id": term.organization_id, "organization_name": term.organization_name,
            "starts_at": term.starts_at, "ends_at": term.ends_at, "starts_on": term.starts_on,
            "ends_on": term.ends_on}


def _swap_event(session: Session, rotation: Rotation, swap: Swap) -> dict[str, Any]:
    session.flush()  # the payload carries the version this change gives the swap
    about = _about(session, rotation)
    return {**{k: getattr(swap, k) for k in (
        "id", "district_id", "rotation_id", "state", "organization_id", "organization_name", "with_organization_id",
        "with_organization_name", "reason", "answer_reason", "expires_at", "version")},
        "committee_id": about["committee_id"], "committee_name": about["committee_name"],
        "term": session.get_one(Term, swap.term_id), "with_term": session.get_one(Term, swap.with_term_id)}


def _override_event(session: Session, rotation: Rotation, override: Override, term: Term | None) -> dict[str, Any]:
    session.flush()  # the payload carries the version this change gives the override
    about = _about(session, rotation)
    return {**{k: getattr(override, k) for k in (
        "id", "district_id", "rotation_id", "kind", "state", "organization_id", "organization_name", "reason",
        "cancel_reason", "version")},
        "committee_id": about["committee_id"], "committee_name": about["committee_name"], "term": term,
        "from_": override.from_on, "to": override.to_on}


def _audit(session: Session, rotation: Rotation, actor: str, action: str, why: str | None, what: dict[str, Any],
           now: datetime) -> None:
    session.add(AuditEntry(district_id=rotation.district_id, rotation_id=rotation.id, at=now, actor=actor,
                           action=action, why=why, what=json.dumps(what, ensure_ascii=False)))


def history(session: Session, rotation: Rotation) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.rotation_id == rotation.id)
                                .order_by(AuditEntry.at, AuditEntry.id)))



# --- Joint meetings (联席会议) -------------------------------------------------------------------------------

MEETING_RULE_EXTEND = "meeting_rule.extend"
# The clock moves a rule's horizon on this often; the horizon itself is a year (meetings.HORIZON).
MEETING_PLAN_EVERY = timedelta(days=7)
RULE_ACTOR = "rule"


def set_meeting_rule(session: Session, actor: Actor, committee_id: uuid.UUID, *, rrule: str, starts_on: date,
                     local_time: time | None, duration_minutes: int, place: str | None, now: datetime,
                     reason: str | None = None, check_version: VersionCheck | None = None) -> MeetingRule:
    """Set (or replace) the rule the committee meets by; its future meetings are planned again, the held and
    begun ones stay as they are."""
    committee = visible(session, actor, Committee, committee_id, what="committee")
    rule = session.scalar(select(MeetingRule).where(MeetingRule.committee_id == committee.id).with_for_update())
    if rule is not None and check_version is not None:
        check_version(rule.version)
    zone = rule.time_zone if rule is not None else committee.time_zone
    checked = meetings.check_rule(rrule, starts_on, local_time or meetings.DEFAULT_TIME, duration_minutes, zone)
    if rule is None:
        rule = MeetingRule(district_id=committee.district_id, committee_id=committee.id, time_zone=zone)
        session.add(rule)
    rule.rrule, rule.starts_on, rule.local_time = checked.text, starts_on, checked.at
    rule.duration_minutes, rule.place, rule.updated_by = duration_minutes, place, actor.sub
    session.flush()
    plan_meetings(session, rule, now=now, actor=actor.sub, reason=reason or "联席会议规则调整")
    return rule


def extend_meetings(session: Session, rule_id: uuid.UUID, now: datetime) -> MeetingRule | None:
    """Time passed: materialize the rule's meetings a year ahead of now (the clock's weekly step)."""
    rule = session.get(MeetingRule, rule_id, with_for_update=True)
    if rule is None:
        return None
    plan_meetings(session, rule, now=now, actor=CLOCK_ACTOR, reason=None)
    return rule


def _checked_rule(rule: MeetingRule) -> meetings.Rule:
    return meetings.check_rule(rule.rrule, rule.starts_on, rule.local_time, rule.duration_minutes, rule.time_zone)


def plan_meetings(session: Session, rule: MeetingRule, *, now: datetime, actor: str,
                  reason: str | None) -> meetings.Replan:
    """Store the rule's meetings up to a year ahead: add the new, move the retimed, cancel the dropped."""
    committee = session.get_one(Committee, rule.committee_id)
    until = now + meetings.HORIZON
    # The rule's days from yesterday on are all computed (their meetings start after the day before's midnight),
    # so a meeting of such a day the rule no longer has can be told apart from one moved off an older day.
    since_day = domain.local_day(now - timedelta(days=1), rule.time_zone)
    stored = list(session.scalars(select(Meeting).where(Meeting.rule_id == rule.id, Meeting.rule_day >= since_day)
                                  .with_for_update()))
    by_id = {m.id: m for m in stored}
    plan = meetings.replan([meetings.Stored(m.id, m.rule_day, m.state, m.starts_at, m.ends_at, m.moved,
                                            m.state == meetings.CANCELLED and m.changed_by == RULE_ACTOR)
                            for m in stored if m.rule_day is not None],
                           _checked_rule(rule).slots(now - timedelta(days=2), until), now, until, since_day)
    for slot in plan.add:
        meeting = Meeting(id=uuid.uuid4(), district_id=rule.district_id, committee_id=committee.id,
                          community_id=committee.community_id, kind=meetings.RULE, rule_id=rule.id,
                          rule_day=slot.day, title=f"{committee.name}联席会议", state=meetings.SCHEDULED,
                          place=rule.place, changed_by=actor, free_items="[]", attendance="[]", decisions="[]",
                          moved=False)
        meeting.uid = f"{meeting.id}@meetings.rotation.linli"
        _place_in_time(meeting, slot, rule.duration_minutes, rule.time_zone, committee)
        session.add(meeting)
        record(session, MEETING_SCHEDULED, meeting, payload_of=_meeting_event(session, meeting))
    for key, slot in plan.revive:
        meeting = by_id[key]
        meeting.state, meeting.reason, meeting.changed_by = meetings.SCHEDULED, reason, actor
        _place_in_time(meeting, slot, rule.duration_minutes, rule.time_zone, committee)
        meeting.place = rule.place
        record(session, MEETING_SCHEDULED, meeting, payload_of=_meeting_event(session, meeting))
    for key, slot in plan.retime:
        meeting = by_id[key]
        before = (meeting.local_date, meeting.local_time, meeting.starts_at)
        _place_in_time(meeting, slot, rule.duration_minutes, rule.time_zone, committee)
        meeting.reason, meeting.changed_by = reason, RULE_ACTOR
        record(session, MEETING_MOVED, meeting, payload_of=_meeting_event(session, meeting, moved_from=before))
    for key in plan.cancel:
        meeting = by_id[key]
        meeting.state, meeting.reason, meeting.changed_by = meetings.CANCELLED, reason or "联席会议规则调整", RULE_ACTOR
        record(session, MEETING_CANCELLED, meeting, payload_of=_meeting_event(session, meeting))
    rule.planned_until = until
    schedule_timer(session, MEETING_RULE_EXTEND, rule.id, now + MEETING_PLAN_EVERY, district_id=rule.district_id)
    return plan


def _place_in_time(meeting: Meeting, slot: meetings.Slot, duration_minutes: int, tz: str,
                   committee: Committee) -> None:
    local = slot.starts_at.astimezone(ZoneInfo(tz))
    meeting.starts_at, meeting.ends_at = slot.starts_at, slot.ends_at
    meeting.local_date, meeting.local_time = local.date(), local.time().replace(tzinfo=None)
    meeting.duration_minutes, meeting.time_zone = duration_minutes, tz
    # The convenor as the committee has one now: the party secretary of the day convenes.
    meeting.convenor_member_id, meeting.convenor_name = committee.convenor_member_id, committee.convenor_name


def schedule_meeting(session: Session, actor: Actor, *, committee_id: uuid.UUID, local_date: date,
                     local_time: time, duration_minutes: int, place: str | None, title: str | None,
                     free_items: Sequence[str], now: datetime) -> Meeting:
    """Call a meeting ad hoc, at a local day and time in the committee's zone."""
    committee = session.get(Committee, committee_id)
    if committee is None or not actor.sees(committee.district_id):
        raise NotYetKnown.field("committee_id", "committee")
    rule = session.scalar(select(MeetingRule).where(MeetingRule.committee_id == committee.id))
    zone = rule.time_zone if rule is not None else committee.time_zone
    slot = meetings.slot_at(local_date, local_time, duration_minutes, zone)
    meetings.check_move(slot.starts_at, now)
    meeting = Meeting(id=uuid.uuid4(), district_id=committee.district_id, committee_id=committee.id,
                      community_id=committee.community_id, kind=meetings.AD_HOC, rule_id=None, rule_day=None,
                      title=title or f"{committee.name}联席会议", state=meetings.SCHEDULED, place=place,
                      changed_by=actor.sub, free_items=json.dumps(list(free_items), ensure_ascii=False),
                      attendance="[]", decisions="[]", moved=False)
    meeting.uid = f"{meeting.id}@meetings.rotation.linli"
    _place_in_time(meeting, slot, duration_minutes, zone, committee)
    session.add(meeting)
    record(session, MEETING_SCHEDULED, meeting, payload_of=_meeting_event(session, meeting))
    return meeting


def edit_meeting(session: Session, actor: Actor, meeting_id: uuid.UUID, *, changes: dict[str, Any],
                 check_version: VersionCheck | None = None) -> Meeting:
    """Retitle a scheduled meeting or change its free agenda items."""
    meeting = visible(session, actor, Meeting, meeting_id, what="meeting", for_update=True)
    if check_version is not None:
        check_version(meeting.version)
    meetings.check_scheduled(meeting.state, "edited")
    if "free_items" in changes:
        changes = {**changes, "free_items": json.dumps(list(changes["free_items"]), ensure_ascii=False)}
    changed = edits(meeting, changes, ("title", "free_items"))
    if not changed:
        return meeting
    for name, value in changed.items():
        setattr(meeting, name, value)
    meeting.changed_by = actor.sub
    record(session, MEETING_UPDATED, meeting, payload_of=_meeting_event(session, meeting))
    return meeting


def move_meeting(session: Session, actor: Actor, meeting_id: uuid.UUID, *, local_date: date, local_time: time,
                 duration_minutes: int | None, place: str | None, reason: str, now: datetime,
                 check_version: VersionCheck | None = None) -> Meeting:
    """Move a scheduled meeting to another local day and time (and place); a re-plan of its rule keeps it there."""
    meeting = visible(session, actor, Meeting, meeting_id, what="meeting", for_update=True)
    if check_version is not None:
        check_version(meeting.version)
    meetings.check_scheduled(meeting.state, "moved")
    slot = meetings.slot_at(local_date, local_time, duration_minutes or meeting.duration_minutes, meeting.time_zone)
    meetings.check_move(slot.starts_at, now)
    if meeting.rule_id is not None and meeting.rule_day != local_date:
        other = session.scalar(select(Meeting.id).where(Meeting.rule_id == meeting.rule_id,
                                                        Meeting.local_date == local_date, Meeting.id != meeting.id,
                                                        Meeting.state == meetings.SCHEDULED))
        if other is not None:
            raise Conflict("date: the committee already meets that day", errors={"date": ["already a meeting"]})
    before = (meeting.local_date, meeting.local_time, meeting.starts_at)
    _place_in_time(meeting, slot, duration_minutes or meeting.duration_minutes, meeting.time_zone,
                   session.get_one(Committee, meeting.committee_id))
    if place is not None:
        meeting.place = place
    meeting.moved, meeting.reason, meeting.changed_by = True, reason, actor.sub
    record(session, MEETING_MOVED, meeting, payload_of=_meeting_event(session, meeting, moved_from=before))
    return meeting


def cancel_meeting(session: Session, actor: Actor, meeting_id: uuid.UUID, *, reason: str, now: datetime,
                   check_version: VersionCheck | None = None) -> Meeting:
    """Call a scheduled meeting off; a re-plan of its rule does not bring it back."""
    meeting = visible(session, actor, Meeting, meeting_id, what="meeting", for_update=True)
    if check_version is not None:
        check_version(meeting.version)
    meetings.check_scheduled(meeting.state, "cancelled")
    meeting.state, meeting.reason, meeting.changed_by = meetings.CANCELLED, reason, actor.sub
    record(session, MEETING_CANCELLED, meeting, payload_of=_meeting_event(session, meeting))
    return meeting


@dataclass(frozen=True)
class AttendanceIn:
    organization_id: uuid.UUID
    status: str


@dataclass(frozen=True)
class DecisionIn:
    ticket_id: uuid.UUID
    kind: str
    unit_ids: tuple[uuid.UUID, ...]
    note: str | None = None


def hold_meeting(session: Session, actor: Actor, meeting_id: uuid.UUID, *, attendance: Sequence[AttendanceIn],
                 minutes: str | None, decisions: Sequence[DecisionIn], now: datetime,
                 check_version: VersionCheck | None = None) -> Meeting:
    """Record that a meeting was held: who came, the minutes, the tickets it decided to list or dispatch (only
    recorded here: tickets lists and dispatches on its own), and the agenda as it stood."""
    meeting = visible(session, actor, Meeting, meeting_id, what="meeting", for_update=True)
    if check_version is not None:
        check_version(meeting.version)
    meetings.check_hold(meeting.state, meeting.starts_at, now)
    units = _units_on(session, meeting.committee_id, meeting.local_date)
    names = {u.organization_id: u.organization_name for u in units}
    present = meetings.attendance([(a.organization_id, a.status) for a in attendance], list(names))
    meetings.check_decisions([meetings.Decision(d.ticket_id, d.kind, d.unit_ids) for d in decisions], set(names))
    _check_decided_tickets(session, meeting, decisions)
    meeting.agenda = json.dumps(_json_safe(agenda(session, meeting)), ensure_ascii=False)
    meeting.attendance = json.dumps([{"organization_id": str(unit), "organization_name": names[unit],
                                      "status": status} for unit, status in present], ensure_ascii=False)
    meeting.decisions = json.dumps([{"ticket_id": str(d.ticket_id), "kind": d.kind,
                                     "unit_ids": [str(u) for u in d.unit_ids], "note": d.note} for d in decisions],
                                   ensure_ascii=False)
    meeting.minutes, meeting.held_at, meeting.state = minutes, now, meetings.HELD
    meeting.changed_by = actor.sub
    committee = session.get_one(Committee, meeting.committee_id)
    meeting.convenor_member_id, meeting.convenor_name = committee.convenor_member_id, committee.convenor_name
    record(session, MEETING_HELD, meeting, payload_of={**_meeting_event(session, meeting),
                                                       "held_at": now, "attendance": meeting.attendance,
                                                       "minutes": minutes, "decisions": meeting.decisions,
                                                       "agenda": meeting.agenda})
    return meeting


def _check_decided_tickets(session: Session, meeting: Meeting, decisions: Sequence[DecisionIn]) -> None:
    """A ticket the read model knows must be of the meeting's community; one it has not heard of yet is
    recorded as said (the decision is only recorded, and tickets' event may still be on its way)."""
    for i, decision in enumerate(decisions):
        ticket = session.get(RotationTicket, decision.ticket_id)
        if ticket is not None and (ticket.district_id != meeting.district_id or (
                ticket.community_id is not None and ticket.community_id != meeting.community_id)):
            raise ValidationFailed.field(f"decisions.{i}.ticket_id", "a ticket of another community")


def _json_safe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in item.items()} for item in items]


def agenda(session: Session, meeting: Meeting) -> list[dict[str, Any]]:
    """The community's tickets listed (挂单) for the committee, then the free items; as held, once held."""
    if meeting.agenda is not None:
        return [{**item, "ticket_id": uuid.UUID(item["ticket_id"]) if item.get("ticket_id") else None}
                for item in json.loads(meeting.agenda)]
    items: list[dict[str, Any]] = [{"kind": "ticket", "ticket_id": t.id, "text": t.title}
                                   for t in listed_tickets(session, meeting.community_id)]
    items += [{"kind": "free", "ticket_id": None, "text": text} for text in json.loads(meeting.free_items)]
    return items


def _units_on(session: Session, committee_id: uuid.UUID, day: date) -> list[CommitteeUnit]:
    """The committee's units on a local day: joined by then and not yet left."""
    return [s for s in _stints(session, committee_id)
            if s.joined_on <= day and (s.left_on is None or s.left_on > day)]


def _meeting_event(session: Session, meeting: Meeting,
                   moved_from: tuple[date, time, datetime] | None = None) -> dict[str, Any]:
    session.flush()  # the payload carries the version this change gives the meeting
    committee = session.get(Committee, meeting.committee_id)
    payload = {**{k: getattr(meeting, k) for k in (
        "id", "district_id", "committee_id", "community_id", "kind", "title", "state", "local_date", "local_time",
        "time_zone", "starts_at", "ends_at", "place", "convenor_member_id", "convenor_name", "uid", "reason",
        "free_items", "version")}, "committee_name": committee.name if committee is not None else ""}
    if moved_from is not None:
        payload.update(previous_local_date=moved_from[0], previous_local_time=moved_from[1],
                       previous_starts_at=moved_from[2])
    return payload


# --- Calendar feeds -----------------------------------------------------------------------------------------

FEED_COMMITTEE, FEED_UNIT = "committee", "unit"
# How far back a feed reaches: a year of past terms and meetings is enough for a phone.
FEED_PAST = timedelta(days=366)


@dataclass(frozen=True)
class IssuedFeed:
    feed: Feed
    token: str


def create_feed(session: Session, actor: Actor, *, committee_id: uuid.UUID | None,
                organization_id: uuid.UUID | None, name: str | None) -> IssuedFeed:
    """A feed of a committee's terms and meetings, or of a unit's terms and its committees' meetings; the
    token is told once, here."""
    if (committee_id is None) == (organization_id is None):
        raise ValidationFailed.field("committee_id", "give committee_id or organization_id, one of them")
    if committee_id is not None:
        committee = session.get(Committee, committee_id)
        if committee is None or not actor.sees(committee.district_id):
            raise NotYetKnown.field("committee_id", "committee")
        district, kind, label = committee.district_id, FEED_COMMITTEE, committee.name
    else:
        stint = session.scalar(select(CommitteeUnit).where(CommitteeUnit.organization_id == organization_id)
                               .order_by(CommitteeUnit.joined_on.desc()).limit(1))
        if stint is None or not actor.sees(stint.district_id):
            raise NotYetKnown.field("organization_id", "committee unit")
        district, kind, label = stint.district_id, FEED_UNIT, stint.organization_name
    token = calendars.new_token()
    feed = Feed(district_id=district, kind=kind, committee_id=committee_id, organization_id=organization_id,
                name=name or f"{label}轮值与联席会议", token_hash=calendars.token_hash(token), created_by=actor.sub)
    session.add(feed)
    session.flush()
    return IssuedFeed(feed, token)


def rotate_feed_token(session: Session, actor: Actor, feed_id: uuid.UUID, *, now: datetime,
                      check_version: VersionCheck | None = None) -> IssuedFeed:
    """A new secret for the feed; the old URL answers 404 from now on."""
    feed = visible(session, actor, Feed, feed_id, what="feed", for_update=True)
    if check_version is not None:
        check_version(feed.version)
    token = calendars.new_token()
    feed.token_hash, feed.rotated_at = calendars.token_hash(token), now
    session.flush()
    return IssuedFeed(feed, token)


def feed_calendar(session: Session, token: str, now: datetime) -> bytes:
    """The iCalendar document behind a feed's secret URL; NotFound for a token that opens no feed."""
    feed = session.scalar(select(Feed).where(Feed.token_hash == calendars.token_hash(token)))
    if feed is None:
        raise NotFound("feed not found")
    since = now - FEED_PAST
    if feed.kind == FEED_COMMITTEE:
        rotation_ids = list(session.scalars(select(Rotation.id).where(Rotation.committee_id == feed.committee_id)))
        term_rows = select(Term).where(Term.rotation_id.in_(rotation_ids))
        committee_ids = [feed.committee_id]
    else:
        term_rows = select(Term).where(Term.organization_id == feed.organization_id)
        stints = list(session.scalars(select(CommitteeUnit).where(
            CommitteeUnit.organization_id == feed.organization_id)))
        committee_ids = sorted({s.committee_id for s in stints})
    term_list = list(session.scalars(term_rows.where(Term.ends_at > since).order_by(Term.starts_at, Term.id)))
    meeting_list = list(session.scalars(select(Meeting).where(Meeting.committee_id.in_(committee_ids),
                                                              Meeting.ends_at > since)
                                        .order_by(Meeting.starts_at, Meeting.id)))
    gone: set[uuid.UUID] = set()
    if feed.kind == FEED_UNIT:
        # A unit's calendar has the meetings of the days it is in the committee; those after it left, which it
        # may have seen before, stay as cancelled (one SEQUENCE up) so its subscribers' calendars drop them.
        kept = []
        for m in meeting_list:
            mine = [s for s in stints if s.committee_id == m.committee_id and s.joined_on <= m.local_date]
            if any(s.left_on is None or m.local_date < s.left_on for s in mine):
                kept.append(m)
            elif mine:
                kept.append(m)
                gone.add(m.id)
        meeting_list = kept
    committees = {c.id: c for c in session.scalars(select(Committee).where(Committee.id.in_(
        committee_ids + [m.committee_id for m in meeting_list])))}
    rotations = {r.id: r for r in session.scalars(select(Rotation).where(
        Rotation.id.in_({t.rotation_id for t in term_list})))}
    terms_out = [calendars.TermEntry(
        uid=t.uid, summary=f"轮值主席：{t.organization_name or '（空缺）'}", first_day=t.starts_on, last_day=t.ends_on,
        cancelled=t.state == CANCELLED, sequence=t.version - 1, updated_at=t.updated_at,
        description=_term_description(committees.get(rotations[t.rotation_id].committee_id), t))
        for t in term_list]
    meetings_out = [calendars.MeetingEntry(
        uid=m.uid, summary=m.title, starts_at=m.starts_at, ends_at=m.ends_at, time_zone=m.time_zone,
        cancelled=m.state == meetings.CANCELLED or m.id in gone, sequence=m.version - (m.id not in gone),
        updated_at=m.updated_at, location=m.place,
        description=_meeting_description(m)) for m in meeting_list]
    zone = next((c.time_zone for c in committees.values()), None) or DEFAULT_TIME_ZONE
    return calendars.calendar(feed.name, terms_out, meetings_out, now, zone)


def _term_description(committee: Committee | None, term: Term) -> str:
    where = committee.name if committee is not None else ""
    return f"{where}第{term.index + 1}任轮值主席单位：{term.organization_name or '空缺'}"


def _meeting_description(meeting: Meeting) -> str:
    lines = [f"召集人：{meeting.convenor_name}"] if meeting.convenor_name else []
    if meeting.state == meetings.CANCELLED and meeting.reason:
        lines.append(f"取消原因：{meeting.reason}")
    return "\n".join(lines)
