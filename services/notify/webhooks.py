"""Rules of webhooks: which events an endpoint takes, when a failed delivery is tried again, how a request is
signed, and which URLs the suite may call at all. Plain Python, so every rule is tested in milliseconds.

Patterns use the broker's topic syntax over the routing key (`tickets.ticket.closed`, the CloudEvent type
without its `linli.` prefix): words are separated by dots, `*` stands for exactly one word and `#` for zero or
more, so `tickets.ticket.*` takes every ticket event and `registry.#` everything registry publishes. A
subscriber who learned the AsyncAPI bindings already knows it.

Signing follows Standard Webhooks (https://www.standardwebhooks.com): `webhook-signature` is
`v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` keyed by the base64-decoded part of a
`whsec_` secret; while a rotated-out secret still signs, both signatures are sent, space-separated.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from linli.shared.errors import InvalidTransition, ValidationFailed

# --- Endpoints ------------------------------------------------------------------------------------------------

ENABLED = "enabled"
DISABLED = "disabled"
STATES = (ENABLED, DISABLED)

# Why an endpoint is disabled: someone disabled it, it answered 410 Gone, or it failed for DISABLE_AFTER.
MANUAL = "manual"
GONE_REASON = "gone"
FAILING = "failing"
DISABLED_REASONS = (MANUAL, GONE_REASON, FAILING)

DISABLE_AFTER = timedelta(days=5)

# --- Deliveries -----------------------------------------------------------------------------------------------

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
GONE = "gone"
DELIVERY_STATES = (PENDING, DELIVERED, FAILED, GONE)

# Svix's schedule: the n-th attempt waits this long after the one before it (the first goes at once).
SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10),
)
# A receiver's Retry-After may push the next attempt later than the schedule would, never beyond this: one
# answer must not park a delivery for days.
MAX_RETRY_AFTER = timedelta(hours=10)


def check_enabled(state: str, verb: str) -> None:
    """A disabled endpoint is sent nothing: a test or a replay on it is a 409 until it is enabled."""
    if state != ENABLED:
        raise InvalidTransition(f"a {state} webhook cannot {verb}; allowed now: enable",
                                errors={"state": [f"is {state}; allowed: enable"]})


def enable(state: str) -> bool:
    """Whether enabling changes anything (enabling an enabled endpoint is a no-op, not a conflict)."""
    if state not in STATES:
        raise InvalidTransition(f"a webhook in state {state!r} cannot be enabled")
    return state != ENABLED


def disable(state: str) -> bool:
    """Whether disabling changes anything; disabling twice keeps the first reason."""
    if state not in STATES:
        raise InvalidTransition(f"a webhook in state {state!r} cannot be disabled")
    return state != DISABLED


@dataclass(frozen=True)
class Decision:
    """What becomes of a delivery after one attempt."""

    state: str
    next_attempt_at: datetime | None = None

    @property
    def gone(self) -> bool:
        return self.state == GONE


def succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def after_attempt(step: int, status: int | None, now: datetime, *, retry_after: timedelta | None = None,
                  scale: float = 1.0) -> Decision:
    """The delivery's state after attempt number `step` (0 for the first of its schedule) answered `status`.

    None is no answer at all (refused, timed out, connection reset). 2xx is delivered; 410 Gone is final;
    anything else waits for the next step of SCHEDULE (times `scale`, for test set-ups), or as long as the
    receiver's Retry-After asked if that is later, up to MAX_RETRY_AFTER; after the last step it failed.
    """
    if succeeded(status):
        return Decision(DELIVERED)
    if status == 410:
        return Decision(GONE)
    upcoming = step + 1
    if upcoming >= len(SCHEDULE):
        return Decision(FAILED)
    delay = SCHEDULE[upcoming] * scale
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return Decision(PENDING, now + delay)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (RFC 9110: delay-seconds or an HTTP-date) as a delay from `now`; None if absent,
    unreadable or not in the future."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = int(text[:12])
        return timedelta(seconds=seconds) if seconds > 0 else None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None
    delay = moment - now
    return delay if delay > timedelta(0) else None


def failing_since_after(failing_since: datetime | None, status: int | None, now: datetime) -> datetime | None:
    """When the endpoint's unbroken run of failures began, after an attempt answered `status`."""
    if succeeded(status):
        return None
    return failing_since or now


def failing_too_long(failing_since: datetime | None, now: datetime) -> bool:
    """An endpoint that failed every attempt for DISABLE_AFTER is disabled: nobody is listening there."""
    return failing_since is not None and now - failing_since >= DISABLE_AFTER


# --- Event-type patterns ------------------------------------------------------------------------------------

MAX_PATTERNS = 50
_WORD = re.compile(r"[a-z0-9_]+|\*|#")


