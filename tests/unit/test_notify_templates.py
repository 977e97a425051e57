from __future__ import annotations

import pytest

from linli.services.notify.handlers import deliveries
from linli.services.notify.templates import DEFAULT_LOCALE, LOCALES, TEMPLATES, negotiate, render

PARAMS = {"title": "楼道灯不亮", "compound_name": "星光小区", "due_at": "2025-03-01T02:00:00Z"}


def test_chinese_is_the_default_and_deadlines_read_in_local_time():
    assert DEFAULT_LOCALE == "zh-CN"
    title, body = render("ticket.submitted", "zh-CN", PARAMS)
    assert title == "新诉求：楼道灯不亮"
    assert "星光小区" in body and "2025-03-01 10:00" in body


def test_english():
    title, body = render("ticket.overdue", "en", PARAMS)
    assert title == "Ticket overdue: 楼道灯不亮"
    assert body.startswith('The ticket "楼道灯不亮" in 星光小区') and "2025-03-01 10:00" in body


@pytest.mark.parametrize("locale", ["fr", "", "xx-YY"])
def test_unknown_locale_falls_back_to_chinese(locale: str):
    assert render("ticket.overdue", locale, PARAMS) == render("ticket.overdue", "zh-CN", PARAMS)


def test_a_regional_variant_reads_its_language():
    assert render("ticket.submitted", "en-GB", PARAMS) == render("ticket.submitted", "en", PARAMS)


def test_missing_params_never_raise_and_the_sentence_still_reads():
    title, body = render("ticket.submitted", "zh-CN", {})
    assert title == "新诉求：{title}"
    assert body.startswith("本小区") and "规定时限" in body
    assert "your compound" in render("ticket.submitted", "en", {"due_at": None})[1]


def test_a_value_that_is_not_a_time_is_shown_as_given():
    assert "next week" in render("ticket.submitted", "en", {**PARAMS, "due_at": "next week"})[1]


def test_every_handled_event_has_a_template_in_every_locale():
    keys = {key.split(".", 1)[1] for key in deliveries.binding_keys}
    assert keys == {"ticket.submitted", "ticket.overdue"}
    for key in keys:
        assert set(TEMPLATES[key]) == set(LOCALES)


@pytest.mark.parametrize(("header", "expected"), [
    (None, "zh-CN"),
    ("", "zh-CN"),
    ("en", "en"),
    ("en-US,en;q=0.9", "en"),
    ("zh-TW,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("fr-FR, en;q=0.5, zh-CN;q=0.4", "en"),
    ("zh-CN;q=0.3, en;q=0.7", "en"),
    ("en;q=0, zh", "zh-CN"),
    ("fr, de", "zh-CN"),
    ("*", "zh-CN"),
    ("en;q=bogus, zh-CN", "zh-CN"),
])
def test_accept_language_negotiation(header: str | None, expected: str):
    assert negotiate(header) == expected
