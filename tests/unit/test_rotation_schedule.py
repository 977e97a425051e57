"""The rotating chair's planner: fixed cases of each rule, then property tests over random histories."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from linli.services.rotation.domain import TERM_MONTHS, add_months, term_window
from linli.services.rotation.schedule import (
    EXPLICIT,
    GAP,
    HANDOVER,
    HORIZON_TERMS,
    SUBSTITUTE,
    SWAP,
    TURN,
    Pin,
    PlannedTerm,
    Rules,
    Stint,
    Unavailable,
    check_period,
    check_policy,
    fairness,
    members_throughout,
    plan,
)
from linli.shared.errors import ValidationFailed

SHANGHAI = "Asia/Shanghai"
LONG_AGO = date(2023, 1, 1)
BEFORE = datetime(2023, 12, 1, tzinfo=UTC)  # a month before the rotations below start


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def monthly(order_policy="join_order", order=(), order_since=None, months=1, starts_on=date(2024, 1, 1),
            tz=SHANGHAI):
    return Rules(starts_on, months, tz, order_policy, tuple(order), order_since)


def members(*names, joined_on=LONG_AGO):
    return [Stint(name, joined_on) for name in names]


def chairs(result, first=0, count=12):
    return [t.unit for t in result.terms if t.part == 0][first:first + count]


# --- Fixed cases ----------------------------------------------------------------------------------------------

def test_units_take_turns_in_join_order_or_in_the_explicit_order():
    assert chairs(plan(monthly(), members("A", "B", "C"), [], now=BEFORE), count=7) == list("ABCABCA")
    explicit = monthly(EXPLICIT, order=("C", "A"))
    # B is not in the order: it comes after the units the order names.
    assert chairs(plan(explicit, members("A", "B", "C"), [], now=BEFORE), count=6) == list("CABCAB")


def test_join_order_follows_the_days_units_joined_not_the_order_they_are_listed():
    stints = [Stint("late", date(2023, 6, 1)), Stint("early", date(2023, 1, 1))]
    assert chairs(plan(monthly(), stints, [], now=BEFORE), count=4) == ["early", "late", "early", "late"]


def test_the_plan_reaches_two_years_or_eight_terms_whichever_is_longer():
    now = utc(2024, 5, 10)
    by_month = plan(monthly(), members("A", "B"), [], now=now)
    assert by_month.terms[-1].ends_at >= utc(2026, 5, 9, 16) and by_month.terms[-1].starts_at < utc(2026, 5, 9, 16)
    yearly = plan(monthly(months=12), members("A", "B"), [], now=now)
    assert len([t for t in yearly.terms if t.starts_at > now]) == HORIZON_TERMS
    assert yearly.terms[0].starts_at == utc(2023, 12, 31, 16)  # the past is planned too, from term 0


def test_terms_follow_local_midnight_through_dst_in_the_plan():
    zone = ZoneInfo("Europe/Berlin")
    result = plan(monthly(tz="Europe/Berlin", starts_on=date(2024, 1, 31)), members("A", "B"), [], now=BEFORE)
    for term in result.terms:
        assert term.starts_at.astimezone(zone).time() == time(0)
    assert [t.starts_at.astimezone(zone).date() for t in result.terms[1:4]] == [
        date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_a_newcomer_queues_from_the_day_it_joined():
    stints = [*members("A", "B", "C"), Stint("D", date(2024, 3, 15))]
    # Jan A, Feb B, Mar C; from April A (waiting since Feb 1) and B (Mar 1) came before D (Mar 15).
    assert chairs(plan(monthly(), stints, [], now=BEFORE), count=8) == list("ABCABDCA")


def test_an_unavailable_unit_is_skipped_and_keeps_its_place_at_the_head_of_the_queue():
    away = [Unavailable("B", date(2024, 2, 10), date(2024, 4, 1))]
    result = plan(monthly(), members("A", "B", "C", "D"), [], now=BEFORE, unavailable=away)
    # B cannot chair February or March; it goes first once it can, then the cycle goes on.
    assert chairs(result, count=9) == list("ACDBACDBA")


def test_a_substitute_chairs_one_term_and_the_replaced_unit_goes_next():
    pins = [Pin(1, "D", SUBSTITUTE, "override-1")]
    result = plan(monthly(), members("A", "B", "C", "D"), [], now=BEFORE, pins=pins)
    assert chairs(result, count=8) == list("ADBCADBC")
    assert (result.terms[1].reason, result.terms[1].source) == (SUBSTITUTE, "override-1")


def test_an_accepted_swap_exchanges_exactly_two_terms():
    pins = [Pin(1, "D", SWAP, "swap-1"), Pin(3, "B", SWAP, "swap-1")]
    result = plan(monthly(), members("A", "B", "C", "D"), [], now=BEFORE, pins=pins)
    assert chairs(result, count=4) == list("ADCB")
    assert [t.reason for t in result.terms[:4]] == [TURN, SWAP, TURN, SWAP]


def test_a_swap_survives_a_replan_after_a_newcomer_joins():
    pins = [Pin(5, "C", SWAP), Pin(6, "A", SWAP)]
    first = plan(monthly(), members("A", "B", "C"), [], now=BEFORE, pins=pins)
    assert chairs(first, count=7) == list("ABCABCA")[:5] + ["C", "A"]
    later = utc(2024, 2, 10)
    again = plan(monthly(), [*members("A", "B", "C"), Stint("D", date(2024, 2, 10))], first.terms, now=later,
                 pins=pins)
    assert chairs(again, first=5, count=2) == ["C", "A"]
    assert again.terms[:2] == first.terms[:2]  # January and the running February stay


def test_no_unit_chairs_twice_in_a_row_while_another_can():
    away = [Unavailable("A", date(2024, 2, 1), date(2024, 5, 1)),
            Unavailable("B", date(2024, 1, 1), date(2024, 2, 1))]
    result = plan(monthly(), members("A", "B"), [], now=BEFORE, unavailable=away)
    # Only A in January; only B until May: B chairs February to April in a row, as nobody else can.
    assert chairs(result, count=6) == list("ABBBAB")


def test_a_unit_that_leaves_is_taken_out_of_every_future_term():
    first = plan(monthly(), members("A", "B", "C"), [], now=BEFORE)
    stints = [Stint("A", LONG_AGO), Stint("B", LONG_AGO, date(2024, 1, 20)), Stint("C", LONG_AGO)]
    again = plan(monthly(), stints, first.terms, now=utc(2024, 1, 10))
    assert "B" not in [t.unit for t in again.terms[1:]]
    assert again.handover is None  # B was not sitting


def test_the_sitting_chair_leaving_hands_the_rest_of_its_term_to_the_next_unit():
    first = plan(monthly(), members("A", "B", "C", "D"), [], now=BEFORE)
    stints = [*members("A", "C", "D"), Stint("B", LONG_AGO, date(2024, 2, 20))]
    now = utc(2024, 2, 10)
    again = plan(monthly(), stints, first.terms, now=now)
    handover = again.handover
    assert handover is not None and handover.was == first.terms[1] and not handover.dropped
    assert (handover.cut.unit, handover.cut.ends_at) == ("B", utc(2024, 2, 19, 16))
    assert handover.successor == PlannedTerm(1, 1, "C", utc(2024, 2, 19, 16), utc(2024, 2, 29, 16), HANDOVER)
    assert [(t.index, t.part, t.unit) for t in again.terms[:4]] == [(0, 0, "A"), (1, 0, "B"), (1, 1, "C"),
                                                                    (2, 0, "D")]
    # Planned again later, with the cut term stored, nothing is handed over twice.
    later = plan(monthly(), stints, again.terms, now=utc(2024, 2, 25))
    assert later.handover is None and later.terms[:4] == again.terms[:4]


def test_a_chair_that_left_before_its_term_began_loses_the_whole_term():
    first = plan(monthly(), members("A", "B", "C"), [], now=BEFORE)
    stints = [*members("A", "C"), Stint("B", LONG_AGO, date(2024, 1, 25))]  # told late, in February
    again = plan(monthly(), stints, first.terms, now=utc(2024, 2, 3))
    assert again.handover is not None and again.handover.dropped
    assert [(t.index, t.part, t.unit) for t in again.terms[:3]] == [(0, 0, "A"), (1, 1, "C"), (2, 0, "A")]
    assert again.terms[1].starts_at == first.terms[1].starts_at


def test_terms_without_any_eligible_unit_are_gaps_and_a_running_gap_is_filled_when_a_unit_joins():
    empty = plan(monthly(), [], [], now=BEFORE)
    assert empty.gaps == empty.terms and all(t.reason == GAP and t.unit is None for t in empty.terms)
    joined = plan(monthly(), [Stint("A", date(2024, 1, 10))], empty.terms, now=utc(2024, 1, 5))
    assert joined.handover is not None and joined.handover.cut.ends_at == utc(2024, 1, 9, 16)
    assert joined.terms[1] == PlannedTerm(0, 1, "A", utc(2024, 1, 9, 16), utc(2024, 1, 31, 16), HANDOVER)
    assert joined.gaps == ()


def test_a_pin_the_unit_cannot_honour_is_dropped_and_the_term_planned_normally():
    pins = [Pin(2, "B", SUBSTITUTE, "o1")]
    stints = [*members("A", "C"), Stint("B", LONG_AGO, date(2024, 2, 1))]
    result = plan(monthly(), stints, [], now=BEFORE, pins=pins)
    assert result.dropped_pins == tuple(pins) and result.terms[2].unit != "B"


def test_a_new_order_applies_from_the_next_term():
    first = plan(monthly(), members("A", "B", "C", "D"), [], now=BEFORE)
    now = utc(2024, 2, 10)
    reordered = monthly(EXPLICIT, order=("D", "C", "B", "A"), order_since=now)
    again = plan(reordered, members("A", "B", "C", "D"), first.terms, now=now)
    # B sits in February; from March the new order, B last as it chaired most recently.
    assert chairs(again, count=7) == ["A", "B", "D", "C", "A", "B", "D"]


def test_the_fairness_report_counts_served_and_scheduled_terms_and_scores_the_balance():
    result = plan(monthly(), members("A", "B", "C", "D"), [], now=BEFORE,
                  pins=[Pin(1, "A", SUBSTITUTE), Pin(2, "A", SUBSTITUTE)])
    report = fairness(result.terms, ["A", "B", "C", "D"], start=utc(2023, 12, 31, 16), end=utc(2024, 4, 30, 16),
                      now=utc(2024, 2, 10))
    # A substitutes in February and March, so January goes to B; April to C. February has begun.
    assert chairs(result, count=4) == list("BAAC")
    shares = {s.unit: (s.served, s.scheduled) for s in report.shares}
    assert shares == {"A": (1, 1), "B": (1, 0), "C": (0, 1), "D": (0, 0)}
    # Pairs: A-B 1/2, A-C 1/2, A-D 0, B-C 1, B-D 0, C-D 0.
    assert report.balance == round(2 / 6, 4) and report.gaps == ()
    assert fairness(result.terms, ["A"], start=BEFORE, end=BEFORE, now=BEFORE).balance == 1.0


def test_only_units_members_throughout_a_period_are_compared():
    stints = [Stint("A", LONG_AGO), Stint("B", date(2024, 3, 1)), Stint("C", LONG_AGO, date(2024, 5, 1))]
    assert members_throughout(stints, date(2024, 1, 1), date(2024, 4, 1)) == ["A", "C"]


def test_orders_and_periods_that_cannot_be_planned_name_their_field():
    for policy, order in ((EXPLICIT, ()), (EXPLICIT, ("A", "A")), (EXPLICIT, ("X",)), ("join_order", ("A",))):
        with pytest.raises(ValidationFailed) as raised:
            check_policy(policy, order, ["A", "B"])
        assert list(raised.value.errors) == ["order"]
    check_policy(EXPLICIT, ("B", "A"), ["A", "B"])
    with pytest.raises(ValidationFailed) as raised:
        check_period(date(2024, 3, 1), date(2024, 3, 1))
    assert list(raised.value.errors) == ["to"]


# --- Property tests -------------------------------------------------------------------------------------------

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "America/Santiago"]


@dataclass
class World:
    """A committee's history as the planner is told it, step by step."""

    rules: Rules
    now: datetime
    stints: list[Stint] = field(default_factory=list)
    away: list[Unavailable] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    next_unit: int = 0

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.rules.time_zone)).date()

    def current(self) -> list[str]:
        return [s.unit for s in self.stints if s.left_on is None]

    def eligible(self, term: PlannedTerm) -> set[str]:
        """Told independently of the planner: members all through the term, not away on any of its days."""
        zone = ZoneInfo(self.rules.time_zone)
        first, end = term.starts_at.astimezone(zone).date(), term.ends_at.astimezone(zone).date()
        members_ = {s.unit for s in self.stints
                    if s.joined_on <= first and (s.left_on is None or s.left_on >= end)}
        return {u for u in members_ if not any(a.unit == u and a.from_on < end and first < a.to_on
                                               for a in self.away)}

    def replan(self, kept):
        return plan(self.rules, self.stints, kept, now=self.now, pins=self.pins, unavailable=self.away)


