"""Webhooks end to end on a real PostgreSQL and RabbitMQ: events published on the bus reach a real HTTP receiver,
which verifies every request with the `standardwebhooks` reference library; retries after a 500 and a
Retry-After, 410 Gone, the 5-day rule, secret rotation, test events, replays, and a hanging endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from standardwebhooks import Webhook as Verifier

from linli.services.notify.dispatch import Dispatcher
from linli.services.notify.models import Webhook
from linli.services.notify.sending import WebhookSettings
from linli.shared.bus import ConfirmingPublisher, OutgoingMessage
from linli.shared.config import BusSettings
from linli.shared.db import utcnow
from linli.shared.events import CATALOGUE, encode, envelope
from linli.suite import subscriptions
from tests.support.apps import ServiceUnderTest
from tests.support.collector import Collector
from tests.support.receiver import Received, Receiver, Reply
from tests.support.waiting import wait_for

YONGCHUAN = str(uuid.uuid4())
# The schedule shrunk a thousandfold: 5 s -> 5 ms, 5 min -> 0.3 s, 30 min -> 1.8 s. Retry-After is not shrunk.
SCALE = 0.001


@pytest.fixture
def receiver(run_threads) -> Iterator[Receiver]:
    # Requested after run_threads, so it closes (releasing any hanging answer) before the threads are stopped.
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def start_notify(live, bus, run_threads, monkeypatch) -> Callable[..., ServiceUnderTest]:
    """notify on PostgreSQL with its relay, consumers and a webhook dispatcher of the given settings running."""
    monkeypatch.setenv("LINLI_WEBHOOKS_ALLOW_PRIVATE", "1")  # the receiver listens on 127.0.0.1
    subscriptions()  # the whole catalogue, as in every process of the suite

    def start(**settings: Any) -> ServiceUnderTest:
        sut = live("notify", bus)
        sut.rt.declare_topology()
        worker = sut.rt.worker()
        options = {"allow_private": True, "delay_scale": SCALE, "timeout_seconds": 5.0, "poll_seconds": 0.05,
                   "threads": 8, "per_endpoint": 2, **settings}
        dispatcher = Dispatcher(sut.rt.factory, WebhookSettings(**options))
        run_threads(sut.rt.relay().run, worker.run, dispatcher.run)
        assert worker.ready.wait(10), "notify's consumers did not start"
        return sut

    return start


@pytest.fixture
def collector(bus) -> Iterator[Collector]:
    found = Collector(bus)
    yield found
    found.close()


def publish(bus: BusSettings, key: str, data: dict[str, Any], district: str = YONGCHUAN) -> dict[str, Any]:
    """Publish an event as its producing service would (on the private exchange if it carries personal data)."""
    event_type = CATALOGUE[key]
    event = envelope(event_type, subject=str(data["id"]), data=data, district=district, traceparent=None)
    publisher = ConfirmingPublisher(bus)
    try:
        publisher.publish([OutgoingMessage(routing_key=key, body=encode(event), message_id=event["id"],
                                           exchange=bus.private_exchange if event_type.private else None,
                                           must_route=False)])
    finally:
        publisher.close()
    return event


def _ticket(**changes: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "compound_id": str(uuid.uuid4()),
            "title": "电梯故障", "state": "submitted", "version": 1, **changes}


def _headers(sut: ServiceUnderTest) -> dict[str, str]:
    return sut.as_(YONGCHUAN, "notify:write notify:read")


def register(sut: ServiceUnderTest, url: str, *patterns: str) -> dict[str, Any]:
    r = sut.client.post("/v1/webhooks", json={"url": url, "event_types": list(patterns)}, headers=_headers(sut))
    assert r.status_code == 201, r.json
    return r.json


def verified(received: Received, *secrets: str) -> dict[str, Any]:
    """The CloudEvent, once every given secret verified the request's signature."""
    assert received.headers["Content-Type"] == "application/cloudevents+json"
    bodies = [Verifier(secret).verify(received.body, received.headers) for secret in secrets]
    return bodies[0]


def webhook(sut: ServiceUnderTest, webhook_id: str) -> dict[str, Any]:
    r = sut.client.get(f"/v1/webhooks/{webhook_id}", headers=_headers(sut))
    assert r.status_code == 200, r.json
    return r.json


