"""A term's later milestones from the clock (ending soon, ended, report due) and the rules of term reports:
SQLite sessions and a clock with a fixed now, no app, no broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from unittest import mock

import pytest
from sqlalchemy import select

from linli.services.rotation import usecases
from linli.services.rotation.clock import TIMERS
from linli.services.rotation.models import Base, Term, TermReport
from linli.shared.actors import Actor
from linli.shared.clock import Clock
from linli.shared.errors import Conflict, Forbidden, ValidationFailed
from tests.support.sessions import committed_events, pending_timers

YONGCHUAN = str(uuid.uuid4())
CLERK = Actor("clerk", YONGCHUAN, frozenset({"rotation:write"}))
STRANGER = Actor("stranger", str(uuid.uuid4()), frozenset({"rotation:write"}))
NAMES = {"A": "永川区人民医院", "B": "永川供电公司", "C": "中山路派出所"}
COMMUNITY = uuid.uuid4()
MILESTONES = ("rotation.term.started", "rotation.term.ending_soon", "rotation.term.ended",
              "rotation.term.report_due", "rotation.term.handed_over")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class World:
    def __init__(self, factory):
        self.factory = factory
        self.committee_id = uuid.uuid4()
        self.units = {letter: uuid.uuid4() for letter in NAMES}
        self.version = 1
        with factory() as session:
            usecases.record_committee(session, self.committee_id, 1, district_id=YONGCHUAN,
                                      community_id=COMMUNITY, name="星光社区大党委", time_zone="Asia/Shanghai")
            session.commit()
        self.feed(*(self.stint(letter) for letter in NAMES))

    def stint(self, letter, left_on=None, reason=None):
        return usecases.UnitStint(self.units[letter], NAMES[letter], date(2023, 1, 1), left_on, reason)

    def feed(self, *stints, now=utc(2023, 12, 1), cause="unit_joined"):
        self.version += 1
        with self.factory() as session:
            usecases.record_units(session, self.committee_id, self.version, district_id=YONGCHUAN,
                                  units=list(stints), now=now, cause=cause)
            session.commit()

    def rotation(self, **extra):
        with self.factory() as session:
            rotation = usecases.set_up_rotation(session, CLERK, committee_id=self.committee_id, term_months=1,
                                                starts_on=date(2024, 1, 1), now=utc(2023, 12, 1), **extra)
            session.commit()
        return rotation

    def tick(self, at):
        return Clock("rotation", self.factory, TIMERS, now=lambda: at).tick()

    def act(self, fn, *args, **kwargs):
        with self.factory() as session:
            result = fn(session, *args, **kwargs)
            session.commit()
            return result

    def term(self, rotation, index, part=0) -> Term:
        with self.factory() as session:
            return session.scalars(select(Term).where(Term.rotation_id == rotation.id, Term.index == index,
                                                      Term.part == part, Term.state != "cancelled")).one()

    def report(self, term) -> TermReport:
        with self.factory() as session:
            return session.scalars(select(TermReport).where(TermReport.term_id == term.id)).one()


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


@pytest.fixture
def world(factory):
    return World(factory)


def milestones(factory):
    """(event, term index, part) of every term milestone sent, in commit order."""
    found = []
    for event in committed_events(factory):
        key = event["type"].removeprefix("linli.")
        if key in MILESTONES:
            data = event["data"]
            term = data.get("term", data)
            found.append((key.removeprefix("rotation.term."), term["index"], term["part"]))
    return found


def test_each_milestone_is_sent_once_at_its_local_midnight_with_what_notify_needs(factory, world):
    rotation = world.rotation()
    world.tick(utc(2024, 1, 1))
    world.tick(utc(2024, 1, 24, 15, 59))  # a minute before the local midnight of January 25: nothing yet
    assert milestones(factory) == [("started", 0, 0)]
    world.tick(utc(2024, 1, 24, 16))
    world.tick(utc(2024, 1, 24, 17))
    assert milestones(factory) == [("started", 0, 0), ("ending_soon", 0, 0)]
    [soon] = committed_events(factory, "rotation.term.ending_soon")
    data = soon["data"]
    assert (data["organization_name"], data["committee_name"], data["community_id"], data["ends_on"],
            data["ending_soon_days"], data["report_due_on"], data["time_zone"]) == (
        "永川区人民医院", "星光社区大党委", str(COMMUNITY), "2024-01-31", 7, "2024-02-15", "Asia/Shanghai")
    world.tick(utc(2024, 2, 1))
    assert milestones(factory)[2:] == [("ended", 0, 0), ("started", 1, 0)]
    report = world.report(world.term(rotation, 0))
    assert (report.state, report.due_on, report.due_at) == ("pending", date(2024, 2, 15), utc(2024, 2, 14, 16))
    world.tick(utc(2024, 2, 14, 16))
    world.tick(utc(2024, 2, 14, 16))
    assert milestones(factory)[4:] == [("report_due", 0, 0)]
    [due] = committed_events(factory, "rotation.term.report_due")
    assert due["data"]["report_state"] == "missing" and due["data"]["report_id"] == str(report.id)
    assert world.report(world.term(rotation, 0)).state == "missing"


def test_the_clock_down_across_two_boundaries_then_one_tick_tells_every_missed_milestone_in_order(factory, world):
    world.rotation()
    world.tick(utc(2024, 1, 2))
    assert world.tick(utc(2024, 3, 20)) == 1  # the rotation's one timer
    assert milestones(factory) == [
        ("started", 0, 0),
        ("ending_soon", 0, 0), ("ended", 0, 0), ("started", 1, 0), ("report_due", 0, 0),  # Jan 25, Feb 1, Feb 15
        ("ending_soon", 1, 0), ("ended", 1, 0), ("started", 2, 0), ("report_due", 1, 0),  # Feb 23, Mar 1, Mar 15
    ]
    assert world.tick(utc(2024, 3, 20)) == 0  # each once
    assert pending_timers(factory) == [("rotation.milestone", mock.ANY, utc(2024, 3, 24, 16),
                                        {"index": 2, "part": 0, "milestone": "ending_soon"})]


def test_settings_per_rotation_move_the_reminder_and_the_due_day(factory, world):
    rotation = world.rotation(ending_soon_days=3, report_due_days=30)
    world.tick(utc(2024, 1, 1))
    assert [t[2] for t in pending_timers(factory)] == [utc(2024, 1, 28, 16)]
    world.act(usecases.update_rotation, CLERK, rotation.id, ending_soon_days=10, now=utc(2024, 1, 2))
    assert pending_timers(factory) == [("rotation.milestone", str(rotation.id), utc(2024, 1, 21, 16),
                                        {"index": 0, "part": 0, "milestone": "ending_soon"})]
    [updated] = committed_events(factory, "rotation.rotation.updated")
    assert (updated["data"]["ending_soon_days"], updated["data"]["report_due_days"]) == (10, 30)
    world.tick(utc(2024, 2, 1))
    assert world.report(world.term(rotation, 0)).due_on == date(2024, 3, 2)


def test_replanning_the_future_leaves_no_timers_behind(factory, world):
    rotation = world.rotation()
    world.tick(utc(2024, 1, 1))
    before = pending_timers(factory)
    world.feed(world.stint("C", left_on=date(2024, 1, 10), reason="撤并"), now=utc(2024, 1, 5), cause="unit_left")
    assert "C" not in [t.organization_name for t in [world.term(rotation, i) for i in range(1, 6)]]
    assert pending_timers(factory) == before  # future terms have none: only the sitting chair's and the next start


def test_a_sitting_chair_leaving_ends_its_term_before_the_handover_and_its_successor_is_told_too(factory, world):
    rotation = world.rotation()
    world.tick(utc(2024, 1, 1))
    world.feed(world.stint("A", left_on=date(2024, 1, 10), reason="单位撤并"), now=utc(2024, 1, 10, 3),
               cause="unit_left")
    assert milestones(factory) == [("started", 0, 0), ("ended", 0, 0), ("handed_over", 0, 1)]
    cut, successor = world.term(rotation, 0), world.term(rotation, 0, part=1)
    assert (cut.state, cut.ends_on, successor.state) == ("ended", date(2024, 1, 9), "started")
    assert world.report(cut).due_on == date(2024, 1, 24)  # a cut term's report is due from its own end
    world.tick(utc(2024, 2, 1))
    assert milestones(factory)[3:] == [("report_due", 0, 0), ("ending_soon", 0, 1), ("ended", 0, 1),
                                       ("started", 1, 0)]


def test_a_chair_leaving_later_in_its_term_is_cut_then_and_the_successor_sits_at_the_cut(factory, world):
    rotation = world.rotation()
    world.tick(utc(2024, 1, 1))
    world.feed(world.stint("A", left_on=date(2024, 1, 28), reason="单位撤并"), now=utc(2024, 1, 10),
               cause="unit_left")
    # The reminder moved with the end: seven days before January 28, and the end timer to the cut.
    assert [(t[2], t[3]["milestone"]) for t in pending_timers(factory)] == [(utc(2024, 1, 20, 16), "ending_soon")]
    world.tick(utc(2024, 1, 27, 16))
    successor = world.term(rotation, 0, part=1)
    assert successor.state == "started"
    assert milestones(factory) == [("started", 0, 0), ("handed_over", 0, 1), ("ending_soon", 0, 0), ("ended", 0, 0),
                                   ("ending_soon", 0, 1)]  # a 4-day term is told ending soon as it begins
    world.tick(utc(2024, 2, 1))
    assert milestones(factory)[5:] == [("ended", 0, 1), ("started", 1, 0)]


# --- Reports ------------------------------------------------------------------------------------------------

def _ended_term(world, rotation):
    world.tick(utc(2024, 1, 1))
    world.tick(utc(2024, 2, 1))
    return world.term(rotation, 0)


def test_the_chair_submits_once_on_time_with_the_terms_figures_frozen(factory, world):
    rotation = world.rotation()
    world.tick(utc(2024, 1, 1))
    running = world.term(rotation, 0)
    with pytest.raises(Conflict) as not_yet:
        world.act(usecases.submit_report, CLERK, term_id=running.id, organization_id=world.units["A"],
                  text="任期述职", now=utc(2024, 1, 20))
    assert not_yet.value.errors == {"term_id": ["the term has not ended"]}
    term = _ended_term(world, rotation)
    with pytest.raises(Forbidden):
        world.act(usecases.submit_report, CLERK, term_id=term.id, organization_id=world.units["B"], text="代交",
                  now=utc(2024, 2, 2))
    with pytest.raises(ValidationFailed) as foreign:
        world.act(usecases.submit_report, STRANGER, term_id=term.id, organization_id=world.units["A"], text="x",
                  now=utc(2024, 2, 2))
    assert "term_id" in foreign.value.errors
    report = world.act(usecases.submit_report, CLERK, term_id=term.id, organization_id=world.units["A"],
                       text="本任期共召开联席会议一次。", now=utc(2024, 2, 3))
    assert (report.state, report.submitted_by) == ("submitted", "clerk")
    assert json.loads(report.figures)["tickets_listed"] == 0
    with pytest.raises(Conflict):
        world.act(usecases.submit_report, CLERK, term_id=term.id, organization_id=world.units["A"], text="again",
                  now=utc(2024, 2, 4))
    [submitted] = committed_events(factory, "rotation.term.report_submitted")
    assert submitted["data"]["state"] == "submitted" and submitted["data"]["term"]["index"] == 0
    world.tick(utc(2024, 2, 15))
    [due] = committed_events(factory, "rotation.term.report_due")
    assert due["data"]["report_state"] == "submitted"


def test_a_report_after_its_due_day_is_late_and_an_unsubmitted_one_reads_missing(factory, world):
    rotation = world.rotation()
    term = _ended_term(world, rotation)
    report = world.report(term)
    assert usecases.report_state(report, utc(2024, 2, 14, 15)) == "pending"
    assert usecases.report_state(report, utc(2024, 2, 14, 16)) == "missing"  # before the clock tells it
    late = world.act(usecases.submit_report, CLERK, term_id=term.id, organization_id=world.units["A"],
                     text="补交述职", now=utc(2024, 2, 20))
    assert late.state == "late"


def _ticket(world, ticket_id, moment, at, community=COMMUNITY, version=1):
    world.act(usecases.record_ticket, usecases.TicketFacts(
        id=ticket_id, version=version, district_id=YONGCHUAN, community_id=community, compound_id=uuid.uuid4(),
        title="路灯不亮", category="facilities", state=moment, urgency="normal", updated_at=at, moment=moment,
        moment_at=at))


def test_figures_count_the_communitys_tickets_and_activities_during_the_term_each_ticket_once(factory, world):
    rotation = world.rotation()
    world.tick(utc(2024, 1, 1))
    term = world.term(rotation, 0)
    one, two, three = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _ticket(world, one, "listed", utc(2023, 12, 31, 15, 59))  # before the term's local start
    _ticket(world, one, "dispatched", utc(2023, 12, 31, 16), version=2)  # at it
    _ticket(world, one, "overdue", utc(2024, 1, 5), version=3)
    _ticket(world, one, "overdue", utc(2024, 1, 6), version=4)  # a second unit's part: still one ticket
    _ticket(world, two, "listed", utc(2024, 1, 10))
    _ticket(world, two, "closed", utc(2024, 1, 31, 16), version=2)  # the next term's
    _ticket(world, three, "listed", utc(2024, 1, 10), community=uuid.uuid4())  # another community's
    for host, held_at, attendees in (("A", utc(2024, 1, 12), 30), ("B", utc(2024, 1, 20), 12),
                                     ("A", utc(2024, 2, 2), 50)):
        world.act(usecases.record_activity, uuid.uuid4(), 3, district_id=YONGCHUAN, community_id=COMMUNITY,
                  host_organization_id=world.units[host], host_organization_name=NAMES[host], title="义诊",
                  state="held", held_at=held_at, attendee_count=attendees)
    with factory() as session:
        figures = usecases.term_figures(session, session.get_one(Term, term.id))
    assert figures.counts() == {"tickets_listed": 1, "tickets_dispatched": 1, "tickets_closed": 0,
                                "tickets_overdue": 1, "activities_held": 2, "activities_hosted_by_chair": 1,
                                "attendees": 42}