def normalise_patterns(patterns: Sequence[str]) -> list[str]:
    """The patterns as stored: a leading `linli.` dropped (the CloudEvent type names the same event), repeats
    removed, order kept; a malformed one is a 422 naming `event_types`."""
    if not patterns:
        raise ValidationFailed.field("event_types", "name at least one event type pattern, e.g. tickets.ticket.*")
    if len(patterns) > MAX_PATTERNS:
        raise ValidationFailed.field("event_types", f"at most {MAX_PATTERNS} patterns")
    kept: dict[str, None] = {}
    for pattern in patterns:
        words = pattern.split(".")
        if words[:1] == ["linli"] and len(words) > 1:
            words = words[1:]
        if len(words) > 10 or not all(_WORD.fullmatch(word) for word in words):
            raise ValidationFailed.field(
                "event_types", f"{pattern[:200]!r} is not a pattern: dot-separated words of a-z, 0-9 and _, "
                               "or * (one word) or # (any number of words)")
        kept[".".join(words)] = None
    return list(kept)


def matches(pattern: str, key: str) -> bool:
    """Topic matching: `*` is exactly one word, `#` zero or more."""
    return _match(pattern.split("."), key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


def matches_any(patterns: Iterable[str], key: str) -> bool:
    return any(matches(pattern, key) for pattern in patterns)


# --- Secrets and signatures ---------------------------------------------------------------------------------

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_OVERLAP = timedelta(days=7)


def new_secret(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A signing secret as Standard Webhooks spells it: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is whsec_ and base64") from exc


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(signing: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per secret in force, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signing)


def signing_secrets(current: str, previous: str | None, previous_expires_at: datetime | None,
                    now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the rotated-out one until its overlap ends."""
    if previous and previous_expires_at is not None and now < previous_expires_at:
        return [current, previous]
    return [current]


@dataclass(frozen=True)
class Rotation:
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None


def rotate(current: str, now: datetime, overlap: timedelta, new: Callable[[], str] = new_secret) -> Rotation:
    """A new secret; the current one keeps signing beside it for `overlap` (none at all for zero), so
    receivers can switch over without dropping a delivery. An older rotated-out secret stops at once."""
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise ValidationFailed.field("overlap_hours", f"between 0 and {int(MAX_OVERLAP.total_seconds() // 3600)}")
    if overlap == timedelta(0):
        return Rotation(new(), None, None)
    return Rotation(new(), current, now + overlap)


# --- Where the suite may send (SSRF) ------------------------------------------------------------------------

SCHEMES = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2000

Resolve = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True)
class Target:
    """A URL judged safe to call, with the addresses its host resolved to (connect to one of these only)."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def forbidden_address(address: str) -> str | None:
    """Why the suite must not connect to `address`, or None for a public unicast address.

    Loopback, link-local (cloud metadata lives at 169.254.169.254), private, shared (CGNAT), unique-local,
    multicast, unspecified, reserved and documentation ranges are all refused; an IPv6 address that embeds an
    IPv4 one is judged by it: a mapped one only by it, a 6to4 or NAT64 one by it too.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # An IPv4-mapped address is that IPv4 address, on a dual-stack socket.
        return forbidden_address(str(ip.ipv4_mapped))
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        reason = forbidden_address(str(embedded))
        if reason:
            return reason
    for flag, what in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, flag):
            return f"{ip} is a {what} address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL:
        return f"{ip} is a unique-local address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def check_url(url: str, resolve: Resolve, *, allow_private: bool = False) -> Target:
    """The URL's target if the suite may POST to it, else a 422 naming `url`.

    Only http and https, no credentials or fragment in the URL. The host is resolved and EVERY address it
    resolves to must be public unless the operator allows private ones (test set-ups), so a name with one
    public and one internal address is refused as a whole. Called again before each delivery, and the
    connection then goes to one of the addresses judged here, so a name re-pointed after the check (DNS
    rebinding) reaches nothing it was not allowed to.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed.field("url", f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValidationFailed.field("url", f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValidationFailed.field("url", "only http and https URLs are called")
    if not parts.hostname:
        raise ValidationFailed.field("url", "the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed.field("url", "credentials in the URL are not supported; verify the signature instead")
    if parts.fragment:
        raise ValidationFailed.field("url", "a URL with a #fragment: the fragment would never be sent")
    host = _ascii_host(parts.hostname)
    port = port or SCHEMES[scheme]
    addresses = _addresses(host, port, resolve)
    if not allow_private:
        for address in addresses:
            reason = forbidden_address(address)
            if reason:
                raise ValidationFailed.field("url", f"{host} resolves to {address}, which is refused: {reason}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, addresses)


def _ascii_host(hostname: str) -> str:
    if any(ch.isspace() or ord(ch) < 0x21 for ch in hostname):
        raise ValidationFailed.field("url", "the host has spaces or control characters")
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationFailed.field("url", "the host is not a valid domain name") from None


def _addresses(host: str, port: int, resolve: Resolve) -> tuple[str, ...]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return (str(literal),)
    try:
        found = tuple(dict.fromkeys(resolve(host, port)))
    except OSError as exc:
        raise ValidationFailed.field("url", f"{host} cannot be resolved: {exc}") from None
    if not found:
        raise ValidationFailed.field("url", f"{host} resolves to no address")
    return found
