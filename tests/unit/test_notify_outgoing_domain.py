"""Rules of outgoing messages: quiet hours (across midnight, across DST), the digest's time, failover, segments."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from linli.services.notify import outgoing, sms
from linli.services.notify.outgoing import Outcome, Preferences

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"


def _quiet(start: str, end: str, zone: str = SHANGHAI, **more) -> Preferences:
    return Preferences(time_zone=zone, quiet_start=outgoing.parse_clock_time(start),
                       quiet_end=outgoing.parse_clock_time(end), **more)


def _bj(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """A Beijing wall time as a UTC instant (UTC+8, no DST)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(("now", "until"), [
    (_bj(22, 0), _bj(7, 0, day=3)),      # the start itself is quiet
    (_bj(23, 59), _bj(7, 0, day=3)),
    (_bj(3, 0), _bj(7, 0)),              # after midnight: ends this morning
    (_bj(6, 59), _bj(7, 0)),
    (_bj(7, 0), None),                   # the end itself is not quiet
    (_bj(12, 0), None),
    (_bj(21, 59), None),
])
def test_quiet_hours_crossing_midnight(now, until):
    assert outgoing.quiet_until(_quiet("22:00", "07:00"), now) == until


@pytest.mark.parametrize(("now", "until"), [
    (_bj(12, 30), _bj(14, 0)), (_bj(14, 0), None), (_bj(11, 59), None),
])
def test_quiet_hours_within_one_day(now, until):
    assert outgoing.quiet_until(_quiet("12:00", "14:00"), now) == until


def test_no_quiet_hours_is_never_quiet():
    assert outgoing.quiet_until(Preferences(), _bj(3)) is None


def test_a_spring_forward_night_ends_quiet_hours_at_the_local_wall_time():
    # New York, 8 March 2026: clocks jump 02:00 EST -> 03:00 EDT. 23:00 EST = 04:00 UTC; 07:00 EDT = 11:00 UTC.
    prefs = _quiet("22:00", "07:00", NEW_YORK)
    assert outgoing.quiet_until(prefs, datetime(2026, 3, 8, 4, 0, tzinfo=UTC)) == datetime(2026, 3, 8, 11, 0,
                                                                                           tzinfo=UTC)


def test_an_autumn_night_ends_quiet_hours_at_the_local_wall_time():
    # 1 November 2026: 02:00 EDT -> 01:00 EST. 23:00 EDT = 03:00 UTC; 07:00 EST = 12:00 UTC (a 9-hour night).
    prefs = _quiet("22:00", "07:00", NEW_YORK)
    assert outgoing.quiet_until(prefs, datetime(2026, 11, 1, 3, 0, tzinfo=UTC)) == datetime(2026, 11, 1, 12, 0,
                                                                                            tzinfo=UTC)


def test_quiet_hours_ending_in_the_skipped_hour_end_after_the_jump_never_before():
    # Quiet 01:00-02:30 on the spring-forward night: 02:30 does not exist; it ends at 03:30 EDT (07:30 UTC).
    prefs = _quiet("01:00", "02:30", NEW_YORK)
    now = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert outgoing.quiet_until(prefs, now) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_the_digest_is_due_at_its_local_time_today_or_else_tomorrow():
    prefs = Preferences(digest=True, digest_time=time(20, 0))
    assert outgoing.next_digest_at(prefs, _bj(9)) == _bj(20)
    assert outgoing.next_digest_at(prefs, _bj(20)) == _bj(20, day=3)
    assert outgoing.digest_day(prefs, _bj(20)) == date(2026, 3, 2)


def test_plans_follow_the_preferences():
    now = _bj(23)
    quiet = _quiet("22:00", "07:00")
    assert outgoing.plan(Preferences(sms=False), "sms", urgent=True, now=now) == outgoing.Plan("skipped", None)
    assert outgoing.plan(quiet, "sms", urgent=True, now=now) == outgoing.Plan("pending", now)
    assert outgoing.plan(quiet, "sms", urgent=False, now=now) == outgoing.Plan("held", _bj(7, day=3))
    assert outgoing.plan(quiet, "email", urgent=False, now=_bj(8)) == outgoing.Plan("pending", _bj(8))
    digest = Preferences(digest=True)
    assert outgoing.plan(digest, "email", urgent=False, now=_bj(8)) == outgoing.Plan("digest", _bj(20))


NOW = datetime(2026, 3, 2, tzinfo=UTC)
RETRIES = outgoing.Retries(tries_per_provider=3, base_delay=timedelta(seconds=2))


def _after(outcome, index=0, tries=1, providers=3):
    return outgoing.after_attempt(outcome, provider_index=index, provider_tries=tries, providers=providers, now=NOW,
                                  retries=RETRIES)


def test_a_retryable_failure_backs_off_on_the_same_provider_then_fails_over():
    retryable = Outcome(outgoing.RETRYABLE, "HTTP 503")
    assert _after(retryable, tries=1) == outgoing.Next("pending", 0, 1, NOW + timedelta(seconds=2))
    assert _after(retryable, tries=2) == outgoing.Next("pending", 0, 2, NOW + timedelta(seconds=4))
    assert _after(retryable, tries=3) == outgoing.Next("pending", 1, 0, NOW)
    assert _after(retryable, index=2, tries=3) == outgoing.Next("failed", 2, 3, None)


