from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from linli.services.tickets import domain

SUBMITTED_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_general_tickets_are_due_in_72_hours():
    assert domain.due_at_for("general", SUBMITTED_AT) == SUBMITTED_AT + timedelta(hours=72)


def test_fast_track_tickets_are_due_in_24_hours():
    assert domain.due_at_for("fast_track", SUBMITTED_AT) == SUBMITTED_AT + timedelta(hours=24)


def test_a_category_without_its_own_sla_gets_the_default():
    assert domain.due_at_for("no_such_category", SUBMITTED_AT) == SUBMITTED_AT + timedelta(hours=72)


def test_every_known_category_has_an_sla():
    assert set(domain.CATEGORIES) == set(domain.SLA_HOURS)
    assert domain.DEFAULT_CATEGORY in domain.CATEGORIES


def test_a_naive_submission_time_is_refused():
    with pytest.raises(ValueError):
        domain.due_at_for("general", datetime(2026, 3, 1, 9, 30))


def test_an_open_ticket_becomes_overdue_once():
    assert domain.becomes_overdue(domain.SUBMITTED, overdue_already=False) is True
    assert domain.becomes_overdue(domain.SUBMITTED, overdue_already=True) is False


def test_a_closed_ticket_never_becomes_overdue():
    assert domain.becomes_overdue("closed", overdue_already=False) is False


def test_the_initial_state_is_open():
    assert domain.INITIAL_STATE in domain.OPEN_STATES
    assert not domain.OPEN_STATES & domain.CLOSED_STATES


@pytest.mark.parametrize(("phone", "masked"), [
    ("13812345678", "138****5678"),
    ("+8613812345678", "+86*******5678"),
    ("02349876543", "023****6543"),
    ("123456", "1****6"),
    ("1234", "****"),
    ("12", "**"),
    ("", ""),
    (" 13812345678 ", "138****5678"),
])
def test_phone_numbers_are_masked(phone, masked):
    assert domain.mask_phone(phone) == masked


@pytest.mark.parametrize("phone", ["13812345678", "+8613812345678", "123456", "12345678", "1" * 20])
def test_a_masked_number_hides_at_least_four_digits_and_keeps_its_length(phone):
    masked = domain.mask_phone(phone)
    assert len(masked) == len(phone)
    assert masked.count("*") >= 4
