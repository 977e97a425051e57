"""The webhook dispatcher on SQLite with a stand-in network and clock: what it sends, how it signs, when it tries
again, when it gives up or disables an endpoint, and that a hanging endpoint holds up no other."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook as Verifier

from linli.services.notify import usecases, webhooks
from linli.services.notify.dispatch import Dispatcher
from linli.services.notify.models import Base, Webhook, WebhookAttempt, WebhookDelivery
from linli.services.notify.sending import Answer, WebhookSettings
from linli.shared.actors import Actor
from linli.shared.events import encode, envelope
from linli.suite import subscriptions
from tests.support.sessions import committed_events
from tests.support.waiting import wait_for

YONGCHUAN = str(uuid.uuid4())
CLIENT = Actor("district-app", YONGCHUAN, frozenset({"notify:write"}))
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
NAMES = {"a.example.org": ["93.184.215.14"], "b.example.org": ["93.184.215.15"], "c.example.org": ["93.184.215.16"]}


def _resolve(host: str, port: int) -> list[str]:
    return NAMES[host]


class Network:
    """Stands in for the receivers: answers per host, and remembers what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[webhooks.Target, dict[str, str], bytes]] = []
        self.answers: dict[str, Callable[[], Answer]] = {}
        self._lock = threading.Lock()

    def answer(self, host: str, status: int, retry_after: str | None = None) -> None:
        self.answers[host] = lambda: Answer(status, retry_after, "ok" if status < 300 else "nope")

    def post(self, target: webhooks.Target, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
        with self._lock:
            self.sent.append((target, headers, body))
        return self.answers.get(target.host, lambda: Answer(200, None, ""))()

    def to(self, host: str) -> list[tuple[webhooks.Target, dict[str, str], bytes]]:
        with self._lock:
            return [sent for sent in self.sent if sent[0].host == host]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def factory(make_store):
    subscriptions()  # the whole catalogue, as in every process: public events are told from private ones
    return make_store(Base.metadata)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def network() -> Network:
    return Network()


def _dispatcher(factory, clock: Clock, network: Network, **settings: Any) -> Dispatcher:
    return Dispatcher(factory, WebhookSettings(**settings), now=clock, resolve=_resolve, post=network.post)


def _webhook(factory, host: str = "a.example.org", patterns: tuple[str, ...] = ("tickets.#",)) -> Webhook:
    with factory() as session:
        webhook = usecases.create_webhook(session, CLIENT, url=f"https://{host}/in", event_types=list(patterns),
                                          resolve=_resolve)
        session.commit()
    return webhook


def _event(key: str = "tickets.ticket.submitted", district: str = YONGCHUAN) -> dict[str, Any]:
    from linli.shared.events import CATALOGUE

    ticket = {"id": str(uuid.uuid4()), "title": "楼道灯不亮", "district_id": district}
    return envelope(CATALOGUE[key], subject=ticket["id"], data=ticket, district=district, traceparent=None)


def _publish(factory, clock: Clock, cloud_event: dict[str, Any] | None = None) -> dict[str, Any]:
    cloud_event = cloud_event or _event()
    with factory() as session:
        usecases.deliver_to_webhooks(session, cloud_event, key=cloud_event["type"].removeprefix("linli."),
                                     district=cloud_event["district"], now=clock.now)
        session.commit()
    return cloud_event


def _delivery(factory, webhook_id: uuid.UUID | None = None) -> WebhookDelivery:
    with factory() as session:
        query = select(WebhookDelivery)
        if webhook_id is not None:
            query = query.where(WebhookDelivery.webhook_id == webhook_id)
        return session.scalars(query).one()


def _attempts(factory) -> list[WebhookAttempt]:
    with factory() as session:
        return list(session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)))


