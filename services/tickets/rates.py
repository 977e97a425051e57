"""The three rates (三率: response, resolution, satisfaction) and the on-time rate, from a group's counts.

Plain rules: what one ticket counts for (`settled`, `tally`: what the daily tallies add up), what the time asked adds
(`with_pending`), the buckets the exact median is found by, and the rates from a group's counts. What each counts
is defined in docs/tickets-stats.md; stats.py says the same in SQL over many tickets. A rate whose denominator is
zero is None (null), not 0: nothing to judge is not failure.
"""

from __future__ import annotations

import bisect
import statistics
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from linli.services.tickets import domain
from linli.shared.errors import ValidationFailed

# What a rate may be grouped by: registry's levels of the area tree, and the unit leading the work.
GROUPINGS = ("district", "street", "community", "compound", "unit")
DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366 * 5)


@dataclass(frozen=True)
class Counts:
    """A group's counts over the tickets submitted in the period (docs/tickets-stats.md says what each counts)."""

    submitted: int = 0
    duplicates: int = 0
    rejected: int = 0
    open: int = 0
    response_due: int = 0
    responded_in_time: int = 0
    taken_on: int = 0
    resolved: int = 0
    ratings: int = 0
    satisfied: int = 0
    finished: int = 0
    finished_on_time: int = 0
    open_overdue: int = 0


COUNT_NAMES = tuple(f.name for f in fields(Counts))
ZERO = Counts()


def added(*counts: Counts) -> Counts:
    return Counts(**{name: sum(getattr(c, name) for c in counts) for name in COUNT_NAMES})


# --- What a ticket counts for, time aside (the daily tallies) ---------------------------------------------------------
# Two figures depend on the time asked as well as on the ticket: `response_due` takes in a ticket still unanswered
# once its accept deadline passes, `open_overdue` an open ticket once its stage's deadline passes, whether or not
# the clock has told it yet. What a ticket counts for without them ("settled") changes only when the ticket does,
# so it can be tallied as the ticket moves; the rest ("pending") is found at asking, among the few tickets that are
# neither answered nor overdue, or open and not overdue (stats.py). Settled plus pending is exactly the definition
# in docs/tickets-stats.md; stats.py's SQL says the same as `settled` over many rows.


@dataclass(frozen=True)
class Facts:
    """The columns of a ticket its settled counts read."""

    merged: bool
    created_at: datetime
    state: str
    responded_at: datetime | None
    accept_due_at: datetime | None
    dispatch_due_at: datetime | None
    resolve_due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    overdue_at: datetime | None
    rating: str | None
    dissatisfied_ratings: int


FACT_NAMES = tuple(f.name for f in fields(Facts) if f.name != "merged")
_CONTENT = frozenset({domain.SATISFIED, domain.BASICALLY_SATISFIED})


def settled(ticket: Facts) -> Counts:
    """What one ticket adds to its group's counts, but for the pending part of `response_due` and `open_overdue`
    (told here only once answered, or once the clock told the ticket overdue)."""
    counted = not ticket.merged  # a duplicate is counted with its master
    taken_on = counted and ticket.state != domain.REJECTED
    resolved = ticket.resolved_at is not None
    finished = taken_on and (resolved or ticket.state == domain.CLOSED)
    open_ = taken_on and ticket.state in domain.OPEN_STATES and not resolved
    deadline = ticket.resolve_due_at or ticket.dispatch_due_at or ticket.accept_due_at
    ended = ticket.resolved_at or ticket.closed_at
    return Counts(
        submitted=1,
        duplicates=int(ticket.merged),
        rejected=int(counted and ticket.state == domain.REJECTED),
        open=int(open_),
        response_due=int(counted and (ticket.responded_at is not None or ticket.overdue_at is not None)),
        responded_in_time=int(counted and _no_later(ticket.responded_at, ticket.accept_due_at)),
        taken_on=int(taken_on),
        resolved=int(taken_on and resolved),
        ratings=int(ticket.rating is not None) + ticket.dissatisfied_ratings,
        satisfied=int(ticket.rating in _CONTENT),
        finished=int(finished),
        finished_on_time=int(finished and ticket.overdue_at is None and _no_later(ended, deadline)),
        open_overdue=int(open_ and ticket.overdue_at is not None),
    )


