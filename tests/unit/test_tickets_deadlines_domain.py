"""The rules of tickets' deadlines as plain values: which stage a ticket is in, when each falls due, what the clock
does when, and whom an overdue dispatched ticket is escalated to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from linli.services.tickets import domain
from linli.services.tickets.domain import ChairTerm, CommitteeContact, Deadlines, Part, StageHours, Ticket, Watch
from linli.shared.errors import NotFound, ValidationFailed

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
POLICE, SCHOOL = uuid.UUID(int=1), uuid.UUID(int=2)
COMMITTEE = uuid.UUID(int=10)
USUAL = domain.DEFAULT_CATEGORIES["facilities"].deadlines


def _hours(*hours: float) -> StageHours:
    return StageHours(*hours)


# --- Stages --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("state", "stage"), [
    ("submitted", "accept"), ("accepted", "dispatch"), ("escalated", "dispatch"), ("listed", "dispatch"),
    ("dispatched", "resolve"), ("in_progress", "resolve"), ("resolved", None), ("reviewed", None),
    ("closed", None), ("rejected", None),
])
def test_each_state_belongs_to_at_most_one_stage(state, stage):
    assert domain.stage_of(state) == stage


@pytest.mark.parametrize(("before", "after", "entered"), [
    ("submitted", "accepted", "dispatch"),
    ("submitted", "dispatched", "resolve"),  # 急事急办: straight to a department
    ("accepted", "escalated", None),  # the whistle buys no time
    ("escalated", "listed", None),
    ("listed", "dispatched", "resolve"),
    ("accepted", "in_progress", "resolve"),  # the compound works on it itself
    ("in_progress", "escalated", "dispatch"),  # ... and then cannot, and blows the whistle
    ("dispatched", "dispatched", None),  # another unit added, or re-routed
    ("dispatched", "in_progress", None),
    ("resolved", "dispatched", "resolve"),  # a failed review: the work starts over
    ("closed", "dispatched", "resolve"),  # a dissatisfied resident
    ("dispatched", "resolved", None),
    ("submitted", "rejected", None),
])
def test_a_stage_s_deadline_runs_from_the_move_that_entered_it(before, after, entered):
    assert domain.stage_entered(before, after) == entered


def test_a_district_s_deadlines_give_each_stage_its_due_time_by_urgency():
    own = Deadlines(_hours(12, 48, 120), _hours(0.5, 1, 8))
    assert domain.stage_due_at(own, domain.NORMAL, domain.DISPATCH, T0) == T0 + timedelta(hours=48)
    assert domain.stage_due_at(own, domain.URGENT, domain.ACCEPT, T0) == T0 + timedelta(minutes=30)
    assert domain.stage_due_at(own, domain.URGENT, domain.RESOLVE, T0) == T0 + timedelta(hours=8)


def test_the_reminder_comes_when_the_set_share_of_the_stage_is_left():
    due = T0 + timedelta(hours=10)
    assert domain.remind_at(T0, due, 20) == T0 + timedelta(hours=8)
    assert domain.remind_at(T0, due, 50) == T0 + timedelta(hours=5)
    assert domain.remind_at(T0, due, 0) is None  # no reminder
    assert domain.remind_at(T0, T0, 20) is None


# --- Checking deadlines -------------------------------------------------------------------------------------

def test_checking_the_categories_deadlines():
    domain.check_deadlines(USUAL)
    with pytest.raises(ValidationFailed) as slower:
        domain.check_deadlines(Deadlines(_hours(24, 72, 240), _hours(1, 2, 300)))
    assert list(slower.value.errors) == ["urgent.resolve_hours"]
    with pytest.raises(ValidationFailed) as none:
        domain.check_deadlines(Deadlines(_hours(24, 0, 240), _hours(1, 0, 24)))
    assert list(none.value.errors) == ["normal.dispatch_hours"]
    with pytest.raises(ValidationFailed) as percent:
        domain.check_deadlines(Deadlines(_hours(24, 72, 240), _hours(1, 2, 24), 100))
    assert list(percent.value.errors) == ["remind_before_percent"]


def test_an_edit_changes_the_hours_named_and_is_checked_as_a_whole():
    edited = domain.edited_deadlines(USUAL, urgent={"resolve": 12}, remind_before_percent=10)
    assert edited == Deadlines(USUAL.normal, _hours(1, 2, 12), 10)
    with pytest.raises(ValidationFailed) as refused:
        domain.edited_deadlines(USUAL, normal={"accept": 0.5})  # now shorter than the urgent hour
    assert list(refused.value.errors) == ["urgent.accept_hours"]


def test_an_operator_names_the_district_and_a_district_only_its_own():
    assert domain.deadlines_district(None, "d1") == "d1"
    assert domain.deadlines_district("d1", None) == domain.deadlines_district("d1", "d1") == "d1"
    for actor, asked in ((None, None), (None, ""), ("d1", "d2")):
        with pytest.raises(ValidationFailed) as refused:
            domain.deadlines_district(actor, asked)
        assert list(refused.value.errors) == ["district_id"]


def test_an_unknown_category_is_not_found():
    assert domain.default_category("dispute").name_zh == "邻里纠纷"
    with pytest.raises(NotFound):
        domain.default_category("juggling")


# --- The clock ----------------------------------------------------------------------------------------------

def test_the_clock_watches_the_units_parts_of_dispatched_work_and_the_ticket_s_own_deadline_otherwise():
    own = Watch(T0)
    parts = [Watch(T0, unit_id=POLICE), Watch(T0, unit_id=SCHOOL)]
    assert domain.watched(domain.RESOLVE, own, parts) == tuple(parts)
    assert domain.watched(domain.RESOLVE, own, []) == (own,)  # the compound or a member works on it
    assert domain.watched(domain.ACCEPT, own, parts) == (own,)
    assert domain.watched(None, own, parts) == ()


def test_the_next_check_is_the_earliest_reminder_or_deadline_not_yet_acted_on():
    remind, due = T0 + timedelta(hours=8), T0 + timedelta(hours=10)
    assert domain.next_check([Watch(due, remind)]) == remind
    assert domain.next_check([Watch(due, remind, reminded=True)]) == due
    assert domain.next_check([Watch(due, remind, overdue=True)]) is None
    later = Watch(due + timedelta(hours=5), remind + timedelta(hours=5), unit_id=SCHOOL)
    assert domain.next_check([Watch(due, remind, overdue=True, unit_id=POLICE), later]) == later.remind_at
    assert domain.next_check([]) is None


def test_a_check_finds_reminders_to_send_those_too_late_and_deadlines_passed():
    soon = Watch(T0 + timedelta(hours=2), T0 - timedelta(hours=1), unit_id=POLICE)
    passed = Watch(T0 - timedelta(minutes=1), T0 - timedelta(hours=3), unit_id=SCHOOL)
    told = Watch(T0 + timedelta(hours=2), T0 - timedelta(hours=1), reminded=True)
    found = domain.check([soon, passed, told], T0)
    assert (found.due_soon, found.too_late, found.lapsed) == ((soon,), (passed,), (passed,))
    assert domain.check([Watch(T0, overdue=True)], T0 + timedelta(days=1)) == domain.Check((), (), ())
    # The deadline itself is due at its instant, not a moment later.
    assert domain.check([Watch(T0)], T0).lapsed == (Watch(T0),)


def test_work_sent_back_runs_a_fresh_deadline_and_other_parts_keep_theirs():
    due, fresh = T0 + timedelta(days=10), T0 + timedelta(days=20)
    dispatched = domain.dispatch(domain.list_for_meeting(domain.escalate(domain.accept(Ticket()))),
                                 [Part(POLICE, lead=True, due_at=due), Part(SCHOOL, lead=False, due_at=due)])
    resolved = domain.resolve(dispatched, POLICE)
    reopened = domain.review(resolved, passed=False)
    rearmed = domain.rearm_reopened(resolved, reopened, fresh)
    assert [(p.unit_id, p.state, p.due_at) for p in rearmed.parts] == [
        (POLICE, domain.PART_DISPATCHED, fresh), (SCHOOL, domain.PART_DISPATCHED, due)]
    assert domain.rearm_reopened(dispatched, resolved, fresh) == resolved


# --- Escalation ---------------------------------------------------------------------------------------------

def _term(index: int, starts: datetime, unit: uuid.UUID | None, part: int = 0) -> ChairTerm:
    return ChairTerm(COMMITTEE, index, part, starts, starts + timedelta(days=30), unit,
                     None if unit is None else f"单位{unit.int}")


def test_the_chair_sitting_is_the_term_begun_last_a_handover_s_successor_after_it():
    first, second = _term(0, T0, POLICE), _term(1, T0 + timedelta(days=30), SCHOOL)
    handed = _term(1, T0 + timedelta(days=40), POLICE, part=1)
    assert domain.current_chair([first, second], T0 + timedelta(days=31)) == second
    assert domain.current_chair([second, first], T0 + timedelta(days=29)) == first
    assert domain.current_chair([first, second, handed], T0 + timedelta(days=41)) == handed
    assert domain.current_chair([second], T0) is None  # not begun yet
    # A term past its end stays the chair until rotation tells of the next.
    assert domain.current_chair([first], T0 + timedelta(days=90)) == first
    # A handover at a term's very start (the term dropped whole): the later part sits.
    dropped = _term(1, second.starts_at, POLICE, part=1)
    assert domain.current_chair([second, dropped], second.starts_at) == dropped


def test_news_of_a_term_replaces_what_is_kept_unless_it_is_of_an_earlier_part():
    assert domain.supersedes((3, 0), None)
    assert domain.supersedes((3, 1), (3, 0)) and domain.supersedes((3, 0), (3, 0))
    assert not domain.supersedes((3, 0), (3, 1)) and not domain.supersedes((2, 5), (3, 0))


def test_an_overdue_dispatched_ticket_is_escalated_to_the_chair_sitting_now_and_the_convenor():
    convenor = uuid.uuid4()
    committee = CommitteeContact(COMMITTEE, "星光社区大党委", "李书记", convenor)
    terms = [_term(0, T0, POLICE), _term(1, T0 + timedelta(days=30), SCHOOL)]
    escalation = domain.escalation_to(committee, terms, T0 + timedelta(days=35))
    assert escalation == domain.Escalation(COMMITTEE, "星光社区大党委", SCHOOL, "单位2", 1,
                                           T0 + timedelta(days=60), "李书记", convenor)
    unchaired = domain.escalation_to(committee, [], T0)
    assert unchaired is not None and (unchaired.chair_unit_id, unchaired.convenor_name) == (None, "李书记")
    assert domain.escalation_to(None, terms, T0) is None
    assert domain.escalates(domain.RESOLVE, [POLICE])
    assert not domain.escalates(domain.RESOLVE, [])  # the compound's or a member's own work
    assert not domain.escalates(domain.DISPATCH, [POLICE]) and not domain.escalates(domain.ACCEPT, [])
