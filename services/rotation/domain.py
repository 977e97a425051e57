"""Rules of the rotating chair's calendar: where each term starts and ends.

Terms are counted in the committee's local calendar and converted to UTC only at the
end, so a handover stays at local midnight across DST changes (the schedule bug most
reported against on-call tools) instead of drifting by the offset change.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

TERM_MONTHS = (1, 2, 3, 6, 12)
# A term is told ending soon this many days before it ends; its chair's report is due this many days after.
DEFAULT_ENDING_SOON_DAYS, DEFAULT_REPORT_DUE_DAYS = 7, 14
# The only state for now; pausing and ending a rotation may come later.
ACTIVE = "active"


@dataclass(frozen=True)
class Term:
    index: int
    starts_at: datetime
    ends_at: datetime


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` calendar months, clamped to the end of a shorter month (Jan 31 + 1 = Feb 28/29)."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


# Planning asks for the same few hundred midnights over and over.
@functools.lru_cache(maxsize=8192)
def local_midnight(day: date, tz: str) -> datetime:
    """The first instant of `day` in `tz`, in UTC.

    Where a DST change skips midnight (e.g. America/Santiago), fold=0 reads the missing
    wall time with the offset before the change, which is the instant the day begins.
    """
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def term_start_date(starts_on: date, term_months: int, index: int) -> date:
    if term_months not in TERM_MONTHS:
        raise ValueError(f"term_months is one of {TERM_MONTHS}, not {term_months}")
    if index < 0:
        raise ValueError(f"term index starts at 0, not {index}")
    # Always counted from starts_on, never from the previous term, so a clamped
    # Feb 28 does not drag every later term to the 28th.
    return add_months(starts_on, index * term_months)


def term_window(starts_on: date, term_months: int, index: int, tz: str) -> tuple[datetime, datetime]:
    """UTC start and end of term `index` (0-based); a term ends exactly when the next one starts."""
    start = local_midnight(term_start_date(starts_on, term_months, index), tz)
    end = local_midnight(term_start_date(starts_on, term_months, index + 1), tz)
    return start, end


def last_day(ends_at: datetime, tz: str) -> date:
    """The last local day a term covers, given its (exclusive) end instant: a term to Feb 1 00:00 ends on Jan 31."""
    return date.fromordinal(ends_at.astimezone(ZoneInfo(tz)).date().toordinal() - 1)


def local_day(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


def term(starts_on: date, term_months: int, index: int, tz: str) -> Term:
    return Term(index, *term_window(starts_on, term_months, index, tz))


def term_at(starts_on: date, term_months: int, tz: str, at: datetime) -> Term | None:
    """The term running at the instant `at`, or None before the first one starts."""
    if at < local_midnight(starts_on, tz):
        return None
    local = at.astimezone(ZoneInfo(tz)).date()
    months = (local.year - starts_on.year) * 12 + local.month - starts_on.month
    # The month count is right up to one term either way (clamping, day of month); settle it on real bounds.
    index = max(months // term_months, 0)
    while index > 0 and term_window(starts_on, term_months, index, tz)[0] > at:
        index -= 1
    while term_window(starts_on, term_months, index + 1, tz)[0] <= at:
        index += 1
    return term(starts_on, term_months, index, tz)