def _act(data, world: World, current) -> None:
    action = data.draw(st.sampled_from(["join", "join", "leave", "rejoin", "away", "substitute", "swap", "none"]))
    future = [t for t in current.terms if t.starts_at > world.now and t.part == 0 and t.unit is not None
              and t.index not in {p.index for p in world.pins}]
    if action == "join":
        world.stints.append(Stint(f"u{world.next_unit}", world.today + timedelta(days=data.draw(st.integers(0, 40)))))
        world.next_unit += 1
    elif action == "leave" and world.current():
        unit = data.draw(st.sampled_from(world.current()))
        stint = next(s for s in world.stints if s.unit == unit and s.left_on is None)
        left_on = max(world.today, stint.joined_on) + timedelta(days=data.draw(st.integers(0, 60)))
        world.stints[world.stints.index(stint)] = Stint(unit, stint.joined_on, left_on)
    elif action == "rejoin":
        gone = [s for s in world.stints if s.left_on is not None and s.unit not in world.current()]
        if gone:
            stint = data.draw(st.sampled_from(gone))
            joined = max(world.today, stint.left_on) + timedelta(days=data.draw(st.integers(1, 40)))
            world.stints.append(Stint(stint.unit, joined))
    elif action == "away" and world.current():
        start = world.today + timedelta(days=data.draw(st.integers(0, 200)))
        world.away.append(Unavailable(data.draw(st.sampled_from(world.current())), start,
                                      start + timedelta(days=data.draw(st.integers(1, 150)))))
    elif action == "substitute" and future and world.current():
        term = data.draw(st.sampled_from(future))
        world.pins.append(Pin(term.index, data.draw(st.sampled_from(world.current())), SUBSTITUTE))
    elif action == "swap" and len(future) >= 2:
        first, second = data.draw(st.lists(st.sampled_from(future), min_size=2, max_size=2, unique=True))
        if first.unit != second.unit:
            world.pins += [Pin(first.index, second.unit, SWAP), Pin(second.index, first.unit, SWAP)]