def deliveries(sut: ServiceUnderTest, webhook_id: str) -> list[dict[str, Any]]:
    r = sut.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=_headers(sut))
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_matching_public_events_arrive_signed_and_private_ones_never(start_notify, bus, receiver, collector):
    sut = start_notify()
    tickets = register(sut, receiver.url("/tickets"), "tickets.ticket.*")
    everything = register(sut, receiver.url("/all"), "#")
    submitted = publish(bus, "tickets.ticket.submitted", _ticket())

    [got] = wait_for(lambda: receiver.received("/tickets"), message="the ticket event at its endpoint")
    event = verified(got, tickets["secret"])
    assert event == submitted, "the body is the structured CloudEvent as published"
    assert got.headers["webhook-id"] == submitted["id"]

    # A member's contact (personal data, linli.private) and then a public marker: the endpoint bound to every
    # event gets the marker, and the private event never, though it was published first.
    publish(bus, "registry.member.contact", {"id": str(uuid.uuid4()), "district_id": YONGCHUAN,
                                             "name": "张三", "phone": "13800001111", "version": 1})
    marker = publish(bus, "tickets.ticket.overdue", _ticket(overdue=True))
    wait_for(lambda: any(verified(r, everything["secret"])["id"] == marker["id"] for r in receiver.received("/all")),
             message="the marker at the catch-all endpoint")
    types = [verified(r, everything["secret"])["type"] for r in receiver.received("/all")]
    assert "linli.registry.member.contact" not in types
    assert not any(b"13800001111" in r.body for r in receiver.received())
    # Each endpoint got each matching event once, and the deliveries say so.
    assert sorted(types).count("linli.tickets.ticket.submitted") == 1
    wait_for(lambda: [d["state"] for d in deliveries(sut, tickets["id"])] == ["delivered"] * 2,
             message="both ticket events delivered to their endpoint")
    wait_for(lambda: len(collector.of_type("notify.webhook.created")) == 2, message="notify.webhook.created")


def test_a_failed_delivery_is_tried_again_later_as_retry_after_asks_then_on_the_schedule(
        start_notify, bus, receiver):
    sut = start_notify()
    receiver.script("/flaky", Reply(503, {"Retry-After": "2"}), Reply(500), Reply(200))
    hook = register(sut, receiver.url("/flaky"), "tickets.#")
    published = publish(bus, "tickets.ticket.submitted", _ticket())

    first, second, third = wait_for(lambda: receiver.received("/flaky")[:3] if len(receiver.received("/flaky")) >= 3
                                    else None, timeout=20, message="three attempts")
    for attempt in (first, second, third):
        assert verified(attempt, hook["secret"])["id"] == published["id"]
        assert attempt.headers["webhook-id"] == published["id"], "retries keep the id receivers de-duplicate on"
    # The schedule's next step is 5 ms here; the receiver asked for 2 s, and got it.
    assert second.at - first.at >= 2.0
    # Then the schedule again: 5 min shrunk to 0.3 s, well short of another 2 s.
    assert 0.3 <= third.at - second.at < 2.0
    [delivery] = wait_for(lambda: [d for d in deliveries(sut, hook["id"]) if d["state"] == "delivered"],
                          message="the delivery delivered")
    assert delivery["attempt_count"] == 3 and delivery["last_status_code"] == 200
    detail = sut.client.get(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}", headers=_headers(sut)).json
    assert [a["status_code"] for a in detail["attempts"]] == [503, 500, 200]
    assert detail["attempts"][0]["error"] == "HTTP 503"
    assert webhook(sut, hook["id"])["failing_since"] is None


def test_410_gone_disables_the_endpoint_and_says_so_on_the_bus(start_notify, bus, receiver, collector):
    sut = start_notify()
    receiver.script("/gone", Reply(410))
    gone = register(sut, receiver.url("/gone"), "tickets.#")
    publish(bus, "tickets.ticket.submitted", _ticket())
    wait_for(lambda: webhook(sut, gone["id"])["state"] == "disabled", message="the endpoint disabled")
    assert webhook(sut, gone["id"])["disabled_reason"] == "gone"
    [delivery] = deliveries(sut, gone["id"])
    assert (delivery["state"], delivery["attempt_count"]) == ("gone", 1)
    [disabled] = wait_for(lambda: collector.of_type("notify.webhook.disabled"), message="notify.webhook.disabled")
    assert disabled["subject"] == gone["id"] and disabled["data"]["disabled_reason"] == "gone"
    # Nothing more is queued for it.
    live_one = register(sut, receiver.url("/live"), "tickets.#")
    marker = publish(bus, "tickets.ticket.overdue", _ticket())
    wait_for(lambda: any(verified(r, live_one["secret"])["id"] == marker["id"] for r in receiver.received("/live")),
             message="the marker at another endpoint")
    assert len(receiver.received("/gone")) == 1 and len(deliveries(sut, gone["id"])) == 1


