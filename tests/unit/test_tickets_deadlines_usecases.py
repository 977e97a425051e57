"""tickets' deadlines through its use cases and the clock on a SQLite session: each move sets the stage's deadline
and the ticket's one timer, a district's own deadlines hold for its tickets, reminders and overdues are told once
whichever clock fires, and an overdue dispatched ticket names the chair and the convenor it is escalated to."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from linli.services.tickets import usecases
from linli.services.tickets.clock import TIMERS
from linli.services.tickets.models import Base, Ticket
from linli.services.tickets.usecases import Assignment
from linli.shared.actors import Actor
from linli.shared.clock import Clock
from linli.shared.errors import NotFound, ValidationFailed
from tests.support.sessions import committed_events, pending_timers

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
CLERK = Actor("clerk", YONGCHUAN, frozenset({"tickets:write"}))
ADMIN = Actor("admin", YONGCHUAN, frozenset({"tickets:admin"}))
OPERATOR = Actor("ops", "*", frozenset({"tickets:admin"}))
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
COMMUNITY = uuid.uuid4()


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


@pytest.fixture
def world(factory):
    """A compound of Yongchuan's 星光社区 and three units; its committee, convenor and chairs come per test."""
    compound, police, school, hospital = (uuid.uuid4() for _ in range(4))
    with factory() as session:
        usecases.record_compound(session, compound, 1, district_id=YONGCHUAN, name="星光小区",
                                 community_id=COMMUNITY, kind="old")
        for unit, name in ((police, "中山路派出所"), (school, "永川中学"), (hospital, "永川区人民医院")):
            usecases.record_organization(session, unit, 1, district_id=YONGCHUAN, name=name, kind="agency")
        session.commit()
    return {"compound": compound, "police": police, "school": school, "hospital": hospital}


def _submit(factory, world, now=NOW, **fields) -> uuid.UUID:
    with factory() as session:
        ticket = usecases.submit_ticket(session, CLERK, compound_id=world["compound"], title="楼道灯坏了",
                                        description="3栋2单元楼道灯一周没亮", category="facilities",
                                        reporter_name="王阿姨", reporter_phone="13812345678", now=now, **fields)
        session.commit()
        return ticket.id


def _do(factory, verb, ticket_id, now, **kwargs) -> Ticket:
    with factory() as session:
        ticket = getattr(usecases, verb)(session, CLERK, ticket_id, now, **kwargs)
        session.commit()
        session.refresh(ticket)
        return ticket


def _ticket(factory, ticket_id) -> Ticket:
    with factory() as session:
        return session.get(Ticket, ticket_id)


def _timer(factory, ticket_id) -> datetime | None:
    due = [at for kind, subject, at, _ in pending_timers(factory) if (kind, subject) == ("ticket.due", str(ticket_id))]
    return due[0] if due else None


def _told(factory, key) -> list[dict]:
    return [event["data"] for event in committed_events(factory, key)]


def _clock(factory, at) -> Clock:
    return Clock("tickets", factory, TIMERS, now=lambda: at)


# --- Stages and timers through the moves ---------------------------------------------------------------------

