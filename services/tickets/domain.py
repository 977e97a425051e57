"""Rules of a ticket's life: its states, its stages' deadlines and when it turns overdue, whom an overdue ticket is
escalated to, and what others may see of it.

A deadline is an instant counted from the start of its stage by the category's hours, so it means the same
whichever process checks it; a ticket turns overdue once per stage (once per unit's part, for dispatched work),
and only while the resident is still owed an answer.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

# Kept importable from here: the masking rule is the suite's, and tickets' code names it as its own rule.
from linli.shared.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from linli.shared.phones import mask_phone as mask_phone
from linli.shared.phones import mask_phones_in as mask_phones_in

# Where a ticket is, as the public sees it (public events, Open311): its coordinates to about a hundred metres,
# where in the compound, not which door.
PUBLIC_COORDINATE_DIGITS = 3


def public_coordinate(coordinate: float | None) -> float | None:
    """A latitude or longitude as the public sees it: rounded to `PUBLIC_COORDINATE_DIGITS` decimals."""
    return None if coordinate is None else round(float(coordinate), PUBLIC_COORDINATE_DIGITS)


def mask_name(name: str) -> str:
    """`王阿姨` -> `王**`: the family name and how long the name is, as a receipt shows a Chinese name.

    Everything but the first character is hidden, at least one character always (`张` -> `*`).
    """
    name = name.strip()
    if len(name) < 2:
        return "*"
    return name[0] + "*" * (len(name) - 1)


SUBMITTED = "submitted"
ACCEPTED = "accepted"
REJECTED = "rejected"
IN_PROGRESS = "in_progress"
ESCALATED = "escalated"
LISTED = "listed"
DISPATCHED = "dispatched"
RESOLVED = "resolved"
REVIEWED = "reviewed"
CLOSED = "closed"
INITIAL_STATE = SUBMITTED
STATES = (SUBMITTED, ACCEPTED, REJECTED, IN_PROGRESS, ESCALATED, LISTED, DISPATCHED, RESOLVED, REVIEWED, CLOSED)
# Open: the resident is still owed an answer, so the deadline runs; deriving CLOSED_STATES keeps the two
# sets from disagreeing.
OPEN_STATES = frozenset(STATES) - {REJECTED, CLOSED}
CLOSED_STATES = frozenset(STATES) - OPEN_STATES

# --- Categories and their deadlines (时限) ----------------------------------------------------------------------
#
# A ticket passes three stages, each with its own deadline counted from the moment the stage began, so each
# party answers for its own step: the compound for accepting, the compound or the committee for getting the
# work to whoever does it, the units for the work itself.

ACCEPT = "accept"  # 受理: from submission until accepted or rejected
DISPATCH = "dispatch"  # 派单: from acceptance (or the whistle) until a unit or a member has the work
RESOLVE = "resolve"  # 办结: from dispatch until resolved; each unit's part has its own deadline
STAGES = (ACCEPT, DISPATCH, RESOLVE)
DEFAULT_REMIND_PERCENT = 20  # the reminder comes when this share of the stage's time is left


@dataclass(frozen=True)
class StageHours:
    """Hours each stage may take."""

    accept: float
    dispatch: float
    resolve: float

    def of(self, stage: str) -> float:
        return {ACCEPT: self.accept, DISPATCH: self.dispatch, RESOLVE: self.resolve}[stage]


@dataclass(frozen=True)
class Deadlines:
    """A category's deadlines, for normal and for urgent tickets (急事急办), and when to remind before them."""

    normal: StageHours
    urgent: StageHours
    remind_before_percent: int = DEFAULT_REMIND_PERCENT

    def hours(self, urgency: str, stage: str) -> float:
        return (self.urgent if urgency == URGENT else self.normal).of(stage)


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    deadlines: Deadlines


# The seeds' rules: a normal ticket is accepted within a day, dispatched within three and resolved within ten days
# of its dispatch; the fast track (急事急办) counts in hours.
NORMAL_HOURS = StageHours(accept=24, dispatch=72, resolve=240)
URGENT_HOURS = StageHours(accept=1, dispatch=2, resolve=24)
_USUAL = Deadlines(NORMAL_HOURS, URGENT_HOURS)
DEFAULT_CATEGORY = "general"
FAST_TRACK = "fast_track"
# The suite's defaults, which a district may override category by category (`/v1/categories`). A code, once
# published, is never renamed: registry counts members' service hours under it.
DEFAULT_CATEGORIES: dict[str, Category] = {category.code: category for category in (
    Category(DEFAULT_CATEGORY, "综合", "General", _USUAL),
    Category("environment", "环境卫生", "Environment and sanitation", _USUAL),
    Category("facilities", "设施维修", "Facilities and repairs", _USUAL),
    Category("dispute", "邻里纠纷", "Neighbour disputes", _USUAL),
    # Straight to a functional department with a short deadline, however the ticket was marked.
    Category(FAST_TRACK, "急事急办", "Fast track", Deadlines(URGENT_HOURS, URGENT_HOURS)),
)}
CATEGORIES = tuple(DEFAULT_CATEGORIES)
MAX_STAGE_HOURS = 24 * 366  # a stage longer than a year is a typo, not a deadline


