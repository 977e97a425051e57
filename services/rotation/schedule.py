"""Who chairs which term: the rotating chair's plan, made fairly around what already happened.

Plain Python, like domain.py: the use cases load the roster, the overrides, the accepted swaps
and the stored terms, call `plan`, and store the difference.

The rules, in the order they decide a term that no override fixes:
- only a unit that is a member for the whole term and not marked unavailable on any of its days
  may chair it (so a unit that leaves is taken out of every term from its leaving day on);
- no unit chairs twice in a row while another could, also not right before a term an override gives it;
- a unit whose swapped term comes within the next cycle waits for it (a substitute chairs out of turn);
- the unit that waited longest goes first: since the end of its last term, or since it (re)joined,
  but never since before the rotation started or its order was last changed (so a new order takes
  effect at once, and the first cycle follows the order);
- ties go by the order: the explicit one, else the order units joined in.
Every unit thereby chairs once per cycle (any run of as many terms as there are eligible units), a
skipped unit keeps its place at the head of the queue, and a newcomer queues from the day it joined.

Terms that have started are kept as they are, except one: when the sitting chair leaves, its term
is cut on the leaving day and the next unit takes over the rest (a handover); a running term
without a chair is likewise handed to the first unit that can take it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import combinations

from linli.services.rotation.domain import add_months, local_day, local_midnight, term_window
from linli.shared.errors import ValidationFailed

JOIN_ORDER = "join_order"
EXPLICIT = "explicit"
ORDER_POLICIES = (JOIN_ORDER, EXPLICIT)

# Why a term has the chair it has.
TURN = "turn"
SUBSTITUTE = "substitute"
SWAP = "swap"
HANDOVER = "handover"
GAP = "gap"
REASONS = (TURN, SUBSTITUTE, SWAP, HANDOVER, GAP)

# Terms are materialized at least this far ahead, and at least this many of them.
HORIZON_MONTHS = 24
HORIZON_TERMS = 8

Unit = Hashable


@dataclass(frozen=True)
class Rules:
    """A rotation as the planner sees it."""

    starts_on: date
    term_months: int
    time_zone: str
    order_policy: str = JOIN_ORDER
    order: tuple[Unit, ...] = ()
    # When the order or policy last changed: waiting from before then counts as equal.
    order_since: datetime | None = None


@dataclass(frozen=True)
class Stint:
    """A unit's membership of the committee, from `joined_on` until the day before `left_on`."""

    unit: Unit
    joined_on: date
    left_on: date | None = None

    def covers(self, first: date, end: date) -> bool:
        """A member on every day of [first, end)."""
        return self.joined_on <= first and (self.left_on is None or self.left_on >= end)

    def member_on(self, day: date) -> bool:
        return self.joined_on <= day and (self.left_on is None or day < self.left_on)


@dataclass(frozen=True)
class Unavailable:
    """A unit that cannot chair on the days [from_on, to_on)."""

    unit: Unit
    from_on: date
    to_on: date

    def overlaps(self, first: date, end: date) -> bool:
        return self.from_on < end and first < self.to_on


@dataclass(frozen=True)
class Pin:
    """A term given to a unit by a substitute override or an accepted swap, whatever the turn says."""

    index: int
    unit: Unit
    reason: str
    source: Hashable | None = None


@dataclass(frozen=True)
class PlannedTerm:
    """Term `index` of the calendar; `part` counts the chairs a handover split it into (0 for the first)."""

    index: int
    part: int
    unit: Unit | None
    starts_at: datetime
    ends_at: datetime
    reason: str = TURN
    source: Hashable | None = None

    @property
    def key(self) -> tuple[int, int]:
        return self.index, self.part

    def same_chair(self, other: PlannedTerm) -> bool:
        """The same term for the same unit over the same time (why it has that chair may differ)."""
        return (self.index, self.part, self.unit, self.starts_at, self.ends_at) == (
            other.index, other.part, other.unit, other.starts_at, other.ends_at)