def test_each_move_sets_its_stage_s_deadline_and_the_timer_follows(factory, world):
    ticket_id = _submit(factory, world)
    submitted = _ticket(factory, ticket_id)
    assert (submitted.stage, submitted.due_at, submitted.remind_at) == ("accept", NOW + 24 * HOUR,
                                                                         NOW + 24 * HOUR * 0.8)
    assert _timer(factory, ticket_id) == submitted.remind_at

    accepted = _do(factory, "accept", ticket_id, NOW + 2 * HOUR)
    assert (accepted.stage, accepted.due_at) == ("dispatch", NOW + 2 * HOUR + 72 * HOUR)
    assert (accepted.accept_due_at, accepted.dispatch_due_at) == (NOW + 24 * HOUR, accepted.due_at)
    assert _timer(factory, ticket_id) == accepted.remind_at == NOW + 2 * HOUR + 72 * HOUR * 0.8

    # The whistle and the listing happen within the dispatch stage: its deadline stays.
    _do(factory, "escalate", ticket_id, NOW + 3 * HOUR)
    listed = _do(factory, "list_for_meeting", ticket_id, NOW + 4 * HOUR)
    assert (listed.stage, listed.due_at) == ("dispatch", accepted.due_at)

    at = NOW + 5 * HOUR
    helper_due = at + 48 * HOUR
    dispatched = _do(factory, "dispatch", ticket_id, at, units=[Assignment(world["police"], lead=True),
                                                              Assignment(world["school"], due_at=helper_due)])
    lead, helper = dispatched.parts
    assert (dispatched.stage, dispatched.due_at, dispatched.resolve_due_at) == ("resolve", at + 240 * HOUR,
                                                                                 at + 240 * HOUR)
    assert (lead.due_at, lead.remind_at) == (at + 240 * HOUR, at + 192 * HOUR)
    assert (helper.due_at, helper.remind_at) == (helper_due, at + 48 * HOUR * 0.8)
    assert dispatched.remind_at is None  # each unit's part has its own reminder
    assert _timer(factory, ticket_id) == helper.remind_at  # the earliest of all

    _do(factory, "resolve", ticket_id, at + HOUR, unit_id=world["school"])
    assert _timer(factory, ticket_id) == lead.remind_at  # the resolved part is no longer watched
    resolved = _do(factory, "resolve", ticket_id, at + 2 * HOUR, unit_id=world["police"])
    assert resolved.stage is None and _timer(factory, ticket_id) is None

    # A failed review sends the lead back to work, with a fresh deadline from the review.
    review_at = at + 3 * HOUR
    reopened = _do(factory, "review", ticket_id, review_at, passed=False)
    assert reopened.stage == "resolve" and reopened.parts[0].due_at == review_at + 240 * HOUR
    assert reopened.parts[1].state == "resolved" and reopened.due_at == review_at + 240 * HOUR
    assert _timer(factory, ticket_id) == review_at + 192 * HOUR
    _do(factory, "close", ticket_id, review_at + HOUR, reason="no_further_action")
    assert _timer(factory, ticket_id) is None


def test_an_urgent_ticket_runs_on_the_fast_track_s_hours(factory, world):
    ticket_id = _submit(factory, world, urgency="urgent")
    assert _ticket(factory, ticket_id).due_at == NOW + HOUR
    dispatched = _do(factory, "dispatch", ticket_id, NOW + 0.5 * HOUR, units=[Assignment(world["hospital"], lead=True)])
    assert (dispatched.stage, dispatched.due_at) == ("resolve", NOW + 24.5 * HOUR)
    assert dispatched.accept_due_at == NOW + HOUR and dispatched.dispatch_due_at is None


def test_the_compound_s_or_a_member_s_own_work_has_the_ticket_s_deadline(factory, world):
    ticket_id = _submit(factory, world)
    _do(factory, "accept", ticket_id, NOW)
    started = _do(factory, "start", ticket_id, NOW + HOUR)
    assert (started.stage, started.due_at) == ("resolve", NOW + 241 * HOUR)
    assert _timer(factory, ticket_id) == started.remind_at
    # It cannot after all and blows the whistle: the dispatch stage starts from the whistle.
    escalated = _do(factory, "escalate", ticket_id, NOW + 2 * HOUR)
    assert (escalated.stage, escalated.due_at) == ("dispatch", NOW + 74 * HOUR)

    wish = _submit(factory, world, kind="wish")
    _do(factory, "accept", wish, NOW)
    claimed = _do(factory, "claim", wish, NOW + HOUR, member_id=uuid.uuid4())
    assert (claimed.stage, claimed.due_at, claimed.parts) == ("resolve", NOW + 241 * HOUR, [])


# --- A district's own deadlines ------------------------------------------------------------------------------

