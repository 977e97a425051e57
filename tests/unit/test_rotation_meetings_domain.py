"""The joint meetings' rules in plain Python: RRULEs through dateutil, bounded; local times across DST; the
re-plan of a rule's meetings (property tests); states scheduled → held | cancelled."""

from __future__ import annotations

import time as clock
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linli.services.rotation import meetings
from linli.shared.errors import InvalidTransition, ValidationFailed

SHANGHAI, NEW_YORK = "Asia/Shanghai", "America/New_York"


def rule(text="FREQ=MONTHLY;INTERVAL=3", starts_on=date(2026, 1, 1), at=time(9, 30), minutes=120, tz=SHANGHAI):
    return meetings.check_rule(text, starts_on, at, minutes, tz)


def days(r, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2027, 1, 1, tzinfo=UTC)):
    return [s.day for s in r.slots(start, end)]


def test_quarterly_by_default_on_the_day_it_starts():
    assert days(rule(meetings.DEFAULT_RULE, starts_on=date(2026, 1, 15))) == [
        date(2026, 1, 15), date(2026, 4, 15), date(2026, 7, 15), date(2026, 10, 15)]


def test_the_second_tuesday_of_each_quarters_first_month_and_every_second_week():
    assert days(rule("FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=2TU")) == [
        date(2026, 1, 13), date(2026, 4, 14), date(2026, 7, 14), date(2026, 10, 13)]
    fortnightly = days(rule("RRULE:freq=weekly;interval=2"))
    assert len(fortnightly) == 27 and all((b - a).days == 14 for a, b in zip(fortnightly, fortnightly[1:],
                                                                                strict=False))


def test_until_and_count_bound_the_rule():
    assert days(rule("FREQ=MONTHLY;COUNT=3")) == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    # UNTIL in UTC is read in the committee's zone: 2026-03-01T01:00Z is 09:00 in Shanghai, before the 09:30 meeting.
    assert days(rule("FREQ=MONTHLY;UNTIL=20260301T010000Z")) == [date(2026, 1, 1), date(2026, 2, 1)]
    assert days(rule("FREQ=MONTHLY;UNTIL=20260301")) == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]


@pytest.mark.parametrize("until", ["99991231T235959Z", "99991231", "24000101", "00010101T000000Z"])
def test_an_until_at_the_calendars_ends_is_no_crash(until):
    # 9999-12-31T23:59:59Z has no local time in Shanghai (+8), nor 0001-01-01T00:00Z in New York; an UNTIL past
    # 2399 has none in the calendar read 7600 years ahead. The far ones bound nothing; year 1 ends before it starts.
    for tz in (SHANGHAI, NEW_YORK):
        try:
            r = rule(f"FREQ=MONTHLY;UNTIL={until}", tz=tz)
        except ValidationFailed as refused:
            assert until.startswith("0001") and "between starts_on and UNTIL" in refused.detail
        else:
            assert days(r)[:2] == [date(2026, 1, 1), date(2026, 2, 1)]


def test_a_meeting_stays_at_its_local_time_across_dst():
    slots = rule("FREQ=WEEKLY", starts_on=date(2026, 3, 1), tz=NEW_YORK).slots(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC))
    # New York moves to EDT on 2026-03-08: 09:30 local is 14:30 UTC before and 13:30 UTC after.
    assert [s.starts_at.hour for s in slots] == [14, 13, 13]
    assert all(s.ends_at - s.starts_at == timedelta(hours=2) for s in slots)


@pytest.mark.parametrize("text, says", [
    ("FREQ=HOURLY", "more often than daily"),
    ("FREQ=SECONDLY;INTERVAL=30", "more often than daily"),
    ("FREQ=DAILY;BYHOUR=9,15", "BYHOUR"),
    ("FREQ=DAILY;BYMINUTE=0,30", "BYMINUTE"),
    ("INTERVAL=2", "FREQ is required"),
    ("FREQ=FORTNIGHTLY", "FREQ is one of"),
    ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL"),
    ("FREQ=WEEKLY;INTERVAL=-1", "INTERVAL"),
    ("FREQ=WEEKLY;BYDAY=XX", "not an RFC 5545"),
    ("FREQ=WEEKLY;FREQ=DAILY", "twice"),
    ("FREQ=MONTHLY;COUNT=2;UNTIL=20300101", "COUNT and UNTIL"),
    ("FREQ=MONTHLY;UNTIL=20301301", "not a real date"),
    ("FREQ=MONTHLY;UNTIL=tomorrow", "UNTIL is a date"),
    ("FREQ=MONTHLY;X-NAME=1", "unknown part"),
    ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "one RRULE value only"),
    ("FREQ=MONTHLY;UNTIL=20251231", "between starts_on and UNTIL"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "within two years"),
    ("junk", "NAME=VALUE"),
])
def test_bad_rules_are_refused_naming_rrule(text, says):
    with pytest.raises(ValidationFailed) as refused:
        rule(text)
    assert list(refused.value.errors or {}) == ["rrule"]
    assert says in refused.value.detail


