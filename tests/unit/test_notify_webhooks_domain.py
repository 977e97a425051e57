"""The rules of webhooks, without a database or a network: schedule, Retry-After, 410, the 5-day rule,
signatures, secrets and their rotation, patterns, and the SSRF table."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError

from linli.services.notify import webhooks
from linli.shared.errors import InvalidTransition, ValidationFailed

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


# --- Schedule, Retry-After, 410 ---------------------------------------------------------------------------------

def test_failures_follow_svix_schedule_then_the_delivery_fails():
    waits = []
    for step in range(len(webhooks.SCHEDULE) - 1):
        decision = webhooks.after_attempt(step, 500, NOW)
        assert decision.state == webhooks.PENDING
        waits.append(decision.next_attempt_at - NOW)
    assert waits == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                     timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    assert webhooks.SCHEDULE[0] == timedelta(0), "the first attempt goes at once"
    assert webhooks.after_attempt(7, 500, NOW) == webhooks.Decision(webhooks.FAILED)
    assert webhooks.after_attempt(7, None, NOW).state == webhooks.FAILED


def test_no_answer_and_redirects_are_failures_and_every_2xx_delivers():
    for status in (200, 201, 204, 299):
        assert webhooks.after_attempt(3, status, NOW) == webhooks.Decision(webhooks.DELIVERED)
    for status in (None, 199, 301, 302, 400, 404, 429, 500, 503):
        assert webhooks.after_attempt(0, status, NOW).state == webhooks.PENDING, status


def test_410_gone_is_final_at_any_step():
    for step in (0, 3, 7):
        decision = webhooks.after_attempt(step, 410, NOW)
        assert decision == webhooks.Decision(webhooks.GONE) and decision.gone


def test_the_schedule_scales_for_test_set_ups():
    assert webhooks.after_attempt(0, 500, NOW, scale=0.01).next_attempt_at == NOW + timedelta(milliseconds=50)
    assert webhooks.after_attempt(5, 500, NOW, scale=0).next_attempt_at == NOW


def test_retry_after_only_ever_makes_the_next_attempt_later_and_is_capped():
    later = webhooks.after_attempt(0, 503, NOW, retry_after=timedelta(seconds=90))
    assert later.next_attempt_at == NOW + timedelta(seconds=90)
    sooner = webhooks.after_attempt(2, 429, NOW, retry_after=timedelta(seconds=1))
    assert sooner.next_attempt_at == NOW + timedelta(minutes=30), "an earlier Retry-After does not hurry"
    capped = webhooks.after_attempt(0, 503, NOW, retry_after=timedelta(days=30))
    assert capped.next_attempt_at == NOW + webhooks.MAX_RETRY_AFTER
    # Taken as the receiver said, not scaled with the schedule.
    scaled = webhooks.after_attempt(0, 503, NOW, retry_after=timedelta(seconds=2), scale=0.001)
    assert scaled.next_attempt_at == NOW + timedelta(seconds=2)
    assert webhooks.after_attempt(7, 503, NOW, retry_after=timedelta(seconds=5)).state == webhooks.FAILED


@pytest.mark.parametrize(("header", "expected"), [
    ("120", timedelta(seconds=120)),
    (" 7 ", timedelta(seconds=7)),
    ("Sun, 01 Mar 2026 09:31:00 GMT", timedelta(seconds=60)),
    ("Sun, 01 Mar 2026 09:00:00 GMT", None),  # in the past
    ("0", None),
    ("-5", None),
    ("1.5", None),
    ("soon", None),
    ("", None),
    (None, None),
    ("9" * 40, timedelta(seconds=int("9" * 12))),
])
def test_retry_after_reads_seconds_and_http_dates(header, expected):
    assert webhooks.parse_retry_after(header, NOW) == expected


def test_an_endpoint_failing_for_five_days_without_a_success_is_disabled():
    since = webhooks.failing_since_after(None, 500, NOW)
    assert since == NOW
    assert webhooks.failing_since_after(since, None, NOW + timedelta(days=1)) == NOW, "the streak keeps its start"
    assert webhooks.failing_since_after(since, 204, NOW + timedelta(days=2)) is None, "a success ends it"
    assert not webhooks.failing_too_long(NOW, NOW + timedelta(days=5) - timedelta(seconds=1))
    assert webhooks.failing_too_long(NOW, NOW + timedelta(days=5))
    assert not webhooks.failing_too_long(None, NOW)


def test_enabling_and_disabling_twice_changes_nothing_and_a_disabled_endpoint_is_sent_nothing():
    assert webhooks.disable(webhooks.ENABLED) and not webhooks.disable(webhooks.DISABLED)
    assert webhooks.enable(webhooks.DISABLED) and not webhooks.enable(webhooks.ENABLED)
    webhooks.check_enabled(webhooks.ENABLED, "be tested")
    with pytest.raises(InvalidTransition) as refused:
        webhooks.check_enabled(webhooks.DISABLED, "be tested")
    assert refused.value.errors == {"state": ["is disabled; allowed: enable"]}


# --- Signatures and secrets -------------------------------------------------------------------------------------

# The test vector Svix and the Standard Webhooks libraries publish.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_published_vector():
    assert webhooks.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def _headers(signature: str, message_id: str, timestamp: int) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_the_reference_library_verifies_what_we_sign_and_refuses_a_changed_body():
    secret = webhooks.new_secret()
    timestamp = int(datetime.now(UTC).timestamp())
    body = '{"specversion":"1.0","type":"linli.tickets.ticket.closed","data":{"title":"楼道灯"}}'.encode()
    header = webhooks.signature_header([secret], "0b0e9a3c-1111-4e1e-9c1c-123456789abc", timestamp, body)
    headers = _headers(header, "0b0e9a3c-1111-4e1e-9c1c-123456789abc", timestamp)
    assert Verifier(secret).verify(body, headers)["data"]["title"] == "楼道灯"
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body.replace(b"closed", b"opened"), headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(webhooks.new_secret()).verify(body, headers)


def test_secrets_are_whsec_and_base64_of_32_random_bytes():
    made = {webhooks.new_secret() for _ in range(20)}
    assert len(made) == 20
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert webhooks.new_secret(lambda n: bytes(range(n))) == "whsec_" + base64.b64encode(bytes(range(32))).decode()


def test_during_a_rotation_both_secrets_sign_and_either_verifies_then_only_the_new_one():
    old = webhooks.new_secret()
    rotation = webhooks.rotate(old, NOW, timedelta(hours=24))
    assert rotation.secret != old and rotation.previous_secret == old
    assert rotation.previous_secret_expires_at == NOW + timedelta(hours=24)
    during = webhooks.signing_secrets(rotation.secret, old, rotation.previous_secret_expires_at,
                                      NOW + timedelta(hours=23))
    assert during == [rotation.secret, old]
    timestamp = int(datetime.now(UTC).timestamp())
    header = webhooks.signature_header(during, "msg-1", timestamp, b"{}")
    assert len(header.split(" ")) == 2 and all(part.startswith("v1,") for part in header.split(" "))
    for secret in (old, rotation.secret):
        Verifier(secret).verify(b"{}", _headers(header, "msg-1", timestamp), json_parse=False)
    after = webhooks.signing_secrets(rotation.secret, old, rotation.previous_secret_expires_at,
                                     NOW + timedelta(hours=24))
    assert after == [rotation.secret]


def test_a_rotation_without_overlap_stops_the_old_secret_at_once_and_the_overlap_is_bounded():
    rotation = webhooks.rotate(webhooks.new_secret(), NOW, timedelta(0))
    assert rotation.previous_secret is None and rotation.previous_secret_expires_at is None
    for wrong in (timedelta(hours=-1), timedelta(days=8)):
        with pytest.raises(ValidationFailed) as refused:
            webhooks.rotate(webhooks.new_secret(), NOW, wrong)
        assert "overlap_hours" in refused.value.errors


# --- Patterns ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "key", "expected"), [
    ("tickets.ticket.*", "tickets.ticket.closed", True),
    ("tickets.ticket.*", "tickets.ticket", False),
    ("tickets.*", "tickets.ticket.closed", False),
    ("tickets.#", "tickets.ticket.closed", True),
    ("registry.#", "tickets.ticket.closed", False),
    ("#", "rotation.term.started", True),
    ("*.ticket.closed", "tickets.ticket.closed", True),
    ("#.closed", "tickets.ticket.closed", True),
    ("tickets.ticket.closed", "tickets.ticket.closed", True),
    ("tickets.ticket.closed", "tickets.ticket.reopened", False),
])
def test_patterns_match_like_broker_topics(pattern, key, expected):
    assert webhooks.matches(pattern, key) is expected


def test_patterns_drop_the_linli_prefix_and_repeats():
    assert webhooks.normalise_patterns(["linli.tickets.ticket.*", "tickets.ticket.*", "registry.#"]) == [
        "tickets.ticket.*", "registry.#"]
    assert webhooks.matches_any(["registry.#", "tickets.ticket.*"], "tickets.ticket.closed")
    assert not webhooks.matches_any([], "tickets.ticket.closed")


@pytest.mark.parametrize("patterns", [
    [], ["tickets..closed"], ["Tickets.ticket.*"], ["tickets.ticket.clo*"], [" tickets.#"], ["tickets.#\n"],
    ["tickets/ticket"], [""], ["a." * 11 + "b"], ["x"] * 51,
])
def test_malformed_patterns_are_a_422_naming_event_types(patterns):
    with pytest.raises(ValidationFailed) as refused:
        webhooks.normalise_patterns(patterns)
    assert set(refused.value.errors or {}) == {"event_types"}


# --- SSRF ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.0.0.5", "172.16.3.4", "172.31.255.255", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "224.0.0.1", "239.255.255.250", "100.64.0.1", "192.0.2.10", "198.18.0.1", "240.0.0.1",
    "255.255.255.255",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "2002:a00:1::1",
    "64:ff9b::a00:1", "64:ff9b::7f00:1",
])
def test_internal_addresses_are_refused(address):
    assert webhooks.forbidden_address(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                     "2400:3200::1", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert webhooks.forbidden_address(address) is None


def _resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return table[host]
    return resolve


NAMES = _resolver({
    "hooks.example.org": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "internal.example.org": ["10.1.2.3"],
    "split.example.org": ["93.184.215.14", "192.168.0.10"],
    "rebound.example.org": ["::ffff:127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
    "2130706433": ["127.0.0.1"],
    "xn--fiq228c.example.org": ["8.8.8.8"],
})


def test_a_public_https_url_is_judged_with_every_address_it_resolves_to():
    target = webhooks.check_url("https://hooks.example.org:8443/in/linli?k=1", NAMES)
    assert target == webhooks.Target("https", "hooks.example.org", 8443, "/in/linli?k=1",
                                     ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"))
    assert webhooks.check_url("http://hooks.example.org", NAMES).port == 80
    assert webhooks.check_url("http://hooks.example.org", NAMES).path == "/"
    assert webhooks.check_url("http://中文.example.org/x", NAMES).host == "xn--fiq228c.example.org"
    assert webhooks.check_url("http://[2606:4700:4700::1111]/x", NAMES).addresses == ("2606:4700:4700::1111",)


@pytest.mark.parametrize(("url", "says"), [
    ("ftp://hooks.example.org/x", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("hooks.example.org/x", "only http and https"),
    ("https:///x", "no host"),
    ("https://user:pw@hooks.example.org/x", "credentials"),
    ("https://hooks.example.org/x#frag", "fragment"),
    ("https://hooks.example.org:99999/x", "not a URL"),
    ("https://internal.example.org/x", "10.1.2.3"),
    ("https://split.example.org/x", "192.168.0.10"),
    ("https://rebound.example.org/x", "127.0.0.1"),
    ("http://localhost:8000/x", "loopback"),
    ("http://2130706433/x", "loopback"),
    ("http://127.0.0.1/x", "loopback"),
    ("http://[::1]:8080/x", "loopback"),
    ("http://[fd00::1]/x", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://0.0.0.0:80/", "unspecified"),
    ("https://nowhere.invalid/x", "cannot be resolved"),
    ("https://" + "a" * 2000 + ".org/", "at most 2000"),
])
def test_refused_urls_are_a_422_naming_url(url, says):
    with pytest.raises(ValidationFailed) as refused:
        webhooks.check_url(url, NAMES)
    assert set(refused.value.errors or {}) == {"url"}
    assert says in refused.value.detail, refused.value.detail


def test_the_operator_may_allow_private_addresses_for_test_set_ups():
    target = webhooks.check_url("http://localhost:8000/hook", NAMES, allow_private=True)
    assert target.addresses == ("127.0.0.1", "::1")
    with pytest.raises(ValidationFailed):
        webhooks.check_url("ftp://localhost/x", NAMES, allow_private=True)
