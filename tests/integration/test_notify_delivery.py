"""SMS and email end to end on a real PostgreSQL and RabbitMQ: the sender loop sends through a real HTTP SMS gateway
stub that answers 503, 429 with Retry-After, hangs or rejects (failover observed in the attempt log), a real SMTP
server (aiosmtpd), and `notification.delivered` / `notification.failed` reach the bus without any address."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from linli.services.notify import domain, outgoing, providers, usecases
from linli.services.notify.models import Delivery
from linli.services.notify.sender import Sender, SenderSettings
from linli.shared.db import utcnow
from linli.suite import subscriptions
from tests.support.apps import ServiceUnderTest
from tests.support.collector import Collector
from tests.support.races import at_once
from tests.support.receiver import Receiver, Reply
from tests.support.smtp import MailServer
from tests.support.waiting import wait_for

YONGCHUAN = str(uuid.uuid4())
PHONE = "13800001111"
FAST = outgoing.Retries(tries_per_provider=2, base_delay=timedelta(milliseconds=50),
                        max_delay=timedelta(milliseconds=200))


@pytest.fixture
def gateway(run_threads) -> Iterator[Receiver]:
    # Requested after run_threads, so it closes (releasing any hanging answer) before the threads are stopped.
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def mail() -> Iterator[MailServer]:
    found = MailServer()
    yield found
    found.close()


@pytest.fixture
def collector(bus) -> Iterator[Collector]:
    found = Collector(bus)
    yield found
    found.close()


@pytest.fixture
def start_notify(live, bus, run_threads, gateway, mail) -> Callable[..., ServiceUnderTest]:
    """notify on PostgreSQL with its relay and a message sender: SMS to gw1 then gw2 (paths of the stub), email to
    the SMTP server."""
    subscriptions()

    def start(**settings: Any) -> ServiceUnderTest:
        sut = live("notify", bus)
        sut.rt.declare_topology()
        smtp = providers.Smtp(providers.SmtpSettings(host="127.0.0.1", port=mail.port, starttls=False,
                                                     sender="linli <noreply@linli.example.cn>"))
        options = {"sms": [providers.HttpGateway(gateway.url("/gw1")), providers.HttpGateway(gateway.url("/gw2"))],
                   "email": [smtp], "timeout_seconds": 0.5, "poll_seconds": 0.05, "threads": 8, "per_provider": 2,
                   "retries": FAST, **settings}
        sender = Sender(sut.rt.factory, SenderSettings(**options))
        run_threads(sut.rt.relay().run, sender.run)
        return sut

    return start


def _words(locale: str) -> tuple[str, str]:
    return ("诉求已超期", "诉求已超期：楼道灯不亮") if locale == "zh-CN" else ("Overdue", "Overdue: stair light")


def _message(channel: str = "sms", address: str = PHONE, **changes: Any) -> domain.Message:
    fields = {"district_id": YONGCHUAN, "event_id": uuid.uuid4(), "event_type": "tickets.ticket.overdue",
              "recipient": f"member:{uuid.uuid4()}", "channel": channel, "address": address, "urgent": False,
              "render": _words}
    return domain.Message(**(fields | changes))


def deliver(sut: ServiceUnderTest, message: domain.Message) -> str | None:
    with sut.rt.factory() as session:
        delivery = usecases.deliver(session, message, now=utcnow())
        session.commit()
        return None if delivery is None else str(delivery.id)


def logged(sut: ServiceUnderTest, delivery_id: str) -> dict[str, Any]:
    r = sut.client.get(f"/v1/deliveries/{delivery_id}", headers=sut.as_(YONGCHUAN, "notify:read"))
    assert r.status_code == 200, r.json
    return r.json


def _state(sut: ServiceUnderTest, delivery_id: str) -> str:
    return str(logged(sut, delivery_id)["state"])


def test_a_failing_gateway_is_retried_then_the_next_takes_over_honouring_retry_after(start_notify, gateway,
                                                                                   collector):
    gateway.script("/gw1", Reply(503))
    gateway.script("/gw2", Reply(429, {"Retry-After": "1"}), Reply(200, body=b'{"accepted": true}'))
    sut = start_notify()
    delivery_id = deliver(sut, _message())
    wait_for(lambda: _state(sut, delivery_id) == "sent", timeout=15, message="sent by the second gateway")
    item = logged(sut, delivery_id)
    assert [(a["provider"].rsplit("/", 1)[1], a["status"], a["error"]) for a in item["attempts"]] == [
        ("gw1", "retryable", "HTTP 503"), ("gw1", "retryable", "HTTP 503"),
        ("gw2", "retryable", "HTTP 429"), ("gw2", "ok", None)]
    first, second = gateway.received("/gw2")
    assert second.at - first.at >= 0.95, "Retry-After: 1 was honoured"
    assert json.loads(second.body)["to"] == PHONE and item["address"] == "138****1111"
    wait_for(lambda: collector.of_type("notify.notification.delivered"), timeout=10, message="delivered event")
    [event] = collector.of_type("notify.notification.delivered")
    assert event["subject"] == delivery_id and event["data"]["provider"].endswith("/gw2")
    assert PHONE not in json.dumps(event)


def test_a_rejection_fails_at_once_with_its_reason_and_no_other_gateway_is_asked(start_notify, gateway, collector):
    gateway.script("/gw1", Reply(200, body=b'{"accepted": false, "reason": "number on the blocklist"}'))
    sut = start_notify()
    delivery_id = deliver(sut, _message())
    wait_for(lambda: _state(sut, delivery_id) == "failed", timeout=10, message="failed")
    assert logged(sut, delivery_id)["error"] == "rejected: number on the blocklist"
    assert gateway.received("/gw2") == []
    wait_for(lambda: collector.of_type("notify.notification.failed"), timeout=10, message="failed event")
    [event] = collector.of_type("notify.notification.failed")
    assert event["data"]["error"] == "rejected: number on the blocklist" and PHONE not in json.dumps(event)


def test_every_gateway_giving_up_fails_the_message(start_notify, gateway):
    gateway.script("/gw1", Reply(500))
    gateway.script("/gw2", Reply(502))
    sut = start_notify()
    delivery_id = deliver(sut, _message())
    wait_for(lambda: _state(sut, delivery_id) == "failed", timeout=10, message="failed")
    assert [a["error"] for a in logged(sut, delivery_id)["attempts"]] == ["HTTP 500"] * 2 + ["HTTP 502"] * 2


def test_a_hanging_gateway_holds_up_no_other_message(start_notify, gateway, mail):
    release = threading.Event()
    gateway.script("/gw1", Reply(hang=release))  # every request hangs, then 200 once released
    # A timeout far beyond the test: gw1 hangs for as long as the test lets it.
    sut = start_notify(timeout_seconds=60.0)
    try:
        sms = [deliver(sut, _message()) for _ in range(4)]
        wait_for(lambda: len(gateway.received("/gw1")) == 2, timeout=10, message="gw1 holding two sends")
        emails = [deliver(sut, _message("email", f"m{n}@example.cn")) for n in range(6)]
        wait_for(lambda: len(mail.mails()) == 6, timeout=10, message="the emails, while gw1 hangs")
        assert all(_state(sut, e) == "sent" for e in emails)
        # gw1 holds two sends (its limit); the other SMS wait their turn rather than take every thread.
        assert len(gateway.received("/gw1")) == 2 and not release.is_set()
        assert sorted(_state(sut, s) for s in sms) == ["pending"] * 4
    finally:
        release.set()
    wait_for(lambda: all(_state(sut, s) == "sent" for s in sms), timeout=20, message="the SMS once gw1 answers")


def test_email_reaches_a_real_smtp_server_in_the_recipients_language(start_notify, mail):
    sut = start_notify()
    recipient = f"member:{uuid.uuid4()}"
    r = sut.client.put(f"/v1/preferences/{recipient}", json={"locale": "en"},
                       headers=sut.as_(YONGCHUAN, "notify:write"))
    assert r.status_code == 200, r.json
    delivery_id = deliver(sut, _message("email", "zhang@example.cn", recipient=recipient))
    wait_for(lambda: mail.mails(), timeout=10, message="the mail")
    [(to, sent)] = mail.mails()
    assert to == ["zhang@example.cn"] and sent["Subject"] == "Overdue"
    assert "Overdue: stair light" in sent.get_body(("plain",)).get_content()
    wait_for(lambda: _state(sut, delivery_id) == "sent", timeout=10, message="logged as sent")
    assert logged(sut, delivery_id)["address"] == "z***@example.cn"


def test_a_redelivered_event_racing_itself_sends_once(start_notify, gateway):
    sut = start_notify()
    message = _message()
    outcomes = at_once(4, lambda: deliver(sut, message))
    [delivery_id] = [o for o in outcomes if o is not None]
    wait_for(lambda: _state(sut, delivery_id) == "sent", timeout=10, message="sent")
    assert deliver(sut, message) is None, "after it was sent too"
    with sut.rt.factory() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1
    # A sent delivery is never claimed again, so this one request is all there will be.
    assert len(gateway.received("/gw1")) == 1


def test_quiet_hours_hold_a_message_until_they_end_then_the_sender_sends_it(live, bus, gateway):
    # The sender's clock is the test's: 23:00 in Beijing, quiet 22:00-07:00, then 07:00 comes.
    sut = live("notify", bus)
    recipient = f"member:{uuid.uuid4()}"
    r = sut.client.put(f"/v1/preferences/{recipient}", json={"quiet_start": "22:00", "quiet_end": "07:00"},
                       headers=sut.as_(YONGCHUAN, "notify:write"))
    assert r.status_code == 200, r.json
    night = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    clock = [night]
    sender = Sender(sut.rt.factory, SenderSettings(sms=[providers.HttpGateway(gateway.url("/gw1"))],
                                                   timeout_seconds=2, poll_seconds=0.05), now=lambda: clock[0])
    with sut.rt.factory() as session:
        held = usecases.deliver(session, _message(recipient=recipient), now=night)
        urgent = usecases.deliver(session, _message(recipient=recipient, urgent=True), now=night)
        session.commit()
        held_id, urgent_id = str(held.id), str(urgent.id)
    assert sender.round() == 1 and _state(sut, urgent_id) == "sent"
    assert logged(sut, held_id)["state"] == "held"
    assert logged(sut, held_id)["not_before"].startswith("2026-03-02T23:00:00")
    clock[0] = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert sender.round() == 1
    assert _state(sut, held_id) == "sent" and len(gateway.received("/gw1")) == 2


def test_two_senders_composing_the_same_digest_send_it_once(live, bus, mail):
    sut = live("notify", bus)
    recipient = f"member:{uuid.uuid4()}"
    r = sut.client.put(f"/v1/preferences/{recipient}", json={"digest": True, "digest_time": "20:00"},
                       headers=sut.as_(YONGCHUAN, "notify:write"))
    assert r.status_code == 200, r.json
    morning = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with sut.rt.factory() as session:
        for _ in range(3):
            usecases.deliver(session, _message("email", "li@example.cn", recipient=recipient), now=morning)
        session.commit()
    evening = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # 20:30 in Beijing
    smtp = providers.Smtp(providers.SmtpSettings(host="127.0.0.1", port=mail.port, starttls=False))
    senders = [Sender(sut.rt.factory, SenderSettings(email=[smtp]), now=lambda: evening) for _ in range(2)]
    # Both senders' rounds at once from two threads: the digest rows are composed and sent by one of them.
    results = at_once(2, lambda: [s.round() for s in senders])
    assert sum(sum(r) for r in results) >= 1
    [(to, digest)] = mail.mails()
    assert to == ["li@example.cn"] and digest["Subject"] == "2026年3月2日通知摘要（3条）"
    with sut.rt.factory() as session:
        states = session.execute(select(Delivery.event_type, Delivery.state)).all()
    assert sorted(states) == [("notify.digest", "sent")] + [("tickets.ticket.overdue", "sent")] * 3


def test_a_hanging_gateway_opens_its_circuit_so_a_backlog_fails_over_without_waiting_out_each_timeout(
        start_notify, gateway):
    release = threading.Event()
    gateway.script("/gw1", Reply(hang=release))
    # One send at a time per provider, so gw1's two failures are told before a third send could start: with two
    # in flight, a third may begin in the gap between the first timeout and the second, the circuit not yet open.
    sut = start_notify(timeout_seconds=1.0, breaker_threshold=2, breaker_seconds=60, per_provider=1)
    try:
        started = time.monotonic()
        sms = [deliver(sut, _message()) for _ in range(10)]
        wait_for(lambda: len(gateway.received("/gw2")) == 10, timeout=15, message="all ten via gw2")
        # Two timeouts open gw1's circuit; without it each of the ten would wait out two 1 s timeouts on gw1,
        # one at a time (at least 20 s).
        assert time.monotonic() - started < 6
        assert len(gateway.received("/gw1")) == 2
    finally:
        release.set()
    wait_for(lambda: all(_state(sut, s) == "sent" for s in sms), timeout=10, message="logged as sent")
    skipped = [a for s in sms for a in logged(sut, s)["attempts"] if a["error"] and "circuit open" in a["error"]]
    assert len(skipped) >= 8
