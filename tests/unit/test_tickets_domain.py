from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from linli.services.tickets import domain

SUBMITTED_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_a_normal_ticket_is_accepted_within_a_day_dispatched_within_three_and_resolved_within_ten():
    deadlines = domain.DEFAULT_CATEGORIES["general"].deadlines
    due = [domain.stage_due_at(deadlines, domain.NORMAL, stage, SUBMITTED_AT) - SUBMITTED_AT for stage in domain.STAGES]
    assert due == [timedelta(hours=24), timedelta(hours=72), timedelta(days=10)]


def test_an_urgent_ticket_counts_in_hours_and_the_fast_track_category_always_does():
    for category, urgency in (("facilities", domain.URGENT), ("fast_track", domain.NORMAL)):
        deadlines = domain.DEFAULT_CATEGORIES[category].deadlines
        due = [domain.stage_due_at(deadlines, urgency, stage, SUBMITTED_AT) - SUBMITTED_AT
               for stage in domain.STAGES]
        assert due == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=24)], category


def test_every_category_has_its_names_and_sound_default_deadlines():
    assert tuple(domain.DEFAULT_CATEGORIES) == domain.CATEGORIES and domain.DEFAULT_CATEGORY in domain.CATEGORIES
    for category in domain.DEFAULT_CATEGORIES.values():
        assert category.name_zh and category.name_en and category.name_zh != category.name_en
        domain.check_deadlines(category.deadlines)


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError):
        domain.stage_due_at(domain.DEFAULT_CATEGORIES["general"].deadlines, domain.NORMAL, domain.ACCEPT,
                            datetime(2026, 3, 1, 9, 30))


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


@pytest.mark.parametrize(("name", "masked"), [("王阿姨", "王**"), ("欧阳娜娜", "欧***"), ("张三", "张*"), ("张", "*"),
                                             (" 李大爷 ", "李**"), ("", "*")])
def test_names_are_masked_to_the_family_name(name, masked):
    assert domain.mask_name(name) == masked


@pytest.mark.parametrize("phone", ["13812345678", "+8613812345678", "123456", "12345678", "1" * 20])
def test_a_masked_number_hides_at_least_four_digits_and_keeps_its_length(phone):
    masked = domain.mask_phone(phone)
    assert len(masked) == len(phone)
    assert masked.count("*") >= 4