def test_a_district_s_own_deadlines_hold_for_its_tickets_and_no_other_district_s(factory, world):
    with factory() as session:
        view = usecases.set_category_deadlines(session, ADMIN, "facilities", normal={
            "accept": 12, "dispatch": 48, "resolve": 120}, urgent={"accept": 0.5, "dispatch": 1, "resolve": 8},
            remind_before_percent=25)
        session.commit()
    assert (view.district_id, view.overridden, view.version) == (YONGCHUAN, True, 1)
    ticket_id = _submit(factory, world)
    ticket = _ticket(factory, ticket_id)
    assert (ticket.due_at, ticket.remind_at) == (NOW + 12 * HOUR, NOW + 9 * HOUR)
    urgent = _do(factory, "dispatch", _submit(factory, world, urgency="urgent"), NOW,
                 units=[Assignment(world["police"], lead=True)])
    assert urgent.parts[0].due_at == NOW + 8 * HOUR
    # Other categories of the district, and the category elsewhere, keep the defaults.
    with factory() as session:
        listed = {c.code: c for c in usecases.list_categories(session, CLERK)}
        bishan = usecases.get_category(session, OPERATOR, "facilities", district_id=BISHAN)
        defaults = usecases.get_category(session, OPERATOR, "facilities")
    assert listed["facilities"].deadlines == view.deadlines and not listed["general"].overridden
    assert (bishan.overridden, bishan.version, bishan.deadlines.normal.resolve) == (False, 0, 240)
    assert (defaults.district_id, defaults.overridden) == (None, False)


def test_editing_a_district_s_deadlines_changes_only_what_is_named_and_checks_the_version(factory):
    seen: list[int] = []
    with factory() as session:
        first = usecases.edit_category_deadlines(session, OPERATOR, "dispute", district_id=BISHAN,
                                                 urgent={"resolve": 12}, check_version=seen.append)
        session.commit()
    assert seen == [0] and first.version == 1
    assert (first.deadlines.urgent.resolve, first.deadlines.normal.resolve) == (12, 240)
    with factory() as session:
        second = usecases.edit_category_deadlines(session, OPERATOR, "dispute", district_id=BISHAN,
                                                  remind_before_percent=0, check_version=seen.append)
        session.commit()
    assert seen == [0, 1] and second.version == 2
    assert (second.deadlines.urgent.resolve, second.deadlines.remind_before_percent) == (12, 0)
    for actor, code, district in ((OPERATOR, "dispute", None), (CLERK, "dispute", BISHAN)):
        with factory() as session, pytest.raises(ValidationFailed) as refused:
            usecases.edit_category_deadlines(session, actor, code, district_id=district, urgent={"resolve": 1})
        assert list(refused.value.errors) == ["district_id"]
    with factory() as session, pytest.raises(ValidationFailed) as slower:
        usecases.edit_category_deadlines(session, OPERATOR, "dispute", district_id=BISHAN, urgent={"accept": 30})
    assert list(slower.value.errors) == ["urgent.accept_hours"]
    with factory() as session, pytest.raises(NotFound):
        usecases.get_category(session, CLERK, "juggling")


def test_a_running_stage_keeps_its_deadline_when_the_district_changes_its_own(factory, world):
    ticket_id = _submit(factory, world)
    with factory() as session:
        usecases.edit_category_deadlines(session, ADMIN, "facilities", normal={"accept": 6, "dispatch": 6})
        session.commit()
    assert _ticket(factory, ticket_id).due_at == NOW + 24 * HOUR
    assert _do(factory, "accept", ticket_id, NOW + HOUR).due_at == NOW + 7 * HOUR


# --- The clock ------------------------------------------------------------------------------------------------

