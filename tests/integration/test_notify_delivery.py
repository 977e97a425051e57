"""SMS and email end to end on a real PostgreSQL and RabbitMQ: the sender loop sends through a real HTTP SMS gateway
stub that answers 503, 429 with Retry-After, hangs or rejects (failover observed in the attempt log), a real SMTP
server (aiosmtpd), and `notification.delivered` / `notification.failed` reach the bus without any address."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
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


def test_a_hanging_gateway_times_out_and_holds_up_no_other_message(start_notify, gateway, mail):
    release = threading.Event()
    gateway.script("/gw1", Reply(hang=release))
    sut = start_notify(timeout_seconds=2.0, retries=outgoing.Retries(tries_per_provider=1))
    try:
        sms = [deliver(sut, _message()) for _ in range(4)]
        started = time.monotonic()
        emails = [deliver(sut, _message("email", f"m{n}@example.cn")) for n in range(6)]
        wait_for(lambda: len(mail.mails()) == 6, timeout=10, message="the emails")
        assert time.monotonic() - started < 1.5, "the email went while the SMS gateway hung"
        # gw1 holds two sends (its limit); the rest wait their turn rather than take every thread.
        assert len(gateway.received("/gw1")) == 2
        assert all(_state(sut, e) == "sent" for e in emails)
        wait_for(lambda: all(_state(sut, s) == "sent" for s in sms), timeout=20, message="the SMS, via gw2")
    finally:
        release.set()
    attempts = logged(sut, sms[0])["attempts"]
    assert attempts[0]["status"] == "retryable" and "TimeoutError" in attempts[0]["error"]
    assert attempts[-1]["provider"].endswith("/gw2")


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