def _check_shape(world: World, result) -> None:
    """Terms follow each other without overlap or hole from term 0, on the calendar, to the horizon."""
    rules, terms = world.rules, result.terms
    assert terms[0].starts_at == term_window(rules.starts_on, rules.term_months, 0, rules.time_zone)[0]
    for term, following in zip(terms, terms[1:], strict=False):
        assert term.starts_at < term.ends_at == following.starts_at
        assert following.key > term.key
    for earlier, term in zip([None, *terms], terms, strict=False):
        start, end = term_window(rules.starts_on, rules.term_months, term.index, rules.time_zone)
        assert start <= term.starts_at and term.ends_at <= end
        # A term starts on the calendar's boundary unless it takes over the rest of one (a handover).
        first_of_index = earlier is None or earlier.index != term.index
        assert first_of_index == (term.starts_at == start)
        assert term.ends_at == end or terms[-1] is not term and terms[terms.index(term) + 1].index == term.index
    assert len([t for t in terms if t.part == 0 and t.starts_at > world.now]) >= HORIZON_TERMS
    assert terms[-1].ends_at >= datetime.combine(add_months(world.today, 24), time(0), ZoneInfo(rules.time_zone))


def _check_kept_past(world: World, before, result) -> None:
    """What had started stays as it was; only the sitting chair's term may be cut, and only if it left."""
    started = [t for t in before if t.starts_at <= world.now]
    by_key = {t.key: t for t in result.terms}
    for term in started[:-1]:
        assert by_key[term.key] == term
    if not started:
        return
    sitting = started[-1]
    if result.handover is None:
        assert by_key[sitting.key] == sitting
        if sitting.unit is not None and sitting.ends_at > world.now:
            assert _member_until(world, sitting) >= sitting.ends_at, (
                "the sitting chair left and nobody took over")
        return
    assert result.handover.was == sitting
    cut_at = result.handover.cut.ends_at
    zone = ZoneInfo(world.rules.time_zone)
    if sitting.unit is not None:
        # Its chair is no member from the cut on (a dropped term: it was none when the term began).
        day = cut_at.astimezone(zone).date()
        assert not any(s.unit == sitting.unit and s.joined_on <= day and (s.left_on is None or day < s.left_on)
                       for s in world.stints)
    assert result.handover.successor.starts_at == cut_at
    assert result.handover.successor.unit != sitting.unit