@dataclass(frozen=True)
class Handover:
    """The sitting term cut short (`cut.ends_at`; equal to its start if it is dropped whole) and who took over."""

    was: PlannedTerm
    cut: PlannedTerm
    successor: PlannedTerm

    @property
    def dropped(self) -> bool:
        return self.cut.ends_at <= self.cut.starts_at


@dataclass(frozen=True)
class Plan:
    terms: tuple[PlannedTerm, ...]
    gaps: tuple[PlannedTerm, ...]
    dropped_pins: tuple[Pin, ...]
    handover: Handover | None


# --- Checks of what callers ask for ------------------------------------------------------------------------

def check_policy(policy: str, order: Sequence[Unit], current: Iterable[Unit]) -> None:
    """An explicit order names current units, each once; the join-order policy takes none."""
    units = set(current)
    if len(set(order)) != len(order):
        raise ValidationFailed.field("order", "names a unit twice")
    strangers = [unit for unit in order if unit not in units]
    if strangers:
        raise ValidationFailed.field("order", f"{strangers[0]} is not a current unit of the committee")
    if policy == EXPLICIT and not order:
        raise ValidationFailed.field("order", "an explicit order names at least one unit")
    if policy == JOIN_ORDER and order:
        raise ValidationFailed.field("order", "the join_order policy takes no explicit order")


def check_period(from_on: date, to_on: date) -> None:
    if to_on <= from_on:
        raise ValidationFailed.field("to", "must be after from (the first day the unit can chair again)")


# --- The plan -----------------------------------------------------------------------------------------------

class _Roster:
    def __init__(self, stints: Sequence[Stint], unavailable: Iterable[Unavailable]) -> None:
        self.stints: dict[Unit, list[Stint]] = {}
        for stint in stints:
            self.stints.setdefault(stint.unit, []).append(stint)
        self.unavailable: dict[Unit, list[Unavailable]] = {}
        for period in unavailable:
            self.unavailable.setdefault(period.unit, []).append(period)
        # Ties go by the order units first joined in (then as given), so the plan never depends on hashing.
        self.join_rank = {unit: rank for rank, unit in enumerate(sorted(
            self.stints, key=lambda u: (min(s.joined_on for s in self.stints[u]), _first(stints, u))))}

    def eligible(self, first: date, end: date) -> list[Unit]:
        return [unit for unit, stints in self.stints.items()
                if any(s.covers(first, end) for s in stints)
                and not any(p.overlaps(first, end) for p in self.unavailable.get(unit, ()))]

    def stint_on(self, unit: Unit, day: date) -> Stint | None:
        return next((s for s in self.stints.get(unit, ()) if s.member_on(day)), None)

    def change_days(self, after: date, before: date) -> list[date]:
        """Days in (after, before) on which some unit may become able to chair."""
        days = {s.joined_on for stints in self.stints.values() for s in stints}
        days |= {p.to_on for periods in self.unavailable.values() for p in periods}
        return sorted(day for day in days if after < day < before)


def _first(stints: Iterable[Stint], unit: Unit) -> int:
    return next(i for i, s in enumerate(stints) if s.unit == unit)


