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


# --- Check-ins ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("state", "verb", "after"), [
    ("submitted", "confirm", "confirmed"), ("submitted", "reject", "rejected"), ("submitted", "end", "ended"),
    ("confirmed", "end", "ended")])
def test_the_check_in_moves_the_branch_and_the_member_s_life_may_make(state, verb, after):
    assert domain.check_in_after(state, verb) == after


@pytest.mark.parametrize(("state", "verb", "allowed"), [
    ("confirmed", "confirm", "nothing"), ("confirmed", "reject", "nothing"), ("rejected", "confirm", "nothing"),
    ("ended", "reject", "nothing"), ("ended", "end", "nothing"), ("rejected", "end", "nothing")])
def test_an_illegal_move_is_409_naming_the_current_state_and_what_is_allowed(state, verb, allowed):
    with pytest.raises(InvalidTransition) as caught:
        domain.check_in_after(state, verb)
    assert state in caught.value.detail and f"allowed now: {allowed}" in caught.value.detail
    assert caught.value.errors == {"state": [f"is {state}; allowed: {allowed}"]}


def test_every_state_has_its_moves_and_every_move_lands_on_a_state():
    assert set(domain.CHECK_IN_MOVES) == set(domain.CHECK_IN_STATES)
    assert {after for moves in domain.CHECK_IN_MOVES.values() for after in moves.values()} <= set(
        domain.CHECK_IN_STATES)


def test_a_submission_needs_a_current_member_with_nothing_pending_and_not_already_checked_in_there():
    domain.check_submission("active", pending=False, confirmed_here=False)
    for membership, pending, here in (("left", False, False), ("active", True, False), ("active", False, True)):
        with pytest.raises(InvalidTransition):
            domain.check_submission(membership, pending=pending, confirmed_here=here)


def test_moving_to_another_building_gives_up_the_building_roles_only():
    roles = ["branch_secretary", "building_leader", "floor_leader"]
    assert domain.roles_after_move(roles, building_changed=True) == ["branch_secretary"]
    assert domain.roles_after_move(roles, building_changed=False) == roles