def _no_later(moment: datetime | None, deadline: datetime | None) -> bool:
    # As SQL compares: nothing to compare is not on time.
    return moment is not None and deadline is not None and moment <= deadline


def with_pending(counts: Counts, late_unanswered: int, open_past_due: int) -> Counts:
    """The settled counts with what the time asked adds: tickets unanswered past their accept deadline, and open
    tickets past their stage's deadline, that the clock has not told overdue yet."""
    return replace(counts, response_due=counts.response_due + late_unanswered,
                   open_overdue=counts.open_overdue + open_past_due)


# --- Times to resolve, by bucket: the medians of the tallies --------------------------------------------------------
# The tallies keep how many resolved tickets took how long, in buckets 30% wide: bucket 0 under 10 minutes, bucket k
# from RESOLVE_BOUNDS[k - 1] seconds (inclusive) to RESOLVE_BOUNDS[k] (exclusive), the last with no end (past three
# years). The median is then exact: the buckets say which holds the middle rank, and only the times in that bucket
# are read and sorted (stats.py).
RESOLVE_BOUNDS = tuple(round(600 * 1.3 ** k) for k in range(47))
HOURS_NAMES = tuple(f"resolved_in_{k:02d}" for k in range(len(RESOLVE_BOUNDS) + 1))
TALLY_NAMES = COUNT_NAMES + HOURS_NAMES
Tally = tuple[int, ...]  # a ticket's or a group's figures in TALLY_NAMES order
NO_TALLY: Tally = (0,) * len(TALLY_NAMES)


def fresh(ticket: Facts) -> bool:
    """Neither answered nor overdue yet: a ticket just submitted. It is in no tally until it is (intake writes no
    tally), so the rates count it from the tickets, among the few unsettled ones (stats.py)."""
    return (not ticket.merged and ticket.state == domain.SUBMITTED and ticket.responded_at is None
            and ticket.overdue_at is None)


def tally(ticket: Facts) -> Tally:
    """What one ticket adds to its day's tally: its settled counts, and its time to resolve in its bucket; nothing
    while it is fresh."""
    if fresh(ticket):
        return NO_TALLY
    counts = settled(ticket)
    buckets = [0] * len(HOURS_NAMES)
    if counts.resolved:
        buckets[resolve_bucket(seconds_to_resolve(ticket))] = 1
    return (*(getattr(counts, name) for name in COUNT_NAMES), *buckets)


def seconds_to_resolve(ticket: Facts) -> float:
    assert ticket.resolved_at is not None
    return (ticket.resolved_at - ticket.created_at).total_seconds()


def resolve_bucket(seconds: float) -> int:
    return bisect.bisect_right(RESOLVE_BOUNDS, seconds)


def summed(*tallies: Sequence[int]) -> Tally:
    return tuple(map(sum, zip(*tallies, strict=True))) if tallies else NO_TALLY


def difference(after: Tally, before: Tally) -> Tally:
    return tuple(a - b for a, b in zip(after, before, strict=True))


def counts_of(figures: Sequence[int]) -> Counts:
    return Counts(*figures[:len(COUNT_NAMES)])


