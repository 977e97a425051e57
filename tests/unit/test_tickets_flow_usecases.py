"""tickets' lifecycle use cases on a SQLite session: each verb writes the ticket, its parts and its history back,
and tells of it with the event of its name."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from linli.services.tickets import usecases
from linli.services.tickets.models import Base, Ticket, TicketMove
from linli.services.tickets.usecases import Assignment, Participant
from linli.shared.actors import Actor
from linli.shared.errors import Conflict, InvalidTransition, NotFound, NotYetKnown, ValidationFailed
from linli.shared.events import CATALOGUE
from tests.support.sessions import committed_events

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
CLERK = Actor("clerk", YONGCHUAN, frozenset({"tickets:write"}))
OTHER_CLERK = Actor("bishan-clerk", BISHAN, frozenset({"tickets:write"}))
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
PHONE = "13812345678"
COMMUNITY = uuid.uuid4()


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


@pytest.fixture
def world(factory):
    """A compound and three units of Yongchuan, and one unit of Bishan."""
    compound, police, school, hospital, foreign = (uuid.uuid4() for _ in range(5))
    with factory() as session:
        usecases.record_compound(session, compound, 1, district_id=YONGCHUAN, name="星光小区",
                                 community_id=COMMUNITY, kind="three_no")
        for unit, name, district in ((police, "中山路派出所", YONGCHUAN), (school, "永川中学", YONGCHUAN),
                                     (hospital, "永川区人民医院", YONGCHUAN), (foreign, "璧山区医院", BISHAN)):
            usecases.record_organization(session, unit, 1, district_id=district, name=name, kind="agency")
        session.commit()
    return {"compound": compound, "police": police, "school": school, "hospital": hospital, "foreign": foreign}


def _submit(factory, world, **fields) -> uuid.UUID:
    with factory() as session:
        ticket = usecases.submit_ticket(session, CLERK, compound_id=world["compound"], title="楼道灯坏了",
                                        description="3栋2单元楼道灯一周没亮", category="facilities",
                                        reporter_name="王阿姨", reporter_phone=PHONE, now=NOW, **fields)
        session.commit()
        return ticket.id


def _do(factory, verb, ticket_id, actor=CLERK, now=LATER, **kwargs) -> Ticket:
    with factory() as session:
        ticket = getattr(usecases, verb)(session, actor, ticket_id, now, **kwargs)
        session.commit()
        session.refresh(ticket)
        return ticket


def _moves(factory, ticket_id) -> list[tuple[str, str, str]]:
    with factory() as session:
        moves = session.scalars(select(TicketMove).where(TicketMove.ticket_id == ticket_id).order_by(TicketMove.seq))
        return [(m.verb, m.from_state, m.to_state) for m in moves]


def _keys(factory) -> list[str]:
    return [e["type"].removeprefix("linli.") for e in committed_events(factory)
            if e["type"] not in ("linli.tickets.ticket.submitted", "linli.tickets.ticket.contact")]


def test_the_compound_handles_it_itself_and_every_move_is_kept_and_told(factory, world):
    ticket_id = _submit(factory, world)
    _do(factory, "accept", ticket_id, note="物业已知悉")
    _do(factory, "start", ticket_id)
    _do(factory, "resolve", ticket_id, note="换了灯泡")
    _do(factory, "review", ticket_id, passed=True)
    closed = _do(factory, "rate", ticket_id, rating="satisfied", comment="很快")
    assert (closed.state, closed.rating, closed.rating_comment, closed.closed_at) == ("closed", "satisfied", "很快",
                                                                                      LATER)
    assert closed.version == 6
    assert _moves(factory, ticket_id) == [("accept", "submitted", "accepted"), ("start", "accepted", "in_progress"),
                                          ("resolve", "in_progress", "resolved"), ("review", "resolved", "reviewed"),
                                          ("rate", "reviewed", "closed")]
    assert _keys(factory) == ["tickets.ticket.accepted", "tickets.ticket.started", "tickets.ticket.resolved",
                              "tickets.ticket.reviewed", "tickets.ticket.rated", "tickets.ticket.closed"]
    # The public ones: the reporter's contact goes out privately, in full.
    events = [e for e in committed_events(factory) if not CATALOGUE[e["type"].removeprefix("linli.")].private]
    [accepted] = committed_events(factory, "tickets.ticket.accepted")
    assert accepted["subject"] == str(ticket_id) and accepted["district"] == YONGCHUAN
    data = accepted["data"]
    assert (data["community_id"], data["compound_name"], data["kind"], data["urgency"]) == (
        str(COMMUNITY), "星光小区", "problem", "normal")
    assert data["move"] == {"verb": "accept", "from_state": "submitted", "to_state": "accepted", "actor": "clerk",
                            "at": LATER.isoformat(), "reason": None, "note": "物业已知悉", "unit_ids": [],
                            "member_id": None}
    assert data["version"] == 2 and data["reporter_phone"] == "138****5678"
    assert all(PHONE not in json.dumps(event) for event in events)
    closed_event = events[-1]["data"]
    assert (closed_event["closed_reason"], closed_event["closed_at"], closed_event["participants"]) == (
        None, LATER.isoformat(), [])


def test_the_whistle_brings_two_units_and_the_lead_resolves_it(factory, world):
    ticket_id = _submit(factory, world)
    for verb in ("accept", "escalate", "list_for_meeting"):
        _do(factory, verb, ticket_id)
    due = LATER + timedelta(days=3)
    dispatched = _do(factory, "dispatch", ticket_id, units=[Assignment(world["police"], lead=True),
                                                            Assignment(world["school"], due_at=due)])
    assert dispatched.state == "dispatched"
    assert [(p.unit_id, p.lead, p.state, p.due_at) for p in dispatched.parts] == [
        (world["police"], True, "dispatched", LATER + timedelta(days=10)), (world["school"], False, "dispatched", due)]
    _do(factory, "resolve", ticket_id, unit_id=world["school"])
    assert _do(factory, "start", ticket_id, unit_id=world["police"]).state == "in_progress"
    helper = uuid.uuid4()
    resolved = _do(factory, "resolve", ticket_id, unit_id=world["police"],
                   participants=[Participant(helper, 2.5)])
    assert resolved.state == "resolved" and [p.state for p in resolved.parts] == ["resolved", "resolved"]
    _do(factory, "review", ticket_id, passed=True)
    closed = _do(factory, "close", ticket_id, note="居民已确认")
    assert (closed.state, closed.close_reason) == ("closed", None)
    [dispatch_event] = committed_events(factory, "tickets.ticket.dispatched")
    assert dispatch_event["data"]["parts"] == [
        {"unit_id": str(world["police"]), "unit_name": "中山路派出所", "lead": True, "state": "dispatched",
         "due_at": (LATER + timedelta(days=10)).isoformat(), "overdue": False},
        {"unit_id": str(world["school"]), "unit_name": "永川中学", "lead": False, "state": "dispatched",
         "due_at": due.isoformat(), "overdue": False}]
    assert dispatch_event["data"]["move"]["unit_ids"] == [str(world["police"]), str(world["school"])]
    [closed_event] = committed_events(factory, "tickets.ticket.closed")
    assert closed_event["data"]["participants"] == [{"member_id": str(helper), "hours": 2.5}]
    assert closed_event["data"]["closed_reason"] is None


def test_an_urgent_ticket_is_dispatched_at_once_with_the_fast_track_deadline(factory, world):
    ticket_id = _submit(factory, world, urgency="urgent")
    dispatched = _do(factory, "dispatch", ticket_id, units=[Assignment(world["hospital"], lead=True)])
    assert dispatched.state == "dispatched"
    assert dispatched.parts[0].due_at == LATER + timedelta(hours=24)
    assert _moves(factory, ticket_id) == [("dispatch", "submitted", "dispatched")]
    normal = _submit(factory, world)
    with pytest.raises(InvalidTransition) as refused:
        _do(factory, "dispatch", normal, units=[Assignment(world["hospital"], lead=True)])
    assert "accept" in refused.value.errors["state"][0]


def test_a_wish_is_claimed_by_a_member_who_is_credited_when_it_closes(factory, world):
    ticket_id = _submit(factory, world, kind="wish")
    _do(factory, "accept", ticket_id)
    member = uuid.uuid4()
    claimed = _do(factory, "claim", ticket_id, member_id=member)
    assert (claimed.state, claimed.member_id, claimed.parts) == ("in_progress", member, [])
    with pytest.raises(ValidationFailed) as refused:
        _do(factory, "resolve", ticket_id)
    assert list(refused.value.errors) == ["participants"]
    _do(factory, "resolve", ticket_id, participants=[Participant(member, 1.5)])
    _do(factory, "review", ticket_id, passed=True)
    _do(factory, "rate", ticket_id, rating="basically_satisfied")
    [claimed_event] = committed_events(factory, "tickets.ticket.claimed")
    assert claimed_event["data"]["member_id"] == str(member) and claimed_event["data"]["move"]["member_id"] == str(
        member)
    [closed] = committed_events(factory, "tickets.ticket.closed")
    assert closed["data"]["participants"] == [{"member_id": str(member), "hours": 1.5}]
    assert closed["data"]["kind"] == "wish" and closed["data"]["rating"] == "basically_satisfied"


@pytest.mark.parametrize("undo", ["review", "rate"])
def test_a_failed_review_or_a_dissatisfied_resident_reopens_and_says_so(factory, world, undo):
    ticket_id = _submit(factory, world, urgency="urgent")
    _do(factory, "dispatch", ticket_id, units=[Assignment(world["police"], lead=True)])
    _do(factory, "resolve", ticket_id, unit_id=world["police"])
    if undo == "review":
        reopened = _do(factory, "review", ticket_id, passed=False, note="灯还是不亮")
    else:
        _do(factory, "review", ticket_id, passed=True)
        reopened = _do(factory, "rate", ticket_id, rating="dissatisfied", comment="没修好")
    assert reopened.state == "dispatched" and reopened.parts[0].state == "dispatched"
    assert reopened.rating is None and reopened.rating_comment is None
    told = {"review": "tickets.ticket.reviewed", "rate": "tickets.ticket.rated"}[undo]
    assert _keys(factory)[-2:] == [told, "tickets.ticket.reopened"]
    [event] = committed_events(factory, "tickets.ticket.reopened")
    assert event["data"]["state"] == "dispatched" and event["data"]["move"]["reason"] in ("failed", "dissatisfied")
    if undo == "review":
        [reviewed] = committed_events(factory, "tickets.ticket.reviewed")
        assert reviewed["data"]["passed"] is False and reviewed["data"]["move"]["note"] == "灯还是不亮"


def test_closing_a_master_closes_its_duplicates_as_duplicate(factory, world):
    master = _submit(factory, world)
    first, second = _submit(factory, world), _submit(factory, world)
    _do(factory, "accept", second)
    _do(factory, "merge", first, master_id=master)
    merged = _do(factory, "merge", second, master_id=master, note="同一盏灯")
    assert (merged.master_id, merged.state) == (master, "accepted")
    _do(factory, "close", master, reason="no_further_action")
    with factory() as session:
        rows = {t.id: t for t in session.scalars(select(Ticket))}
    assert {(rows[t].state, rows[t].close_reason) for t in (first, second)} == {("closed", "duplicate")}
    assert rows[master].close_reason == "no_further_action"
    assert _moves(factory, second)[-1] == ("close", "accepted", "closed")
    closed = committed_events(factory, "tickets.ticket.closed")
    assert (closed[0]["subject"], closed[0]["data"]["closed_reason"]) == (str(master), "no_further_action")
    assert {(e["subject"], e["data"]["closed_reason"]) for e in closed[1:]} == {
        (str(first), "duplicate"), (str(second), "duplicate")}
    [merge_event, _] = committed_events(factory, "tickets.ticket.merged")
    assert merge_event["data"]["master_id"] == str(master)


def test_merging_refuses_itself_another_compound_a_closed_master_or_a_duplicate_master(factory, world):
    master, duplicate, third = _submit(factory, world), _submit(factory, world), _submit(factory, world)
    elsewhere = uuid.uuid4()
    with factory() as session:
        usecases.record_compound(session, elsewhere, 1, district_id=YONGCHUAN, name="阳光小区",
                                 community_id=COMMUNITY, kind="old")
        session.commit()
    neighbour = _submit(factory, {**world, "compound": elsewhere})
    _do(factory, "merge", duplicate, master_id=master)
    for target in (duplicate, third, uuid.uuid4(), neighbour):
        with pytest.raises(ValidationFailed) as refused:
            _do(factory, "merge", third, master_id=target)
        assert list(refused.value.errors) == ["master_id"], target
    _do(factory, "reject", master, reason="重复提交")
    with pytest.raises(Conflict):
        _do(factory, "merge", third, master_id=master)


def test_rerouting_withdraws_the_open_parts_and_names_both_sides(factory, world):
    ticket_id = _submit(factory, world, urgency="urgent")
    _do(factory, "dispatch", ticket_id, units=[Assignment(world["police"], lead=True),
                                               Assignment(world["school"])])
    rerouted = _do(factory, "reroute", ticket_id, category="environment",
                   units=[Assignment(world["hospital"], lead=True)])
    assert rerouted.category == "environment"
    assert [(p.unit_id, p.state) for p in rerouted.parts] == [
        (world["police"], "withdrawn"), (world["school"], "withdrawn"), (world["hospital"], "dispatched")]
    [event] = committed_events(factory, "tickets.ticket.rerouted")
    assert event["data"]["previous_category"] == "facilities" and event["data"]["category"] == "environment"
    assert event["data"]["previous_unit_ids"] == [str(world["police"]), str(world["school"])]
    assert event["data"]["move"]["unit_ids"] == [str(world["hospital"])]


def test_unknown_or_foreign_units_are_not_yet_known_and_change_nothing(factory, world):
    ticket_id = _submit(factory, world, urgency="urgent")
    for unit in (uuid.uuid4(), world["foreign"]):
        with pytest.raises(NotYetKnown) as refused:
            _do(factory, "dispatch", ticket_id, units=[Assignment(unit, lead=True)])
        assert list(refused.value.errors) == ["units"]
    listed = _submit(factory, world)
    for verb in ("accept", "escalate", "list_for_meeting"):
        _do(factory, verb, listed)
    with pytest.raises(NotYetKnown) as refused:
        _do(factory, "claim", listed, unit_id=uuid.uuid4())
    assert list(refused.value.errors) == ["unit_id"]
    assert _moves(factory, ticket_id) == [] and _do(factory, "claim", listed, unit_id=world["school"]).parts[0].lead
    with pytest.raises(ValidationFailed) as past:
        _do(factory, "dispatch", ticket_id, units=[Assignment(world["police"], lead=True, due_at=NOW)])
    assert list(past.value.errors) == ["units"]


def test_another_districts_ticket_is_not_found_and_an_operator_moves_any(factory, world):
    ticket_id = _submit(factory, world)
    with pytest.raises(NotFound):
        _do(factory, "accept", ticket_id, actor=OTHER_CLERK)
    assert _do(factory, "accept", ticket_id, actor=Actor("ops", "*", frozenset())).state == "accepted"
    assert _moves(factory, ticket_id) == [("accept", "submitted", "accepted")]


def test_an_illegal_move_names_the_state_and_allowed_verbs_and_records_nothing(factory, world):
    ticket_id = _submit(factory, world)
    with pytest.raises(InvalidTransition) as refused:
        _do(factory, "resolve", ticket_id)
    assert refused.value.errors == {"state": ["is submitted; allowed: accept, reject, close, merge"]}
    assert _moves(factory, ticket_id) == [] and _keys(factory) == []


def test_if_match_is_checked_against_the_version_before_the_move(factory, world):
    ticket_id = _submit(factory, world)
    seen: list[int] = []
    _do(factory, "accept", ticket_id, check_version=seen.append)
    assert seen == [1]


def test_hours_add_up_over_resolves_that_name_a_member_again(factory, world):
    ticket_id = _submit(factory, world)
    member = uuid.uuid4()
    _do(factory, "accept", ticket_id)
    _do(factory, "start", ticket_id)
    _do(factory, "resolve", ticket_id, participants=[Participant(member, 1)])
    _do(factory, "review", ticket_id, passed=False)
    with pytest.raises(ValidationFailed) as twice:
        _do(factory, "resolve", ticket_id, participants=[Participant(member, 1), Participant(member, 2)])
    assert list(twice.value.errors) == ["participants"]
    resolved = _do(factory, "resolve", ticket_id, participants=[Participant(member, 2)])
    assert [(p.member_id, p.hours) for p in resolved.participants] == [(member, 3)]


def test_a_comment_is_told_with_the_ticket_as_subject_and_leaves_its_version(factory, world):
    ticket_id = _submit(factory, world)
    with factory() as session:
        comment = usecases.add_comment(session, CLERK, ticket_id, LATER, text="已联系物业")
        session.commit()
        assert session.get(Ticket, ticket_id).version == 1
    [event] = committed_events(factory, "tickets.ticket.commented")
    assert event["subject"] == str(ticket_id)
    assert (event["data"]["id"], event["data"]["author"], event["data"]["text"]) == (
        str(comment.id), "clerk", "已联系物业")
    with factory() as session, pytest.raises(NotFound):
        usecases.add_comment(session, OTHER_CLERK, ticket_id, LATER, text="x")


def test_every_verb_has_its_event():
    assert set(CATALOGUE) >= {f"tickets.ticket.{verb}" for verb in (
        "accepted", "rejected", "started", "escalated", "listed", "dispatched", "claimed", "resolved", "rerouted",
        "reviewed", "rated", "closed", "merged", "reopened", "commented")}
