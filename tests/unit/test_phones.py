"""Phone numbers in free text, masked as people other than the writer see them (shared/phones.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linli.shared.phones import mask_phones_in


@pytest.mark.parametrize(("text", "masked"), [
    ("电话13812345678，楼道灯坏了", "电话138****5678，楼道灯坏了"),
    ("请回电 138 1234 5678", "请回电 138******5678"),
    ("138-1234-5678 或 023-67891234", "138******5678 或 023*****1234"),
    ("+8613812345678", "+86*******5678"),
    ("TEL13812345678", "TEL138****5678"),
    ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits, as some input methods type them
    ("身份证500381199001011234", "身份证500***********1234"),
    ("王 13812345678/13987654321", "王 138****5678/139****4321"),
    ("138.1234.5678", "138******5678"),
    ("138  1234  5678", "138********5678"),
    ("138\u30001234\u30005678", "138******5678"),  # full-width spaces
    ("138－1234－5678", "138******5678"),  # full-width hyphens
    ("（023）67891234", "（023*****1234"),
    ("电话:\n13812345678", "电话:\n138****5678"),
])
def test_phone_like_numbers_in_text_are_masked(text, masked):
    assert mask_phones_in(text) == masked


@pytest.mark.parametrize("text", [
    "2026-11-26 8:30 上门", "2026.11.26", "3栋2单元502室", "楼号 3-502", "邮编402160", "预算1234567.89元",
    "圆周率3.1415926", "", "138****5678", "第12号楼 30 户",
])
def test_dates_rooms_short_numbers_decimals_and_masked_numbers_stay_as_written(text):
    assert mask_phones_in(text) == text


_AROUND = st.text(alphabet=st.sampled_from("楼道灯坏了请回电，。 abcXYZ:/()-"), max_size=12)
_SEPARATED = st.sampled_from(["", " ", "-", ".", "  ", "\u3000", "－"])


@given(before=_AROUND, after=_AROUND, rest=st.integers(0, 10 ** 9 - 1), second=st.sampled_from("3456789"),
       separator=_SEPARATED)
def test_a_mobile_number_written_anywhere_in_text_loses_its_middle_digits(before, after, rest, second, separator):
    digits = f"1{second}{rest:09d}"
    number = separator.join((digits[:3], digits[3:7], digits[7:]))
    masked = mask_phones_in(f"{before}{number}{after}")
    assert masked == f"{before}{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}{after}"
    assert digits not in re.sub(r"[ -]", "", masked)


@given(st.text(max_size=60))
def test_masking_twice_masks_nothing_more_and_keeps_the_length(text):
    once = mask_phones_in(text)
    assert mask_phones_in(once) == once
    assert len(once) == len(text)