def default_category(code: str) -> Category:
    category = DEFAULT_CATEGORIES.get(code)
    if category is None:
        raise NotFound(f"no category {code!r}; the categories are {', '.join(CATEGORIES)}")
    return category


def check_deadlines(deadlines: Deadlines) -> None:
    """Every stage takes some time, and the fast track is never slower than the normal way."""
    for urgency, hours in (("normal", deadlines.normal), ("urgent", deadlines.urgent)):
        for stage in STAGES:
            if not 0 < hours.of(stage) <= MAX_STAGE_HOURS:
                raise ValidationFailed.field(f"{urgency}.{stage}_hours",
                                             f"is more than 0 and at most {MAX_STAGE_HOURS}")
    for stage in STAGES:
        if deadlines.urgent.of(stage) > deadlines.normal.of(stage):
            raise ValidationFailed.field(f"urgent.{stage}_hours",
                                         f"an urgent ticket cannot have longer to {stage} than a normal one "
                                         f"({deadlines.normal.of(stage):g} h)")
    if not 0 <= deadlines.remind_before_percent < 100:
        raise ValidationFailed.field("remind_before_percent", "is from 0 (no reminder) to 99")


def edited_deadlines(deadlines: Deadlines, *, normal: Mapping[str, float] | None = None,
                     urgent: Mapping[str, float] | None = None,
                     remind_before_percent: int | None = None) -> Deadlines:
    """`deadlines` with the hours given changed (`{"resolve": 120}`), checked as a whole."""
    edited = Deadlines(replace(deadlines.normal, **(normal or {})), replace(deadlines.urgent, **(urgent or {})),
                       deadlines.remind_before_percent if remind_before_percent is None else remind_before_percent)
    check_deadlines(edited)
    return edited


def deadlines_district(actor_district: str | None, asked: str | None) -> str:
    """Whose deadlines a caller reads or sets: its own district's, or those of the district an operator names.

    `actor_district` is None for an operator, who must name the district; a district client may name only its own.
    """
    if actor_district is None:
        if not asked:
            raise ValidationFailed.field("district_id", "an operator names the district whose deadlines these are")
        return asked
    if asked is not None and asked != actor_district:
        raise ValidationFailed.field("district_id", "not your district")
    return actor_district


def stage_due_at(deadlines: Deadlines, urgency: str, stage: str, started_at: datetime) -> datetime:
    """When a stage begun at `started_at` falls overdue, by the category's deadlines for the ticket's urgency."""
    if started_at.tzinfo is None:
        # A naive time would be read as local time somewhere and as UTC elsewhere; refuse it here.
        raise ValueError("started_at must be timezone-aware")
    return started_at + timedelta(hours=deadlines.hours(urgency, stage))


def check_part_due(due_at: datetime, now: datetime) -> None:
    if due_at <= now:
        raise ValidationFailed.field("units", "a unit's due_at must lie ahead")


# --- The lifecycle: the compound blows the whistle, the units report (小区吹哨、部门报到) ---------------------------
#
# A ticket is a frozen value and every verb a function returning the next one, so the same rules hold
# whether the API, an event handler or the clock moves a ticket, and a property test can drive them
# through any sequence of actions in milliseconds.

PROBLEM = "problem"
WISH = "wish"  # 微心愿: a resident's small wish that a party member claims (三小认领)
KINDS = (PROBLEM, WISH)
NORMAL = "normal"
URGENT = "urgent"  # 急事急办: may go straight to a functional department
URGENCIES = (NORMAL, URGENT)
# Who raised it: the resident, a grid worker on patrol, the 12345 hotline, a district's own system, Open311.
SOURCES = ("resident", "grid_patrol", "hotline", "district_system", "open311")
DEFAULT_SOURCE = "resident"
# Why a ticket was closed without a fix; a fixed ticket closes with no reason.
CLOSE_REASONS = ("not_responsible", "duplicate", "no_further_action", "referred")
SATISFIED = "satisfied"
BASICALLY_SATISFIED = "basically_satisfied"
DISSATISFIED = "dissatisfied"
RATINGS = (SATISFIED, BASICALLY_SATISFIED, DISSATISFIED)

# A unit's part of a dispatched ticket, with its own progress.
PART_DISPATCHED = "dispatched"
PART_IN_PROGRESS = "in_progress"
PART_RESOLVED = "resolved"
PART_WITHDRAWN = "withdrawn"  # re-routed away, or still open when the ticket closed
PART_STATES = (PART_DISPATCHED, PART_IN_PROGRESS, PART_RESOLVED, PART_WITHDRAWN)
OPEN_PARTS = frozenset({PART_DISPATCHED, PART_IN_PROGRESS})


@dataclass(frozen=True)
class Part:
    unit_id: uuid.UUID
    lead: bool
    state: str = PART_DISPATCHED
    due_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_PARTS


