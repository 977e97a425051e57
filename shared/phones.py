"""Phone numbers and e-mail addresses as people other than their owner see them: masked, so they can be
recognised, not used.

Plain Python: domain rules, event schemas and views of every service use the same masking.
"""

from __future__ import annotations

import re


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138****5678`: enough to recognise a number, not to call it.

    At least four characters are always hidden, and a short number shows at most
    seven, split between its head and its tail.
    """
    phone = phone.strip()
    shown = max(0, min(7, len(phone) - 4))
    tail = min(4, (shown + 1) // 2)
    head = shown - tail
    return phone[:head] + "*" * (len(phone) - shown) + phone[len(phone) - tail:]


def mask_email(address: str) -> str:
    """`zhang.san@example.org` -> `z***@example.org`: the domain and a first letter, enough to recognise it."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return "*" * max(4, len(address))
    return f"{local[:1]}***@{domain}"


# A number as people write one in free text ("电话13812345678", "Tel 138 1234 5678", "138.1234.5678", "(023)6789-1234",
# "+86138…", an ID card's 18 digits): seven digits or more, in groups of three or more split by up to three spaces,
# dots, brackets or dashes (full-width too), not starting or ending inside a decimal. A date's or a time's groups are
# shorter (2026-11-26, 2026.11.26, 8:30) and a room number has fewer digits (3栋502室): they stay as written.
# After letters too ("TEL13812345678"). Masking too much (an amount, a product code) is a small loss; a resident's
# number left readable is not.
_NUMBER_IN_TEXT = re.compile(r"(?<![\d.+])\+?\d{3,}(?:[\s.()（）\-－—–]{1,3}\d{3,})*(?!\d|\.\d)")
_LONGEST_KEPT = 6  # digits: a postcode, a room, an amount; seven or more is a phone or an ID number


def mask_phones_in(text: str) -> str:
    """Free text with every phone-like number in it masked as `mask_phone` masks one: what a resident wrote in a
    ticket's description, as people other than its reporter see it. Masking twice changes nothing more."""

    def masked(found: re.Match[str]) -> str:
        number = found.group()
        return mask_phone(number) if sum(c.isdigit() for c in number) > _LONGEST_KEPT else number

    return _NUMBER_IN_TEXT.sub(masked, text)
