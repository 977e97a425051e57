"""registry's use cases, called directly on a SQLite session: no app, no broker."""

from __future__ import annotations

import uuid

import pytest

from linli.services.registry import usecases
from linli.services.registry.domain import DETAILS
from linli.services.registry.models import Area, Base
from linli.shared.actors import Actor
from linli.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.support.sessions import committed_events

OPERATOR = Actor("ops", "*", frozenset({"registry:admin"}))


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


def _add(session, actor, level, name, parent=None, kind=None) -> Area:
    return usecases.add_area(session, actor, level=level, name=name, parent_id=parent.id if parent else None,
                             kind=kind, time_zone="Asia/Shanghai")


def _tree(factory):
    """A district with a street, a community and a compound; and the district's own clerk."""
    with factory() as session:
        district = _add(session, OPERATOR, "district", "永川区")
        clerk = Actor("clerk", district.district_id, frozenset({"registry:write"}))
        street = _add(session, clerk, "street", "中山路街道", district)
        community = _add(session, clerk, "community", "星光社区", street)
        compound = _add(session, clerk, "compound", "星光小区", community, kind="three_no")
        session.commit()
    return clerk, district, community, compound


def test_a_district_is_its_own_district_and_every_area_below_carries_it(factory):
    _, district, community, compound = _tree(factory)
    assert district.district_id == str(district.id)
    assert community.district_id == compound.district_id == district.district_id
    events = committed_events(factory)
    assert [e["type"] for e in events] == ["linli.registry.area.created"] * 4
    assert [e["subject"] for e in events][-1] == str(compound.id)
    assert events[-1]["data"] == {"id": str(compound.id), "district_id": district.district_id,
                                  "parent_id": str(community.id), "level": "compound", "name": "星光小区",
                                  "kind": "three_no", "time_zone": "Asia/Shanghai", "version": 1,
                                  **dict.fromkeys(DETAILS)}


def test_only_operators_add_districts(factory):
    with factory() as session, pytest.raises(Forbidden):
        _add(session, Actor("clerk", str(uuid.uuid4()), frozenset({"registry:admin"})), "district", "璧山区")


def test_a_parent_in_another_district_is_no_such_area(factory):
    _, _, community, _ = _tree(factory)
    stranger = Actor("stranger", str(uuid.uuid4()), frozenset({"registry:write"}))
    with factory() as session, pytest.raises(ValidationFailed) as raised:
        usecases.add_area(session, stranger, level="compound", name="x", parent_id=community.id, kind="old",
                          time_zone="Asia/Shanghai")
    assert list(raised.value.errors) == ["parent_id"]


def test_an_edit_records_the_new_version_and_an_edit_changing_nothing_records_nothing(factory):
    clerk, _, _, compound = _tree(factory)
    seen: list[int] = []
    with factory() as session:
        area = usecases.edit_area(session, clerk, compound.id, {"name": "星光花园", "kind": "three_no"},
                                  check_version=seen.append)
        again = usecases.edit_area(session, clerk, compound.id, {"name": "星光花园"}, check_version=seen.append)
        session.commit()
    assert seen == [1, 2]  # the version each edit was about to change, for the caller's If-Match
    assert area.version == again.version == 2
    [updated] = committed_events(factory, "registry.area.updated")
    assert updated["data"]["name"] == "星光花园" and updated["data"]["version"] == 2


def test_a_version_check_that_refuses_stops_the_edit(factory):
    clerk, _, _, compound = _tree(factory)

    def refuse(version: int) -> None:
        raise Conflict(f"not {version}")

    with factory() as session, pytest.raises(Conflict):
        usecases.edit_area(session, clerk, compound.id, {"name": "新名"}, check_version=refuse)
    assert committed_events(factory, "registry.area.updated") == []


def test_editing_a_missing_or_foreign_area_is_not_found_and_a_kind_must_fit(factory):
    clerk, district, _, compound = _tree(factory)
    stranger = Actor("stranger", str(uuid.uuid4()), frozenset({"registry:write"}))
    with factory() as session:
        for actor, area_id in ((clerk, uuid.uuid4()), (stranger, compound.id)):
            with pytest.raises(NotFound):
                usecases.edit_area(session, actor, area_id, {"name": "x"})
        with pytest.raises(ValidationFailed) as raised:
            usecases.edit_area(session, clerk, district.id, {"kind": "managed"})
        assert list(raised.value.errors) == ["kind"]


