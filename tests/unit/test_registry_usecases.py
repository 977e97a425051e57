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

def test_a_compound_is_added_and_edited_with_its_details_and_the_events_carry_them(factory):
    clerk, _, community, _ = _tree(factory)
    company = uuid.uuid4()
    with factory() as session:
        compound = usecases.add_area(
            session, clerk, level="compound", name="兴龙湖小区", parent_id=community.id, kind="managed",
            time_zone="Asia/Shanghai", details={"management_mode": "property_company", "households": 860,
                                                "residents": 2400, "year_built": 2008,
                                                "property_company_id": company})
        session.commit()
    with factory() as session:
        usecases.edit_area(session, clerk, compound.id, {"households": 900, "owners_committee_id": company,
                                                         "management_mode": "red_property"})
        session.commit()
    created, updated = committed_events(factory)[-2:]
    assert created["data"]["households"] == 860 and created["data"]["property_company_id"] == str(company)
    assert updated["type"] == "linli.registry.area.updated"
    assert (updated["data"]["households"], updated["data"]["management_mode"], updated["data"]["version"]) == (
        900, "red_property", 2)
    assert updated["data"]["owners_committee_id"] == str(company) and updated["data"]["units"] is None


def test_a_three_no_compound_cannot_gain_a_property_company_nor_a_compound_with_one_become_three_no(factory):
    clerk, _, community, three_no = _tree(factory)
    with factory() as session:
        with pytest.raises(ValidationFailed) as raised:
            usecases.edit_area(session, clerk, three_no.id, {"property_company_id": uuid.uuid4()})
        assert list(raised.value.errors) == ["property_company_id"]
        managed = usecases.add_area(session, clerk, level="compound", name="有物业", parent_id=community.id,
                                    kind="managed", time_zone="Asia/Shanghai",
                                    details={"property_company_id": uuid.uuid4()})
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