def test_reminder_then_overdue_each_once_and_the_next_stage_starts_afresh(factory, world):
    ticket_id = _submit(factory, world)
    ticket = _ticket(factory, ticket_id)
    assert _clock(factory, ticket.remind_at - timedelta(seconds=1)).tick() == 0
    assert _clock(factory, ticket.remind_at).tick() == 1
    assert _clock(factory, ticket.remind_at + HOUR).tick() == 0
    assert _clock(factory, ticket.due_at).tick() == 1
    assert _clock(factory, ticket.due_at + 100 * HOUR).tick() == 0
    [soon] = _told(factory, "tickets.ticket.due_soon")
    [overdue] = _told(factory, "tickets.ticket.overdue")
    assert (soon["stage"], soon["stage_due_at"], soon["overdue"]) == ("accept", ticket.due_at.isoformat(), False)
    assert (overdue["stage"], overdue["unit_ids"], overdue["escalation"], overdue["overdue"]) == (
        "accept", [], None, True)
    assert _timer(factory, ticket_id) is None
    # Accepted late: the dispatch stage has its own deadline, and is not overdue.
    accepted = _do(factory, "accept", ticket_id, ticket.due_at + 100 * HOUR)
    assert (accepted.stage, accepted.overdue, accepted.reminded) == ("dispatch", False, False)
    assert _timer(factory, ticket_id) == accepted.remind_at


def test_a_clock_started_after_the_deadline_tells_the_overdue_once_and_no_stale_reminder(factory, world):
    ticket_id = _submit(factory, world)
    late = _ticket(factory, ticket_id).due_at + 30 * 24 * HOUR  # the clock was down for a month
    clock = _clock(factory, late)
    assert clock.tick() == 1 and clock.tick() == 0
    assert _told(factory, "tickets.ticket.due_soon") == []
    assert [e["stage"] for e in _told(factory, "tickets.ticket.overdue")] == ["accept"]