def test_an_endpoint_failing_for_five_days_is_disabled(start_notify, bus, receiver, collector):
    sut = start_notify()
    receiver.script("/down", Reply(500))
    down = register(sut, receiver.url("/down"), "tickets.#")
    with sut.rt.factory() as session:
        session.execute(update(Webhook).where(Webhook.id == uuid.UUID(down["id"]))
                        .values(failing_since=utcnow() - timedelta(days=5)))
        session.commit()
    publish(bus, "tickets.ticket.submitted", _ticket())
    [disabled] = wait_for(lambda: collector.of_type("notify.webhook.disabled"), message="notify.webhook.disabled")
    assert disabled["subject"] == down["id"] and disabled["data"]["disabled_reason"] == "failing"
    assert webhook(sut, down["id"])["state"] == "disabled"


def test_rotation_test_events_and_replays_on_the_wire(start_notify, bus, receiver, collector):
    sut = start_notify()
    hook = register(sut, receiver.url("/app"), "rotation.#")
    bystander = register(sut, receiver.url("/bystander"), "#")
    r = sut.client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={"overlap_hours": 1}, headers=_headers(sut))
    assert r.status_code == 200, r.json
    new_secret = r.json["secret"]

    r = sut.client.post(f"/v1/webhooks/{hook['id']}/test", headers=_headers(sut))
    assert r.status_code == 202, r.json
    test_delivery = r.json
    [got] = wait_for(lambda: receiver.received("/app"), message="the test event")
    # During the overlap a receiver holding either secret verifies.
    event = verified(got, hook["secret"], new_secret)
    assert event["type"] == "linli.notify.webhook.test" and event["subject"] == hook["id"]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    # The test event also travels on the bus, and still reaches no other endpoint.
    wait_for(lambda: collector.of_type("notify.webhook.test"), message="notify.webhook.test on the bus")
    wait_for(lambda: deliveries(sut, hook["id"])[0]["state"] == "delivered", message="the test delivered")

    r = sut.client.post(f"/v1/webhooks/{hook['id']}/deliveries/{test_delivery['id']}/replay", headers=_headers(sut))
    assert r.status_code == 202 and r.json["state"] == "pending"
    again = wait_for(lambda: receiver.received("/app")[1:], message="the replay")
    assert verified(again[0], new_secret)["id"] == event["id"] and again[0].headers["webhook-id"] == event["id"]

    sut.client.patch(f"/v1/webhooks/{hook['id']}", json={"description": "轮值提醒"}, headers=_headers(sut))
    sut.client.post(f"/v1/webhooks/{hook['id']}/disable", json={"note": "维护"}, headers=_headers(sut))
    sut.client.post(f"/v1/webhooks/{hook['id']}/enable", headers=_headers(sut))
    for key in ("notify.webhook.created", "notify.webhook.secret_rotated", "notify.webhook.updated",
                "notify.webhook.disabled", "notify.webhook.enabled"):
        wait_for(lambda key=key: collector.of_type(key), message=key)
    # The bystander, bound to every event, got the endpoint events but never the test event.
    wait_for(lambda: any(verified(r, bystander["secret"])["type"] == "linli.notify.webhook.enabled"
                         for r in receiver.received("/bystander")), message="notify.webhook.enabled at the bystander")
    assert all(verified(r, bystander["secret"])["type"] != "linli.notify.webhook.test"
               for r in receiver.received("/bystander"))
    assert all(new_secret not in r.body.decode() and hook["secret"] not in r.body.decode()
               for r in receiver.received())


def test_a_hanging_endpoint_delays_no_other(start_notify, bus, receiver):
    # The hanging endpoint is given all the time in the world: only the healthy ones may finish during the test.
    sut = start_notify(timeout_seconds=30.0, threads=8, per_endpoint=2)
    release = receiver.closing
    receiver.script("/hang", Reply(200, hang=release))
    hanging = register(sut, receiver.url("/hang"), "tickets.#")
    healthy = {f"/ok{i}": register(sut, receiver.url(f"/ok{i}"), "tickets.#") for i in range(3)}
    published = [publish(bus, "tickets.ticket.submitted", _ticket())["id"] for _ in range(5)]

    for path, hook in healthy.items():
        wait_for(lambda hook=hook: [d["state"] for d in deliveries(sut, hook["id"])] == ["delivered"] * 5,
                 timeout=15, message=f"all events delivered at {path}")
        assert sorted(verified(r, hook["secret"])["id"] for r in receiver.received(path)) == sorted(published)
    # Every healthy delivery finished while the hanging endpoint still held its first two requests open: it
    # has no attempt recorded yet, and never had more than its two in flight.
    assert not release.is_set()
    assert len(receiver.received("/hang")) == 2
    assert all(d["attempt_count"] == 0 for d in deliveries(sut, hanging["id"]))
