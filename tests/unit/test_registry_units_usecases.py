"""registry's organizations, resources, pairings and committee units, as use cases on a SQLite session."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from linli.services.registry import domain, usecases
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
    """A district with a community and a compound, its clerk, and a hospital with a contact."""
    with factory() as session:
        district = _area(session, OPERATOR, "district", "永川区")
        clerk = Actor("clerk", district.district_id, frozenset({"registry:write"}))
        street = _area(session, clerk, "street", "中山路街道", district)
        community = _area(session, clerk, "community", "星光社区", street)
        compound = _area(session, clerk, "compound", "星光小区", community, kind="three_no")
        hospital = usecases.register_organization(session, clerk, kind="hospital", name="永川区人民医院",
                                                  address="永川区人民大道1号", contact_person="李医生",
                                                  contact_phone=PHONE)
        session.commit()
    return {"clerk": clerk, "district": district, "community": community, "compound": compound,
            "hospital": hospital}


# --- Organizations -------------------------------------------------------------------------------------

def test_an_organization_is_public_without_its_contact_which_goes_out_privately(factory, world):
    hospital = world["hospital"]
    [created] = committed_events(factory, "registry.organization.created")
    assert created["data"] == {"id": str(hospital.id), "district_id": hospital.district_id, "kind": "hospital",
                               "name": "永川区人民医院", "address": "永川区人民大道1号", "area_id": None,
                               "version": 1}
    [contact] = committed_events(factory, "registry.organization.contact")
    assert contact["data"]["contact_phone"] == PHONE and contact["data"]["contact_person"] == "李医生"
    assert CATALOGUE["registry.organization.contact"].private
    assert not CATALOGUE["registry.organization.created"].private
    assert not CATALOGUE["registry.organization.updated"].private


def test_no_public_registry_event_schema_has_a_phone_or_contact_field():
    for key, event_type in CATALOGUE.items():
        if key.startswith("registry.") and not event_type.private:
            fields = set(event_type.payload().fields)
            assert not {f for f in fields if "phone" in f or "contact" in f}, key


def test_an_organization_without_a_contact_sends_no_private_event(factory, world):
    with factory() as session:
        usecases.register_organization(session, world["clerk"], kind="school", name="星光小学")
        session.commit()
    assert len(committed_events(factory, "registry.organization.contact")) == 1  # the hospital's only


def test_an_edit_sends_the_public_and_the_private_event_only_for_what_changed(factory, world):
    clerk, hospital = world["clerk"], world["hospital"]
    seen: list[int] = []
    with factory() as session:
        usecases.edit_organization(session, clerk, hospital.id, {"name": "永川区人民医院"}, check_version=seen.append)
        usecases.edit_organization(session, clerk, hospital.id, {"contact_phone": "13900000000"})
        edited = usecases.edit_organization(session, clerk, hospital.id, {"address": None, "kind": "hospital"})
        session.commit()
    assert seen == [1]
    assert edited.version == 3 and edited.address is None
    [updated] = committed_events(factory, "registry.organization.updated")
    assert updated["data"]["address"] is None and updated["data"]["version"] == 3
    contacts = committed_events(factory, "registry.organization.contact")
    assert [c["data"]["contact_phone"] for c in contacts] == [PHONE, "13900000000"]


def test_an_organization_belongs_to_the_callers_district_or_the_one_an_operator_names(factory, world):
    district_id = world["district"].district_id
    with factory() as session:
        by_operator = usecases.register_organization(session, OPERATOR, kind="soe", name="永川国企",
                                                     district_id=district_id)
        assert by_operator.district_id == district_id
        for actor, asked, field in ((OPERATOR, None, "district_id"), (OPERATOR, str(uuid.uuid4()), "district_id"),
                                    (OPERATOR, "not-a-uuid", "district_id"),
                                    (OPERATOR, str(world["community"].id), "district_id"),
                                    (world["clerk"], str(uuid.uuid4()), "district_id")):
            with pytest.raises(ValidationFailed) as raised:
                usecases.register_organization(session, actor, kind="soe", name="x", district_id=asked)
            assert list(raised.value.errors) == [field]


def test_editing_a_foreign_or_missing_organization_is_not_found(factory, world):
    stranger = Actor("stranger", str(uuid.uuid4()), frozenset({"registry:write"}))
    with factory() as session:
        for actor, organization_id in ((stranger, world["hospital"].id), (world["clerk"], uuid.uuid4())):
            with pytest.raises(NotFound):
                usecases.edit_organization(session, actor, organization_id, {"name": "x"})


def test_organization_kinds_are_snake_case_codes():
    assert len(domain.ORGANIZATION_KINDS) == 10
    assert all(kind == kind.lower() and " " not in kind for kind in domain.ORGANIZATION_KINDS)
    with pytest.raises(ValidationFailed):
        domain.organization_district("d1", "d2")
    assert domain.organization_district("d1", None) == "d1"
    assert domain.organization_district(None, "d2") == "d2"


# --- Resources -----------------------------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_resources_added_and_removed_carry_the_categories_the_organization_still_offers(factory, world):
    clerk, hospital = world["clerk"], world["hospital"]
    with factory() as session:
        clinic = usecases.add_resource(session, clerk, hospital.id, kind="staff", category="medical",
                                       description="每月义诊医生2名", quantity=2)
        usecases.add_resource(session, clerk, hospital.id, kind="venue", category="venue", description="会议室")
        usecases.add_resource(session, clerk, hospital.id, kind="skills", category="medical", description="急救培训")
        removed = usecases.remove_resource(session, clerk, hospital.id, clinic.id, NOW)
        session.commit()
    assert (removed.state, removed.removed_at, removed.version) == ("removed", NOW, 2)
    added = committed_events(factory, "registry.resource.added")
    assert [e["data"]["organization_categories"] for e in added] == [
        ["medical"], ["medical", "venue"], ["medical", "venue"]]
    assert added[0]["data"]["organization_name"] == "永川区人民医院" and added[0]["data"]["quantity"] == 2
    [gone] = committed_events(factory, "registry.resource.removed")
    # Another medical resource is still on the list, so the organization still offers medical care.
    assert gone["subject"] == str(clinic.id) and gone["data"]["state"] == "removed"
    assert gone["data"]["organization_categories"] == ["medical", "venue"] and gone["data"]["version"] == 2


def test_a_resource_is_removed_once_and_only_through_its_own_organization(factory, world):
    clerk, hospital = world["clerk"], world["hospital"]
    with factory() as session:
        school = usecases.register_organization(session, clerk, kind="school", name="星光小学")
        venue = usecases.add_resource(session, clerk, hospital.id, kind="venue", category="venue", description="礼堂")
        session.commit()
    with factory() as session:
        with pytest.raises(NotFound):
            usecases.remove_resource(session, clerk, school.id, venue.id, NOW)
        usecases.remove_resource(session, clerk, hospital.id, venue.id, NOW)
        with pytest.raises(InvalidTransition):
            usecases.remove_resource(session, clerk, hospital.id, venue.id, NOW)


def test_resource_rules_name_the_field_and_a_foreign_organization_is_not_found(factory, world):
    clerk, hospital = world["clerk"], world["hospital"]
    stranger = Actor("stranger", str(uuid.uuid4()), frozenset({"registry:write"}))
    with factory() as session:
        for fields, field in (({"kind": "boats"}, "kind"), ({"category": "astrology"}, "category"),
                              ({"quantity": 0}, "quantity")):
            body = {"kind": "staff", "category": "medical", "description": "x", "quantity": 1, **fields}
            with pytest.raises(ValidationFailed) as raised:
                usecases.add_resource(session, clerk, hospital.id, **body)
            assert list(raised.value.errors) == [field]
        with pytest.raises(NotFound):
            usecases.add_resource(session, stranger, hospital.id, kind="staff", category="medical", description="x")


def test_the_category_vocabulary_covers_the_named_codes_with_both_labels():
    named = {"tree_trimming", "medical", "legal_aid", "noise", "fire_safety", "parking", "venue", "funds",
             "elderly_care", "education"}
    assert named <= set(domain.RESOURCE_CATEGORIES)
    assert all(zh and en and zh != en for zh, en in domain.RESOURCE_CATEGORIES.values())


# --- Pairings ------------------------------------------------------------------------------------------

def test_a_pairing_is_created_and_removed_with_events_telling_the_organization_and_dates(factory, world):
    clerk, hospital, compound = world["clerk"], world["hospital"], world["compound"]
    with factory() as session:
        pairing = usecases.pair(session, clerk, organization_id=hospital.id, compound_id=compound.id,
                                starts_on=date(2025, 1, 1))
        session.commit()
    with factory() as session:
        ended = usecases.unpair(session, clerk, pairing.id, ends_on=date(2025, 6, 30), reason="调整包片")
        session.commit()
    assert (ended.state, ended.ends_on, ended.version) == ("removed", date(2025, 6, 30), 2)
    [created] = committed_events(factory, "registry.pairing.created")
    assert created["data"] == {"id": str(pairing.id), "district_id": pairing.district_id,
                               "organization_id": str(hospital.id), "organization_name": "永川区人民医院",
                               "compound_id": str(compound.id), "starts_on": "2025-01-01", "ends_on": None,
                               "state": "active", "reason": None, "version": 1}
    [removed] = committed_events(factory, "registry.pairing.removed")
    assert removed["data"]["ends_on"] == "2025-06-30" and removed["data"]["version"] == 2
    with factory() as session, pytest.raises(InvalidTransition):
        usecases.unpair(session, clerk, pairing.id, ends_on=date(2025, 7, 1))


def test_one_pairing_of_an_organization_and_a_compound_at_a_time(factory, world):
    clerk, hospital, compound = world["clerk"], world["hospital"], world["compound"]
    with factory() as session:
        usecases.pair(session, clerk, organization_id=hospital.id, compound_id=compound.id,
                      starts_on=date(2025, 1, 1), ends_on=date(2025, 12, 31))
        with pytest.raises(Conflict):
            usecases.pair(session, clerk, organization_id=hospital.id, compound_id=compound.id,
                          starts_on=date(2025, 12, 31))
        later = usecases.pair(session, clerk, organization_id=hospital.id, compound_id=compound.id,
                              starts_on=date(2026, 1, 1))
        assert later.state == "active"


def test_pairing_references_and_dates_name_the_field(factory, world):
    clerk, hospital, compound, community = world["clerk"], world["hospital"], world["compound"], world["community"]
    stranger = Actor("stranger", str(uuid.uuid4()), frozenset({"registry:write"}))
    cases = [
        (clerk, {"organization_id": uuid.uuid4()}, "organization_id"),
        (stranger, {}, "organization_id"),
        (clerk, {"compound_id": community.id}, "compound_id"),
        (clerk, {"compound_id": uuid.uuid4()}, "compound_id"),
        (clerk, {"ends_on": date(2024, 12, 31)}, "ends_on"),
    ]
    with factory() as session:
        for actor, fields, field in cases:
            body = {"organization_id": hospital.id, "compound_id": compound.id, "starts_on": date(2025, 1, 1),
                    **fields}
            with pytest.raises(ValidationFailed) as raised:
                usecases.pair(session, actor, **body)
            assert list(raised.value.errors) == [field], fields
        pairing = usecases.pair(session, clerk, organization_id=hospital.id, compound_id=compound.id,
                                starts_on=date(2025, 1, 1))
        with pytest.raises(ValidationFailed) as raised:
            usecases.unpair(session, clerk, pairing.id, ends_on=date(2024, 1, 1))
        assert list(raised.value.errors) == ["ends_on"]
        with pytest.raises(NotFound):
            usecases.unpair(session, stranger, pairing.id, ends_on=date(2025, 2, 1))


def test_an_organization_pairs_only_with_compounds_of_its_own_district(factory, world):
    with factory() as session:
        other = usecases.add_area(session, OPERATOR, level="district", name="璧山区", parent_id=None, kind=None,
                                  time_zone="Asia/Shanghai")
        school = usecases.register_organization(session, OPERATOR, kind="school", name="璧山小学",
                                                district_id=other.district_id)
        with pytest.raises(ValidationFailed) as raised:
            usecases.pair(session, OPERATOR, organization_id=school.id, compound_id=world["compound"].id,
                          starts_on=date(2025, 1, 1))
        assert list(raised.value.errors) == ["compound_id"]


@pytest.mark.parametrize(("a", "b", "overlap"), [
    ((1, 10), (11, None), False),
    ((1, 10), (10, 12), True),
    ((5, None), (1, 4), False),
    ((5, None), (1, None), True),
    ((1, 1), (1, 1), True),
])
def test_periods_of_inclusive_days_overlap_when_they_share_a_day(a, b, overlap):
    def day(n):
        return None if n is None else date(2025, 1, n)

    assert domain.periods_overlap(day(a[0]), day(a[1]), day(b[0]), day(b[1])) is overlap
    assert domain.periods_overlap(day(b[0]), day(b[1]), day(a[0]), day(a[1])) is overlap


# --- Committees: convenor and units --------------------------------------------------------------------

def _committee(factory, world):
    with factory() as session:
        committee = usecases.set_up_committee(session, world["clerk"], community_id=world["community"].id,
                                              name="星光社区大党委", convenor_name="张书记")
        session.commit()
    return committee


def test_units_join_and_leave_with_events_carrying_the_committee_and_its_current_units(factory, world):
    clerk, hospital = world["clerk"], world["hospital"]
    committee = _committee(factory, world)
    with factory() as session:
        school = usecases.register_organization(session, clerk, kind="school", name="星光小学")
        usecases.join_committee(session, clerk, committee.id, organization_id=hospital.id,
                                joined_on=date(2025, 1, 1), member_name="李医生", member_phone=PHONE)
        usecases.join_committee(session, clerk, committee.id, organization_id=school.id,
                                joined_on=date(2025, 2, 1), member_name="王老师")
        left = usecases.leave_committee(session, clerk, committee.id, hospital.id, left_on=date(2025, 6, 30),
                                        reason="单位撤并")
        session.commit()
    assert (left.left_on, left.left_reason) == (date(2025, 6, 30), "单位撤并")
    [created] = committed_events(factory, "registry.committee.created")
    assert created["data"]["units"] == [] and created["data"]["convenor_name"] == "张书记"
    joined = committed_events(factory, "registry.committee.unit_joined")
    assert [e["subject"] for e in joined] == [str(committee.id)] * 2
    assert [e["data"]["version"] for e in joined] == [2, 3]  # the committee's versions: one order for all
    assert joined[1]["data"]["units"] == [
        {"organization_id": str(hospital.id), "organization_name": "永川区人民医院", "organization_kind": "hospital",
         "joined_on": "2025-01-01"},
        {"organization_id": str(school.id), "organization_name": "星光小学", "organization_kind": "school",
         "joined_on": "2025-02-01"}]
    [gone] = committed_events(factory, "registry.committee.unit_left")
    assert gone["data"]["organization_id"] == str(hospital.id) and gone["data"]["left_on"] == "2025-06-30"
    assert gone["data"]["community_id"] == str(world["community"].id) and gone["data"]["version"] == 4
    assert [u["organization_id"] for u in gone["data"]["units"]] == [str(school.id)]
    assert "member_name" not in gone["data"] and "member_phone" not in str(gone["data"])
    contacts = committed_events(factory, "registry.committee_unit.contact")
    assert [(c["data"]["member_name"], c["data"]["member_phone"]) for c in contacts] == [
        ("李医生", PHONE), ("王老师", None)]
    assert CATALOGUE["registry.committee_unit.contact"].private


def test_joining_twice_and_leaving_when_not_a_unit_are_invalid_transitions(factory, world):
    clerk, hospital = world["clerk"], world["hospital"]
    committee = _committee(factory, world)
    with factory() as session:
        with pytest.raises(InvalidTransition):
            usecases.leave_committee(session, clerk, committee.id, hospital.id, left_on=date(2025, 1, 1), reason="x")
        usecases.join_committee(session, clerk, committee.id, organization_id=hospital.id,
                                joined_on=date(2025, 1, 1), member_name="李医生")
        with pytest.raises(InvalidTransition):
            usecases.join_committee(session, clerk, committee.id, organization_id=hospital.id,
                                    joined_on=date(2025, 2, 1), member_name="李医生")
        with pytest.raises(ValidationFailed) as raised:
            usecases.leave_committee(session, clerk, committee.id, hospital.id, left_on=date(2024, 1, 1), reason="x")
        assert list(raised.value.errors) == ["left_on"]
        usecases.leave_committee(session, clerk, committee.id, hospital.id, left_on=date(2025, 3, 1), reason="x")
        with pytest.raises(ValidationFailed) as raised:
            usecases.join_committee(session, clerk, committee.id, organization_id=hospital.id,
                                    joined_on=date(2025, 2, 1), member_name="李医生")
        assert list(raised.value.errors) == ["joined_on"]
        rejoined = usecases.join_committee(session, clerk, committee.id, organization_id=hospital.id,
                                           joined_on=date(2025, 3, 1), member_name="赵医生")
        session.commit()
    assert rejoined.left_on is None
    assert [e["data"]["version"] for e in committed_events(factory)
            if e["subject"] == str(committee.id)] == [1, 2, 3, 4]


def test_a_unit_comes_from_the_committees_district_and_the_committee_must_be_visible(factory, world):
    committee = _committee(factory, world)
    stranger = Actor("stranger", str(uuid.uuid4()), frozenset({"registry:write"}))
    with factory() as session:
        other = usecases.add_area(session, OPERATOR, level="district", name="璧山区", parent_id=None, kind=None,
                                  time_zone="Asia/Shanghai")
        foreign = usecases.register_organization(session, OPERATOR, kind="school", name="璧山小学",
                                                 district_id=other.district_id)
        for organization_id in (foreign.id, uuid.uuid4()):
            with pytest.raises(ValidationFailed) as raised:
                usecases.join_committee(session, OPERATOR, committee.id, organization_id=organization_id,
                                        joined_on=date(2025, 1, 1), member_name="x")
            assert list(raised.value.errors) == ["organization_id"]
        with pytest.raises(NotFound):
            usecases.join_committee(session, stranger, committee.id, organization_id=world["hospital"].id,
                                    joined_on=date(2025, 1, 1), member_name="x")


def test_a_convenor_edit_records_the_committee_with_its_units_and_a_no_op_records_nothing(factory, world):
    clerk = world["clerk"]
    committee = _committee(factory, world)
    seen: list[int] = []
    with factory() as session:
        member_id = usecases.register_member(session, clerk, name="刘书记", phone=PHONE,
                                             compound_id=world["compound"].id).id
        usecases.join_committee(session, clerk, committee.id, organization_id=world["hospital"].id,
                                joined_on=date(2025, 1, 1), member_name="李医生")
        edited = usecases.edit_committee(session, clerk, committee.id, {"convenor_name": "刘书记",
                                                                        "convenor_member_id": member_id},
                                         check_version=seen.append)
        usecases.edit_committee(session, clerk, committee.id, {"convenor_name": "刘书记"})
        session.commit()
    assert seen == [2] and edited.version == 3
    [updated] = committed_events(factory, "registry.committee.updated")
    assert updated["data"]["convenor_member_id"] == str(member_id) and len(updated["data"]["units"]) == 1
