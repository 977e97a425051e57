"""registry's party branches, committee convenors and coverage reports, as use cases on a SQLite session."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event

from linli.services.registry import domain, usecases
from linli.services.registry.models import Base, CheckIn, Organization
from linli.shared.actors import Actor
from linli.shared.errors import NotFound, ValidationFailed
from tests.support.registry_world import OPERATOR
from tests.support.registry_world import add_area as _area
from tests.support.sessions import committed_events

NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


@pytest.fixture
def world(factory):
    """Yongchuan: 中山路街道 with 星光社区 (星光小区 with 1栋 and 2栋, 月光小区) and 唐城社区 (唐城小区 with 3栋);
    Bishan with a compound; a clerk of each."""
    with factory() as session:
        district = _area(session, OPERATOR, "district", "永川区")
        other = _area(session, OPERATOR, "district", "璧山区")
        clerk = Actor("clerk", district.district_id, frozenset({"registry:write", "registry:read"}))
        stranger = Actor("stranger", other.district_id, frozenset({"registry:write", "registry:read"}))
        street = _area(session, clerk, "street", "中山路街道", district)
        community = _area(session, clerk, "community", "星光社区", street)
        compound = _area(session, clerk, "compound", "星光小区", community, kind="managed")
        one = _area(session, clerk, "building", "1栋", compound)
        two = _area(session, clerk, "building", "2栋", compound)
        second = _area(session, clerk, "compound", "月光小区", community, kind="old")
        tangcheng = _area(session, clerk, "community", "唐城社区", street)
        third = _area(session, clerk, "compound", "唐城小区", tangcheng, kind="three_no")
        three = _area(session, clerk, "building", "3栋", third)
        far_street = _area(session, stranger, "street", "璧城街道", other)
        far_community = _area(session, stranger, "community", "东林社区", far_street)
        far = _area(session, stranger, "compound", "东林小区", far_community, kind="managed")
        session.commit()
    return {"clerk": clerk, "stranger": stranger, "district": district, "other": other, "street": street,
            "community": community, "compound": compound, "one": one, "two": two, "second": second,
            "tangcheng": tangcheng, "third": third, "three": three, "far": far, "far_community": far_community}


def _branch(session, w, name, area, actor=None):
    return usecases.register_organization(session, actor or w["clerk"], kind="party_branch", name=name,
                                          area_id=None if area is None else area.id)


_phones = iter(range(13800000000, 13900000000))


def _member(session, w, compound, *, building=None, status="in_service", roles=(), actor=None):
    return usecases.register_member(session, actor or w["clerk"], name="党员", phone=str(next(_phones)),
                                    compound_id=compound.id, building_id=None if building is None else building.id,
                                    status=status, roles=list(roles))


def _checked_in(session, w, member):
    check_in = usecases.submit_check_in(session, w["clerk"], member_id=member.id)
    return usecases.confirm_check_in(session, w["clerk"], check_in.id, NOW)


# --- Party branches ------------------------------------------------------------------------------------------

def test_a_branch_serving_a_compound_or_community_carries_its_area_in_its_events(factory, world):
    with factory() as session:
        compound_branch = _branch(session, world, "星光小区党支部", world["compound"])
        community_branch = _branch(session, world, "星光社区第二党支部", world["community"])
        session.commit()
    assert (compound_branch.area_id, community_branch.area_id) == (world["compound"].id, world["community"].id)
    created = [e["data"] for e in committed_events(factory, "registry.organization.created")]
    assert [(d["name"], d["area_id"]) for d in created] == [("星光小区党支部", str(world["compound"].id)),
                                                            ("星光社区第二党支部", str(world["community"].id))]


@pytest.mark.parametrize(("kind", "area", "actor"), [
    ("party_branch", "street", "clerk"), ("party_branch", "one", "clerk"), ("party_branch", "district", "clerk"),
    ("party_branch", "far", "clerk"), ("party_branch", "far", "operator"), ("party_branch", "unknown", "clerk"),
    ("school", "compound", "clerk"),
])
def test_an_unknown_foreign_or_wrong_level_area_or_a_non_branch_with_one_is_422_naming_area_id(
        factory, world, kind, area, actor):
    area_id = uuid.uuid4() if area == "unknown" else world[area].id
    who = world["clerk"] if actor == "clerk" else OPERATOR
    district = None if actor == "clerk" else world["district"].district_id
    with factory() as session:
        with pytest.raises(ValidationFailed) as raised:
            usecases.register_organization(session, who, kind=kind, name="支部", area_id=area_id,
                                           district_id=district)
        assert list(raised.value.errors) == ["area_id"]
    assert committed_events(factory, "registry.organization.created") == []


def test_an_edit_sets_or_clears_the_area_and_a_branch_keeps_its_kind_while_it_serves_one(factory, world):
    clerk = world["clerk"]
    with factory() as session:
        branch = _branch(session, world, "星光小区党支部", None)
        session.commit()
        seen: list[int] = []
        usecases.edit_organization(session, clerk, branch.id, {"area_id": world["compound"].id},
                                   check_version=seen.append)
        session.commit()
        with pytest.raises(ValidationFailed) as raised:
            usecases.edit_organization(session, clerk, branch.id, {"kind": "school"})
        assert list(raised.value.errors) == ["area_id"]
        session.rollback()
        for bad in (world["street"].id, world["far"].id):
            with pytest.raises(ValidationFailed) as raised:
                usecases.edit_organization(session, clerk, branch.id, {"area_id": bad})
            assert list(raised.value.errors) == ["area_id"]
            session.rollback()
        usecases.edit_organization(session, clerk, branch.id, {"area_id": None, "kind": "social_organization"})
        session.commit()
    assert seen == [1]
    updates = [e["data"] for e in committed_events(factory, "registry.organization.updated")]
    assert [(d["kind"], d["area_id"]) for d in updates] == [("party_branch", str(world["compound"].id)),
                                                            ("social_organization", None)]


def test_a_check_in_goes_to_the_compound_s_branch_else_the_community_s_else_none(factory, world):
    with factory() as session:
        member = _member(session, world, world["compound"])
        nobody = usecases.submit_check_in(session, world["clerk"], member_id=member.id)
        usecases.reject_check_in(session, world["clerk"], nobody.id, NOW, reason="先登记支部")
        community_branch = _branch(session, world, "星光社区党委", world["community"])
        to_community = usecases.submit_check_in(session, world["clerk"], member_id=member.id)
        usecases.reject_check_in(session, world["clerk"], to_community.id, NOW, reason="小区支部已成立")
        first = _branch(session, world, "星光小区党支部", world["compound"])
        _branch(session, world, "星光小区第二党支部", world["compound"])
        _branch(session, world, "月光小区党支部", world["second"])
        to_compound = usecases.submit_check_in(session, world["clerk"], member_id=member.id)
        session.commit()
        assert (nobody.branch_id, to_community.branch_id, to_compound.branch_id) == (None, community_branch.id,
                                                                                     first.id)
    submitted = [e["data"]["branch_id"] for e in committed_events(factory, "registry.check_in.submitted")]
    assert submitted == [None, str(community_branch.id), str(first.id)]
    rejected = committed_events(factory, "registry.check_in.rejected")
    assert rejected[0]["data"]["branch_id"] is None and rejected[1]["data"]["branch_id"] == str(community_branch.id)


# --- Committee convenors -------------------------------------------------------------------------------------

def test_a_convenor_is_a_current_member_living_in_the_committee_s_community(factory, world):
    clerk = world["clerk"]
    with factory() as session:
        local = _member(session, world, world["second"])
        elsewhere = _member(session, world, world["third"])
        gone = _member(session, world, world["compound"])
        usecases.leave(session, clerk, gone.id, NOW, left_on=date(2026, 2, 1))
        foreign = _member(session, world, world["far"], actor=world["stranger"])
        session.commit()
        local_id, refused = local.id, (elsewhere.id, gone.id, foreign.id, uuid.uuid4())
        for member_id in refused:
            with pytest.raises(ValidationFailed) as raised:
                usecases.set_up_committee(session, OPERATOR, community_id=world["community"].id, name="大党委",
                                          convenor_member_id=member_id)
            assert list(raised.value.errors) == ["convenor_member_id"]
            session.rollback()
        committee = usecases.set_up_committee(session, clerk, community_id=world["community"].id, name="大党委",
                                              convenor_member_id=local_id)
        session.commit()
        for member_id in refused:
            with pytest.raises(ValidationFailed) as raised:
                usecases.edit_committee(session, clerk, committee.id, {"convenor_member_id": member_id})
            assert list(raised.value.errors) == ["convenor_member_id"]
            session.rollback()
        usecases.edit_committee(session, clerk, committee.id, {"convenor_member_id": None})
        session.commit()
    [created] = committed_events(factory, "registry.committee.created")
    [updated] = committed_events(factory, "registry.committee.updated")
    assert created["data"]["convenor_member_id"] == str(local_id) and updated["data"]["convenor_member_id"] is None


# --- Coverage ------------------------------------------------------------------------------------------------

def _populate(session, w):
    """Members, roles, check-ins, branches and pairings in Yongchuan (see the expectations below)."""
    clerk = w["clerk"]
    leader = _member(session, w, w["compound"], building=w["one"], roles=["party_group_leader", "building_leader"])
    _checked_in(session, w, leader)
    waiting = _member(session, w, w["compound"], building=w["two"], status="retired")
    usecases.submit_check_in(session, clerk, member_id=waiting.id)
    gone = _member(session, w, w["compound"], building=w["two"], roles=["party_group_leader"])
    _checked_in(session, w, gone)
    usecases.leave(session, clerk, gone.id, NOW, left_on=date(2026, 2, 1))
    _member(session, w, w["second"])
    floor = _member(session, w, w["third"], building=w["three"], status="retired", roles=["floor_leader"])
    _checked_in(session, w, floor)
    _member(session, w, w["far"], actor=w["stranger"])
    _branch(session, w, "星光社区党委", w["community"])
    _branch(session, w, "月光小区党支部", w["second"])
    _branch(session, w, "东林小区党支部", w["far"], actor=w["stranger"])
    school = usecases.register_organization(session, clerk, kind="school", name="星光小学")
    hospital = usecases.register_organization(session, clerk, kind="hospital", name="永川区人民医院")
    usecases.pair(session, clerk, organization_id=school.id, compound_id=w["compound"].id,
                  starts_on=date(2025, 1, 1))
    usecases.pair(session, clerk, organization_id=school.id, compound_id=w["second"].id,
                  starts_on=date(2025, 1, 1), ends_on=date(2025, 6, 30))
    # Starts on 2 March: Chongqing's 2 March begins at 16:00 UTC on 1 March.
    usecases.pair(session, clerk, organization_id=hospital.id, compound_id=w["second"].id,
                  starts_on=date(2026, 3, 2))


def _by_name(report):
    return {line.name: line for line in report["compounds"]}


def test_a_street_s_coverage_counts_each_compound_and_rolls_them_up(factory, world):
    with factory() as session:
        _populate(session, world)
        session.commit()
        report = usecases.area_coverage(session, world["clerk"], world["street"].id, NOW)
    assert report["area"] == {"id": world["street"].id, "name": "中山路街道", "level": "street"}
    assert report["on"] == date(2026, 3, 1)
    lines = _by_name(report)
    assert [line.name for line in report["compounds"]] == sorted(lines)
    xingguang, yueguang, tangcheng = lines["星光小区"], lines["月光小区"], lines["唐城小区"]
    assert (xingguang.members, xingguang.in_service, xingguang.checked_in) == (2, 1, 1)
    assert (yueguang.members, yueguang.in_service, yueguang.checked_in) == (1, 1, 0)
    assert (tangcheng.members, tangcheng.in_service, tangcheng.checked_in) == (1, 0, 1)
    assert xingguang.roles == {**dict.fromkeys(domain.MEMBER_ROLES, 0), "party_group_leader": 1,
                               "building_leader": 1}
    assert tangcheng.roles["floor_leader"] == 1 and sum(yueguang.roles.values()) == 0
    # 2栋's group leader left: the building has none now.
    assert [b.name for b in xingguang.buildings_without_group_leader] == ["2栋"]
    assert [b.name for b in tangcheng.buildings_without_group_leader] == ["3栋"]
    assert (xingguang.has_branch, yueguang.has_branch, tangcheng.has_branch) == (True, True, False)
    assert (xingguang.has_pairing, yueguang.has_pairing, tangcheng.has_pairing) == (True, False, False)
    totals = report["totals"]
    assert (totals["compounds"], totals["members"], totals["in_service"], totals["checked_in"]) == (3, 4, 2, 2)
    assert (totals["buildings"], totals["buildings_without_group_leader"]) == (3, 2)
    assert totals["roles"]["party_group_leader"] == 1 and totals["roles"]["floor_leader"] == 1
    assert [p.name for p in report["compounds_without_branch"]] == ["唐城小区"]
    assert sorted(p.name for p in report["compounds_without_pairing"]) == ["唐城小区", "月光小区"]


def test_a_community_s_or_a_compound_s_coverage_holds_only_its_own_compounds(factory, world):
    with factory() as session:
        _populate(session, world)
        session.commit()
        community = usecases.area_coverage(session, world["clerk"], world["community"].id, NOW)
        compound = usecases.area_coverage(session, OPERATOR, world["third"].id, NOW)
    assert set(_by_name(community)) == {"星光小区", "月光小区"} and community["totals"]["members"] == 3
    assert list(_by_name(compound)) == ["唐城小区"] and compound["totals"]["checked_in"] == 1
    assert compound["compounds_without_branch"] == [domain.Place(world["third"].id, "唐城小区")]


def test_a_pairing_counts_from_its_first_local_day(factory, world):
    with factory() as session:
        _populate(session, world)
        session.commit()
        evening = usecases.area_coverage(session, world["clerk"], world["second"].id,
                                         datetime(2026, 3, 1, 15, 59, tzinfo=UTC))
        midnight = usecases.area_coverage(session, world["clerk"], world["second"].id,
                                          datetime(2026, 3, 1, 16, 0, tzinfo=UTC))
    assert (evening["on"], midnight["on"]) == (date(2026, 3, 1), date(2026, 3, 2))
    assert not evening["compounds"][0].has_pairing and midnight["compounds"][0].has_pairing


def test_coverage_takes_the_same_few_queries_however_many_members_and_compounds(factory, world):
    engine = factory.kw["bind"]
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def queries() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            with factory() as session:
                usecases.area_coverage(session, world["clerk"], world["street"].id, NOW)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    with factory() as session:
        _populate(session, world)
        session.commit()
    few = queries()
    with factory() as session:
        for i in range(20):
            compound = _area(session, world["clerk"], "compound", f"新{i}号小区", world["tangcheng"], kind="old")
            building = _area(session, world["clerk"], "building", "1栋", compound)
            for _ in range(3):
                _member(session, world, compound, building=building, roles=["party_group_leader"])
        session.commit()
    assert queries() == few <= 12  # a BEGIN, two area reads and the grouped queries


def test_coverage_of_another_district_s_area_is_404_and_of_another_level_422(factory, world):
    with factory() as session:
        for actor, area in ((world["stranger"], "street"), (world["clerk"], "far"), (world["clerk"], "missing")):
            with pytest.raises(NotFound):
                usecases.area_coverage(session, actor, uuid.uuid4() if area == "missing" else world[area].id, NOW)
        for level in ("district", "one"):
            with pytest.raises(ValidationFailed) as raised:
                usecases.area_coverage(session, world["clerk"], world[level].id, NOW)
            assert list(raised.value.errors) == ["area_id"]
        far = usecases.area_coverage(session, OPERATOR, world["far_community"].id, NOW)
    assert far["totals"]["compounds"] == 1 and far["compounds"][0].has_branch is False


def test_the_branch_index_and_the_branch_column_exist():
    assert "ix_organizations_area_kind" in {i.name for i in Organization.__table__.indexes}
    assert "branch_id" in CheckIn.__table__.c