@dataclass(frozen=True)
class Ticket:
    """What the lifecycle rules need to know of a ticket."""

    state: str = SUBMITTED
    kind: str = PROBLEM
    urgency: str = NORMAL
    parts: tuple[Part, ...] = ()
    member_id: uuid.UUID | None = None  # who claimed a wish
    rating: str | None = None  # the resident's rating of the current fix, cleared when it is reopened
    close_reason: str | None = None

    @property
    def lead(self) -> Part | None:
        return next((part for part in self.parts if part.lead and part.state != PART_WITHDRAWN), None)

    def part(self, unit_id: uuid.UUID) -> Part | None:
        return next((part for part in self.parts if part.unit_id == unit_id and part.state != PART_WITHDRAWN),
                    None)

    @property
    def open_parts(self) -> tuple[Part, ...]:
        return tuple(part for part in self.parts if part.open)


# Whether each verb may be asked of a ticket at all, judged on the ticket alone; each verb then checks what
# it is given. The 409 for an illegal move names the verbs these allow.
_GUARDS: dict[str, Callable[[Ticket], bool]] = {
    "accept": lambda t: t.state == SUBMITTED,
    "reject": lambda t: t.state == SUBMITTED,
    "start": lambda t: (t.state == ACCEPTED and t.kind == PROBLEM)
    or (t.state in (DISPATCHED, IN_PROGRESS) and any(p.state == PART_DISPATCHED for p in t.parts)),
    "escalate": lambda t: t.kind == PROBLEM and not t.parts and t.state in (ACCEPTED, IN_PROGRESS),
    "list": lambda t: t.state == ESCALATED,
    "dispatch": lambda t: t.kind == PROBLEM and (
        t.state == LISTED or (t.urgency == URGENT and t.state in (SUBMITTED, ACCEPTED, ESCALATED))
        or (t.state in (DISPATCHED, IN_PROGRESS) and bool(t.parts))),
    "claim": lambda t: (t.kind == PROBLEM and t.state == LISTED) or (t.kind == WISH and t.state == ACCEPTED),
    "resolve": lambda t: t.state in (DISPATCHED, IN_PROGRESS) or (t.state in (RESOLVED, REVIEWED)
                                                                    and bool(t.open_parts)),
    "reroute": lambda t: t.state in (DISPATCHED, IN_PROGRESS) and bool(t.parts),
    "review": lambda t: t.state == RESOLVED,
    "rate": lambda t: t.rating is None and (t.state == REVIEWED or (t.state == CLOSED and t.close_reason is None)),
    "close": lambda t: t.state in OPEN_STATES,
    "merge": lambda t: t.state in OPEN_STATES,
}
VERBS = tuple(_GUARDS)


def allowed_verbs(ticket: Ticket) -> tuple[str, ...]:
    return tuple(verb for verb in VERBS if _GUARDS[verb](ticket))


def _require(ticket: Ticket, verb: str) -> None:
    if not _GUARDS[verb](ticket):
        allowed = ", ".join(allowed_verbs(ticket)) or "nothing"
        raise InvalidTransition(f"a {ticket.state} {ticket.kind} cannot be {event_verb(verb)}; allowed now: {allowed}",
                                errors={"state": [f"is {ticket.state}; allowed: {allowed}"]})


def event_verb(verb: str) -> str:
    """The event's verb: accept → accepted, list → listed, rate → rated."""
    return f"{verb}d" if verb.endswith("e") else f"{verb}ed"


def accept(ticket: Ticket) -> Ticket:
    _require(ticket, "accept")
    return replace(ticket, state=ACCEPTED)


def reject(ticket: Ticket) -> Ticket:
    """Refused at intake (not the compound's business, a prank): closed for good, and said why by the caller."""
    _require(ticket, "reject")
    return replace(ticket, state=REJECTED)


def start(ticket: Ticket, unit_id: uuid.UUID | None = None) -> Ticket:
    """Work begins: the compound on a ticket it handles itself, or a dispatched unit on its part."""
    _require(ticket, "start")
    if unit_id is None:
        if ticket.parts:
            raise ValidationFailed.field("unit_id", "name the dispatched unit that starts work")
        if ticket.state != ACCEPTED:
            raise ValidationFailed.field("unit_id", "name the dispatched unit that starts work")
        return replace(ticket, state=IN_PROGRESS)
    part = _open_part(ticket, unit_id)
    if part.state != PART_DISPATCHED:
        raise InvalidTransition("this unit has already started its part",
                                errors={"unit_id": ["has already started"]})
    started = _with_part(ticket, replace(part, state=PART_IN_PROGRESS))
    return replace(started, state=IN_PROGRESS) if part.lead else started


def escalate(ticket: Ticket) -> Ticket:
    """The compound cannot solve it and blows the whistle to the community's committee (吹哨)."""
    _require(ticket, "escalate")
    return replace(ticket, state=ESCALATED)