def test_two_clocks_on_one_database_tell_each_reminder_and_overdue_once(factory, world):
    tickets = [_submit(factory, world) for _ in range(6)]
    ticket = _ticket(factory, tickets[0])
    for at in (ticket.remind_at + HOUR, ticket.due_at + HOUR):
        clocks = [_clock(factory, at), _clock(factory, at)]
        fired: list[int] = []
        threads = [threading.Thread(target=lambda c=c, out=fired: out.append(c.tick())) for c in clocks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sum(fired) == len(tickets)
    for key in ("tickets.ticket.due_soon", "tickets.ticket.overdue"):
        assert sorted(e["id"] for e in _told(factory, key)) == sorted(str(t) for t in tickets), key


def test_dispatched_work_is_overdue_unit_by_unit_and_parts_due_together_are_told_together(factory, world):
    ticket_id = _submit(factory, world, urgency="urgent")
    early = NOW + 10 * HOUR
    _do(factory, "dispatch", ticket_id, NOW, units=[
        Assignment(world["police"], lead=True), Assignment(world["school"]), Assignment(world["hospital"],
                                                                                        due_at=early)])
    assert _clock(factory, early).tick() == 1  # the hospital's reminder was too late to send: only its overdue
    ticket = _ticket(factory, ticket_id)
    assert ticket.overdue and [p.overdue for p in ticket.parts] == [False, False, True]
    assert _clock(factory, NOW + 20 * HOUR).tick() == 1
    assert _clock(factory, NOW + 24 * HOUR).tick() == 1
    overdues = _told(factory, "tickets.ticket.overdue")
    assert [sorted(e["unit_ids"]) for e in overdues] == [
        [str(world["hospital"])], sorted([str(world["police"]), str(world["school"])])]
    assert [e["stage"] for e in overdues] == ["resolve", "resolve"]
    assert [p["overdue"] for p in overdues[-1]["parts"]] == [True, True, True]
    [soon] = _told(factory, "tickets.ticket.due_soon")  # the two others' reminder, sent together
    assert sorted(soon["unit_ids"]) == sorted([str(world["police"]), str(world["school"])])
    assert _clock(factory, NOW + 1000 * HOUR).tick() == 0


def test_rerouting_withdraws_the_parts_watched_and_watches_the_new_units(factory, world):
    ticket_id = _submit(factory, world, urgency="urgent")
    _do(factory, "dispatch", ticket_id, NOW, units=[Assignment(world["police"], lead=True)])
    rerouted = _do(factory, "reroute", ticket_id, NOW + 20 * HOUR, category="environment",
                   units=[Assignment(world["hospital"], lead=True)])
    assert rerouted.due_at == NOW + 44 * HOUR
    assert _timer(factory, ticket_id) == rerouted.parts[1].remind_at
    assert _clock(factory, NOW + 30 * HOUR).tick() == 0  # the police's deadline no longer counts
    assert _clock(factory, NOW + 44 * HOUR).tick() == 1
    [overdue] = _told(factory, "tickets.ticket.overdue")
    assert overdue["unit_ids"] == [str(world["hospital"])]


def test_an_overdue_dispatched_ticket_names_the_sitting_chair_and_the_convenor(factory, world):
    committee, convenor = uuid.uuid4(), uuid.uuid4()
    with factory() as session:
        usecases.record_committee(session, committee, 2, district_id=YONGCHUAN, community_id=COMMUNITY,
                                  name="星光社区大党委", time_zone="Asia/Shanghai", convenor_name="李书记",
                                  convenor_member_id=convenor, units=[])
        # Term 0 chaired by the police; term 1 by the school, whose news names no unit name (tickets has it).
        usecases.record_chair_term(session, committee_id=committee, district_id=YONGCHUAN, term_index=0, part=0,
                                   starts_at=NOW - 40 * 24 * HOUR, ends_at=NOW - 10 * 24 * HOUR,
                                   organization_id=world["police"], organization_name="中山路派出所")
        usecases.record_chair_term(session, committee_id=committee, district_id=YONGCHUAN, term_index=1, part=0,
                                   starts_at=NOW - 10 * 24 * HOUR, ends_at=NOW + 20 * 24 * HOUR,
                                   organization_id=world["school"], organization_name=None)
        # A term not begun when the ticket falls overdue.
        usecases.record_chair_term(session, committee_id=committee, district_id=YONGCHUAN, term_index=2, part=0,
                                   starts_at=NOW + 20 * 24 * HOUR, ends_at=NOW + 50 * 24 * HOUR,
                                   organization_id=world["hospital"], organization_name="永川区人民医院")
        session.commit()
    ticket_id = _submit(factory, world, urgency="urgent")
    _do(factory, "dispatch", ticket_id, NOW, units=[Assignment(world["hospital"], lead=True)])
    assert _clock(factory, NOW + 25 * HOUR).tick() == 1
    [overdue] = _told(factory, "tickets.ticket.overdue")
    assert overdue["escalation"] == {
        "committee_id": str(committee), "committee_name": "星光社区大党委",
        "chair_unit_id": str(world["school"]), "chair_unit_name": "永川中学", "chair_term_index": 1,
        "chair_term_ends_at": (NOW + 20 * 24 * HOUR).isoformat(),
        "convenor_name": "李书记", "convenor_member_id": str(convenor)}
    assert (overdue["community_id"], overdue["compound_name"]) == (str(COMMUNITY), "星光小区")


def test_news_of_an_earlier_part_of_a_chair_s_window_does_not_undo_a_handover(factory):
    committee, first, successor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    starts = NOW - 24 * HOUR

    def term(part, unit) -> bool:
        with factory() as session:
            kept = usecases.record_chair_term(session, committee_id=committee, district_id=YONGCHUAN, term_index=4,
                                              part=part, starts_at=starts, ends_at=None, organization_id=unit,
                                              organization_name=None)
            session.commit()
            return kept

    assert term(1, successor) is True
    assert term(0, first) is False
    assert term(1, successor) is True  # the same news again changes nothing


def test_an_empty_edit_leaves_the_district_on_the_defaults(factory):
    with factory() as session:
        view = usecases.edit_category_deadlines(session, ADMIN, "general", normal={}, check_version=lambda v: None)
        session.commit()
    assert (view.overridden, view.version, view.district_id) == (False, 0, YONGCHUAN)
    with factory() as session:
        assert not usecases.get_category(session, CLERK, "general").overridden
