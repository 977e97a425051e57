"""registry's party members, as use cases on a SQLite session."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from linli.services.registry import usecases
from linli.services.registry.models import Base
from linli.shared.actors import Actor
from linli.shared.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from linli.shared.events import CATALOGUE
from tests.support.registry_world import OPERATOR
from tests.support.registry_world import add_area as _area
from tests.support.sessions import committed_events

PHONE = "13812345678"


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


@pytest.fixture
def world(factory):
    """A district with two compounds (the first with a building), a hospital, and another district."""
    with factory() as session:
        district = _area(session, OPERATOR, "district", "永川区")
        other = _area(session, OPERATOR, "district", "璧山区")
        clerk = Actor("clerk", district.district_id, frozenset({"registry:write"}))
        stranger = Actor("stranger", other.district_id, frozenset({"registry:write"}))
        street = _area(session, clerk, "street", "中山路街道", district)
        community = _area(session, clerk, "community", "星光社区", street)
        compound = _area(session, clerk, "compound", "星光小区", community, kind="managed")
        building = _area(session, clerk, "building", "1栋", compound)
        second = _area(session, clerk, "compound", "月光小区", community, kind="old")
        far_building = _area(session, clerk, "building", "2栋", second)
        hospital = usecases.register_organization(session, clerk, kind="hospital", name="永川区人民医院")
        foreign = usecases.register_organization(session, stranger, kind="school", name="璧山小学")
        session.commit()
    return {"clerk": clerk, "stranger": stranger, "compound": compound, "building": building, "second": second,
            "far_building": far_building, "hospital": hospital, "foreign": foreign}


def _register(session, w, **fields):
    body = {"name": "张三", "phone": PHONE, "compound_id": w["compound"].id, "building_id": w["building"].id,
            "employer_id": w["hospital"].id, "skills": ["medical", "legal_aid", "medical"],
            "roles": ["building_leader"], **fields}
    return usecases.register_member(session, w["clerk"], **body)


def test_a_registered_member_goes_out_publicly_without_phone_and_privately_with_it(factory, world):
    with factory() as session:
        member = _register(session, world)
        session.commit()
        assert member.skills == ["legal_aid", "medical"] and member.roles == ["building_leader"]
    [registered] = committed_events(factory, "registry.member.registered")
    assert registered["data"]["skills"] == ["legal_aid", "medical"]
    assert registered["data"]["compound_id"] == str(world["compound"].id)
    assert PHONE not in str(registered)
    [contact] = committed_events(factory, "registry.member.contact")
    assert contact["data"] == {"id": str(member.id), "district_id": member.district_id, "name": "张三",
                               "phone": PHONE, "email": None, "version": 1}
    assert CATALOGUE["registry.member.contact"].private
    assert not CATALOGUE["registry.member.registered"].private and not CATALOGUE["registry.member.updated"].private


def test_one_member_per_phone_within_a_district(factory, world):
    with factory() as session:
        _register(session, world)
        session.commit()
        with pytest.raises(Conflict) as caught:
            _register(session, world, name="李四")
        assert caught.value.errors == {"phone": ["already registered"]}


@pytest.mark.parametrize(("field", "key"), [
    ("compound_id", "second_building"), ("compound_id", "hospital_id"), ("building_id", "far_building"),
    ("building_id", "compound"), ("employer_id", "foreign"), ("employer_id", "compound")])
def test_unknown_or_misplaced_references_name_their_field(factory, world, field, key):
    ids = {"second_building": world["far_building"].id, "hospital_id": world["hospital"].id,
           "far_building": world["far_building"].id, "compound": world["compound"].id,
           "foreign": world["foreign"].id}
    with factory() as session, pytest.raises(ValidationFailed) as caught:
        _register(session, world, **{field: ids[key]})
    assert list(caught.value.errors or {}) == [field]


def test_a_building_leader_needs_a_building(factory, world):
    with factory() as session, pytest.raises(ValidationFailed) as caught:
        _register(session, world, building_id=None)
    assert list(caught.value.errors or {}) == ["roles"]


def test_another_district_cannot_see_or_edit_a_member(factory, world):
    with factory() as session:
        member = _register(session, world)
        session.commit()
        with pytest.raises(NotFound):
            usecases.edit_member(session, world["stranger"], member.id, {"name": "王五"})
        with pytest.raises(ValidationFailed):
            usecases.register_member(session, world["stranger"], name="王五", phone="13900000000",
                                     compound_id=world["compound"].id)


def test_an_edit_records_only_what_changed_and_the_version_moves_with_skills(factory, world):
    with factory() as session:
        member = _register(session, world)
        session.commit()
        seen: list[int] = []
        usecases.edit_member(session, world["clerk"], member.id, {"skills": ["medical", "legal_aid"]},
                             check_version=seen.append)
        session.commit()
        assert seen == [1] and member.version == 1  # the same skills, in another order: no change
        usecases.edit_member(session, world["clerk"], member.id, {"skills": ["noise"], "roles": []})
        session.commit()
        assert member.version == 2 and member.skills == ["noise"] and member.roles == []
        usecases.edit_member(session, world["clerk"], member.id, {"phone": "13900000000"})
        session.commit()
    [_, updated] = [e["data"] for e in committed_events(factory, "registry.member.registered")
                    + committed_events(factory, "registry.member.updated")]
    assert (updated["skills"], updated["roles"], updated["version"]) == (["noise"], [], 2)
    assert len(committed_events(factory, "registry.member.updated")) == 1  # the phone went out privately only
    contacts = committed_events(factory, "registry.member.contact")
    assert [c["data"]["phone"] for c in contacts] == [PHONE, "13900000000"]


def test_an_edit_keeps_phones_unique_and_buildings_inside_the_home_compound(factory, world):
    with factory() as session:
        member = _register(session, world)
        _register(session, world, name="李四", phone="13900000000", roles=[])
        session.commit()
        with pytest.raises(Conflict):
            usecases.edit_member(session, world["clerk"], member.id, {"phone": "13900000000"})
        with pytest.raises(ValidationFailed) as caught:
            usecases.edit_member(session, world["clerk"], member.id, {"building_id": world["far_building"].id})
        assert list(caught.value.errors or {}) == ["building_id"]
        with pytest.raises(ValidationFailed) as caught:
            usecases.edit_member(session, world["clerk"], member.id, {"building_id": None})
        assert list(caught.value.errors or {}) == ["roles"]  # a building leader keeps a building


# --- Pledges -----------------------------------------------------------------------------------------------

def test_a_pledge_goes_out_publicly_with_the_member_id_and_text_only_and_is_fulfilled_once(factory, world):
    now = datetime(2026, 5, 1, 8, tzinfo=UTC)
    with factory() as session:
        member = _register(session, world)
        pledge = usecases.add_pledge(session, world["clerk"], member.id, text="每周为楼栋老人量一次血压")
        session.commit()
        usecases.fulfil_pledge(session, world["clerk"], member.id, pledge.id, now)
        session.commit()
        assert (pledge.status, pledge.fulfilled_at, pledge.version) == ("fulfilled", now, 2)
        with pytest.raises(InvalidTransition):
            usecases.fulfil_pledge(session, world["clerk"], member.id, pledge.id, now)
    [added] = committed_events(factory, "registry.pledge.added")
    assert set(added["data"]) == {"id", "district_id", "member_id", "text", "status", "fulfilled_at", "version"}
    assert (added["data"]["member_id"], added["data"]["status"]) == (str(member.id), "open")
    [fulfilled] = committed_events(factory, "registry.pledge.fulfilled")
    assert (fulfilled["data"]["status"], fulfilled["data"]["version"]) == ("fulfilled", 2)


def test_a_pledge_is_reached_only_through_its_own_member_and_district(factory, world):
    now = datetime(2026, 5, 1, 8, tzinfo=UTC)
    with factory() as session:
        member = _register(session, world)
        other = _register(session, world, name="李四", phone="13900000000", roles=[])
        pledge = usecases.add_pledge(session, world["clerk"], member.id, text="调解邻里纠纷")
        session.commit()
        with pytest.raises(NotFound):
            usecases.fulfil_pledge(session, world["clerk"], other.id, pledge.id, now)
        with pytest.raises(NotFound):
            usecases.fulfil_pledge(session, world["stranger"], member.id, pledge.id, now)
        with pytest.raises(NotFound):
            usecases.add_pledge(session, world["stranger"], member.id, text="x")


# --- Check-ins, moves and leaving ---------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def test_a_first_check_in_is_submitted_at_home_and_confirmed_without_a_move(factory, world):
    clerk = world["clerk"]
    with factory() as session:
        member = _register(session, world)
        check_in = usecases.submit_check_in(session, clerk, member_id=member.id)
        assert (check_in.compound_id, check_in.building_id) == (world["compound"].id, world["building"].id)
        session.commit()
        usecases.confirm_check_in(session, clerk, check_in.id, NOW)
        session.commit()
        assert (check_in.state, check_in.decided_at) == ("confirmed", NOW)
    keys = [e["type"].removeprefix("linli.") for e in committed_events(factory) if "check_in" in e["type"]
            or "member.moved" in e["type"]]
    assert keys == ["registry.check_in.submitted", "registry.check_in.confirmed"]


def test_moving_house_ends_the_old_check_in_and_moves_the_member_on_confirmation(factory, world):
    clerk = world["clerk"]
    with factory() as session:
        member = _register(session, world, roles=["building_leader", "branch_secretary"])
        first = usecases.submit_check_in(session, clerk, member_id=member.id)
        usecases.confirm_check_in(session, clerk, first.id, NOW)
        session.commit()
        move = usecases.submit_check_in(session, clerk, member_id=member.id, compound_id=world["second"].id,
                                        building_id=world["far_building"].id)
        session.commit()
        assert member.compound_id == world["compound"].id  # not before the branch confirms
        usecases.confirm_check_in(session, clerk, move.id, NOW)
        session.commit()
        assert (first.state, first.ended_at, move.state) == ("ended", NOW, "confirmed")
        assert (member.compound_id, member.building_id) == (world["second"].id, world["far_building"].id)
        assert member.roles == ["branch_secretary"]  # the old building's leader no more
    [ended] = committed_events(factory, "registry.check_in.ended")
    assert ended["subject"] == str(first.id)
    [moved] = committed_events(factory, "registry.member.moved")
    assert moved["data"]["previous_compound_id"] == str(world["compound"].id)
    assert moved["data"]["compound_id"] == str(world["second"].id)
    assert moved["data"]["check_in_id"] == str(move.id) and PHONE not in str(moved)


def test_illegal_check_in_steps_are_409(factory, world):
    clerk = world["clerk"]
    with factory() as session:
        member = _register(session, world)
        check_in = usecases.submit_check_in(session, clerk, member_id=member.id)
        session.commit()
        with pytest.raises(InvalidTransition):  # one awaiting the branch at a time
            usecases.submit_check_in(session, clerk, member_id=member.id, compound_id=world["second"].id)
        usecases.reject_check_in(session, clerk, check_in.id, NOW, reason="不是本小区住户")
        session.commit()
        assert (check_in.state, check_in.reason) == ("rejected", "不是本小区住户")
        with pytest.raises(InvalidTransition) as caught:
            usecases.confirm_check_in(session, clerk, check_in.id, NOW)
        assert "rejected" in caught.value.detail
        again = usecases.submit_check_in(session, clerk, member_id=member.id)
        usecases.confirm_check_in(session, clerk, again.id, NOW)
        session.commit()
        with pytest.raises(InvalidTransition):  # already checked in here
            usecases.submit_check_in(session, clerk, member_id=member.id)
        with pytest.raises(InvalidTransition):
            usecases.reject_check_in(session, clerk, again.id, NOW, reason="x")


def test_check_in_references_are_422_naming_the_field_and_foreign_ones_404(factory, world):
    clerk = world["clerk"]
    with factory() as session:
        member = _register(session, world)
        session.commit()
        for fields, field in (({"member_id": world["compound"].id}, "member_id"),
                              ({"member_id": member.id, "compound_id": world["building"].id}, "compound_id"),
                              ({"member_id": member.id, "compound_id": world["second"].id,
                                "building_id": world["building"].id}, "building_id")):
            with pytest.raises(ValidationFailed) as caught:
                usecases.submit_check_in(session, clerk, **fields)
            assert list(caught.value.errors or {}) == [field]
        with pytest.raises(ValidationFailed):
            usecases.submit_check_in(session, world["stranger"], member_id=member.id)
        check_in = usecases.submit_check_in(session, clerk, member_id=member.id)
        session.commit()
        with pytest.raises(NotFound):
            usecases.confirm_check_in(session, world["stranger"], check_in.id, NOW)


def test_leaving_ends_the_check_ins_and_the_membership_once(factory, world):
    clerk = world["clerk"]
    with factory() as session:
        member = _register(session, world)
        first = usecases.submit_check_in(session, clerk, member_id=member.id)
        usecases.confirm_check_in(session, clerk, first.id, NOW)
        pending = usecases.submit_check_in(session, clerk, member_id=member.id, compound_id=world["second"].id)
        session.commit()
        usecases.leave(session, clerk, member.id, NOW, left_on=NOW.date(), reason="迁往外地")
        session.commit()
        assert (first.state, pending.state) == ("ended", "ended")
        assert (member.membership, member.left_on, member.left_reason) == ("left", NOW.date(), "迁往外地")
        for step in (lambda: usecases.leave(session, clerk, member.id, NOW, left_on=NOW.date()),
                     lambda: usecases.submit_check_in(session, clerk, member_id=member.id),
                     lambda: usecases.add_pledge(session, clerk, member.id, text="x")):
            with pytest.raises(InvalidTransition):
                step()
    [left] = committed_events(factory, "registry.member.left")
    assert (left["data"]["membership"], left["data"]["left_on"]) == ("left", NOW.date().isoformat())
    assert len(committed_events(factory, "registry.check_in.ended")) == 2