def list_for_meeting(ticket: Ticket) -> Ticket:
    """Put on the list for the committee's joint meeting (挂单), where units claim it or are dispatched it."""
    _require(ticket, "list")
    return replace(ticket, state=LISTED)


def dispatch(ticket: Ticket, parts: Sequence[Part]) -> Ticket:
    """Send the ticket to units, one of them the lead; later calls add units to a dispatched ticket."""
    _require(ticket, "dispatch")
    if not parts:
        raise ValidationFailed.field("units", "name at least one unit")
    units = [part.unit_id for part in parts]
    if len(set(units)) != len(units):
        raise ValidationFailed.field("units", "a unit is named twice")
    if any(ticket.part(unit) for unit in units):
        raise Conflict("a unit named already has its part of this ticket", errors={"units": ["already dispatched"]})
    leads = sum(part.lead for part in parts) + (ticket.lead is not None)
    if leads != 1:
        raise ValidationFailed.field("units", "exactly one unit leads the ticket" if not ticket.lead
                                     else "the ticket already has its lead unit")
    fresh = tuple(replace(part, state=PART_DISPATCHED) for part in parts)
    state = ticket.state if ticket.state in (DISPATCHED, IN_PROGRESS) else DISPATCHED
    return replace(ticket, state=state, parts=ticket.parts + fresh)


def claim(ticket: Ticket, *, unit_id: uuid.UUID | None = None, member_id: uuid.UUID | None = None,
          due_at: datetime | None = None) -> Ticket:
    """A unit claims a listed problem as its lead (认领); a party member claims a wish and works on it."""
    _require(ticket, "claim")
    if ticket.kind == WISH:
        if member_id is None or unit_id is not None:
            raise ValidationFailed.field("member_id", "a wish is claimed by a party member, not a unit")
        return replace(ticket, state=IN_PROGRESS, member_id=member_id)
    if unit_id is None or member_id is not None:
        raise ValidationFailed.field("unit_id", "a problem is claimed by a unit, not a member")
    return replace(ticket, state=DISPATCHED, parts=(Part(unit_id, lead=True, due_at=due_at),))


def resolve(ticket: Ticket, unit_id: uuid.UUID | None = None) -> Ticket:
    """A unit resolves its part; the ticket is resolved when its lead does (or the compound or member, alone)."""
    _require(ticket, "resolve")
    if unit_id is None:
        if ticket.parts:
            raise ValidationFailed.field("unit_id", "name the dispatched unit that resolved its part")
        if ticket.state != IN_PROGRESS:
            raise InvalidTransition(f"a {ticket.state} ticket is resolved by the unit it was dispatched to",
                                    errors={"state": [f"is {ticket.state}"]})
        return replace(ticket, state=RESOLVED)
    part = _open_part(ticket, unit_id)
    resolved = _with_part(ticket, replace(part, state=PART_RESOLVED))
    return replace(resolved, state=RESOLVED) if part.lead else resolved


def reroute(ticket: Ticket, parts: Sequence[Part]) -> Ticket:
    """The category changed: the open parts are withdrawn and the ticket goes to the units now responsible.

    Units that already resolved their share keep it; only the work still open moves, with a new lead.
    """
    _require(ticket, "reroute")
    withdrawn = tuple(replace(part, state=PART_WITHDRAWN) if part.open else part for part in ticket.parts)
    return dispatch(replace(ticket, state=DISPATCHED, parts=withdrawn), parts)


def review(ticket: Ticket, *, passed: bool) -> Ticket:
    """The on-site check (回头看): a pass awaits the resident's rating, a fail sends the work back."""
    _require(ticket, "review")
    return replace(ticket, state=REVIEWED) if passed else _reopen(ticket)


def rate(ticket: Ticket, rating: str) -> Ticket:
    """The resident's verdict on the fix: content closes a reviewed ticket, dissatisfied reopens it."""
    _require(ticket, "rate")
    if rating not in RATINGS:
        raise ValidationFailed.field("rating", f"is one of {', '.join(RATINGS)}")
    if rating == DISSATISFIED:
        return _reopen(ticket)
    return replace(_closed(ticket, None), rating=rating)


def close(ticket: Ticket, reason: str | None = None) -> Ticket:
    """Close a reviewed ticket as fixed, or any open one without a fix for a reason; open parts are withdrawn."""
    _require(ticket, "close")
    if reason is None and ticket.state != REVIEWED:
        raise ValidationFailed.field("reason", f"a {ticket.state} ticket is closed without a fix only for a reason: "
                                               f"{', '.join(CLOSE_REASONS)}")
    if reason is not None and reason not in CLOSE_REASONS:
        raise ValidationFailed.field("reason", f"is one of {', '.join(CLOSE_REASONS)}")
    return _closed(ticket, reason)


def _closed(ticket: Ticket, reason: str | None) -> Ticket:
    """However a ticket closes, the units' parts still open are withdrawn with it."""
    parts = tuple(replace(part, state=PART_WITHDRAWN) if part.open else part for part in ticket.parts)
    return replace(ticket, state=CLOSED, parts=parts, close_reason=reason)


