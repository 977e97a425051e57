"""Rules of outgoing messages (SMS, email): what becomes of a message, when quiet hours end, when the digest is
due, what the sender does after an attempt, and how many segments an SMS costs.

Plain Python, judged in milliseconds: the use cases and the sender loop apply these decisions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from linli.services.notify.webhooks import parse_retry_after

__all__ = ["parse_retry_after"]

# A delivery's states. `pending`: due for the sender at `not_before`; `held`: in the recipient's quiet hours, sent
# when they end (never dropped); `digest`: kept for the recipient's daily digest; `sent`: a provider accepted it
# (or the digest that carried it was sent); `failed`: a permanent refusal or every provider gave up; `skipped`:
# the recipient turned the channel off.
PENDING = "pending"
HELD = "held"
DIGEST = "digest"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
STATES = (PENDING, HELD, DIGEST, SENT, FAILED, SKIPPED)
# States the sender still acts on (at `not_before`).
WAITING = (PENDING, HELD, DIGEST)

# The event type of a daily digest's own delivery, and the namespace of its key: one per recipient, channel and
# local day, so the digest too is sent at most once.
DIGEST_EVENT_TYPE = "notify.digest"
DIGEST_NAMESPACE = uuid.UUID("6f1d2a4e-3b7c-5d9e-8f10-2a3b4c5d6e7f")

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")
DEFAULT_DIGEST_TIME = time(20, 0)

# "member:<uuid>", "organization:<uuid>", "reporter:<ticket uuid>", "compound:<uuid>": a kind and an id.
RECIPIENT_PATTERN = r"^[a-z][a-z_]{0,39}:[A-Za-z0-9._-]{1,100}$"
_RECIPIENT = re.compile(RECIPIENT_PATTERN)
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):([0-5][0-9])$"
_CLOCK_TIME = re.compile(CLOCK_PATTERN)


# --- Preferences ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preferences:
    """What a recipient chose; a recipient who chose nothing gets these defaults."""

    sms: bool = True
    email: bool = True
    locale: str = DEFAULT_LOCALE
    time_zone: str = "Asia/Shanghai"
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: bool = False
    digest_time: time = DEFAULT_DIGEST_TIME

    def channel_on(self, channel: str) -> bool:
        return bool(getattr(self, channel, False))


def is_recipient(text: str) -> bool:
    return bool(_RECIPIENT.match(text))


def parse_clock_time(text: str) -> time:
    """A local time of day written `HH:MM` (24 h); ValueError otherwise."""
    match = _CLOCK_TIME.match(text)
    if not match:
        raise ValueError("a local time of day, HH:MM (00:00 to 23:59)")
    return time(int(match.group(1)), int(match.group(2)))


def check_quiet_hours(start: time | None, end: time | None) -> None:
    if (start is None) != (end is None):
        raise ValueError("quiet hours need both a start and an end, or neither")
    if start is not None and start == end:
        raise ValueError("quiet hours that start when they end are no quiet hours; leave both out")


# --- Quiet hours and the digest --------------------------------------------------------------------------------------

def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone)


def _at_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The instant `clock` o'clock falls on `day` in `zone`, in UTC.

    A wall time a DST jump skips (02:30 on a spring-forward night) is read with the offset before the jump, so it
    lands an hour later on the new clock (03:30): never before the wall time asked for. A repeated one (autumn)
    is its first occurrence (fold=0).
    """
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def quiet_until(prefs: Preferences, now: datetime) -> datetime | None:
    """When the recipient's quiet hours now under way end (UTC), or None when `now` is outside them.

    Quiet hours are local wall times in the recipient's zone and may cross midnight (22:00-07:00); their end is
    the next local `quiet_end` after `now`, so a DST change during the night lengthens or shortens it by the hour
    the clocks moved, as the recipient's own clock would.
    """
    if prefs.quiet_start is None or prefs.quiet_end is None:
        return None
    zone = ZoneInfo(prefs.time_zone)
    local = _local(now, zone)
    start, end, clock = prefs.quiet_start, prefs.quiet_end, local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    ends = _at_local(end_day, end, zone)
    # Guard against a DST gap putting the end before now (the wall time fell in the jump).
    return ends if ends > now else now


def next_digest_at(prefs: Preferences, now: datetime) -> datetime:
    """The next time (UTC) the recipient's digest is due: today's digest time if still ahead, else tomorrow's."""
    zone = ZoneInfo(prefs.time_zone)
    local = _local(now, zone)
    due = _at_local(local.date(), prefs.digest_time, zone)
    if due <= now:
        due = _at_local(local.date() + timedelta(days=1), prefs.digest_time, zone)
    return due


def digest_day(prefs: Preferences, due: datetime) -> date:
    """The local day a digest due at `due` is the digest of."""
    return _local(due, ZoneInfo(prefs.time_zone)).date()


