"""Message templates: the defaults in both locales, Jinja2's sandbox and StrictUndefined, SMS lengths."""

from __future__ import annotations

import pytest

from linli.services.notify import rules, samples, sms, templates, wording
from linli.services.notify.templates import negotiate
from linli.shared.errors import ValidationFailed


def _render(event_type: str, channel: str, locale: str, role: str | None = None) -> tuple[str, str]:
    wording_ = templates.default(event_type, channel, locale)
    assert wording_ is not None
    return templates.render(wording_, templates.sample_context(event_type, role))


def test_every_ruled_event_has_a_default_in_every_locale_and_a_sample():
    assert set(wording.DEFAULTS) == set(rules.DEFAULT_RULES) == set(samples.SAMPLES)
    for by_locale in wording.DEFAULTS.values():
        assert set(by_locale) == set(templates.LOCALES)


@pytest.mark.parametrize("event_type", sorted(rules.DEFAULT_RULES))
def test_every_default_renders_for_every_role_and_channel_and_an_sms_fits(event_type):
    for target in rules.DEFAULT_RULES[event_type].targets:
        for channel in rules.CHANNELS:
            for locale in templates.LOCALES:
                checked = templates.check(event_type, channel, *_wording(event_type, channel, locale),
                                          templates.sample_context(event_type, target.role))
                assert checked.body and "None" not in checked.body and "本小区" not in checked.body
                if channel == rules.SMS:
                    # English with Chinese names is UCS-2 too: 70 characters a segment.
                    assert checked.segments == (1 if locale == "zh-CN" else checked.segments) <= 2, (
                        event_type, locale, checked.body)


def _wording(event_type, channel, locale):
    found = templates.default(event_type, channel, locale)
    return found.subject, found.body


def test_messages_name_the_compound_the_units_and_local_times():
    title, body = _render("tickets.ticket.overdue", "inbox", "zh-CN")
    assert title == "诉求已超期：3栋楼道灯不亮"
    # 09:30 UTC is 17:30 in Chongqing; the overdue unit, the chair and the convenor are named.
    assert body == ("星光小区的诉求「3栋楼道灯不亮」（中山路派出所）已超过处理时限（2026-03-11 17:30），"
                    "已提请星光社区大党委轮值主席区人民医院和召集人李书记督办。")
    _, en = _render("tickets.ticket.dispatched", "email", "en")
    assert en == ('The ticket "3栋楼道灯不亮" of 星光小区 was dispatched to 中山路派出所, 永川中学; '
                  "please handle it in time.")
    _, term = _render("rotation.term.started", "inbox", "zh-CN")
    assert term == "永川中学自2026-03-01起任星光社区大党委轮值主席，至2026-05-31。"


def test_an_sms_is_worded_for_the_role_it_reaches():
    _, to_reporter = _render("tickets.ticket.dispatched", "sms", "zh-CN", "reporter")
    _, to_unit = _render("tickets.ticket.dispatched", "sms", "zh-CN", "unit")
    assert to_reporter == "【邻里】您反映的「3栋楼道灯不亮」已派给中山路派出所、永川中学办理。"
    assert to_unit == "【邻里】星光小区「3栋楼道灯不亮」已派给贵单位，请按时办理。"


def test_personal_fields_never_reach_a_template():
    variables = templates.context("tickets.ticket.submitted", samples.sample("tickets.ticket.submitted"), "compound")
    assert not set(templates.WITHHELD) & set(variables)
    with pytest.raises(ValidationFailed) as refused:
        templates.check("tickets.ticket.submitted", "inbox", "{{ title }}", "{{ reporter_phone }}")
    assert refused.value.errors == {"body": ["uses reporter_phone, which this event does not carry"]}


@pytest.mark.parametrize(("subject", "body", "field", "says"), [
    ("{{ title }}", "{{ unit_name }}", "body", "uses unit_name, which this event does not carry"),
    ("{{ ticket.title }}", "x", "subject", "uses ticket, which this event does not carry"),
    ("x", "{{ escalation.chair_name }}", "body", "uses chair_name, which this event does not carry"),
    ("x", "{{ parts[5].unit_name }}", "body", "which this event does not carry"),
    ("{% if %}", "x", "subject", "line 1"),
    ("x", "{{ title", "body", "line 1"),
])
def test_a_template_using_what_the_event_lacks_is_refused_naming_the_field(subject, body, field, says):
    with pytest.raises(ValidationFailed) as refused:
        templates.check("tickets.ticket.overdue", "inbox", subject, body)
    assert list(refused.value.errors) == [field] and says in refused.value.errors[field][0]


