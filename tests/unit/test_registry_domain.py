"""registry's plain rules: no database, no app."""

from __future__ import annotations

import uuid

import pytest

from linli.services.registry import domain
from linli.shared.errors import Conflict, ValidationFailed

ORG = uuid.uuid4()


def test_a_managed_compound_may_have_all_its_details():
    details = {"management_mode": "property_company", "households": 1200, "residents": 3400, "year_built": 2005,
               "property_company_id": ORG, "owners_committee_id": uuid.uuid4()}
    assert domain.detail_errors("compound", "managed", details) == {}


@pytest.mark.parametrize("field", ["property_company_id", "owners_committee_id"])
def test_a_three_no_compound_has_no_property_company_and_no_owners_committee(field):
    assert list(domain.detail_errors("compound", "three_no", {field: ORG})) == [field]


def test_a_three_no_compound_is_not_managed_by_a_property_company_but_may_be_otherwise():
    assert list(domain.detail_errors("compound", "three_no", {"management_mode": "property_company"})) == [
        "management_mode"]
    for mode in ("red_property", "self_managed", "soe_fallback", "none"):
        assert domain.detail_errors("compound", "three_no", {"management_mode": mode}) == {}


def test_details_belong_to_their_level():
    errors = domain.detail_errors("building", None, {"households": 10, "units": 3, "floors": 18})
    assert list(errors) == ["households"]
    assert list(domain.detail_errors("community", None, {"floors": 3, "year_built": 1990})) == [
        "year_built", "floors"]


def test_counts_are_not_negative_and_years_plausible():
    errors = domain.detail_errors("compound", "old", {"households": -1, "year_built": 1200})
    assert set(errors) == {"households", "year_built"}
    assert list(domain.detail_errors("compound", "old", {"management_mode": "mafia"})) == ["management_mode"]


def test_check_details_raises_a_validation_naming_every_bad_field():
    with pytest.raises(ValidationFailed) as raised:
        domain.check_details("compound", "three_no", {"property_company_id": ORG, "owners_committee_id": ORG})
    assert set(raised.value.errors) == {"property_company_id", "owners_committee_id"}
    domain.check_details("compound", "three_no", {"property_company_id": None})


def test_an_area_cannot_move_under_itself_and_moves_obey_placement():
    with pytest.raises(Conflict) as raised:
        domain.check_move("compound", "old", "community", under_itself=True)
    assert list(raised.value.errors) == ["parent_id"]
    with pytest.raises(ValidationFailed) as placed:
        domain.check_move("compound", "old", "street", under_itself=False)
    assert list(placed.value.errors) == ["parent_id"]
    domain.check_move("building", None, "compound", under_itself=False)


def test_a_grid_covers_compounds_and_buildings_of_its_own_community():
    community, other = uuid.uuid4(), uuid.uuid4()
    assert domain.coverable_error("compound", community, community) is None
    assert domain.coverable_error("building", community, community) is None
    assert domain.coverable_error("compound", other, community) == "not in the grid's community"
    assert "not a grid" in domain.coverable_error("grid", community, community)