def check_merge(duplicate: Ticket, master: Ticket, *, same: bool, same_compound: bool,
                master_merged: bool = False) -> None:
    """A duplicate joins an open master of the same compound; it is closed with the master, as `duplicate`.

    The master is no duplicate itself, so merges never form a loop and one close reaches every duplicate.
    """
    _require(duplicate, "merge")
    if same:
        raise ValidationFailed.field("master_id", "a ticket cannot be merged into itself")
    if not same_compound:
        raise ValidationFailed.field("master_id", "the master ticket is of another compound")
    if master_merged:
        raise ValidationFailed.field("master_id", "the master ticket is itself a duplicate: merge into its master")
    if master.state not in OPEN_STATES:
        raise Conflict("the master ticket is already closed", errors={"master_id": [f"is {master.state}"]})


def check_participants(ticket: Ticket, listed: Sequence[uuid.UUID], recorded: Collection[uuid.UUID]) -> None:
    """Members named at a resolve: each once; a wish's claimer among those credited, since it was their work."""
    if len(set(listed)) != len(listed):
        raise ValidationFailed.field("participants", "a member is named twice")
    if ticket.kind == WISH and ticket.member_id not in {*listed, *recorded}:
        raise ValidationFailed.field("participants", "list the hours the member who claimed the wish gave")


def _reopen(ticket: Ticket) -> Ticket:
    """Back to work: the lead's part to dispatched again, or the compound's or member's own work in progress."""
    lead = ticket.lead
    if lead is None:
        return replace(ticket, state=IN_PROGRESS, rating=None, close_reason=None)
    return replace(_with_part(ticket, replace(lead, state=PART_DISPATCHED)), state=DISPATCHED, rating=None,
                   close_reason=None)


def _open_part(ticket: Ticket, unit_id: uuid.UUID) -> Part:
    part = ticket.part(unit_id)
    if part is None or not part.open:
        raise ValidationFailed.field("unit_id", "this unit has no open part of this ticket")
    return part


def _with_part(ticket: Ticket, changed: Part) -> Ticket:
    return replace(ticket, parts=tuple(changed if part.unit_id == changed.unit_id and part.state != PART_WITHDRAWN
                                       else part for part in ticket.parts))


@dataclass(frozen=True)
class RateMarks:
    """What a move means to the rates (docs/tickets-stats.md)."""

    responded: bool  # the accept stage is answered: the first move out of `submitted`, whichever verb
    resolved: bool  # a fix is made (the ticket enters `resolved`)
    sent_back: bool  # a fix made is undone: a failed review or a dissatisfied resident sends the work back
    # 1 when the move is a dissatisfied rating (only a rating reopens a reviewed or closed ticket), which leaves
    # no rating on the ticket
    dissatisfied: int


def rate_marks(before_state: str, after: Ticket) -> RateMarks:
    finished = (RESOLVED, REVIEWED, CLOSED)
    sent_back = before_state in finished and after.state in _REOPENED
    return RateMarks(responded=before_state == SUBMITTED and after.state != SUBMITTED,
                     resolved=after.state == RESOLVED and before_state != RESOLVED,
                     sent_back=sent_back,
                     dissatisfied=int(sent_back and before_state in (REVIEWED, CLOSED)))


_REOPENED = (DISPATCHED, IN_PROGRESS)


def inconsistencies(ticket: Ticket) -> list[str]:
    """What is wrong with a ticket's state as a whole; the lifecycle never produces one with any."""
    found = []
    if ticket.state in CLOSED_STATES and ticket.open_parts:
        found.append(f"{ticket.state} with an open part")
    live_leads = [p for p in ticket.parts if p.lead and p.state != PART_WITHDRAWN]
    if len(live_leads) > 1:
        found.append("more than one lead")
    if ticket.parts and ticket.state in (DISPATCHED, IN_PROGRESS, RESOLVED, REVIEWED) and not live_leads:
        found.append(f"{ticket.state} without a lead")
    if ticket.state in (RESOLVED, REVIEWED) and live_leads and live_leads[0].state != PART_RESOLVED:
        found.append(f"{ticket.state} while its lead has not resolved")
    if ticket.state == DISPATCHED and (not live_leads or not live_leads[0].open):
        found.append("dispatched without an open lead")
    if ticket.kind == WISH and ticket.parts:
        found.append("a wish dispatched to units")
    if ticket.kind == PROBLEM and ticket.member_id is not None:
        found.append("a problem claimed by a member")
    if ticket.rating is not None and (ticket.state != CLOSED or ticket.close_reason is not None):
        found.append(f"rated while {ticket.state}")
    if ticket.close_reason is not None and ticket.state != CLOSED:
        found.append(f"a close reason while {ticket.state}")
    return found


# --- Dispatch suggestions: which units to send a ticket to, and why ------------------------------------------------
#
# Tickets and registry name categories in two vocabularies: a ticket's category says what went wrong, a resource's
# category what a unit offers. The map below joins them; a code both use (tree_trimming, noise, parking...) means
# the same thing on both sides, so a ticket category missing from the map matches the resource category of its own
# name. Every code on the right is one of registry's published codes (GET /v1/resource-categories), which are never
# renamed.

