"""registry's rules for party branches, committee convenors and coverage reports: plain Python, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from linli.services.registry import domain
from linli.services.registry.domain import CompoundCoverage, Place, Tally
from linli.shared.errors import ValidationFailed


@pytest.mark.parametrize("level", ["compound", "community"])
def test_a_party_branch_serves_a_compound_or_a_community(level):
    domain.check_branch_area("party_branch", level)


@pytest.mark.parametrize("kind", [k for k in domain.ORGANIZATION_KINDS if k != "party_branch"])
def test_only_party_branches_serve_an_area_though_any_organization_may_serve_none(kind):
    domain.check_branch_area(kind, None)
    with pytest.raises(ValidationFailed) as raised:
        domain.check_branch_area(kind, "compound")
    assert list(raised.value.errors) == ["area_id"]


@pytest.mark.parametrize("level", ["district", "street", "building", "grid"])
def test_a_branch_serves_no_area_of_another_level(level):
    with pytest.raises(ValidationFailed) as raised:
        domain.check_branch_area("party_branch", level)
    assert raised.value.errors == {"area_id": [f"a party branch serves a compound or a community, not a {level}"]}


def test_a_member_reports_to_the_compound_s_branch_else_the_community_s_else_none():
    assert domain.branch_for("c1", "k1", {"c1": "b-compound", "k1": "b-community"}) == "b-compound"
    assert domain.branch_for("c1", "k1", {"c2": "b-other", "k1": "b-community"}) == "b-community"
    assert domain.branch_for("c1", "k1", {"c2": "b-other", "k2": "b-far"}) is None


def test_a_convenor_is_a_current_member_living_in_the_committee_s_community():
    domain.check_convenor(membership="active", home_community_id="k1", community_id="k1")
    for membership, home, message in ((None, None, "no such member in the committee's district"),
                                      ("left", "k1", "this member has left"),
                                      ("active", "k2", "does not live in a compound of the committee's community")):
        with pytest.raises(ValidationFailed) as raised:
            domain.check_convenor(membership=membership, home_community_id=home, community_id="k1")
        assert raised.value.errors == {"convenor_member_id": [message]}


@pytest.mark.parametrize("level", ["compound", "community", "street"])
def test_coverage_is_reported_for_compounds_communities_and_streets(level):
    domain.check_coverage_level(level)


@pytest.mark.parametrize("level", ["district", "building", "grid"])
def test_coverage_of_another_level_names_area_id(level):
    with pytest.raises(ValidationFailed) as raised:
        domain.check_coverage_level(level)
    assert list(raised.value.errors) == ["area_id"]


def test_the_day_pairings_are_judged_on_is_the_local_one():
    # 17:00 UTC on 31 December is already New Year's Day in Chongqing.
    late = datetime(2025, 12, 31, 17, 0, tzinfo=UTC)
    assert domain.day_in(late, "Asia/Shanghai") == date(2026, 1, 1)
    assert domain.day_in(late, "UTC") == date(2025, 12, 31)


def test_every_role_is_counted_zero_or_not_and_unknown_codes_are_not():
    counts = domain.role_counts({"party_group_leader": 2, "mayor": 5})
    assert list(counts) == list(domain.MEMBER_ROLES)
    assert counts["party_group_leader"] == 2 and counts["building_leader"] == 0 and "mayor" not in counts


def _line(**fields) -> CompoundCoverage:
    tally = Tally(members=fields.pop("members", 0), in_service=fields.pop("in_service", 0),
                  checked_in=fields.pop("checked_in", 0), roles=fields.pop("roles", {}))
    compound = Place(fields.pop("id", "c1"), fields.pop("name", "星光小区"))
    return domain.compound_coverage(compound, fields.pop("community", "k1"), tally, fields.pop("buildings", []),
                                    led_buildings=fields.pop("led", set()), served_areas=fields.pop("served", set()),
                                    paired_compounds=fields.pop("paired", set()))


def test_a_compound_s_line_lists_the_buildings_without_a_group_leader_in_their_order():
    one, two, three = Place("b1", "1栋"), Place("b2", "2栋"), Place("b3", "3栋")
    line = _line(members=5, in_service=3, checked_in=2, roles={"party_group_leader": 1},
                 buildings=[one, two, three], led={"b2", "b-elsewhere"})
    assert (line.members, line.in_service, line.checked_in, line.buildings) == (5, 3, 2, 3)
    assert line.buildings_without_group_leader == [one, three]
    assert line.roles["party_group_leader"] == 1 and set(line.roles) == set(domain.MEMBER_ROLES)


def test_a_compound_has_a_branch_of_its_own_or_through_its_community_and_a_pairing_only_of_its_own():
    assert _line(served={"c1"}).has_branch and _line(served={"k1"}).has_branch
    assert not _line(served={"c2", "k2"}).has_branch
    assert _line(paired={"c1"}).has_pairing
    assert not _line(paired={"k1", "c2"}).has_pairing


def test_totals_roll_up_every_compound_and_the_lists_name_those_lacking_a_branch_or_pairing():
    a = _line(id="c1", name="星光小区", members=4, in_service=1, checked_in=3, roles={"building_leader": 2},
              buildings=[Place("b1", "1栋"), Place("b2", "2栋")], led={"b1"}, served={"c1"})
    b = _line(id="c2", name="月光小区", members=6, in_service=6, checked_in=0,
              roles={"building_leader": 1, "party_group_leader": 1}, paired={"c2"})
    c = _line(id="c3", name="阳光小区")
    report = domain.coverage_report({"id": "k1", "name": "星光社区", "level": "community"}, date(2026, 1, 1),
                                    [a, b, c])
    totals = report["totals"]
    assert (totals["compounds"], totals["members"], totals["in_service"], totals["checked_in"]) == (3, 10, 7, 3)
    assert totals["roles"] == {**dict.fromkeys(domain.MEMBER_ROLES, 0), "building_leader": 3,
                               "party_group_leader": 1}
    assert (totals["buildings"], totals["buildings_without_group_leader"]) == (2, 1)
    assert (totals["compounds_without_branch"], totals["compounds_without_pairing"]) == (2, 2)
    assert report["compounds_without_branch"] == [Place("c2", "月光小区"), Place("c3", "阳光小区")]
    assert report["compounds_without_pairing"] == [Place("c1", "星光小区"), Place("c3", "阳光小区")]
    assert report["compounds"] == [a, b, c] and report["on"] == date(2026, 1, 1)


def test_an_area_without_compounds_rolls_up_to_zeros():
    totals = domain.roll_up([])
    assert totals["compounds"] == totals["members"] == totals["compounds_without_branch"] == 0
    assert totals["roles"] == dict.fromkeys(domain.MEMBER_ROLES, 0)