def test_retry_after_is_honoured_unless_too_long_then_the_next_provider_is_asked():
    assert _after(Outcome(outgoing.RETRYABLE, "HTTP 429", timedelta(seconds=30))).not_before == NOW + timedelta(
        seconds=30)
    assert _after(Outcome(outgoing.RETRYABLE, "HTTP 429", timedelta(hours=1))) == outgoing.Next("pending", 1, 0, NOW)


def test_a_permanent_failure_fails_at_once_and_ok_is_sent():
    assert _after(Outcome(outgoing.PERMANENT, "HTTP 400")).state == "failed"
    assert _after(Outcome(outgoing.OK)).state == "sent"


@pytest.mark.parametrize(("status", "rejected", "kind"), [
    (200, None, "ok"), (202, "blocked number", "permanent"), (429, None, "retryable"), (500, None, "retryable"),
    (503, None, "retryable"), (None, None, "retryable"), (400, None, "permanent"), (404, None, "permanent"),
])
def test_gateway_answers_are_judged(status, rejected, kind):
    assert outgoing.judge_http(status, rejected=rejected) == kind


@pytest.mark.parametrize("text", ["24:00", "7:00", "07:60", "", "07:00:00", "０７:００", "0７:00"])
def test_clock_times_are_hh_mm(text):
    with pytest.raises(ValueError):
        outgoing.parse_clock_time(text)


def test_quiet_hours_need_both_ends_that_differ():
    outgoing.check_quiet_hours(time(22), time(7))
    outgoing.check_quiet_hours(None, None)
    for start, end in ((time(22), None), (None, time(7)), (time(7), time(7))):
        with pytest.raises(ValueError):
            outgoing.check_quiet_hours(start, end)


def test_the_digest_lists_the_days_messages_in_the_locale():
    subject, body = outgoing.digest_text("zh-CN", date(2026, 3, 2), [("诉求已超期", "楼道灯不亮")])
    assert subject == "2026年3月2日通知摘要（1条）" and "1. 诉求已超期：楼道灯不亮" in body
    subject, body = outgoing.digest_text("en", date(2026, 3, 2), [("A", "a"), ("B", "b")])
    assert "(2)" in subject and body.endswith("2. B: b")


@pytest.mark.parametrize("text", ["字" * 70, "字" * 71, "字" * 200, "a" + "😀" * 40, "短信", "😀" * 67,
                                  "a" * 400, "{" * 100, "a" + "{" * 80])
def test_a_long_sms_splits_into_as_many_parts_as_it_counts_never_cutting_a_character(text):
    parts = sms.split(text)
    assert "".join(parts) == text and len(parts) == sms.segments(text)
    single, part_size = (160, 153) if sms.is_gsm7(text) else (70, 67)
    assert all(sms.units(part) <= (single if len(parts) == 1 else part_size) for part in parts)


def test_a_character_outside_the_bmp_is_never_cut_so_it_may_cost_a_segment():
    assert sms.segments("😀" * 67) == 3  # 134 units, but 33 pairs fit in 67


def test_a_breaker_opens_after_failures_in_a_row_and_half_opens_after_its_cool_down():
    breaker = outgoing.Breaker(threshold=3, cool_down=timedelta(seconds=30))
    for kind in (outgoing.RETRYABLE, outgoing.RETRYABLE, outgoing.OK, outgoing.RETRYABLE, outgoing.RETRYABLE):
        breaker.record(kind, NOW)
    assert not breaker.is_open(NOW), "an answer in between starts the count again"
    breaker.record(outgoing.RETRYABLE, NOW)
    assert breaker.is_open(NOW + timedelta(seconds=29)) and not breaker.is_open(NOW + timedelta(seconds=30))
    later = NOW + timedelta(seconds=31)
    breaker.record(outgoing.RETRYABLE, later)
    assert breaker.is_open(later + timedelta(seconds=29)), "half-open and failed: open again at once"
    breaker.record(outgoing.PERMANENT, later)
    assert not breaker.is_open(later), "a refusal is an answer: the provider is up"


def test_a_message_not_tried_is_handed_on_at_once_unless_there_is_nobody_left():
    skipped = Outcome(outgoing.RETRYABLE, "circuit open", hand_on=True)
    assert _after(skipped, index=0, tries=1) == outgoing.Next("pending", 1, 0, NOW)
    last = _after(skipped, index=2, tries=1)
    assert (last.state, last.provider_index) == ("pending", 2)


@pytest.mark.parametrize(("error", "address", "masked", "shown"), [
    ("rejected: 13812345678 is on the blocklist", "13812345678", "138****5678",
     "rejected: 138****5678 is on the blocklist"),
    ("invalid mobile +86 138-1234-5678", "13812345678", "138****5678", "invalid mobile +86 138****5678"),
    ("550 <Zhang.San@Example.cn>: no such user", "zhang.san@example.cn", "z***@example.cn",
     "550 <z***@example.cn>: no such user"),
    ("HTTP 503", "13812345678", "138****5678", "HTTP 503"),
    (None, "13812345678", "138****5678", None),
])
def test_a_providers_error_never_shows_the_address_it_names(error, address, masked, shown):
    assert outgoing.without_address(error, address, masked) == shown