RESOURCES_FOR_CATEGORY: dict[str, frozenset[str]] = {
    DEFAULT_CATEGORY: frozenset({"community_service"}),  # as registry counts a member's hours on such a ticket
    "facilities": frozenset({"repairs"}),
    "environment": frozenset({"sanitation"}),
    "dispute": frozenset({"dispute_mediation"}),
    # 急事急办: what cannot wait is a fire, an illness or a danger to people.
    FAST_TRACK: frozenset({"fire_safety", "medical", "public_security"}),
}


def resource_categories_for(category: str) -> frozenset[str]:
    """The resource categories (registry's codes) that serve a ticket of `category`."""
    return RESOURCES_FOR_CATEGORY.get(category, frozenset({category}))


PAIRING_ACTIVE = "active"  # registry's pairing state while it is in force


@dataclass(frozen=True)
class Pairing:
    """A unit paired with the ticket's compound (结对包建), as registry last told of it."""

    organization_id: uuid.UUID
    name: str
    state: str
    starts_on: date
    ends_on: date | None = None  # its last day, inclusive; None: open-ended

    def active_on(self, day: date) -> bool:
        return self.state == PAIRING_ACTIVE and self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


@dataclass(frozen=True)
class CommitteeUnit:
    """A unit of the compound's community committee (共建单位); `current` is False once it left."""

    organization_id: uuid.UUID
    name: str
    kind: str | None
    current: bool = True


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str
    categories: tuple[str, ...] = ()  # the resource categories that matched, for `resource_match`


PAIRED = "paired"
RESOURCE_MATCH = "resource_match"
COMMITTEE_UNIT = "committee_unit"
_REASON_TEXT = {
    PAIRED: ("与本小区结对共建，负责本小区", "Paired with the ticket's compound, which it looks after"),
    RESOURCE_MATCH: ("资源清单与诉求类别相符", "Offers resources of the ticket's category"),
    COMMITTEE_UNIT: ("社区大党委共建单位", "A co-building unit of the community's big party committee"),
}


def reason(code: str, categories: Collection[str] = ()) -> Reason:
    zh, en = _REASON_TEXT[code]
    return Reason(code, zh, en, tuple(sorted(categories)))


@dataclass(frozen=True)
class Suggestion:
    organization_id: uuid.UUID
    name: str
    kind: str | None
    rank: int  # 1 is the first to send the ticket to
    reasons: tuple[Reason, ...]


def suggest_units(ticket: Ticket, category: str, today: date, *, pairings: Sequence[Pairing],
                  committee_units: Sequence[CommitteeUnit], offers: Mapping[uuid.UUID, Collection[str]],
                  organizations: Mapping[uuid.UUID, tuple[str, str]] | None = None) -> list[Suggestion]:
    """Units to send the ticket to, best first: the unit paired with its compound, then the committee's units
    whose resources match the category (those matching more of it first), then the committee's other units.

    `offers` are the resource categories each unit offers; `organizations` the units' current names and kinds,
    which win over the copies pairings and committee units carry. A unit that left the committee is no committee
    unit any more; one whose pairing is not in force on `today` is not paired. A unit already holding a part of
    the ticket is left out, since dispatching to it again is refused; one whose part was withdrawn (re-routed
    away) may be suggested again. Ties go by name, then id, so the same read models always give the same order.
    """
    wanted = resource_categories_for(category)
    holding = {part.unit_id for part in ticket.parts if part.state != PART_WITHDRAWN}
    known: dict[uuid.UUID, tuple[str, str | None]] = {}
    paired: set[uuid.UUID] = set()
    for pairing in pairings:
        if pairing.active_on(today):
            paired.add(pairing.organization_id)
            known.setdefault(pairing.organization_id, (pairing.name, None))
    members: set[uuid.UUID] = set()
    for unit in committee_units:
        if unit.current:
            members.add(unit.organization_id)
            known[unit.organization_id] = (unit.name, unit.kind)
    known.update({unit_id: found for unit_id, found in (organizations or {}).items() if unit_id in known})
    ranked = []
    for unit_id in (paired | members) - holding:
        matched = wanted & set(offers.get(unit_id, ()))
        reasons = [reason(PAIRED)] if unit_id in paired else []
        if matched:
            reasons.append(reason(RESOURCE_MATCH, matched))
        if unit_id in members:
            reasons.append(reason(COMMITTEE_UNIT))
        name, kind = known[unit_id]
        key = (unit_id not in paired, not matched, unit_id not in members, -len(matched), name, str(unit_id))
        ranked.append((key, Suggestion(unit_id, name, kind, 0, tuple(reasons))))
    ranked.sort(key=lambda entry: entry[0])
    return [replace(suggestion, rank=rank) for rank, (_, suggestion) in enumerate(ranked, start=1)]