class _Queue:
    """Who waited longest, as of the terms chaired so far."""

    def __init__(self, rules: Rules, roster: _Roster, chaired: Iterable[PlannedTerm]) -> None:
        self.rules, self.roster = rules, roster
        start = local_midnight(rules.starts_on, rules.time_zone)
        self.epoch = max(start, rules.order_since) if rules.order_since else start
        self.last_end: dict[Unit, datetime] = {}
        for term in chaired:
            self.chaired(term)
        ranked = [u for u in rules.order if u in roster.stints] if rules.order_policy == EXPLICIT else []
        self.position = {unit: rank for rank, unit in enumerate(ranked)}
        for unit in sorted(roster.stints, key=roster.join_rank.__getitem__):
            self.position.setdefault(unit, len(self.position))

    def chaired(self, term: PlannedTerm) -> None:
        if term.unit is not None and (term.unit not in self.last_end or term.ends_at > self.last_end[term.unit]):
            self.last_end[term.unit] = term.ends_at

    def waiting_since(self, unit: Unit, day: date) -> datetime:
        since = self.epoch
        stint = self.roster.stint_on(unit, day)
        if stint is not None:
            since = max(since, local_midnight(stint.joined_on, self.rules.time_zone))
        if unit in self.last_end:
            since = max(since, self.last_end[unit])
        return since

    def choose(self, candidates: Sequence[Unit], day: date, *, prev: Unit | None, next_: Unit | None,
               reserved: set[Unit]) -> Unit:
        """The unit to chair between `prev` and `next_` (the chair of the term after, when an override fixes it)."""
        several = len(candidates) > 1
        return min(candidates, key=lambda u: (several and u == prev, u == next_, u in reserved,
                                              self.waiting_since(u, day), self.position[u]))


def plan(rules: Rules, stints: Sequence[Stint], kept: Iterable[PlannedTerm], *, now: datetime,
         pins: Iterable[Pin] = (), unavailable: Iterable[Unavailable] = ()) -> Plan:
    """Every term from the first to the horizon: the started ones kept, the rest planned anew.

    `kept` are the terms stored so far (cancelled ones left out): those that have started by `now`
    stay as they are but for a handover; the later ones are only what the last plan said and are
    planned again. Pins of started terms are moot; pins whose unit cannot chair their term are
    returned in `dropped_pins` and the term is planned as if they did not exist.
    """
    tz = rules.time_zone
    roster = _Roster(list(stints), unavailable)
    frozen = sorted((t for t in kept if t.starts_at <= now), key=lambda t: t.key)
    pinned: dict[int, Pin] = {}
    for pin in pins:
        pinned.setdefault(pin.index, pin)

    def window(index: int) -> tuple[datetime, datetime]:
        return term_window(rules.starts_on, rules.term_months, index, tz)

    def can_chair(unit: Unit, start: datetime, end: datetime) -> bool:
        return unit in roster.eligible(local_day(start, tz), local_day(end, tz))

    cut_at = _handover_instant(frozen[-1], window(frozen[-1].index)[1], roster, tz, now) if frozen else None
    sitting = frozen[-1] if frozen else None
    if sitting is not None and cut_at is not None:
        frozen[-1] = replace(sitting, ends_at=cut_at)
    queue = _Queue(rules, roster, [t for t in frozen if t.ends_at > t.starts_at])

    terms = [t for t in frozen if t.ends_at > t.starts_at]
    dropped: list[Pin] = []
    prev = terms[-1].unit if terms else None
    if frozen:
        index, part, cursor = frozen[-1].index, frozen[-1].part + 1, frozen[-1].ends_at
    else:
        index, part, cursor = 0, 0, window(0)[0]
    horizon = local_midnight(add_months(local_day(now, tz), HORIZON_MONTHS), tz)
    ahead = 0
    while True:
        start, end = window(index)
        if cursor >= end:
            index, part = index + 1, 0
            continue
        start = max(start, cursor)
        first_day, end_day = local_day(start, tz), local_day(end, tz)
        eligible = roster.eligible(first_day, end_day)
        pin = pinned.get(index) if part == 0 and start > now else None
        if pin is not None and pin.unit not in eligible:
            dropped.append(pin)
            pin = None
        if pin is not None:
            term = PlannedTerm(index, part, pin.unit, start, end, pin.reason, pin.source)
        elif not eligible:
            term = PlannedTerm(index, part, None, start, end, GAP)
        else:
            honoured = {j: pinned[j] for j in range(index + 1, index + len(eligible))
                        if j in pinned and can_chair(pinned[j].unit, *window(j))}
            following = honoured.get(index + 1)
            # A swapped term is the unit's turn moved, so it is not given another before it; a substitute
            # chairs out of turn and keeps its own.
            unit = queue.choose(eligible, first_day, prev=prev, next_=following.unit if following else None,
                                reserved={pin.unit for pin in honoured.values() if pin.reason == SWAP})
            term = PlannedTerm(index, part, unit, start, end, HANDOVER if part > 0 else TURN)
        terms.append(term)
        queue.chaired(term)
        prev, cursor = term.unit, end
        if part == 0 and start > now:
            ahead += 1
        index, part = index + 1, 0
        if ahead >= HORIZON_TERMS and end >= horizon:
            break

    new = terms[len([t for t in frozen if t.ends_at > t.starts_at]):]
    handover = None
    if sitting is not None and cut_at is not None:
        handover = Handover(sitting, frozen[-1], new[0])
    gaps = tuple(t for t in new if t.unit is None)
    return Plan(tuple(terms), gaps, tuple(dropped), handover)


