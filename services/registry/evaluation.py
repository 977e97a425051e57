"""The yearly evaluation of party members (双向评价): what a member did in a year, for their employer.

Plain Python. A member's facts for a year (check-ins, pledges, service minutes by category and state,
how many activities and tickets they took part in) become one evaluation; an employer's table is one
evaluation per member. Instants are compared as UTC; a year runs from 1 January to 1 January in the
district's time zone, so a pledge fulfilled at 07:00 Beijing time on 1 January counts for the new year.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from linli.services.registry.domain import PLEDGE_FULFILLED, PLEDGE_OPEN, RESOURCE_CATEGORIES
from linli.shared.errors import ValidationFailed

# The years an evaluation may be asked for: the scheme (在职党员进社区) is younger than 2000.
FIRST_YEAR = 2000
LAST_YEAR = 2100
# One employer's table is answered whole; past this many members it would be too big a response to build
# and download in one go, and no employer of a district comes near it.
MAX_TABLE_ROWS = 5000

# What counts of a service record (the states and sources of ServiceRecord).
RECORD_VERIFIED = "verified"
RECORD_LOGGED = "logged"
SOURCE_ACTIVITY = "activity"
SOURCE_TICKET = "ticket"

# A member's check-in standing at the end of the year.
STANDING_CONFIRMED = "confirmed"  # checked in at a compound's branch
STANDING_SUBMITTED = "submitted"  # reported, waiting for the branch
STANDING_NONE = "none"
STANDINGS = (STANDING_CONFIRMED, STANDING_SUBMITTED, STANDING_NONE)

_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Year:
    """A calendar year in a district's time zone: [starts_at, ends_at) as UTC instants, and its days."""

    number: int
    starts_at: datetime
    ends_at: datetime

    @property
    def first_day(self) -> date:
        return date(self.number, 1, 1)

    @property
    def last_day(self) -> date:
        return date(self.number, 12, 31)

    def holds(self, at: datetime | None) -> bool:
        return at is not None and self.starts_at <= at < self.ends_at


def year_of(number: int, time_zone: str) -> Year:
    """The year `number` as the district lives it; outside FIRST_YEAR..LAST_YEAR is a bad `year`."""
    check_year(number)
    zone = ZoneInfo(time_zone)

    def new_year(of: int) -> datetime:
        return datetime.combine(date(of, 1, 1), time(0), tzinfo=zone).astimezone(UTC)

    return Year(number, new_year(number), new_year(number + 1))


def check_year(number: int) -> None:
    if not FIRST_YEAR <= number <= LAST_YEAR:
        raise ValidationFailed.field("year", f"between {FIRST_YEAR} and {LAST_YEAR}")


def check_table_size(count: int) -> None:
    """An employer's table is answered complete or not at all, never silently cut."""
    if count > MAX_TABLE_ROWS:
        raise ValidationFailed.field(
            "organization_id", f"this organization has more than {MAX_TABLE_ROWS} members to evaluate, more "
                               "than one table holds; evaluate its members one by one (member_id)")


# --- Check-ins -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckInFact:
    """One check-in as its timestamps tell its story: submitted, then perhaps decided, then perhaps ended.

    `decided_at` is set when the branch confirmed or rejected it (`rejected` says which); a check-in
    ended while still submitted has none.
    """

    compound_id: uuid.UUID
    submitted_at: datetime
    decided_at: datetime | None = None
    rejected: bool = False
    ended_at: datetime | None = None

    @property
    def confirmed_at(self) -> datetime | None:
        return None if self.rejected else self.decided_at

    def confirmed_at_instant(self, at: datetime) -> bool:
        """In force at `at`: confirmed before it and not yet ended."""
        confirmed = self.confirmed_at
        return confirmed is not None and confirmed < at and (self.ended_at is None or self.ended_at >= at)

    def pending_at(self, at: datetime) -> bool:
        """Waiting for the branch at `at`: submitted before it, neither decided nor ended yet."""
        return (self.submitted_at < at and (self.decided_at is None or self.decided_at >= at)
                and (self.ended_at is None or self.ended_at >= at))

    def in_force_during(self, year: Year) -> bool:
        confirmed = self.confirmed_at
        return (confirmed is not None and confirmed < year.ends_at
                and (self.ended_at is None or self.ended_at >= year.starts_at))


@dataclass(frozen=True)
class CheckInStanding:
    status_at_year_end: str
    compound_id: uuid.UUID | None  # where the member stood checked in (or waiting) at the year's end
    checked_in_during_year: bool  # a confirmed check-in was in force some time in the year
    confirmed_in_year: int  # how many check-ins the branches confirmed in the year (a move counts again)


def check_in_standing(facts: Iterable[CheckInFact], year: Year) -> CheckInStanding:
    """Where a member stood at the end of `year` (for the current year: now), and what happened in it."""
    facts = list(facts)
    end = year.ends_at
    confirmed = [f for f in facts if f.confirmed_at_instant(end)]
    pending = [f for f in facts if f.pending_at(end)]
    if confirmed:
        status, at = STANDING_CONFIRMED, max(confirmed, key=lambda f: f.confirmed_at or end).compound_id
    elif pending:
        status, at = STANDING_SUBMITTED, max(pending, key=lambda f: f.submitted_at).compound_id
    else:
        status, at = STANDING_NONE, None
    return CheckInStanding(
        status_at_year_end=status,
        compound_id=at,
        checked_in_during_year=any(f.in_force_during(year) for f in facts),
        confirmed_in_year=sum(1 for f in facts if year.holds(f.confirmed_at)),
    )