# --- Possible duplicates: tickets of the same compound and category whose text is alike ----------------------------
#
# Alike means sharing character pairs: the Jaccard index of the two texts' sets of adjacent character pairs
# (bigrams). Chinese has no spaces to split words at, and a pair of characters is about a word, so two reports of
# one broken street lamp share 路灯, 3栋, 不亮... whatever other words they use. Case, spaces and punctuation are
# ignored. On short reports like residents write (tests/unit/test_tickets_suggest_domain.py keeps a few), two of
# one problem in other words scored 0.14-0.35, most above 0.2, and two of different problems at one place up to
# 0.19 (they share the place: 3栋2单元...), of no shared place 0-0.05. The two overlap, so no threshold parts them
# all: 0.2 keeps most true pairs and few false ones; a caller of GET .../similar may ask for another `min_score`.

SIMILAR_WINDOW_DAYS = 30  # days either side of a ticket's submission its duplicates are looked for in, by default
SIMILARITY_THRESHOLD = 0.2  # least score of a possible duplicate
# Of the description compared: the problem is told at its start, and a text's bigrams cost ~0.4 µs a character,
# at every intake for each candidate.
SIMILAR_TEXT_CHARS = 200
SIMILAR_ON_INTAKE = 3  # possible duplicates named in the answer to a submission


def ticket_text(title: str, description: str) -> str:
    """What two tickets are compared by: the title and the start of the description."""
    return f"{title}\n{description[:SIMILAR_TEXT_CHARS]}"


_NOT_ALNUM = re.compile(r"[\W_]+")


# Kept per text: every intake compares the compound's few recent tickets of the category, the same ones again and
# again, and reading a text's bigrams is most of what a comparison costs.
@functools.lru_cache(maxsize=4096)
def bigrams(text: str) -> frozenset[str]:
    """The pairs of adjacent letters and digits of `text`, case and everything else ignored; a text of one such
    character is that character."""
    kept = _NOT_ALNUM.sub("", text.casefold())
    if len(kept) < 2:
        return frozenset(kept)
    return frozenset(kept[i:i + 2] for i in range(len(kept) - 1))


def similarity(a: str, b: str) -> float:
    """The Jaccard index of the two texts' bigrams, 0 (nothing shared) to 1 (the same pairs)."""
    return _jaccard(bigrams(a), bigrams(b))


def _jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    return len(left & right) / len(left | right) if left and right else 0.0


@dataclass(frozen=True)
class Candidate:
    """A ticket another may duplicate: what ranking looks at (its text, state and time), and what a caller shows."""

    id: uuid.UUID
    state: str
    text: str  # ticket_text() of it
    created_at: datetime
    title: str = ""
    master_id: uuid.UUID | None = None  # when it is itself a duplicate: merge into this one instead


@dataclass(frozen=True)
class Alike:
    ticket: Candidate
    score: float


def possible_duplicates(text: str, candidates: Iterable[Candidate], *,
                        threshold: float = SIMILARITY_THRESHOLD) -> list[Alike]:
    """The tickets of `candidates` whose text is alike enough: open ones first (a duplicate merges into an open
    master), then the most alike, then the newest, then by id."""
    mine = bigrams(text)
    found = []
    for ticket in candidates:
        score = _jaccard(mine, bigrams(ticket.text))
        if score >= threshold:
            found.append(Alike(ticket, round(score, 3)))
    found.sort(key=lambda alike: (alike.ticket.state not in OPEN_STATES, -alike.score,
                                  -alike.ticket.created_at.timestamp(), str(alike.ticket.id)))
    return found
# --- Stages and the clock ---------------------------------------------------------------------------------------
#
# Each state belongs to at most one stage. A stage's deadline runs from the move that entered it; moves within a
# stage (accepted → escalated → listed, another unit added to a dispatch) keep it, so blowing the whistle buys the
# compound no time. A ticket the compound or a member works on itself has one deadline; dispatched work has one per
# unit's part, and the clock watches each.

_STAGE_OF = {SUBMITTED: ACCEPT, ACCEPTED: DISPATCH, ESCALATED: DISPATCH, LISTED: DISPATCH, DISPATCHED: RESOLVE,
             IN_PROGRESS: RESOLVE}


def stage_of(state: str) -> str | None:
    """The stage a ticket in `state` is in; None once the work is done or the ticket is closed."""
    return _STAGE_OF.get(state)


def stage_entered(before: str, after: str) -> str | None:
    """The stage a move from `before` to `after` starts, whose deadline runs from the move; None if it starts none.

    Work sent back after its resolution (a failed review, a dissatisfied resident) starts its stage again.
    """
    stage = stage_of(after)
    return stage if stage is not None and stage != stage_of(before) else None


def remind_at(started_at: datetime, due_at: datetime, percent: int) -> datetime | None:
    """When to say a deadline is near: when `percent` of the time from `started_at` to `due_at` is left."""
    if percent <= 0 or due_at <= started_at:
        return None
    return due_at - (due_at - started_at) * percent / 100


