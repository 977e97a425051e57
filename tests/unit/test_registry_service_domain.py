"""registry's rules for service records and activities: no database, no app."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from linli.services.registry import domain
from linli.shared.errors import Conflict, InvalidTransition, ValidationFailed

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


# --- Service records ------------------------------------------------------------------------------------------

def test_a_logged_record_is_verified_or_rejected_once_and_then_stays():
    assert domain.service_record_after("logged", "verify") == "verified"
    assert domain.service_record_after("logged", "reject") == "rejected"
    for state in ("verified", "rejected"):
        for verb in ("verify", "reject"):
            with pytest.raises(InvalidTransition) as caught:
                domain.service_record_after(state, verb)
            assert state in caught.value.detail and "allowed now: nothing" in caught.value.detail
            assert caught.value.errors == {"state": [f"is {state}; allowed: nothing"]}


def test_an_illegal_move_names_the_state_and_the_verbs_still_allowed():
    with pytest.raises(InvalidTransition) as caught:
        domain.activity_after("held", "cancel")
    assert "a held activity cannot be cancelled" in caught.value.detail
    with pytest.raises(InvalidTransition) as caught:
        domain.service_record_after("verified", "verify")
    assert "cannot be verified" in caught.value.detail


@pytest.mark.parametrize(("hours", "minutes"), [(0.25, 15), (1, 60), (1.5, 90), (7.75, 465), (24, 1440)])
def test_hand_logged_hours_are_quarter_hours_up_to_a_day(hours, minutes):
    assert domain.logged_minutes(hours) == minutes


@pytest.mark.parametrize(("hours", "message"), [
    (0, "more than 0"), (-1, "more than 0"), (24.25, "at most 24"), (1.1, "quarter-hour"), (0.2, "quarter-hour"),
    (1e-300, "quarter-hour"), (float("nan"), "more than 0"),
])
def test_other_hours_are_refused_naming_the_field(hours, message):
    with pytest.raises(ValidationFailed) as caught:
        domain.logged_minutes(hours)
    [text] = caught.value.errors["hours"]
    assert message in text


@pytest.mark.parametrize(("hours", "minutes"), [
    (1.5, 90), (4 / 3, 80), (30, 1800), (0, None), (-2, None), (0.001, None), (1e9, None), (float("nan"), None),
])
def test_a_credit_keeps_whole_minutes_and_refuses_what_is_no_service(hours, minutes):
    assert domain.credited_minutes(hours) == minutes


def test_service_is_not_logged_for_a_day_still_to_come():
    domain.check_served_on(date(2025, 3, 1), today=date(2025, 3, 1))
    with pytest.raises(ValidationFailed) as caught:
        domain.check_served_on(date(2025, 3, 2), today=date(2025, 3, 1))
    assert list(caught.value.errors) == ["served_on"]


def test_a_record_s_category_is_a_code_of_the_shared_vocabulary():
    domain.check_service_category("medical")
    with pytest.raises(ValidationFailed) as caught:
        domain.check_service_category("juggling")
    assert list(caught.value.errors) == ["category"]


@pytest.mark.parametrize(("ticket", "service"), [
    ("medical", "medical"), ("repairs", "repairs"), ("environment", "sanitation"), ("facilities", "repairs"),
    ("dispute", "dispute_mediation"), ("general", "community_service"), ("fast_track", "community_service"),
    ("anything new", "community_service"),
])
def test_a_ticket_s_credit_counts_under_its_category_the_nearest_one_or_community_service(ticket, service):
    assert domain.service_category_of_ticket(ticket) == service
    assert service in domain.RESOURCE_CATEGORIES


# --- Activities ------------------------------------------------------------------------------------------------

def test_a_scheduled_activity_is_held_or_cancelled_and_then_stays():
    assert domain.activity_after("scheduled", "hold") == "held"
    assert domain.activity_after("scheduled", "cancel") == "cancelled"
    for state in ("held", "cancelled"):
        for verb in ("hold", "cancel"):
            with pytest.raises(InvalidTransition) as caught:
                domain.activity_after(state, verb)
            assert caught.value.errors == {"state": [f"is {state}; allowed: nothing"]}
        with pytest.raises(InvalidTransition):
            domain.check_editable(state)
    domain.check_editable("scheduled")


def test_an_activity_is_held_in_a_community_or_at_a_compound_and_ends_after_it_starts():
    domain.check_activity_area("community")
    domain.check_activity_area("compound")
    for level in ("district", "street", "building", "grid"):
        with pytest.raises(ValidationFailed) as caught:
            domain.check_activity_area(level)
        assert list(caught.value.errors) == ["area_id"]
    domain.check_activity_times(NOW, NOW + timedelta(hours=2))
    for ends in (NOW, NOW - timedelta(minutes=1)):
        with pytest.raises(ValidationFailed) as caught:
            domain.check_activity_times(NOW, ends)
        assert list(caught.value.errors) == ["ends_at"]


def test_the_capacity_is_no_limit_or_at_least_the_sign_ups_already_taken():
    domain.check_capacity(None, 50)
    domain.check_capacity(3, 3)
    with pytest.raises(ValidationFailed):
        domain.check_capacity(0, 0)
    with pytest.raises(Conflict) as caught:
        domain.check_capacity(2, 3)
    assert list(caught.value.errors) == ["capacity"]


def test_a_current_member_signs_up_once_for_a_scheduled_activity_with_room():
    domain.check_sign_up("scheduled", "active", signed_up_already=False, capacity=2, signed_up=1)
    domain.check_sign_up("scheduled", "active", signed_up_already=False, capacity=None, signed_up=10_000)
    with pytest.raises(Conflict) as full:
        domain.check_sign_up("scheduled", "active", signed_up_already=False, capacity=2, signed_up=2)
    assert "full" in full.value.detail
    with pytest.raises(Conflict) as twice:
        domain.check_sign_up("scheduled", "active", signed_up_already=True, capacity=None, signed_up=1)
    assert twice.value.errors == {"member_id": ["already signed up"]}
    with pytest.raises(InvalidTransition):
        domain.check_sign_up("held", "active", signed_up_already=False, capacity=None, signed_up=0)
    with pytest.raises(InvalidTransition):
        domain.check_sign_up("scheduled", "left", signed_up_already=False, capacity=None, signed_up=0)


def test_a_sign_up_is_withdrawn_while_the_activity_is_scheduled_and_only_once():
    domain.check_withdrawal("scheduled", signed_up=True)
    with pytest.raises(InvalidTransition):
        domain.check_withdrawal("scheduled", signed_up=False)
    with pytest.raises(InvalidTransition):
        domain.check_withdrawal("cancelled", signed_up=True)


def test_an_activity_is_held_once_it_began_and_not_in_the_future():
    starts = NOW - timedelta(hours=1)
    domain.check_held_at(NOW, starts, NOW)
    domain.check_held_at(starts, starts, NOW)
    for held_at in (starts - timedelta(seconds=1), NOW + timedelta(seconds=1)):
        with pytest.raises(ValidationFailed) as caught:
            domain.check_held_at(held_at, starts, NOW)
        assert list(caught.value.errors) == ["held_at"]


def test_attendees_come_with_their_own_hours_or_all_with_the_same_hours():
    assert domain.attendance([("a", 2), ("b", 0.5)], None, None) == [
        domain.Attendee("attendees.0.member_id", "a", 120), domain.Attendee("attendees.1.member_id", "b", 30)]
    assert domain.attendance(None, ["a", "b"], 1.5) == [
        domain.Attendee("member_ids.0", "a", 90), domain.Attendee("member_ids.1", "b", 90)]
    assert domain.attendance([], None, None) == []


@pytest.mark.parametrize(("attendees", "member_ids", "hours", "fields"), [
    ([("a", 2), ("b", 0.3), ("a", 1), ("c", 30)], None, None,
     {"attendees.1.hours", "attendees.2.member_id", "attendees.3.hours"}),
    (None, ["a", "b", "a"], 1, {"member_ids.2"}),
    (None, ["a"], None, {"hours"}),
    (None, ["a"], 0.1, {"hours"}),
    (None, None, None, {"attendees"}),
    ([("a", 1)], ["a"], 1, {"attendees"}),
    ([("a", 1)], None, 1, {"attendees"}),
])
def test_bad_attendance_names_each_bad_entry(attendees, member_ids, hours, fields):
    with pytest.raises(ValidationFailed) as caught:
        domain.attendance(attendees, member_ids, hours)
    assert set(caught.value.errors) == fields
