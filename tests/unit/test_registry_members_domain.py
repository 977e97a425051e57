"""registry's rules for party members, pledges and check-ins: no database, no app."""

from __future__ import annotations

import pytest

from linli.services.registry import domain
from linli.shared.errors import InvalidTransition, ValidationFailed


def test_skills_are_categories_of_the_suite_s_vocabulary_and_roles_known_ones():
    assert domain.member_errors(["medical", "legal_aid"], ["party_group_leader"], building_known=False) == {}
    errors = domain.member_errors(["medical", "juggling"], ["mayor"], building_known=True)
    assert list(errors) == ["skills", "roles"]
    assert "juggling" in errors["skills"][0] and "mayor" in errors["roles"][0]


@pytest.mark.parametrize("role", domain.BUILDING_ROLES)
def test_a_building_unit_or_floor_leader_needs_a_home_building(role):
    assert domain.member_errors([], [role], building_known=True) == {}
    [message] = domain.member_errors([], [role], building_known=False)["roles"]
    assert role in message and "building_id" in message


def test_check_member_names_every_bad_field():
    with pytest.raises(ValidationFailed) as caught:
        domain.check_member(["juggling"], ["building_leader"], building_known=False)
    assert set(caught.value.errors or {}) == {"skills", "roles"}


def test_a_member_who_left_takes_no_new_step():
    domain.check_active(domain.MEMBERSHIP_ACTIVE)
    with pytest.raises(InvalidTransition):
        domain.check_active(domain.MEMBERSHIP_LEFT)


def test_a_pledge_is_fulfilled_once():
    domain.check_fulfillable(domain.PLEDGE_OPEN)
    with pytest.raises(InvalidTransition):
        domain.check_fulfillable(domain.PLEDGE_FULFILLED)