@dataclass(frozen=True)
class Watch:
    """A deadline the clock watches: the ticket's own in its stage, or one unit's part of dispatched work."""

    due_at: datetime
    remind_at: datetime | None = None
    overdue: bool = False
    reminded: bool = False
    unit_id: uuid.UUID | None = None  # None: the ticket's own deadline


def watched(stage: str | None, own: Watch, open_parts: Sequence[Watch]) -> tuple[Watch, ...]:
    """What the clock watches in a stage: the units' parts of dispatched work, else the ticket's own deadline."""
    if stage is None:
        return ()
    if stage == RESOLVE and open_parts:
        return tuple(open_parts)
    return (own,)


def next_check(watches: Sequence[Watch]) -> datetime | None:
    """The next instant the clock has something to do: a reminder to send, or a deadline to pass."""
    instants = [w.due_at for w in watches if not w.overdue]
    instants += [w.remind_at for w in watches if w.remind_at is not None and not w.reminded and not w.overdue]
    return min(instants, default=None)


@dataclass(frozen=True)
class Check:
    """What the clock finds at `now`: reminders to send, reminders too late to send, and deadlines passed."""

    due_soon: tuple[Watch, ...]
    too_late: tuple[Watch, ...]  # their deadline passed before the reminder went: the overdue says it all
    lapsed: tuple[Watch, ...]


def check(watches: Sequence[Watch], now: datetime) -> Check:
    """Each reminder and each deadline is acted on once: the caller marks what this returns."""
    reminders = [w for w in watches if w.remind_at is not None and w.remind_at <= now and not w.reminded
                 and not w.overdue]
    return Check(due_soon=tuple(w for w in reminders if now < w.due_at),
                 too_late=tuple(w for w in reminders if w.due_at <= now),
                 lapsed=tuple(w for w in watches if not w.overdue and w.due_at <= now))


def rearm_reopened(before: Ticket, after: Ticket, due_at: datetime) -> Ticket:
    """A unit's part sent back to work (a failed review, a dissatisfied resident) runs a fresh deadline from now."""
    def reopened(position: int, part: Part) -> bool:
        return part.open and position < len(before.parts) and not before.parts[position].open

    return replace(after, parts=tuple(replace(part, due_at=due_at) if reopened(position, part) else part
                                      for position, part in enumerate(after.parts)))


# --- Escalation: an overdue dispatched ticket goes to the committee's rotating chair and its convenor -------------

@dataclass(frozen=True)
class ChairTerm:
    """A term of the committee's rotating chair (轮值主席) as rotation told of it; a handover starts a new one."""

    committee_id: uuid.UUID
    term_index: int
    part: int  # the chairs a handover split the term into, 0 for the first
    starts_at: datetime
    ends_at: datetime | None = None
    organization_id: uuid.UUID | None = None  # None: a term without a chair (a gap in the plan)
    organization_name: str | None = None


def supersedes(incoming: tuple[int, int], kept: tuple[int, int] | None) -> bool:
    """Whether news of a chair's term (its index and part) replaces what is kept of the same window."""
    return kept is None or incoming >= kept


def current_chair(terms: Sequence[ChairTerm], now: datetime) -> ChairTerm | None:
    """The chair sitting at `now`: the term begun last (the later part, after a handover) at or before `now`.

    A term past its end stays the chair until rotation tells of the next one; the event says when it ended.
    """
    begun = [term for term in terms if term.starts_at <= now]
    return max(begun, key=lambda term: (term.starts_at, term.term_index, term.part), default=None)


@dataclass(frozen=True)
class CommitteeContact:
    """A community's big party committee and its convenor, as registry told of them."""

    committee_id: uuid.UUID
    name: str
    convenor_name: str | None = None
    convenor_member_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Escalation:
    """Whom an overdue dispatched ticket goes to: the committee's current chair unit and its convenor."""

    committee_id: uuid.UUID
    committee_name: str
    chair_unit_id: uuid.UUID | None
    chair_unit_name: str | None
    chair_term_index: int | None
    chair_term_ends_at: datetime | None
    convenor_name: str | None
    convenor_member_id: uuid.UUID | None


def escalates(stage: str | None, overdue_units: Collection[uuid.UUID]) -> bool:
    """Only dispatched work is escalated: the units the committee sent did not finish in time."""
    return stage == RESOLVE and bool(overdue_units)


def escalation_to(committee: CommitteeContact | None, terms: Sequence[ChairTerm], now: datetime) -> Escalation | None:
    """The chair sitting now and the convenor of the ticket's community's committee; None if no committee is known."""
    if committee is None:
        return None
    chair = current_chair(terms, now)
    return Escalation(
        committee_id=committee.committee_id, committee_name=committee.name,
        chair_unit_id=None if chair is None else chair.organization_id,
        chair_unit_name=None if chair is None else chair.organization_name,
        chair_term_index=None if chair is None else chair.term_index,
        chair_term_ends_at=None if chair is None else chair.ends_at,
        convenor_name=committee.convenor_name, convenor_member_id=committee.convenor_member_id)
