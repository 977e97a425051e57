"""How long an SMS is: GSM-7 text in 160 characters (153 per part when concatenated), anything else — Chinese —
in UCS-2, 70 characters (67 per part). Characters outside the BMP take two UCS-2 units; GSM-7's extension
characters (€, [, ], {, }, ...) take two septets."""

from __future__ import annotations

import math

# The GSM 03.38 basic character set, and its extension table (each of those costs an escape and the character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text)


def units(text: str) -> int:
    """The text's length in its encoding's units: septets for GSM-7, UTF-16 code units for UCS-2."""
    if is_gsm7(text):
        return sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many messages the text is sent as (an empty text still costs one)."""
    single, part = (GSM_SINGLE, GSM_PART) if is_gsm7(text) else (UCS2_SINGLE, UCS2_PART)
    count = units(text)
    return 1 if count <= single else math.ceil(count / part)
