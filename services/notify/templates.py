"""Message templates per key and locale, rendered when a notification is read, not when it is stored.

A notification keeps its template key and parameters, so the same row reads in Chinese
for one caller and in English for another, and a corrected wording applies to old rows.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")
# Deadlines are read by people in the districts; the suite's default zone until committees' zones reach notify.
DISPLAY_ZONE = ZoneInfo("Asia/Shanghai")

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "ticket.submitted": {
        "zh-CN": ("新诉求：{title}", "{compound_name}收到一条新诉求「{title}」，请于{due_at}前处理。"),
        "en": ("New ticket: {title}",
               "A new ticket \"{title}\" was raised in {compound_name}; please handle it by {due_at}."),
    },
    "ticket.overdue": {
        "zh-CN": ("诉求已超期：{title}", "{compound_name}的诉求「{title}」已超过处理时限（{due_at}），请尽快处理。"),
        "en": ("Ticket overdue: {title}",
               "The ticket \"{title}\" in {compound_name} passed its deadline ({due_at}); please handle it now."),
    },
}

# Words that stand in for a parameter the event did not carry, so a sentence still reads.
FALLBACKS: dict[str, dict[str, str]] = {
    "zh-CN": {"compound_name": "本小区", "due_at": "规定时限"},
    "en": {"compound_name": "your compound", "due_at": "the deadline"},
}


class _Missing:
    """A parameter nobody supplied: shown as its placeholder whatever format spec it carries."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + "}"


class _SafeFormatter(string.Formatter):
    def __init__(self, locale: str) -> None:
        self.locale = locale

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        value = kwargs.get(str(key))
        if value is None:
            return FALLBACKS[self.locale].get(str(key), _Missing(str(key)))
        return _display(str(key), value)


def _display(name: str, value: Any) -> Any:
    """Times travel as RFC 3339 in UTC; a reader wants them in local time, to the minute."""
    if name.endswith("_at") and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(DISPLAY_ZONE).strftime("%Y-%m-%d %H:%M")
    return value


def _match(tag: str) -> str | None:
    """The locale we have for a language tag: exact, else by its primary language (en-GB reads en)."""
    if tag in LOCALES:
        return tag
    language = tag.split("-", 1)[0].lower()
    return next((c for c in LOCALES if c.split("-", 1)[0].lower() == language), None)


def supported(locale: str | None) -> str:
    """The locale we have templates for that is closest to `locale`; zh-CN when none is."""
    return (_match(locale) if locale else None) or DEFAULT_LOCALE


def render(key: str, locale: str, params: Mapping[str, Any]) -> tuple[str, str]:
    """The title and body of template `key` in `locale`; raises KeyError for an unknown key."""
    by_locale = TEMPLATES[key]
    chosen = supported(locale)
    if chosen not in by_locale:
        chosen = DEFAULT_LOCALE
    title, body = by_locale[chosen]
    formatter = _SafeFormatter(chosen)
    return formatter.vformat(title, (), params), formatter.vformat(body, (), params)


def negotiate(accept_language: str | None) -> str:
    """Pick zh-CN or en from an Accept-Language header, honouring q-values; zh-CN when nothing fits."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, rest = item.strip().partition(";")
        quality = 1.0
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            # Earlier tags win ties, as the header's order is the client's own preference.
            ranked.append((-quality, position, tag.strip()))
    for _, _, tag in sorted(ranked):
        found = DEFAULT_LOCALE if tag == "*" else _match(tag)
        if found:
            return found
    return DEFAULT_LOCALE