def _member_until(world: World, term: PlannedTerm) -> datetime:
    """Until when the term's chair is a member without a break, from the term's first day."""
    zone = ZoneInfo(world.rules.time_zone)
    day = term.starts_at.astimezone(zone).date()
    for stint in world.stints:
        if stint.unit == term.unit and stint.joined_on <= day and (stint.left_on is None or day < stint.left_on):
            return datetime.max.replace(tzinfo=UTC) if stint.left_on is None else datetime.combine(
                stint.left_on, time(0), zone)
    return term.starts_at


def _check_rules(world: World, before, result) -> None:
    started = {t.key for t in before if t.starts_at <= world.now}
    pins = {p.index: p for p in world.pins}
    new = [t for t in result.terms if t.key not in started]
    for term in new:
        eligible = world.eligible(term)
        if term.unit is None:
            assert not eligible, "a gap while a unit could chair"
        else:
            assert term.unit in eligible, "a chair that is not a member all through, or is away"
        pin = pins.get(term.index) if term.part == 0 and term.starts_at > world.now else None
        if pin is not None and pin.unit in eligible:
            assert term.unit == pin.unit, "an override or accepted swap not honoured"
    ordered = list(result.terms)
    for earlier, term, following in zip([None, *ordered], ordered, ordered[1:], strict=False):
        if following.key in started or following.unit is None or term.unit != following.unit:
            continue
        if following.reason in (TURN, HANDOVER):
            assert world.eligible(following) == {following.unit}, "back to back while another could chair"
        elif term.key not in started and term.reason in (TURN, HANDOVER):
            # The term before an override's: another unit takes it, unless that one would then chair twice.
            others = world.eligible(term) - {term.unit, earlier.unit if earlier else None}
            assert not others, "a unit chairs right before its own override while another could"