def digest_text(locale: str, day: date, items: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """The digest's (subject, body): the day's messages, each its subject and words, oldest first."""
    if locale == "en":
        subject = f"Your notifications of {day.isoformat()} ({len(items)})"
        lines = [f"{len(items)} notification{'s' if len(items) != 1 else ''} on {day.isoformat()}:"]
    else:
        subject = f"{day.year}年{day.month}月{day.day}日通知摘要（{len(items)}条）"
        lines = [f"{day.year}年{day.month}月{day.day}日共有{len(items)}条通知："]
    for number, (title, body) in enumerate(items, 1):
        lines.append(f"{number}. {title}: {body}" if locale == "en" else f"{number}. {title}：{body}")
    return subject, "\n".join(lines)


@dataclass(frozen=True)
class Plan:
    """What `deliver` does with a message: its first state and when the sender may take it."""

    state: str
    not_before: datetime | None


def plan(prefs: Preferences, channel: str, *, urgent: bool, now: datetime) -> Plan:
    """Channel off: skipped. Urgent: pending now, whatever the hour. Digest: kept for the next digest. Quiet
    hours: held until they end. Otherwise pending now."""
    if not prefs.channel_on(channel):
        return Plan(SKIPPED, None)
    if urgent:
        return Plan(PENDING, now)
    if prefs.digest:
        return Plan(DIGEST, next_digest_at(prefs, now))
    until = quiet_until(prefs, now)
    if until is not None:
        return Plan(HELD, until)
    return Plan(PENDING, now)


# --- After an attempt: retry, fail over, or give up -----------------------------------------------------------------

OK = "ok"
RETRYABLE = "retryable"
PERMANENT = "permanent"
OUTCOMES = (OK, RETRYABLE, PERMANENT)


@dataclass(frozen=True)
class Outcome:
    """One attempt as the sender saw it: ok, retryable (timeout, 429, 5xx, no answer) or permanent."""

    kind: str
    error: str | None = None
    # A Retry-After the provider gave, already turned into a delay.
    retry_after: timedelta | None = None
    # Not tried at all (the provider's circuit is open): the next provider is asked at once.
    hand_on: bool = False


def judge_http(status: int | None, *, rejected: str | None = None) -> str:
    """An HTTP gateway's answer: 2xx ok (unless the body rejects it), 429/5xx/no answer retryable, else permanent."""
    if status is None:
        return RETRYABLE
    if 200 <= status < 300:
        return PERMANENT if rejected else OK
    if status == 429 or status >= 500:
        return RETRYABLE
    return PERMANENT


@dataclass(frozen=True)
class Retries:
    """How long one provider is retried before the next is asked."""

    tries_per_provider: int = 3
    base_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=5)
    # A Retry-After longer than this hands the message to the next provider rather than waiting.
    max_retry_after: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Next:
    """What the sender does next: its new state, provider position, tries on it, and when."""

    state: str
    provider_index: int
    provider_tries: int
    not_before: datetime | None


def after_attempt(outcome: Outcome, *, provider_index: int, provider_tries: int, providers: int, now: datetime,
                  retries: Retries = Retries()) -> Next:
    """Decide after one attempt on provider `provider_index` (its `provider_tries`-th, counting this one).

    Ok: sent. Permanent: failed, with no other provider asked (the message itself is refused). Retryable: the same
    provider again after an exponential backoff (or its Retry-After) until it had its tries, then the next provider
    at once; when the last provider gave up, failed.
    """
    if outcome.kind == OK:
        return Next(SENT, provider_index, provider_tries, None)
    if outcome.kind == PERMANENT:
        return Next(FAILED, provider_index, provider_tries, None)
    if outcome.hand_on and provider_index + 1 < providers:
        return Next(PENDING, provider_index + 1, 0, now)
    wait = outcome.retry_after
    if provider_tries < retries.tries_per_provider and (wait is None or wait <= retries.max_retry_after):
        if wait is None:
            wait = min(retries.base_delay * (2 ** (provider_tries - 1)), retries.max_delay)
        return Next(PENDING, provider_index, provider_tries, now + wait)
    if provider_index + 1 < providers:
        return Next(PENDING, provider_index + 1, 0, now)
    return Next(FAILED, provider_index, provider_tries, None)


class Breaker:
    """A provider's circuit, per sender process: after `threshold` retryable failures in a row it opens for
    `cool_down`, and messages meant for that provider go straight to the next one instead of each waiting out
    its timeouts; when the cool-down ends attempts are let through again, and one failure opens it at once.

    An answer of any kind (ok or a permanent refusal) shows the provider is up and closes it.
    """

    def __init__(self, threshold: int = 5, cool_down: timedelta = timedelta(seconds=30)) -> None:
        self.threshold = threshold
        self.cool_down = cool_down
        self.failures = 0
        self.open_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and now < self.open_until

    def record(self, kind: str, now: datetime) -> None:
        if kind != RETRYABLE:
            self.failures, self.open_until = 0, None
            return
        self.failures += 1
        # Half-open (the cool-down passed) and failed again, or the threshold reached: open.
        if self.open_until is not None or self.failures >= self.threshold:
            self.open_until = now + self.cool_down


def without_address(text: str | None, address: str, masked: str) -> str | None:
    """A provider's words with the recipient's address masked.

    Gateways and mail servers often name the number or address they refused ("13812345678 is on the blocklist"),
    and those words end up in `notification.failed` on the public exchange and in the delivery log, neither of
    which may show an address. A phone number is also found written with spaces or dashes between its digits.
    """
    if not text or not address:
        return text
    pattern = re.escape(address) if "@" in address else r"[\s-]?".join(re.escape(c) for c in address)
    return re.sub(pattern, masked, text, flags=re.IGNORECASE)