# --- Pledges ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PledgeFact:
    id: uuid.UUID
    text: str
    made_at: datetime
    fulfilled_at: datetime | None = None

    def open_at(self, at: datetime) -> bool:
        return self.made_at < at and (self.fulfilled_at is None or self.fulfilled_at >= at)

    def alive_during(self, year: Year) -> bool:
        """Made before the year ended and not fulfilled before it began."""
        return self.made_at < year.ends_at and (self.fulfilled_at is None or self.fulfilled_at >= year.starts_at)


@dataclass(frozen=True)
class PledgeItem:
    id: uuid.UUID
    text: str
    made_at: datetime
    fulfilled_at: datetime | None
    status_at_year_end: str


@dataclass(frozen=True)
class PledgeSummary:
    made: int  # made during the year
    fulfilled: int  # fulfilled during the year, whenever made
    open_at_year_end: int  # made by the year's end and not fulfilled by then
    items: tuple[PledgeItem, ...]  # every pledge open at some time of the year, oldest first


def pledge_summary(facts: Iterable[PledgeFact], year: Year) -> PledgeSummary:
    alive = sorted((f for f in facts if f.alive_during(year)), key=lambda f: (f.made_at, str(f.id)))
    items = tuple(PledgeItem(f.id, f.text, f.made_at, f.fulfilled_at,
                             PLEDGE_OPEN if f.open_at(year.ends_at) else PLEDGE_FULFILLED) for f in alive)
    return PledgeSummary(
        made=sum(1 for f in alive if year.holds(f.made_at)),
        fulfilled=sum(1 for f in alive if year.holds(f.fulfilled_at)),
        open_at_year_end=sum(1 for item in items if item.status_at_year_end == PLEDGE_OPEN),
        items=items,
    )


# --- Hours of service ------------------------------------------------------------------------------------

def hours(minutes: int) -> Decimal:
    """Minutes as hours to the nearest hundredth: 20 minutes are 0.33 h, 50 are 0.83 h, 90 are 1.50 h."""
    return (Decimal(minutes) / 60).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MinutesFact:
    """Minutes served in the year in one category, in one state (a sum over records, or one record)."""

    category: str
    state: str
    minutes: int


@dataclass(frozen=True)
class ServiceTime:
    """Verified minutes by category (in `category_order`), their total, and minutes still to be verified.

    Totals are summed from minutes, then turned into hours once: the total's hours may differ by a
    hundredth from the sum of the rounded hours of the categories.
    """

    by_category: tuple[tuple[str, int], ...]
    total_minutes: int
    unverified_minutes: int

    @property
    def total_hours(self) -> Decimal:
        return hours(self.total_minutes)

    @property
    def unverified_hours(self) -> Decimal:
        return hours(self.unverified_minutes)

    def minutes_in(self, category: str) -> int:
        return dict(self.by_category).get(category, 0)


def category_order(codes: Iterable[str]) -> list[str]:
    """Categories as the suite's vocabulary lists them; codes outside it (older ones) after, by code."""
    codes = set(codes)
    known = [code for code in RESOURCE_CATEGORIES if code in codes]
    return known + sorted(codes - set(RESOURCE_CATEGORIES))


def service_time(facts: Iterable[MinutesFact]) -> ServiceTime:
    """Only verified records count as service given; logged ones waiting for a check are shown apart."""
    verified: dict[str, int] = {}
    unverified = 0
    for fact in facts:
        if fact.state == RECORD_VERIFIED:
            verified[fact.category] = verified.get(fact.category, 0) + fact.minutes
        elif fact.state == RECORD_LOGGED:
            unverified += fact.minutes
    by_category = tuple((code, verified[code]) for code in category_order(verified) if verified[code])
    return ServiceTime(by_category, sum(minutes for _, minutes in by_category), unverified)


# --- One member, and an employer's table -----------------------------------------------------------------

@dataclass(frozen=True)
class MemberFacts:
    """What is known of a member for one year; activities and tickets are distinct ones with verified service."""

    member_id: uuid.UUID
    name: str
    phone: str
    status: str
    membership: str
    check_ins: Sequence[CheckInFact] = ()
    pledges: Sequence[PledgeFact] = ()
    minutes: Sequence[MinutesFact] = ()
    activities: int = 0
    tickets: int = 0


@dataclass(frozen=True)
class Evaluation:
    member_id: uuid.UUID
    name: str
    phone: str
    status: str
    membership: str
    check_in: CheckInStanding
    pledges: PledgeSummary
    service: ServiceTime
    activities: int
    tickets: int


def evaluate(facts: MemberFacts, year: Year) -> Evaluation:
    return Evaluation(
        member_id=facts.member_id, name=facts.name, phone=facts.phone, status=facts.status,
        membership=facts.membership,
        check_in=check_in_standing(facts.check_ins, year),
        pledges=pledge_summary(facts.pledges, year),
        service=service_time(facts.minutes),
        activities=facts.activities,
        tickets=facts.tickets,
    )


def table_categories(evaluations: Iterable[Evaluation]) -> list[str]:
    """The categories any member of the table served in: the table's hours columns."""
    return category_order(code for evaluation in evaluations for code, _ in evaluation.service.by_category)