def test_a_delivery_goes_at_once_signed_as_a_structured_cloudevent(factory, clock, network):
    webhook = _webhook(factory)
    sent_event = _publish(factory, clock)
    assert _dispatcher(factory, clock, network).round() == 1
    [(target, headers, body)] = network.sent
    assert (target.host, target.path, target.addresses) == ("a.example.org", "/in", ("93.184.215.14",))
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert headers["webhook-id"] == sent_event["id"]
    assert body == encode(sent_event)
    verified = Verifier(webhook.secret).verify(body, headers)
    assert verified["type"] == "linli.tickets.ticket.submitted" and verified["data"]["title"] == "楼道灯不亮"
    delivery = _delivery(factory)
    assert (delivery.state, delivery.attempt_count, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at == NOW and delivery.next_attempt_at is None
    [attempt] = _attempts(factory)
    assert (attempt.number, attempt.status_code, attempt.error, attempt.response_excerpt) == (1, 200, None, "")


def test_failures_are_tried_again_on_the_schedule_then_the_delivery_fails(factory, clock, network):
    _webhook(factory)
    network.answer("a.example.org", 500)
    _publish(factory, clock)
    dispatcher = _dispatcher(factory, clock, network)
    assert dispatcher.round() == 1
    for wait in webhooks.SCHEDULE[1:]:
        clock.now += wait - timedelta(milliseconds=1)
        assert dispatcher.round() == 0, f"tried before {wait} passed"
        clock.now += timedelta(milliseconds=1)
        assert dispatcher.round() == 1, f"not tried once {wait} passed"
    delivery = _delivery(factory)
    assert (delivery.state, delivery.attempt_count, delivery.next_attempt_at) == ("failed", 8, None)
    assert [(a.number, a.status_code, a.error) for a in _attempts(factory)] == [
        (n, 500, "HTTP 500") for n in range(1, 9)]
    clock.now += timedelta(days=1)
    assert dispatcher.round() == 0


def test_the_schedule_scales_for_test_set_ups(factory, clock, network):
    _webhook(factory)
    network.answer("a.example.org", 500)
    _publish(factory, clock)
    dispatcher = _dispatcher(factory, clock, network, delay_scale=0.01)
    dispatcher.round()
    assert _delivery(factory).next_attempt_at == NOW + timedelta(milliseconds=50)


def test_a_later_retry_after_is_honoured(factory, clock, network):
    _webhook(factory)
    network.answer("a.example.org", 503, retry_after="120")
    _publish(factory, clock)
    _dispatcher(factory, clock, network).round()
    delivery = _delivery(factory)
    assert (delivery.state, delivery.next_attempt_at) == ("pending", NOW + timedelta(seconds=120))


def test_410_gone_ends_the_delivery_and_disables_the_endpoint(factory, clock, network):
    webhook = _webhook(factory)
    network.answer("a.example.org", 410)
    _publish(factory, clock)
    dispatcher = _dispatcher(factory, clock, network)
    dispatcher.round()
    assert _delivery(factory).state == "gone"
    with factory() as session:
        stored = session.get_one(Webhook, webhook.id)
        assert (stored.state, stored.disabled_reason, stored.disabled_at) == ("disabled", "gone", NOW)
    [disabled] = committed_events(factory, "notify.webhook.disabled")
    assert disabled["subject"] == str(webhook.id) and disabled["data"]["disabled_reason"] == "gone"
    # Nothing more is queued for it, nor sent.
    _publish(factory, clock)
    clock.now += timedelta(hours=1)
    assert dispatcher.round() == 0 and len(network.sent) == 1


def test_an_endpoint_failing_for_five_days_is_disabled_and_a_success_forgives_earlier_failures(
        factory, clock, network):
    webhook = _webhook(factory)
    network.answer("a.example.org", 500)
    _publish(factory, clock)
    dispatcher = _dispatcher(factory, clock, network)
    dispatcher.round()
    with factory() as session:
        assert session.get_one(Webhook, webhook.id).failing_since == NOW
    network.answer("a.example.org", 204)
    clock.now += timedelta(seconds=5)
    dispatcher.round()
    with factory() as session:
        assert session.get_one(Webhook, webhook.id).failing_since is None
    network.answer("a.example.org", 500)
    _publish(factory, clock)
    dispatcher.round()
    with factory() as session:
        stored = session.get_one(Webhook, webhook.id)
        assert stored.failing_since == clock.now and stored.state == "enabled"
    clock.now += webhooks.DISABLE_AFTER
    _publish(factory, clock)
    assert dispatcher.round() == 2  # the retry due long ago, and the new event
    with factory() as session:
        stored = session.get_one(Webhook, webhook.id)
        assert (stored.state, stored.disabled_reason) == ("disabled", "failing")
    [disabled] = committed_events(factory, "notify.webhook.disabled")
    assert disabled["data"]["disabled_reason"] == "failing"


def test_a_name_that_now_points_inside_is_refused_at_delivery_time(factory, clock, network, monkeypatch):
    _webhook(factory)
    _publish(factory, clock)
    monkeypatch.setitem(NAMES, "a.example.org", ["93.184.215.14", "127.0.0.1"])
    _dispatcher(factory, clock, network).round()
    assert network.sent == []
    delivery = _delivery(factory)
    assert delivery.state == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith("refused: ") and "127.0.0.1" in delivery.last_error


def test_no_answer_is_logged_as_a_failure_with_its_reason(factory, clock, network):
    _webhook(factory)
    _publish(factory, clock)

    def refused(*_: Any) -> Answer:
        raise ConnectionRefusedError(111, "Connection refused")

    network.answers["a.example.org"] = refused
    _dispatcher(factory, clock, network).round()
    [attempt] = _attempts(factory)
    assert attempt.status_code is None and "ConnectionRefusedError" in attempt.error
    assert _delivery(factory).next_attempt_at == NOW + timedelta(seconds=5)


def test_during_a_rotation_overlap_both_secrets_sign(factory, clock, network):
    webhook = _webhook(factory)
    with factory() as session:
        rotated = usecases.rotate_webhook_secret(session, CLIENT, webhook.id, clock.now, overlap_hours=1)
        session.commit()
    _publish(factory, clock)
    dispatcher = _dispatcher(factory, clock, network)
    dispatcher.round()
    (_, headers, body) = network.sent[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (webhook.secret, rotated.secret):
        Verifier(secret).verify(body, headers)
    clock.now += timedelta(hours=1)
    _publish(factory, clock)
    dispatcher.round()
    (_, headers, body) = network.sent[-1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Verifier(rotated.secret).verify(body, headers)


def test_claims_take_at_most_per_endpoint_from_each_endpoint_and_lease_what_they_take(factory, clock):
    busy, quiet = _webhook(factory, "a.example.org"), _webhook(factory, "b.example.org", ("rotation.#",))
    for _ in range(5):
        _publish(factory, clock)
    _publish(factory, clock, _event("rotation.term.started"))
    lease = timedelta(seconds=40)
    with factory() as session:
        jobs = usecases.claim_due_deliveries(session, clock.now, limit=10, per_endpoint=2, in_flight={}, lease=lease)
        session.commit()
    assert sorted(str(job.webhook_id) for job in jobs) == sorted([str(busy.id)] * 2 + [str(quiet.id)])
    with factory() as session:
        again = usecases.claim_due_deliveries(session, clock.now, limit=10, per_endpoint=2,
                                              in_flight={busy.id: 2}, lease=lease)
        assert again == [], "the busy endpoint is full; the quiet one's delivery is leased"
        later = usecases.claim_due_deliveries(session, clock.now + lease, limit=10, per_endpoint=2,
                                              in_flight={busy.id: 1}, lease=lease)
    assert sorted(str(job.webhook_id) for job in later) == sorted([str(busy.id)] + [str(quiet.id)])


def test_a_hanging_endpoint_holds_up_no_other(factory, clock, network):
    _webhook(factory, "a.example.org")
    healthy = [_webhook(factory, host) for host in ("b.example.org", "c.example.org")]
    release = threading.Event()

    def hang() -> Answer:
        release.wait(10)
        return Answer(200, None, "")

    network.answers["a.example.org"] = hang
    for _ in range(4):
        _publish(factory, clock)
    dispatcher = _dispatcher(factory, clock, network, threads=4, per_endpoint=2, poll_seconds=0.01)
    stop = threading.Event()
    runner = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    runner.start()
    try:
        def delivered() -> int:
            with factory() as session:
                return len(session.scalars(select(WebhookDelivery).where(
                    WebhookDelivery.webhook_id.in_([w.id for w in healthy]),
                    WebhookDelivery.state == "delivered")).all())

        wait_for(lambda: delivered() == 8, timeout=10, message="the healthy endpoints' deliveries")
        # Meanwhile the hanging endpoint holds two threads (its limit), and none of its four is done.
        assert len(network.to("a.example.org")) == 2 and not release.is_set()
    finally:
        release.set()
        stop.set()
        runner.join(10)
    assert not runner.is_alive(), "stopping waits for the sends under way, not for more"


def test_the_notify_worker_and_the_embedded_mode_run_the_dispatcher_beside_the_relay(make_service):
    from linli.processes import start_producers

    sut = make_service("notify")
    stop = threading.Event()
    threads = start_producers(sut.rt, stop, clock=False)
    try:
        assert sorted(thread.name for thread in threads) == ["notify-messages", "notify-relay", "notify-webhooks"]
        assert all(thread.is_alive() for thread in threads)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
