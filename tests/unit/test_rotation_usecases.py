"""rotation's use cases, called directly on a SQLite session: no app, no broker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from linli.services.rotation import usecases
from linli.services.rotation.models import Base, Committee, Rotation
from linli.shared.actors import Actor
from linli.shared.errors import Conflict, NotYetKnown
from tests.support.sessions import committed_events, pending_timers

YONGCHUAN = str(uuid.uuid4())
CLERK = Actor("clerk", YONGCHUAN, frozenset({"rotation:write"}))


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


def _committee(factory, district=YONGCHUAN, time_zone="Asia/Shanghai") -> uuid.UUID:
    committee_id = uuid.uuid4()
    with factory() as session:
        usecases.record_committee(session, committee_id, 1, district_id=district, community_id=uuid.uuid4(),
                                  name="星光社区大党委", time_zone=time_zone)
        session.commit()
    return committee_id


def _set_up(factory, committee_id, starts_on=date(2024, 1, 1), term_months=1) -> Rotation:
    with factory() as session:
        rotation = usecases.set_up_rotation(session, CLERK, committee_id=committee_id, term_months=term_months,
                                            starts_on=starts_on)
        session.commit()
    return rotation


def test_setting_up_records_the_rotation_in_the_committees_zone_and_schedules_term_zero(factory):
    rotation = _set_up(factory, _committee(factory, time_zone="Europe/Berlin"), starts_on=date(2024, 3, 1))
    assert (rotation.time_zone, rotation.state, rotation.version) == ("Europe/Berlin", "active", 1)
    [event] = committed_events(factory, "rotation.rotation.created")
    assert event["subject"] == str(rotation.id) and event["data"]["starts_on"] == "2024-03-01"
    assert pending_timers(factory) == [("term.start", str(rotation.id), utc(2024, 2, 29, 23), {"index": 0})]


def test_an_unknown_or_foreign_committee_names_committee_id_and_a_second_rotation_conflicts(factory):
    foreign = _committee(factory, district=str(uuid.uuid4()))
    for committee_id in (uuid.uuid4(), foreign):
        with factory() as session, pytest.raises(NotYetKnown) as raised:
            usecases.set_up_rotation(session, CLERK, committee_id=committee_id, term_months=1,
                                     starts_on=date(2024, 1, 1))
        assert list(raised.value.errors) == ["committee_id"]
    committee_id = _committee(factory)
    _set_up(factory, committee_id)
    with factory() as session, pytest.raises(Conflict):
        usecases.set_up_rotation(session, CLERK, committee_id=committee_id, term_months=3,
                                 starts_on=date(2024, 2, 1))
    assert len(committed_events(factory, "rotation.rotation.created")) == 1


def test_starting_a_term_records_it_and_schedules_the_next(factory):
    rotation = _set_up(factory, _committee(factory))
    with factory() as session:
        term = usecases.start_term(session, rotation.id, 0, utc(2024, 1, 10))
        session.commit()
    assert term is not None and term.index == 0
    [started] = committed_events(factory, "rotation.term.started")
    assert started["subject"] == str(rotation.id) and started["district"] == YONGCHUAN
    assert started["data"] == {"rotation_id": str(rotation.id), "district_id": YONGCHUAN,
                               "committee_id": str(rotation.committee_id), "index": 0,
                               "starts_at": "2023-12-31T16:00:00Z", "ends_at": "2024-01-31T16:00:00Z"}
    assert pending_timers(factory) == [("term.start", str(rotation.id), utc(2024, 1, 31, 16), {"index": 1})]


def test_a_term_is_never_announced_before_it_begins_nor_for_a_rotation_that_is_gone(factory):
    rotation = _set_up(factory, _committee(factory))
    with factory() as session:
        assert usecases.start_term(session, rotation.id, 1, utc(2024, 1, 31, 15, 59)) is None
        assert usecases.start_term(session, uuid.uuid4(), 0, utc(2024, 1, 10)) is None
        session.commit()
    assert committed_events(factory, "rotation.term.started") == []


def test_a_stale_committee_does_not_overwrite_a_newer_one(factory):
    committee_id = uuid.uuid4()
    with factory() as session:
        for version, name in ((2, "新名"), (1, "旧名")):
            usecases.record_committee(session, committee_id, version, district_id=YONGCHUAN,
                                      community_id=uuid.uuid4(), name=name, time_zone="Asia/Shanghai")
        session.commit()
        assert (session.get(Committee, committee_id).name, session.get(Committee, committee_id).version) == (
            "新名", 2)