def test_a_community_has_one_committee_at_most_and_only_communities_have_one(factory):
    clerk, _, community, compound = _tree(factory)
    with factory() as session:
        committee = usecases.set_up_committee(session, clerk, community_id=community.id, name="星光社区大党委")
        session.commit()
    assert (committee.district_id, committee.time_zone, committee.version) == (
        community.district_id, "Asia/Shanghai", 1)
    with factory() as session:
        with pytest.raises(Conflict):
            usecases.set_up_committee(session, clerk, community_id=community.id, name="again")
        with pytest.raises(ValidationFailed) as raised:
            usecases.set_up_committee(session, clerk, community_id=compound.id, name="not a community")
        assert list(raised.value.errors) == ["community_id"]
    [created] = committed_events(factory, "registry.committee.created")
    assert created["subject"] == str(committee.id) and created["data"]["community_id"] == str(community.id)


# --- Area details --------------------------------------------------------------------------------

def _organization(factory, actor, kind: str, name: str) -> uuid.UUID:
    with factory() as session:
        organization = usecases.register_organization(session, actor, kind=kind, name=name)
        session.commit()
        return organization.id


def test_a_compound_is_added_and_edited_with_its_details_and_the_events_carry_them(factory):
    clerk, _, community, _ = _tree(factory)
    company = _organization(factory, clerk, "property_company", "渝兴物业")
    owners = _organization(factory, clerk, "owners_committee", "兴龙湖业委会")
    with factory() as session:
        compound = usecases.add_area(
            session, clerk, level="compound", name="兴龙湖小区", parent_id=community.id, kind="managed",
            time_zone="Asia/Shanghai", details={"management_mode": "property_company", "households": 860,
                                                "residents": 2400, "year_built": 2008,
                                                "property_company_id": company})
        session.commit()
    with factory() as session:
        usecases.edit_area(session, clerk, compound.id, {"households": 900, "owners_committee_id": owners,
                                                         "management_mode": "red_property"})
        session.commit()
    created, updated = committed_events(factory)[-2:]
    assert created["data"]["households"] == 860 and created["data"]["property_company_id"] == str(company)
    assert updated["type"] == "linli.registry.area.updated"
    assert (updated["data"]["households"], updated["data"]["management_mode"], updated["data"]["version"]) == (
        900, "red_property", 2)
    assert updated["data"]["owners_committee_id"] == str(owners) and updated["data"]["units"] is None


def test_a_compound_names_only_organizations_of_its_district_and_the_right_kind(factory):
    clerk, _, community, _ = _tree(factory)
    school = _organization(factory, clerk, "school", "星光小学")
    elsewhere = Actor("ops", "*", frozenset({"registry:admin"}))
    with factory() as session:
        other_district = usecases.add_area(session, elsewhere, level="district", name="璧山区", parent_id=None,
                                           kind=None, time_zone="Asia/Shanghai")
        session.commit()
    with factory() as session:
        foreign = usecases.register_organization(session, elsewhere, kind="property_company", name="外区物业",
                                                 district_id=other_district.district_id)
        session.commit()
    for details, message in (({"property_company_id": uuid.uuid4()}, "no such organization"),
                             ({"property_company_id": foreign.id}, "no such organization"),
                             ({"owners_committee_id": school}, "must be an organization of kind owners_committee")):
        with factory() as session, pytest.raises(ValidationFailed) as raised:
            usecases.add_area(session, clerk, level="compound", name="新小区", parent_id=community.id,
                              kind="managed", time_zone="Asia/Shanghai", details=details)
        [(field, [text])] = raised.value.errors.items()
        assert field == next(iter(details)) and text.startswith(message), raised.value.errors
    assert [e["data"]["name"] for e in committed_events(factory) if e["type"] == "linli.registry.area.created"
            ].count("新小区") == 0