def test_a_rule_that_can_never_match_is_refused_quickly():
    # dateutil alone would search a daily calendar to year 9999 for the 30th of February (seconds of CPU).
    started = clock.perf_counter()
    with pytest.raises(ValidationFailed):
        rule("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    assert clock.perf_counter() - started < 3


def test_a_duration_outside_a_day_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        rule(minutes=0)
    assert list(refused.value.errors or {}) == ["duration_minutes"]


@settings(max_examples=30, deadline=None)
@given(text=st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU", "FREQ=MONTHLY;BYMONTHDAY=1,2,3",
                             "FREQ=YEARLY;BYYEARDAY=1,2,3,4", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR"]),
       start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
       tz=st.sampled_from([SHANGHAI, NEW_YORK, "Europe/London", "America/Santiago"]))
def test_no_rule_gives_more_than_one_meeting_a_day(text, start, tz):
    slots = rule(text, starts_on=start, tz=tz).slots(datetime.combine(start, time(), UTC),
                                                    datetime.combine(start, time(), UTC) + meetings.HORIZON)
    local_days = [s.day for s in slots]
    assert len(local_days) == len(set(local_days)) <= 367


# --- The re-plan ------------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, tzinfo=UTC)
UNTIL = NOW + meetings.HORIZON
SINCE = NOW.date() - timedelta(days=1)


def slot(day: date, hour: int = 1) -> meetings.Slot:
    start = datetime.combine(day, time(hour), UTC)
    return meetings.Slot(day, start, start + timedelta(hours=2))


def stored(day: date, state: str = meetings.SCHEDULED, hour: int = 1, moved: bool = False,
           by_rule: bool = False) -> meetings.Stored:
    s = slot(day, hour)
    return meetings.Stored(uuid.uuid4(), day, state, s.starts_at, s.ends_at, moved, by_rule)


def apply(rows: list[meetings.Stored], plan: meetings.Replan) -> list[meetings.Stored]:
    """The rows after the plan is stored, as the use case stores it."""
    by_key = {r.key: r for r in rows}
    for key in plan.cancel:
        r = by_key[key]
        by_key[key] = meetings.Stored(key, r.day, meetings.CANCELLED, r.starts_at, r.ends_at, r.moved, True)
    for key, s in plan.retime + plan.revive:
        r = by_key[key]
        by_key[key] = meetings.Stored(key, r.day, meetings.SCHEDULED, s.starts_at, s.ends_at, r.moved, False)
    for s in plan.add:
        key = uuid.uuid4()
        by_key[key] = meetings.Stored(key, s.day, meetings.SCHEDULED, s.starts_at, s.ends_at)
    return list(by_key.values())


def test_a_new_hour_moves_the_rule_meetings_but_not_held_past_moved_or_cancelled_ones():
    future = [NOW.date() + timedelta(days=d) for d in (10, 40, 70, 100)]
    held = stored(NOW.date() - timedelta(days=20), meetings.HELD)
    kept = stored(future[0])
    called_off = stored(future[1], meetings.CANCELLED)
    moved = stored(future[2], moved=True, hour=5)
    plan = meetings.replan([held, kept, called_off, moved], [slot(d, hour=7) for d in future], NOW, UNTIL, SINCE)
    assert [k for k, _ in plan.retime] == [kept.key]
    assert [s.day for s in plan.add] == [future[3]]
    assert plan.cancel == [] and plan.revive == []


def test_a_meeting_moved_off_a_past_rule_day_to_a_later_time_stays_as_time_passes():
    later = NOW + timedelta(days=3)
    moved = meetings.Stored(uuid.uuid4(), NOW.date() - timedelta(days=5), meetings.SCHEDULED, later,
                            later + timedelta(hours=2), True)
    assert not meetings.replan([moved], [slot(NOW.date() + timedelta(days=25))], NOW, UNTIL, SINCE).cancel


def test_a_day_the_rule_drops_and_brings_back_is_cancelled_then_revived_under_the_same_row():
    day = NOW.date() + timedelta(days=30)
    row = stored(day)
    dropped = meetings.replan([row], [], NOW, UNTIL, SINCE)
    assert dropped.cancel == [row.key]
    rows = apply([row], dropped)
    back = meetings.replan(rows, [slot(day)], NOW, UNTIL, SINCE)
    assert [k for k, _ in back.revive] == [row.key] and back.add == []


days_ahead = st.integers(min_value=-60, max_value=400)


@settings(max_examples=100, deadline=None)
@given(existing=st.lists(st.tuples(days_ahead, st.sampled_from(meetings.STATES), st.booleans(), st.booleans(),
                                   st.integers(0, 20)), max_size=15),
       wanted_days=st.sets(days_ahead, max_size=30), hour=st.integers(0, 20))
def test_a_replan_meets_the_rule_ahead_and_never_touches_what_is_past_held_or_cancelled_by_people(
        existing, wanted_days, hour):
    rows, seen = [], set()
    for offset, state, moved, by_rule, row_hour in existing:
        day = NOW.date() + timedelta(days=offset)
        if day in seen:
            continue  # one row per rule day, as the table's unique key has it
        seen.add(day)
        rows.append(stored(day, state, row_hour, moved, by_rule and state == meetings.CANCELLED))
    wanted = [slot(NOW.date() + timedelta(days=d), hour) for d in sorted(wanted_days)]
    plan = meetings.replan(rows, wanted, NOW, UNTIL, SINCE)
    touched = set(plan.cancel) | {k for k, _ in plan.retime + plan.revive}
    for row in rows:
        if row.day < SINCE:
            assert row.key not in touched  # moved off a rule day no edit concerns any more
        if row.key in touched:
            # Only future meetings change: scheduled ones, or those a rule (not a person) cancelled.
            assert row.starts_at > NOW
            assert row.state == meetings.SCHEDULED or row.cancelled_by_rule
    after = apply(rows, plan)
    ahead = {s.day for s in wanted if NOW < s.starts_at < UNTIL}
    scheduled_ahead = {r.day for r in after if r.state == meetings.SCHEDULED and r.starts_at > NOW
                       and r.day >= SINCE}
    # Every future scheduled meeting is one the rule wants; every wanted day has its meeting unless people
    # cancelled it, or it is held or already begun.
    assert scheduled_ahead <= ahead
    by_day = {r.day: r for r in after}
    for day in ahead:
        r = by_day[day]
        assert r.state == meetings.SCHEDULED or r.state == meetings.HELD or r.starts_at <= NOW or (
            r.state == meetings.CANCELLED and not r.cancelled_by_rule)
    assert len({r.day for r in after}) == len(after)
    # Planning again changes nothing.
    assert not meetings.replan(after, wanted, NOW, UNTIL, SINCE).anything


# --- States ------------------------------------------------------------------------------------------------

def test_only_a_scheduled_meeting_moves_or_is_held_and_not_before_it_begins():
    for state in (meetings.HELD, meetings.CANCELLED):
        with pytest.raises(InvalidTransition):
            meetings.check_scheduled(state, "moved")
        with pytest.raises(InvalidTransition):
            meetings.check_hold(state, NOW - timedelta(hours=1), NOW)
    with pytest.raises(InvalidTransition):
        meetings.check_hold(meetings.SCHEDULED, NOW + timedelta(minutes=1), NOW)
    meetings.check_hold(meetings.SCHEDULED, NOW, NOW)
    with pytest.raises(ValidationFailed):
        meetings.check_move(NOW, NOW)


def test_attendance_covers_every_unit_and_names_strangers():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert meetings.attendance([(b, "excused"), (a, "present")], [a, b, c]) == [
        (a, "present"), (b, "excused"), (c, "absent")]
    with pytest.raises(ValidationFailed) as refused:
        meetings.attendance([(a, "present"), (uuid.uuid4(), "present")], [a, b])
    assert list(refused.value.errors or {}) == ["attendance.1.organization_id"]
    with pytest.raises(ValidationFailed):
        meetings.attendance([(a, "present"), (a, "absent")], [a])


def test_decisions_dispatch_to_committee_units_and_decide_a_ticket_once():
    unit, ticket = uuid.uuid4(), uuid.uuid4()
    meetings.check_decisions([meetings.Decision(ticket, "dispatch", (unit,))], {unit})
    meetings.check_decisions([meetings.Decision(ticket, "list", ())], {unit})
    for decisions, field in (([meetings.Decision(ticket, "dispatch", ())], "decisions.0.unit_ids"),
                             ([meetings.Decision(ticket, "dispatch", (uuid.uuid4(),))], "decisions.0.unit_ids"),
                             ([meetings.Decision(ticket, "list", ()), meetings.Decision(ticket, "dispatch", (unit,))],
                              "decisions.1.ticket_id")):
        with pytest.raises(ValidationFailed) as refused:
            meetings.check_decisions(decisions, {unit})
        assert list(refused.value.errors or {}) == [field]