def median_ranks(histogram: Sequence[int]) -> list[tuple[int, int]]:
    """Where the median's ranks fall (the middle one, or the middle two of an even count): each as its bucket and
    its rank within the bucket (1 = the bucket's shortest time)."""
    total = sum(histogram)
    ranks = [(total + 1) // 2] if total % 2 else [total // 2, total // 2 + 1]
    found = []
    below = 0
    for bucket, count in enumerate(histogram):
        found += [(bucket, rank - below) for rank in ranks if below < rank <= below + count]
        below += count
    return found if total else []


def median_of(middle: Sequence[float]) -> float | None:
    """The median in hours from the time or two times (seconds) at its ranks: their mean, as percentile_cont(0.5)."""
    return hours(sum(middle) / len(middle)) if middle else None


def local_day(moment: datetime, zone: str) -> date:
    """The day a ticket submitted at `moment` is tallied under: its date in `zone` (the one periods are read in)."""
    return moment.astimezone(ZoneInfo(zone)).date()


@dataclass(frozen=True)
class GroupFigures:
    """One group's counts, rates and median time to resolve."""

    id: str | uuid.UUID | None
    name: str | None
    counts: Counts
    median_hours_to_resolve: float | None

    @property
    def response_rate(self) -> float | None:
        return rate(self.counts.responded_in_time, self.counts.response_due)

    @property
    def resolution_rate(self) -> float | None:
        return rate(self.counts.resolved, self.counts.taken_on)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.counts.satisfied, self.counts.ratings)

    @property
    def on_time_rate(self) -> float | None:
        # Open overdue tickets count against it as a late finish does: leaving a ticket open never looks better.
        return rate(self.counts.finished_on_time, self.counts.finished + self.counts.open_overdue)

    def __getattr__(self, name: str) -> Any:
        if name in COUNT_NAMES:
            return getattr(self.counts, name)
        raise AttributeError(name)


RATE_NAMES = ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate")


def rate(numerator: int, denominator: int) -> float | None:
    """numerator ÷ denominator to four places; None when there is nothing to judge."""
    return None if denominator == 0 else round(numerator / denominator, 4)


def median_hours(durations: Iterable[float]) -> float | None:
    """The median of durations in seconds, in hours (the mean of the two middle ones for an even count, as
    PostgreSQL's percentile_cont(0.5) has it); None for none."""
    found = list(durations)
    return None if not found else round(statistics.median(found) / 3600, 2)


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


@dataclass(frozen=True)
class Period:
    """Tickets submitted from `starts_at` (inclusive) to `ends_at` (exclusive)."""

    starts_at: datetime
    ends_at: datetime


def period(starts: date | datetime | None, ends: date | datetime | None, now: datetime, zone: str) -> Period:
    """The period asked: a day means its midnight in the suite's time zone (so `to` a day excludes that day);
    without `to`, up to now; without `from`, DEFAULT_PERIOD before `to`."""
    ends_at = instant(ends, zone, "to") if ends is not None else now.astimezone(UTC)
    try:
        starts_at = instant(starts, zone) if starts is not None else ends_at - DEFAULT_PERIOD
    except OverflowError:
        # `to` within DEFAULT_PERIOD of year 1's start.
        raise ValidationFailed.field("from", "out of range") from None
    if starts_at >= ends_at:
        raise ValidationFailed.field("from", "must come before `to`")
    if ends_at - starts_at > MAX_PERIOD:
        raise ValidationFailed.field("from", "a period is at most five years")
    return Period(starts_at, ends_at)


def instant(value: date | datetime, zone: str, field: str = "from") -> datetime:
    """A day's midnight in `zone`, or the time given, in UTC; 422 naming `field` when it has no UTC instant (the
    first hours of year 1 east of UTC, the last of 9999 west of it)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationFailed.field(field, "a time needs its offset (or give a day)")
        moment = value
    else:
        moment = datetime.combine(value, time(), ZoneInfo(zone))
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationFailed.field(field, "out of range") from None


def figures(counts: Mapping[Any, Counts], names: Mapping[Any, str], medians: Mapping[Any, float | None]
            ) -> list[GroupFigures]:
    """Each group's counts as its figures, by name then id; unnamed groups last."""
    found = [GroupFigures(group, names.get(group), figures, medians.get(group)) for group, figures in counts.items()]
    return sorted(found, key=lambda g: (g.name is None, g.name or "", str(g.id)))
