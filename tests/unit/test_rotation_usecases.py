"""rotation's use cases, called directly on a SQLite session: no app, no broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from linli.services.rotation import usecases
from linli.services.rotation.models import AuditEntry, Base, Committee, Rotation, Term
from linli.shared.actors import Actor
from linli.shared.errors import Conflict, InvalidTransition, NotFound, NotYetKnown, ValidationFailed
from tests.support.sessions import committed_events, pending_timers

YONGCHUAN = str(uuid.uuid4())
CLERK = Actor("clerk", YONGCHUAN, frozenset({"rotation:write"}))
STRANGER = Actor("stranger", str(uuid.uuid4()), frozenset({"rotation:write"}))
BEFORE = datetime(2023, 12, 1, tzinfo=UTC)
NAMES = {"A": "永川区人民医院", "B": "永川供电公司", "C": "中山路派出所", "D": "永川区税务局"}


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


class World:
    """A committee as registry announced it, with its units by letter."""

    def __init__(self, factory, district=YONGCHUAN, time_zone="Asia/Shanghai"):
        self.factory, self.district = factory, district
        self.committee_id = uuid.uuid4()
        self.units = {letter: uuid.uuid4() for letter in NAMES}
        self.version = 1
        with factory() as session:
            usecases.record_committee(session, self.committee_id, 1, district_id=district,
                                      community_id=uuid.uuid4(), name="星光社区大党委", time_zone=time_zone)
            session.commit()

    def stint(self, letter, joined_on=date(2023, 1, 1), left_on=None, reason=None):
        return usecases.UnitStint(self.units[letter], NAMES[letter], joined_on, left_on, reason)

    def feed(self, *stints, now=BEFORE, cause="unit_joined"):
        self.version += 1
        with self.factory() as session:
            changed = usecases.record_units(session, self.committee_id, self.version, district_id=self.district,
                                            units=list(stints), now=now, cause=cause)
            session.commit()
        return changed

    def letter(self, organization_id):
        return next((k for k, v in self.units.items() if v == organization_id), None)

    def rotation(self, starts_on=date(2024, 1, 1), term_months=1, now=BEFORE, **extra) -> Rotation:
        with self.factory() as session:
            rotation = usecases.set_up_rotation(session, CLERK, committee_id=self.committee_id,
                                                term_months=term_months, starts_on=starts_on, now=now, **extra)
            session.commit()
        return rotation

    def chairs(self, rotation, count=8):
        with self.factory() as session:
            rows = session.scalars(select(Term).where(Term.rotation_id == rotation.id, Term.state != "cancelled")
                                   .order_by(Term.index, Term.part)).all()
            return [self.letter(t.organization_id) for t in rows][:count]

    def term(self, rotation, index, part=0) -> Term:
        with self.factory() as session:
            return session.scalars(select(Term).where(Term.rotation_id == rotation.id, Term.index == index,
                                                      Term.part == part, Term.state != "cancelled")).one()

    def act(self, fn, *args, **kwargs):
        with self.factory() as session:
            result = fn(session, *args, **kwargs)
            session.commit()
            return result


@pytest.fixture
def world(factory):
    w = World(factory)
    w.feed(*(w.stint(letter) for letter in "ABCD"))
    return w


def test_setting_up_plans_the_terms_in_join_order_and_schedules_term_zero(factory, world):
    rotation = world.rotation()
    assert (rotation.time_zone, rotation.state, rotation.version, rotation.order_policy) == (
        "Asia/Shanghai", "active", 1, "join_order")
    assert world.chairs(rotation) == list("ABCDABCD")
    first = world.term(rotation, 0)
    assert (first.state, first.starts_on, first.ends_on, first.organization_name, first.reason) == (
        "planned", date(2024, 1, 1), date(2024, 1, 31), "永川区人民医院", "turn")
    assert first.uid == f"{first.id}@rotation.linli"
    [created] = committed_events(factory, "rotation.rotation.created")
    assert created["data"]["order"] == [] and created["data"]["order_policy"] == "join_order"
    [changed] = committed_events(factory, "rotation.schedule.changed")
    assert changed["data"]["cause"] == "rotation_created" and changed["data"]["committee_name"] == "星光社区大党委"
    assert len(changed["data"]["added"]) == 23 and changed["data"]["cancelled"] == []  # Jan 2024 to Nov 2025
    assert changed["data"]["added"][0]["organization_name"] == "永川区人民医院"
    # And each term on its own, in the order of the calendar, after the whole difference.
    scheduled = committed_events(factory, "rotation.term.scheduled")
    assert [e["data"]["term_id"] for e in scheduled] == [t["id"] for t in changed["data"]["added"]]
    assert {(e["subject"], e["data"]["cause"], e["data"]["version"], e["data"]["state"], e["data"]["reason"])
            for e in scheduled} == {(str(rotation.id), "rotation_created", changed["data"]["version"], "planned",
                                     "turn")}
    assert [e["data"]["organization_name"] for e in scheduled[:5]] == [NAMES[c] for c in "ABCDA"]
    first = scheduled[0]["data"]
    assert (first["starts_on"], first["committee_name"]) == ("2024-01-01", "星光社区大党委")
    order = [e["type"] for e in committed_events(factory)
             if e["type"] in ("linli.rotation.term.scheduled", "linli.rotation.schedule.changed")]
    assert order[0] == "linli.rotation.schedule.changed" and len(order) == 24
    assert committed_events(factory, "rotation.schedule.gap_found") == []
    assert pending_timers(factory) == [("rotation.milestone", str(rotation.id), utc(2023, 12, 31, 16),
                                        {"index": 0, "part": 0, "milestone": "started"})]


def test_a_committee_without_units_gets_gaps_announced_once(factory):
    empty = World(factory)
    rotation = empty.rotation()
    [gaps] = committed_events(factory, "rotation.schedule.gap_found")
    assert gaps["subject"] == str(rotation.id) and len(gaps["data"]["gaps"]) == 23
    assert {g["organization_id"] for g in gaps["data"]["gaps"]} == {None}
    # A unit joining fills every gap; nothing new is announced as a gap.
    empty.feed(empty.stint("A", joined_on=date(2023, 11, 1)))
    assert set(empty.chairs(rotation, 30)) == {"A"}
    assert len(committed_events(factory, "rotation.schedule.gap_found")) == 1


def test_an_explicit_order_and_a_zone_of_its_own(world):
    rotation = world.rotation(order_policy="explicit", order=[world.units["C"], world.units["A"]],
                              time_zone="Europe/Berlin")
    assert world.chairs(rotation, 4) == list("CABD")
    assert world.term(rotation, 0).starts_at == utc(2023, 12, 31, 23)


def test_bad_set_ups_name_their_field_and_a_second_rotation_conflicts(factory, world):
    for kwargs, field in (({"time_zone": "Mars/Olympus"}, "time_zone"),
                          ({"order_policy": "explicit", "order": [uuid.uuid4()]}, "order"),
                          ({"order_policy": "explicit"}, "order")):
        with factory() as session, pytest.raises(ValidationFailed) as raised:
            usecases.set_up_rotation(session, CLERK, committee_id=world.committee_id, term_months=1,
                                     starts_on=date(2024, 1, 1), now=BEFORE, **kwargs)
        assert list(raised.value.errors) == [field]
    foreign = World(factory, district=str(uuid.uuid4()))
    for committee_id in (uuid.uuid4(), foreign.committee_id):
        with factory() as session, pytest.raises(NotYetKnown) as raised:
            usecases.set_up_rotation(session, CLERK, committee_id=committee_id, term_months=1,
                                     starts_on=date(2024, 1, 1), now=BEFORE)
        assert list(raised.value.errors) == ["committee_id"]
    world.rotation()
    with factory() as session, pytest.raises(Conflict):
        usecases.set_up_rotation(session, CLERK, committee_id=world.committee_id, term_months=3,
                                 starts_on=date(2024, 2, 1), now=BEFORE)
    assert len(committed_events(factory, "rotation.rotation.created")) == 1


def test_starting_a_term_announces_its_chair_ends_the_last_and_moves_the_horizon(factory, world):
    rotation = world.rotation()
    horizon = len(world.chairs(rotation, 100))
    term = world.act(usecases.start_term, rotation.id, 0, utc(2024, 1, 10))
    assert term is not None and (term.index, term.state) == (0, "started")
    world.act(usecases.start_term, rotation.id, 1, utc(2024, 2, 10))
    assert (world.term(rotation, 0).state, world.term(rotation, 1).state) == ("ended", "started")
    started = committed_events(factory, "rotation.term.started")
    assert [e["data"]["organization_name"] for e in started] == ["永川区人民医院", "永川供电公司"]
    assert started[1]["data"]["starts_on"] == "2024-02-01" and started[1]["data"]["ends_on"] == "2024-02-29"
    assert horizon == 23 and len(world.chairs(rotation, 100)) == 26  # two years from February 10: to Feb 2026
    # The rotation's timer is due at its next milestone: term 0's report falling due.
    assert pending_timers(factory) == [("rotation.milestone", str(rotation.id), utc(2024, 2, 14, 16),
                                        {"index": 0, "part": 0, "milestone": "report_due"})]
    # Before its start, or for a rotation that is gone, nothing is announced.
    assert world.act(usecases.start_term, rotation.id, 3, utc(2024, 3, 1)) is None
    assert world.act(usecases.start_term, uuid.uuid4(), 0, utc(2024, 1, 10)) is None
    assert len(committed_events(factory, "rotation.term.started")) == 2


def test_a_joining_unit_enters_the_future_and_a_repeated_event_changes_nothing(factory, world):
    rotation = world.rotation()
    world.act(usecases.start_term, rotation.id, 0, utc(2024, 1, 10))
    assert world.feed(world.stint("A"), world.stint("B")) is False  # nothing new
    extra = uuid.uuid4()
    world.units["E"] = extra
    NAMES["E"] = "永川区第二中学"
    try:
        assert world.feed(world.stint("E", joined_on=date(2024, 1, 10)), now=utc(2024, 1, 10)) is True
        # E has waited since January 10, A since its term ended on February 1.
        assert world.chairs(rotation, 9) == list("ABCDEABCD")
    finally:
        del NAMES["E"]
    [change] = [e for e in committed_events(factory, "rotation.schedule.changed")
                if e["data"]["cause"] == "unit_joined"]
    cancelled = {t["index"] for t in change["data"]["cancelled"]}
    assert 5 in cancelled and 0 not in cancelled  # the running term is never planned again


def test_a_unit_that_leaves_is_taken_out_of_the_future(factory, world):
    rotation = world.rotation()
    world.act(usecases.start_term, rotation.id, 0, utc(2024, 1, 10))
    world.feed(world.stint("C", left_on=date(2024, 1, 20), reason="搬迁"), now=utc(2024, 1, 12), cause="unit_left")
    assert "C" not in world.chairs(rotation, 30)[1:]
    assert committed_events(factory, "rotation.term.handed_over") == []


def test_the_sitting_chair_leaving_hands_its_term_over_with_the_reason(factory, world):
    rotation = world.rotation()
    world.act(usecases.start_term, rotation.id, 0, utc(2024, 1, 10))
    world.act(usecases.start_term, rotation.id, 1, utc(2024, 2, 1))
    world.feed(world.stint("B", left_on=date(2024, 2, 20), reason="单位撤并"), now=utc(2024, 2, 10),
               cause="unit_left")
    cut, successor = world.term(rotation, 1), world.term(rotation, 1, part=1)
    assert (cut.organization_name, cut.ends_at, cut.ends_on, cut.state) == (
        "永川供电公司", utc(2024, 2, 19, 16), date(2024, 2, 19), "started")
    assert (world.letter(successor.organization_id), successor.starts_on, successor.ends_on, successor.reason) == (
        "C", date(2024, 2, 20), date(2024, 2, 29), "handover")
    [handover] = committed_events(factory, "rotation.term.handed_over")
    data = handover["data"]
    assert (data["cause"], data["reason"], data["handed_over_on"]) == ("chair_left", "单位撤并", "2024-02-20")
    assert data["previous"]["organization_name"] == "永川供电公司" and data["previous"]["ends_on"] == "2024-02-19"
    assert data["term"]["organization_name"] == "中山路派出所" and data["term"]["id"] == str(successor.id)
    with factory() as session:
        actions = [e.action for e in usecases.history(session, session.get(Rotation, rotation.id))]
    assert "term.handed_over" in actions


def test_a_substitute_takes_one_term_and_cancelling_it_restores_the_turns(factory, world):
    rotation = world.rotation()
    target = world.term(rotation, 2)
    override = world.act(usecases.substitute, CLERK, term_id=target.id, organization_id=world.units["A"],
                         reason="C单位党委换届", now=BEFORE)
    assert world.chairs(rotation, 6) == list("ABACDB")
    assert world.term(rotation, 2).reason == "substitute" and world.term(rotation, 2).source_id == override.id
    [created] = committed_events(factory, "rotation.override.created")
    assert created["data"]["term"]["organization_name"] == "中山路派出所"
    assert created["data"]["organization_name"] == "永川区人民医院" and created["data"]["kind"] == "substitute"
    world.act(usecases.cancel_override, CLERK, override.id, reason="换届推迟", now=BEFORE)
    assert world.chairs(rotation, 6) == list("ABCDAB")
    with pytest.raises(InvalidTransition):
        world.act(usecases.cancel_override, CLERK, override.id, reason=None, now=BEFORE)
    assert len(committed_events(factory, "rotation.override.cancelled")) == 1


def test_substitutes_that_cannot_be_name_their_field(factory, world):
    rotation = world.rotation()
    stranger_unit = uuid.uuid4()
    cases = [
        ({"term_id": uuid.uuid4(), "organization_id": world.units["A"]}, BEFORE, ValidationFailed, "term_id"),
        ({"term_id": world.term(rotation, 2).id, "organization_id": stranger_unit}, BEFORE, ValidationFailed,
         "organization_id"),
        ({"term_id": world.term(rotation, 2).id, "organization_id": world.units["C"]}, BEFORE, ValidationFailed,
         "organization_id"),
        ({"term_id": world.term(rotation, 0).id, "organization_id": world.units["B"]}, utc(2024, 1, 2), Conflict,
         "term_id"),
    ]
    for kwargs, now, error, field in cases:
        with factory() as session, pytest.raises(error) as raised:
            usecases.substitute(session, CLERK, reason="r", now=now, **kwargs)
        assert list(raised.value.errors) == [field], kwargs
    with factory() as session, pytest.raises(ValidationFailed):
        usecases.substitute(session, STRANGER, term_id=world.term(rotation, 2).id,
                            organization_id=world.units["A"], reason="r", now=BEFORE)
    world.act(usecases.substitute, CLERK, term_id=world.term(rotation, 2).id, organization_id=world.units["A"],
              reason="r", now=BEFORE)
    with factory() as session, pytest.raises(Conflict) as raised:
        usecases.substitute(session, CLERK, term_id=world.term(rotation, 2).id, organization_id=world.units["D"],
                            reason="r", now=BEFORE)
    assert list(raised.value.errors) == ["term_id"]


def test_an_unavailable_unit_is_skipped_and_keeps_its_place(factory, world):
    rotation = world.rotation()
    world.act(usecases.mark_unavailable, CLERK, rotation_id=None, organization_id=world.units["B"],
              from_on=date(2024, 2, 10), to_on=date(2024, 4, 1), reason="疫情防控", now=BEFORE)
    assert world.chairs(rotation, 9) == list("ACDBACDBA")
    with factory() as session, pytest.raises(ValidationFailed) as raised:
        usecases.mark_unavailable(session, CLERK, rotation_id=None, organization_id=world.units["B"],
                                  from_on=date(2024, 4, 1), to_on=date(2024, 4, 1), reason="r", now=BEFORE)
    assert list(raised.value.errors) == ["to"]
    with factory() as session, pytest.raises(ValidationFailed) as raised:
        usecases.mark_unavailable(session, CLERK, rotation_id=None, organization_id=uuid.uuid4(),
                                  from_on=date(2024, 4, 1), to_on=date(2024, 5, 1), reason="r", now=BEFORE)
    assert list(raised.value.errors) == ["organization_id"]


def test_an_accepted_swap_exchanges_two_terms_and_survives_a_replan(factory, world):
    rotation = world.rotation()
    swap = world.act(usecases.request_swap, CLERK, term_id=world.term(rotation, 1).id,
                     with_term_id=world.term(rotation, 3).id, reason="B单位二月迎检", now=BEFORE)
    assert (swap.state, swap.expires_at) == ("requested", utc(2024, 1, 31, 16))
    assert ("swap.expire", str(swap.id), utc(2024, 1, 31, 16), {}) in pending_timers(factory)
    assert world.chairs(rotation, 4) == list("ABCD")
    world.act(usecases.accept_swap, CLERK, swap.id, reason="同意", now=BEFORE)
    assert world.chairs(rotation, 8) == list("ADCBADCB")
    [accepted] = committed_events(factory, "rotation.swap.accepted")
    assert accepted["data"]["organization_name"] == "永川供电公司"
    assert accepted["data"]["with_organization_name"] == "永川区税务局"
    assert accepted["data"]["term"]["starts_on"] == "2024-02-01"
    # A term with another chair is a new term, scheduled on its own; the plan's change cancels the old one.
    [change] = [e for e in committed_events(factory, "rotation.schedule.changed")
                if e["data"]["cause"] == "swap_accepted"]
    swapped = [e["data"] for e in committed_events(factory, "rotation.term.scheduled")
               if e["data"]["cause"] == "swap_accepted"]
    assert [(t["index"], t["organization_name"], t["reason"]) for t in swapped[:3]] == [
        (1, NAMES["D"], "swap"), (3, NAMES["B"], "swap"), (5, NAMES["D"], "turn")]
    assert [t["term_id"] for t in swapped] == [t["id"] for t in change["data"]["added"]]
    assert [t["index"] for t in change["data"]["cancelled"]] == [t["index"] for t in swapped]
    # A unit leaving later does not undo it.
    world.feed(world.stint("C", left_on=date(2024, 1, 15), reason="撤销"), now=utc(2024, 1, 5), cause="unit_left")
    assert world.chairs(rotation, 4) == ["A", "D", "A", "B"]
    with pytest.raises(InvalidTransition):
        world.act(usecases.decline_swap, CLERK, swap.id, reason=None, now=BEFORE)


def test_swaps_that_cannot_be_are_refused_and_unanswered_ones_expire_once(factory, world):
    rotation = world.rotation()
    t1, t2, t5 = (world.term(rotation, i) for i in (1, 2, 5))
    with factory() as session, pytest.raises(ValidationFailed) as raised:
        usecases.request_swap(session, CLERK, term_id=t1.id, with_term_id=t5.id, reason="r", now=BEFORE)
    assert list(raised.value.errors) == ["with_term_id"]  # B chairs both
    with factory() as session, pytest.raises(Conflict) as raised:
        usecases.request_swap(session, CLERK, term_id=t1.id, with_term_id=t2.id, reason="r", now=utc(2024, 2, 2))
    assert list(raised.value.errors) == ["term_id"]
    declined = world.act(usecases.request_swap, CLERK, term_id=t1.id, with_term_id=t2.id, reason="r", now=BEFORE)
    world.act(usecases.decline_swap, CLERK, declined.id, reason="不便", now=BEFORE)
    lapsed = world.act(usecases.request_swap, CLERK, term_id=t1.id, with_term_id=t2.id, reason="r", now=BEFORE)
    assert world.act(usecases.expire_swap, lapsed.id, utc(2024, 1, 30)) is None  # not yet
    assert world.act(usecases.expire_swap, lapsed.id, utc(2024, 1, 31, 16)).state == "expired"
    assert world.act(usecases.expire_swap, lapsed.id, utc(2024, 2, 1)) is None  # once
    late = world.act(usecases.request_swap, CLERK, term_id=world.term(rotation, 3).id,
                     with_term_id=world.term(rotation, 4).id, reason="r", now=BEFORE)
    with pytest.raises(InvalidTransition):
        world.act(usecases.accept_swap, CLERK, late.id, reason=None, now=utc(2024, 4, 2))
    assert [len(committed_events(factory, f"rotation.swap.{verb}")) for verb in (
        "requested", "declined", "expired", "accepted")] == [3, 1, 1, 0]
    with pytest.raises(NotFound):
        world.act(usecases.decline_swap, STRANGER, declined.id, reason=None, now=BEFORE)


def test_accepting_a_swap_the_plan_no_longer_holds_is_a_conflict_naming_the_term(factory, world):
    rotation = world.rotation()
    swap = world.act(usecases.request_swap, CLERK, term_id=world.term(rotation, 1).id,
                     with_term_id=world.term(rotation, 3).id, reason="r", now=BEFORE)
    world.feed(world.stint("B", left_on=date(2024, 1, 15), reason="撤销"), now=BEFORE, cause="unit_left")
    with pytest.raises(Conflict) as raised:
        world.act(usecases.accept_swap, CLERK, swap.id, reason=None, now=BEFORE)
    assert list(raised.value.errors) == ["term_id"]


def test_a_new_order_replans_the_future_and_is_audited(factory, world):
    rotation = world.rotation()
    world.act(usecases.start_term, rotation.id, 0, utc(2024, 1, 10))
    order = [world.units[k] for k in "DCBA"]
    updated = world.act(usecases.update_rotation, CLERK, rotation.id, order_policy="explicit", order=order,
                        reason="按党委会决定", now=utc(2024, 1, 10))
    # 1 when set up, 2 when starting term 0 moved the horizon, 3 now: one version per change.
    assert updated.version == 3 and json.loads(updated.unit_order) == [str(u) for u in order]
    assert world.chairs(rotation, 5) == list("ADCBA")
    [event] = committed_events(factory, "rotation.rotation.updated")
    assert event["data"]["order"] == [str(u) for u in order]
    with factory() as session, pytest.raises(ValidationFailed) as raised:
        usecases.update_rotation(session, CLERK, rotation.id, order_policy="join_order", order=order,
                                 now=utc(2024, 1, 10))
    assert list(raised.value.errors) == ["order"]
    with factory() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.rotation_id == rotation.id)
                                  .order_by(AuditEntry.at, AuditEntry.id)).all()
        assert [(e.actor, e.action) for e in entries if e.action.startswith("rotation.")] == [
            ("clerk", "rotation.created"), ("clerk", "rotation.updated")]
        assert any(e.why == "按党委会决定" and e.action == "schedule.replanned" for e in entries)


def test_the_fairness_report_and_the_chair_at_an_instant(factory, world):
    rotation = world.rotation()
    with factory() as session:
        rotation = session.get(Rotation, rotation.id)
        report = usecases.fairness_report(session, rotation, utc(2023, 12, 31, 16), utc(2024, 12, 31, 16),
                                          utc(2024, 3, 10))
        shares = {world.letter(s.unit): (s.served, s.scheduled) for s in report.result.shares}
        assert shares == {"A": (1, 2), "B": (1, 2), "C": (1, 2), "D": (0, 3)}
        assert report.result.balance == 1.0 and report.result.gaps == ()
        chair = usecases.chair_at(session, rotation, utc(2024, 2, 29, 16))
        assert (chair.index, world.letter(chair.organization_id)) == (2, "C")
        assert usecases.chair_at(session, rotation, utc(2023, 12, 31, 15, 59)) is None
        with pytest.raises(ValidationFailed) as raised:
            usecases.fairness_report(session, rotation, utc(2024, 3, 1), utc(2024, 3, 1), utc(2024, 3, 1))
        assert list(raised.value.errors) == ["to"]


def test_a_stale_committee_does_not_overwrite_a_newer_one(factory):
    committee_id = uuid.uuid4()
    with factory() as session:
        for version, name in ((2, "新名"), (1, "旧名")):
            usecases.record_committee(session, committee_id, version, district_id=YONGCHUAN,
                                      community_id=uuid.uuid4(), name=name, time_zone="Asia/Shanghai")
        session.commit()
        assert (session.get(Committee, committee_id).name, session.get(Committee, committee_id).version) == (
            "新名", 2)