def _check_cycles(world: World, before, result) -> None:
    """Over each cycle (as many terms as there are eligible units, the same units all along, no override near)
    every unit chairs exactly once."""
    started = {t.key for t in before if t.starts_at <= world.now}
    pinned = {p.index for p in world.pins}
    turns = [t for t in result.terms if t.key not in started and t.part == 0]
    for i, term in enumerate(turns):
        eligible = world.eligible(term)
        n = len(eligible)
        if n < 2 or i + n > len(turns):
            continue
        cycle = turns[i:i + n]
        if any(world.eligible(t) != eligible or t.reason != TURN for t in cycle):
            continue
        if any(term.index <= p < term.index + 2 * n for p in pinned):
            continue
        assert sorted(t.unit for t in cycle) == sorted(eligible), "a cycle where a unit chaired twice"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_histories_keep_every_rule(data):
    tz = data.draw(st.sampled_from(ZONES))
    months = data.draw(st.sampled_from(TERM_MONTHS))
    starts_on = data.draw(st.dates(date(2024, 1, 1), date(2024, 12, 31)))
    initial = data.draw(st.integers(0, 5))
    policy = data.draw(st.sampled_from(["join_order", EXPLICIT])) if initial else "join_order"
    order = tuple(data.draw(st.permutations([f"u{i}" for i in range(initial)]))) if policy == EXPLICIT else ()
    world = World(Rules(starts_on, months, tz, policy, order),
                  datetime.combine(starts_on, time(0), UTC) - timedelta(days=data.draw(st.integers(0, 60))))
    world.stints = [Stint(f"u{i}", starts_on - timedelta(days=30 + i)) for i in range(initial)]
    world.next_unit = initial
    current = world.replan([])
    _check_shape(world, current)
    for _ in range(data.draw(st.integers(1, 8))):
        world.now += timedelta(days=data.draw(st.integers(0, 120)), hours=data.draw(st.integers(0, 23)))
        _act(data, world, current)
        before = current.terms
        current = world.replan(before)
        _check_shape(world, current)
        _check_kept_past(world, before, current)
        _check_rules(world, before, current)
        _check_cycles(world, before, current)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_planning_again_with_nothing_new_changes_nothing_but_the_horizon(data):
    months = data.draw(st.sampled_from(TERM_MONTHS))
    units = [f"u{i}" for i in range(data.draw(st.integers(1, 6)))]
    world = World(Rules(date(2024, 1, 31), months, data.draw(st.sampled_from(ZONES))), utc(2023, 12, 1),
                  stints=[Stint(u, LONG_AGO) for u in units])
    world.away = [Unavailable(data.draw(st.sampled_from(units)), date(2024, 1, 1) + timedelta(days=d),
                              date(2024, 1, 1) + timedelta(days=d + length))
                  for d, length in data.draw(st.lists(st.tuples(st.integers(0, 700), st.integers(1, 90)), max_size=3))]
    first = world.replan([])
    world.pins = [Pin(t.index, data.draw(st.sampled_from(units)), SUBSTITUTE)
                  for t in data.draw(st.lists(st.sampled_from(first.terms[1:10]), max_size=2, unique=True))]
    first = world.replan([])
    assume(not first.gaps)  # a running term without a chair is handed to a unit as soon as one can take it
    world.now += timedelta(days=data.draw(st.integers(1, 900)))
    again = world.replan(first.terms)
    last = first.terms[-1].key
    assert [t for t in again.terms if t.key <= last] == list(first.terms)