@pytest.mark.parametrize("body", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ title.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ range.__globals__ }}",
    "{% for i in range(100000) %}x{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{{ 9 ** 999999 }}",
    "{{ '{0.__class__.__mro__}'.format(title) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ self.__dict__ }}",
    "{{ 'x'.center(1000000000) }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ lipsum(100000) }}",
    "{{ title" + "|replace('3', '3333')" * 12 + " }}",
    "{% set a = title %}{{ a }}",
    "{% macro m() %}x{% endmacro %}{{ m() }}",
    "{% for a in parts %}{% for b in parts %}{% for c in parts %}x{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in range(100) %}{% for b in range(100) %}{{ title }}{{ title }}{% endfor %}{% endfor %}",
    "{% include 'secrets.txt' %}",
    "{{ parts.pop() }}",
    "{{ escalation.update({}) }}",
    # Left-associative: each exponent at most 64, the number billions of bits (it ran for minutes, holding a worker).
    "{{ 99 ** 64 ** 64 ** 64 ** 64 > 1 }}",
    "{{ (2 ** 64) ** 64 ** 4 }}",
])
def test_the_sandbox_refuses_what_a_template_must_not_do(body):
    with pytest.raises(ValidationFailed) as refused:
        templates.check("tickets.ticket.overdue", "inbox", "x", body)
    assert list(refused.value.errors) == ["body"]


def test_a_power_of_a_modest_size_is_still_computed():
    checked = templates.check("tickets.ticket.overdue", "inbox", "x", "{{ 9 ** 9 ** 9 }} {{ 2 ** 64 ** 3 > 1 }}")
    assert checked is not None


def test_an_sms_past_three_segments_is_refused_and_past_one_saved_with_a_warning():
    long = "【邻里】" + "请" * 100 + "{{ title }}"
    checked = templates.check("tickets.ticket.overdue", "sms", "", long)
    assert checked.segments == 2 and checked.warnings == ("the sample's SMS is sent as 2 segments",)
    with pytest.raises(ValidationFailed) as refused:
        templates.check("tickets.ticket.overdue", "sms", "", "请" * 300)
    assert "5 segments" in refused.value.errors["body"][0]


def test_a_failing_saved_template_falls_back_to_the_default_at_read_time():
    variables = templates.context("tickets.ticket.overdue",
                                  samples.sample("tickets.ticket.overdue") | {"escalation": None}, "unit")
    failures: list[str] = []
    saved = templates.Wording("x", "{{ escalation.committee_name }}")
    subject, body = templates.render_or_default(saved, "tickets.ticket.overdue", "inbox", "zh-CN", variables,
                                                failures.append)
    assert subject == "诉求已超期：3栋楼道灯不亮" and "督办" not in body and len(failures) == 1


@pytest.mark.parametrize(("text", "segments", "units"), [
    ("", 1, 0),
    ("a" * 160, 1, 160),
    ("a" * 161, 2, 161),
    ("a" * 306, 2, 306),
    ("a" * 307, 3, 307),
    ("{" * 80, 1, 160),
    ("{" * 81, 2, 162),
    ("请" * 70, 1, 70),
    ("请" * 71, 2, 71),
    ("请" * 134, 2, 134),
    ("请" * 135, 3, 135),
    ("a" * 69 + "请", 1, 70),
    ("😀" * 35, 1, 70),
    ("😀" * 36, 2, 72),
])
def test_sms_segments(text, segments, units):
    assert (sms.segments(text), sms.units(text)) == (segments, units)


def test_local_shows_instants_in_the_districts_zone_and_anything_else_as_given():
    assert templates.local("2026-03-01T16:30:00Z") == "2026-03-02 00:30"
    assert templates.local("next week") == "next week" and templates.local(None) == ""


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