def _handover_instant(sitting: PlannedTerm, term_end: datetime, roster: _Roster, tz: str,
                      now: datetime) -> datetime | None:
    """Where the sitting term must be cut: its chair's leaving day, or the day a unit can fill a chairless term.

    Whoever takes over chairs to `term_end`, the end of the calendar's term.
    """
    if sitting.ends_at <= now:
        return None  # it is over: the past never changes
    first, end = local_day(sitting.starts_at, tz), local_day(sitting.ends_at, tz)
    if sitting.unit is not None:
        stint = roster.stint_on(sitting.unit, first)
        if stint is None:
            return sitting.starts_at  # it was no member when the term began: the term goes whole
        if stint.left_on is not None and stint.left_on < end:
            return max(local_midnight(stint.left_on, tz), sitting.starts_at)
        return None
    today = max(first, local_day(now, tz))
    last = local_day(term_end, tz)
    for day in [today, *roster.change_days(today, end)]:
        if roster.eligible(day, last):
            return max(local_midnight(day, tz), sitting.starts_at)
    return None


# --- Fairness -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitShare:
    unit: Unit
    served: int
    scheduled: int

    @property
    def total(self) -> int:
        return self.served + self.scheduled


@dataclass(frozen=True)
class Fairness:
    shares: tuple[UnitShare, ...]
    balance: float
    gaps: tuple[PlannedTerm, ...]


def members_throughout(stints: Iterable[Stint], first: date, end: date) -> list[Unit]:
    """Units that were members on every day of [first, end): the ones whose shares can be compared."""
    seen: dict[Unit, None] = {}
    for stint in stints:
        if stint.covers(first, end):
            seen.setdefault(stint.unit)
    return list(seen)


def fairness(terms: Iterable[PlannedTerm], units: Iterable[Unit], *, start: datetime, end: datetime,
             now: datetime) -> Fairness:
    """Terms starting in [start, end) per unit, served (begun by `now`) and scheduled, and how even they are.

    The balance is the mean over pairs of `units` of fewer ÷ more terms: 1.0 when all chair equally
    (or there is no pair to compare), towards 0 as one chairs far more than another.
    """
    window = [t for t in terms if start <= t.starts_at < end]
    units = list(units)
    compared_units = set(units)
    listed = list(dict.fromkeys(units))
    for term in window:
        if term.unit is not None and term.unit not in listed:
            listed.append(term.unit)
    shares = tuple(UnitShare(unit, sum(1 for t in window if t.unit == unit and t.starts_at <= now),
                             sum(1 for t in window if t.unit == unit and t.starts_at > now)) for unit in listed)
    compared = [s.total for s in shares if s.unit in compared_units]
    ratios = [min(a, b) / max(a, b) if max(a, b) else 1.0 for a, b in combinations(compared, 2)]
    balance = sum(ratios) / len(ratios) if ratios else 1.0
    return Fairness(shares, round(balance, 4), tuple(t for t in window if t.unit is None))
