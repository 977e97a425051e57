"""How long an SMS is: GSM-7 text in 160 characters (153 per part when concatenated), anything else — Chinese —
in UCS-2, 70 characters (67 per part). Characters outside the BMP take two UCS-2 units; GSM-7's extension
characters (€, [, ], {, }, ...) take two septets."""

from __future__ import annotations

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


def _cost(ch: str, gsm7: bool) -> int:
    if gsm7:
        return 2 if ch in GSM_EXTENDED else 1
    return 2 if ord(ch) > 0xFFFF else 1


def split(text: str) -> list[str]:
    """The parts a long SMS is sent as, or the text whole if it fits in one. A part never cuts a character: an
    escaped GSM-7 character or a UTF-16 surrogate pair that would straddle a boundary starts the next part, so such
    text may cost one part more than its length divided by the part size."""
    gsm7 = is_gsm7(text)
    single, part = (GSM_SINGLE, GSM_PART) if gsm7 else (UCS2_SINGLE, UCS2_PART)
    if units(text) <= single:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        cost = _cost(ch, gsm7)
        if used + cost > part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    parts.append("".join(current))
    return parts


def segments(text: str) -> int:
    """How many messages the text is sent as (an empty text still costs one)."""
    return len(split(text))