def test_a_three_no_compound_cannot_gain_a_property_company_nor_a_compound_with_one_become_three_no(factory):
    clerk, _, community, three_no = _tree(factory)
    company = _organization(factory, clerk, "property_company", "渝兴物业")
    with factory() as session:
        with pytest.raises(ValidationFailed) as raised:
            usecases.edit_area(session, clerk, three_no.id, {"property_company_id": company})
        assert list(raised.value.errors) == ["property_company_id"]
        managed = usecases.add_area(session, clerk, level="compound", name="有物业", parent_id=community.id,
                                    kind="managed", time_zone="Asia/Shanghai",
                                    details={"property_company_id": company})
        with pytest.raises(ValidationFailed) as raised:
            usecases.edit_area(session, clerk, managed.id, {"kind": "three_no"})
        assert list(raised.value.errors) == ["property_company_id"]
        # Clearing it in the same edit is fine.
        usecases.edit_area(session, clerk, managed.id, {"kind": "three_no", "property_company_id": None})
        assert managed.kind == "three_no" and managed.property_company_id is None


def test_a_building_has_units_and_floors_and_no_compound_details(factory):
    clerk, _, _, compound = _tree(factory)
    with factory() as session:
        building = usecases.add_area(session, clerk, level="building", name="3栋", parent_id=compound.id,
                                     kind=None, time_zone="Asia/Shanghai", details={"units": 2, "floors": 7})
        assert (building.units, building.floors) == (2, 7)
        with pytest.raises(ValidationFailed) as raised:
            usecases.edit_area(session, clerk, building.id, {"households": 40})
        assert list(raised.value.errors) == ["households"]


# --- Moves, paths, subtrees and coverage ---------------------------------------------------------

def _two_communities(factory):
    clerk, district, community, compound = _tree(factory)
    with factory() as session:
        street = session.get(Area, community.parent_id)
        other = _add(session, clerk, "community", "唐城社区", street)
        building = _add(session, clerk, "building", "1栋", compound)
        grid = _add(session, clerk, "grid", "第一网格", community)
        session.commit()
    return clerk, district, community, other, compound, building, grid


def test_a_compound_moves_with_its_buildings_and_the_event_says_where(factory):
    clerk, district, community, other, compound, building, _ = _two_communities(factory)
    with factory() as session:
        moved = usecases.move_area(session, clerk, compound.id, other.id)
        assert [a.name for a in usecases.ancestors(session, session.get(Area, building.id))] == [
            "永川区", "中山路街道", "唐城社区", "星光小区", "1栋"]
        again = usecases.move_area(session, clerk, compound.id, other.id)  # already there: nothing to record
        session.commit()
    assert moved.version == again.version == 2
    [event] = committed_events(factory, "registry.area.moved")
    assert event["subject"] == str(compound.id) and event["data"]["parent_id"] == str(other.id)


def test_an_area_cannot_move_under_itself_its_descendant_a_wrong_level_or_another_district(factory):
    clerk, district, community, other, compound, building, _ = _two_communities(factory)
    with factory() as session:
        with pytest.raises(Conflict):
            usecases.move_area(session, clerk, compound.id, compound.id)
        with pytest.raises(Conflict):
            usecases.move_area(session, clerk, compound.id, building.id)
        with pytest.raises(ValidationFailed) as raised:
            usecases.move_area(session, clerk, compound.id, district.id)
        assert list(raised.value.errors) == ["parent_id"]
        foreign = _add(session, OPERATOR, "district", "璧山区")
        session.flush()
        for actor in (clerk, OPERATOR):
            with pytest.raises(ValidationFailed) as raised:
                usecases.move_area(session, actor, compound.id, foreign.id)
            assert list(raised.value.errors) == ["parent_id"]


