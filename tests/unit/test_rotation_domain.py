from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from linli.services.rotation.domain import TERM_MONTHS, add_months, last_day, term_at, term_window


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_monthly_terms_start_at_shanghai_midnight_and_chain():
    assert term_window(date(2024, 1, 15), 1, 0, "Asia/Shanghai") == (utc(2024, 1, 14, 16), utc(2024, 2, 14, 16))
    assert term_window(date(2024, 1, 15), 1, 1, "Asia/Shanghai") == (utc(2024, 2, 14, 16), utc(2024, 3, 14, 16))


def test_quarterly_terms_span_three_months():
    assert term_window(date(2024, 1, 1), 3, 2, "Asia/Shanghai") == (utc(2024, 6, 30, 16), utc(2024, 9, 30, 16))


def test_month_end_is_clamped_and_later_terms_return_to_the_31st():
    starts = [term_window(date(2024, 1, 31), 1, k, "Asia/Shanghai")[0] for k in (1, 2, 3, 13)]
    local = [s.astimezone(ZoneInfo("Asia/Shanghai")).date() for s in starts]
    assert local == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30), date(2025, 2, 28)]
    assert add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert add_months(date(2023, 11, 30), 6) == date(2024, 5, 30)
    assert add_months(date(2024, 12, 31), -1) == date(2024, 11, 30)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Asia/Shanghai"])
def test_handover_stays_at_local_midnight_all_year(tz):
    zone = ZoneInfo(tz)
    for k in range(24):
        start, end = term_window(date(2024, 1, 1), 1, k, tz)
        assert start.tzinfo == UTC
        assert start.astimezone(zone).time() == time(0)
        assert start.astimezone(zone).date() == add_months(date(2024, 1, 1), k)
        assert end == term_window(date(2024, 1, 1), 1, k + 1, tz)[0]


def test_dst_change_inside_a_term_shortens_it_by_the_hour_instead_of_moving_the_handover():
    # Berlin springs forward on 31 March 2024: April 1st midnight is 22:00 UTC, not 23:00.
    assert term_window(date(2024, 3, 1), 1, 0, "Europe/Berlin") == (utc(2024, 2, 29, 23), utc(2024, 3, 31, 22))
    # New York falls back on 3 November 2024: the term is an hour longer.
    start, end = term_window(date(2024, 11, 1), 1, 0, "America/New_York")
    assert (start, end) == (utc(2024, 11, 1, 4), utc(2024, 12, 1, 5))
    assert end - start == timedelta(days=30, hours=1)


def test_a_skipped_midnight_starts_the_term_at_the_first_instant_of_the_day():
    # Chile moved clocks from 00:00 to 01:00 on 3 September 2023.
    start, _ = term_window(date(2023, 9, 3), 1, 0, "America/Santiago")
    assert start == utc(2023, 9, 3, 4)
    assert start.astimezone(ZoneInfo("America/Santiago")).replace(tzinfo=None) == datetime(2023, 9, 3, 1)


def test_term_at_finds_the_running_term_on_exact_bounds():
    starts_on, tz = date(2024, 1, 31), "Asia/Shanghai"
    assert term_at(starts_on, 1, tz, utc(2024, 1, 30, 15, 59)) is None
    assert term_at(starts_on, 1, tz, utc(2024, 1, 30, 16)).index == 0
    assert term_at(starts_on, 1, tz, utc(2024, 2, 28, 15, 59)).index == 0
    term = term_at(starts_on, 1, tz, utc(2024, 2, 28, 16))
    assert (term.index, term.starts_at, term.ends_at) == (1, utc(2024, 2, 28, 16), utc(2024, 3, 30, 16))
    assert term_at(starts_on, 3, tz, utc(2029, 5, 1)).index == 21


def test_term_at_agrees_with_term_window_every_day_for_years():
    starts_on, tz = date(2023, 8, 31), "Europe/Berlin"
    for months in (1, 3):
        moment = utc(2023, 8, 30, 22)
        while moment < utc(2027, 1, 1):
            term = term_at(starts_on, months, tz, moment)
            assert term is not None and term.starts_at <= moment < term.ends_at
            assert (term.starts_at, term.ends_at) == term_window(starts_on, months, term.index, tz)
            moment += timedelta(hours=13)


@pytest.mark.parametrize("months", TERM_MONTHS)
def test_every_term_length_starts_at_local_midnight_across_dst_and_year_ends(months):
    # A start on the 31st in Berlin: clamped month ends, both DST changes, and several year ends.
    zone = ZoneInfo("Europe/Berlin")
    for k in range(30):
        start, end = term_window(date(2023, 12, 31), months, k, "Europe/Berlin")
        assert start.astimezone(zone).time() == time(0) and end.astimezone(zone).time() == time(0)
        assert start.astimezone(zone).date() == add_months(date(2023, 12, 31), k * months)
        assert last_day(end, "Europe/Berlin") == add_months(date(2023, 12, 31), (k + 1) * months) - timedelta(days=1)
        assert term_at(date(2023, 12, 31), months, "Europe/Berlin", start).index == k
        assert term_at(date(2023, 12, 31), months, "Europe/Berlin", end - timedelta(microseconds=1)).index == k


def test_yearly_and_half_yearly_terms_keep_a_leap_day_start_on_the_29th_when_it_exists():
    starts = [term_window(date(2024, 2, 29), 12, k, "Asia/Shanghai")[0] for k in range(5)]
    assert [s.astimezone(ZoneInfo("Asia/Shanghai")).date() for s in starts] == [
        date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29)]
    assert term_window(date(2024, 8, 31), 6, 0, "Asia/Shanghai")[1] == utc(2025, 2, 27, 16)


@pytest.mark.parametrize(("months", "index"), [(4, 0), (0, 0), (24, 0), (1, -1)])
def test_bad_term_length_or_index_is_refused(months, index):
    with pytest.raises(ValueError):
        term_window(date(2024, 1, 1), months, index, "Asia/Shanghai")
