"""Phone numbers and e-mail addresses as people other than their owner see them: masked, so they can be
recognised, not used.

Plain Python: domain rules, event schemas and views of every service use the same masking.
"""

from __future__ import annotations


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