def test_a_grid_covers_its_community_s_compounds_and_buildings_and_moves_keep_that_true(factory):
    clerk, _, community, other, compound, building, grid = _two_communities(factory)
    with factory() as session:
        elsewhere = _add(session, clerk, "compound", "唐城小区", session.get(Area, other.id), kind="old")
        with pytest.raises(ValidationFailed) as raised:
            usecases.set_coverage(session, clerk, grid.id, [compound.id, elsewhere.id, community.id, uuid.uuid4()])
        assert set(raised.value.errors) == {"area_ids.1", "area_ids.2", "area_ids.3"}
        with pytest.raises(Conflict):
            usecases.set_coverage(session, clerk, compound.id, [])
        covered_grid, covered = usecases.set_coverage(session, clerk, grid.id, [building.id, compound.id, compound.id])
        assert covered == sorted([building.id, compound.id]) and covered_grid.version == 2
        with pytest.raises(Conflict):
            usecases.move_area(session, clerk, compound.id, other.id)  # the grid covers it
        with pytest.raises(Conflict):
            usecases.move_area(session, clerk, grid.id, other.id)  # it covers areas of its community
        usecases.set_coverage(session, clerk, grid.id, [])
        usecases.move_area(session, clerk, compound.id, other.id)
        session.commit()
    first, cleared = committed_events(factory, "registry.area.coverage_changed")
    assert first["data"]["covered_area_ids"] == [str(a) for a in sorted([building.id, compound.id])]
    assert (first["data"]["version"], cleared["data"]["covered_area_ids"], cleared["data"]["version"]) == (2, [], 3)


def test_a_subtree_is_bounded_by_depth_and_size(factory):
    clerk, district, *_ = _two_communities(factory)
    with factory() as session:
        root = session.get(Area, district.id)
        top, count, truncated = usecases.subtree(session, root, depth=5, max_nodes=1000)
        assert (count, truncated) == (7, False)
        [street] = top["children"]
        assert [c["name"] for c in street["children"]] == ["唐城社区", "星光社区"]
        assert [c["level"] for c in street["children"][1]["children"]] == ["compound", "grid"]
        assert usecases.subtree(session, root, depth=2, max_nodes=1000)[1:] == (4, True)
        assert usecases.subtree(session, root, depth=5, max_nodes=3)[1:] == (3, True)


# --- Bulk import ---------------------------------------------------------------------------------

def test_an_import_adds_every_row_with_its_event_and_a_dry_run_writes_nothing(factory):
    clerk, district, community, _ = _tree(factory)
    rows = [(2, {"level": "compound", "name": "新建小区", "parent": "中山路街道/星光社区", "kind": "managed",
                 "households": 40}),
            (3, {"level": "building", "name": "1栋", "parent": "中山路街道/星光社区/新建小区", "floors": 6}),
            (4, {"level": "grid", "name": "第二网格", "parent": str(community.id)})]
    with factory() as session:
        planned = usecases.import_areas(session, clerk, rows, district_id=district.district_id, dry_run=True)
        session.commit()
    assert [p.path for p in planned] == ["中山路街道/星光社区/新建小区", "中山路街道/星光社区/新建小区/1栋",
                                         "中山路街道/星光社区/第二网格"]
    assert len(committed_events(factory)) == 4
    with factory() as session:
        planned = usecases.import_areas(session, clerk, rows, district_id=district.district_id)
        session.commit()
        building = session.get(Area, planned[1].id)
        assert (building.parent_id, building.floors, building.version) == (planned[0].id, 6, 1)
    created = committed_events(factory, "registry.area.created")[4:]
    assert [e["subject"] for e in created] == [str(p.id) for p in planned]
    assert created[0]["data"]["households"] == 40 and created[0]["data"]["version"] == 1


def test_an_import_names_each_bad_row_and_a_foreign_district_is_refused(factory):
    clerk, district, _, _ = _tree(factory)
    rows = [(2, {"level": "compound", "name": "星光小区", "parent": "中山路街道/星光社区", "kind": "old"}),
            (3, {"level": "building", "name": "1栋", "parent": "中山路街道/星光社区/星光小区", "households": 3})]
    with factory() as session, pytest.raises(ValidationFailed) as raised:
        usecases.import_areas(session, clerk, rows, district_id=district.district_id)
    assert set(raised.value.errors) == {"line 2.name", "line 3.households"}
    stranger = Actor("stranger", str(uuid.uuid4()), frozenset({"registry:write"}))
    with factory() as session, pytest.raises(ValidationFailed) as raised:
        usecases.import_areas(session, stranger, rows, district_id=district.district_id)
    assert list(raised.value.errors) == ["district_id"]
