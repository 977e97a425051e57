"""The bus without a broker: reading deliveries, retry steps, private events, topology, on kombu's memory transport."""

from __future__ import annotations

import json
import threading
import uuid

import marshmallow as ma
import pytest

from linli.shared.bus import ConfirmingPublisher, retry_delays_ms
from linli.shared.config import BusSettings
from linli.shared.consumer import ATTEMPTS_HEADER, Outcome, Worker, read_delivery
from linli.shared.db import transaction
from linli.shared.dlq import handle_of
from linli.shared.events import InvalidEvent, declare, decode, encode, is_private
from linli.shared.outbox import Relay, emit
from linli.shared.subscriptions import Subscription, topologies
from tests.support.apps import cloud_event, memory_bus, service_under_test
from tests.support.waiting import wait_for


class NoteData(ma.Schema):
    text = ma.fields.String(required=True)


NOTE_PUBLIC = declare("unit.note.posted", "A note was posted (tests only).", NoteData)
NOTE_PRIVATE = declare("unit.note.phoned", "A note with a phone number (tests only).", NoteData, private=True)
SUB = Subscription("unit", "notes")


def _good(**changes: object) -> dict:
    ce = cloud_event("unit.note.posted", {"text": "hi"})
    ce.update(changes)
    return ce


@pytest.mark.parametrize(("body", "headers"), [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, {}, id="nested-too-deep"),
    pytest.param(b"\xff\xfe\xfd", {}, id="not-utf8"),
    pytest.param(b"", {}, id="empty"),
    pytest.param(b"null", {}, id="json-null"),
    pytest.param(b'"a string"', {}, id="json-string"),
    pytest.param(encode(_good(data="text")), {}, id="data-not-object"),
    pytest.param(encode(_good(data=None)), {}, id="data-null"),
    pytest.param(encode({k: v for k, v in _good().items() if k != "id"}), {}, id="no-id"),
    pytest.param(encode(_good(id=12)), {}, id="id-a-number"),
    pytest.param(encode(_good(id="not-a-uuid")), {}, id="id-not-uuid"),
    pytest.param(encode(_good(specversion="0.3")), {}, id="old-specversion"),
    pytest.param(encode(_good(type=["linli.x"])), {}, id="type-a-list"),
    pytest.param(encode(_good(subject={"id": 1})), {}, id="subject-an-object"),
    pytest.param(encode(_good(district=7)), {}, id="district-a-number"),
    pytest.param(encode(_good()), {ATTEMPTS_HEADER: "3"}, id="attempts-a-string"),
    pytest.param(encode(_good()), {ATTEMPTS_HEADER: -1}, id="attempts-negative"),
    pytest.param(encode(_good()), {ATTEMPTS_HEADER: 2.5}, id="attempts-a-float"),
    pytest.param(encode(_good()), {ATTEMPTS_HEADER: True}, id="attempts-a-bool"),
])
def test_anything_a_message_holds_is_read_without_raising(body, headers):
    delivery = read_delivery(SUB, body, headers)
    assert delivery.event is None and delivery.problem


def test_a_good_message_is_read_once_with_its_attempts():
    delivery = read_delivery(SUB, encode(_good(subject="s1")), {ATTEMPTS_HEADER: 2})
    assert delivery.event is not None and delivery.event.subject == "s1" and delivery.attempts == 2
    assert read_delivery(SUB, encode(_good()), None).attempts == 0  # no headers at all


def test_deep_nesting_is_an_invalid_event_not_a_recursion_error():
    with pytest.raises(InvalidEvent):
        decode(b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000)


def test_a_bad_attempts_header_is_dead_lettered_at_once(tmp_path):
    sut = service_under_test("notify", f"sqlite:///{tmp_path}/n.db", memory_bus())
    worker = Worker(sut.rt.settings.bus, sut.rt.factory, sut.rt.spec.subscriptions)
    body = json.dumps(cloud_event("tickets.ticket.submitted", {"id": "x", "district_id": "d"})).encode()
    assert worker.handle(sut.rt.spec.subscriptions[0], body, {ATTEMPTS_HEADER: -50}) == Outcome.DEAD
    sut.rt.dispose()


def test_each_backoff_step_has_its_delay():
    assert retry_delays_ms(BusSettings(retry_base_seconds=0.5, max_attempts=5)) == (500, 1000, 2000, 4000)
    assert retry_delays_ms(BusSettings(retry_base_seconds=0.05, max_attempts=3)) == (50, 100)
    assert retry_delays_ms(BusSettings(max_attempts=1)) == ()


def test_an_unknown_queue_type_is_refused():
    with pytest.raises(ValueError, match="LINLI_QUEUE_TYPE"):
        BusSettings(queue_type="stream")


def test_private_events_are_marked_and_unknown_keys_count_as_private():
    assert is_private("unit.note.phoned") and not is_private("unit.note.posted")
    assert is_private("unit.never.declared")
    with pytest.raises(ValueError):
        declare("unit.note.posted", "again, now private", NoteData, private=True)


def test_topologies_merge_subscriptions_of_one_queue_and_skip_empty_ones():
    a, b, empty = Subscription("unit", "q"), Subscription("unit", "q"), Subscription("unit", "none")
    a.handles("unit.note.posted")(lambda s, e: None)
    b.handles("unit.note.phoned", "unit.note.posted")(lambda s, e: None)
    bus = BusSettings(queue_prefix="p.")
    [only] = topologies(bus, [a, b, empty])
    assert only.name == "p.unit.q" and only.binding_keys == ("unit.note.posted", "unit.note.phoned")


def test_a_dead_message_handle_is_stable_and_tells_copies_apart():
    assert handle_of(b"x", {"a": 1, "b": 2}) == handle_of(b"x", {"b": 2, "a": 1})
    assert handle_of(b"x", {"a": 1}) != handle_of(b"x", {"a": 2}) != handle_of(b"y", {"a": 2})


def test_private_and_public_events_both_reach_a_subscription_on_the_memory_transport(tmp_path):
    sut = service_under_test("registry", f"sqlite:///{tmp_path}/r.db", memory_bus())
    got: list[str] = []
    sub = Subscription("unit", "notes")
    sub.handles("unit.note.posted", "unit.note.phoned")(lambda session, event: got.append(event.key))
    stop = threading.Event()
    worker = Worker(sut.rt.settings.bus, sut.rt.factory, [sub])
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert worker.ready.wait(10)
        with transaction(sut.rt.factory) as s:
            emit(s, NOTE_PUBLIC, subject=str(uuid.uuid4()), data={"text": "a"}, district="d")
            emit(s, NOTE_PRIVATE, subject=str(uuid.uuid4()), data={"text": "b"}, district="d")
        sut.rt.relay().publish_pending()
        wait_for(lambda: sorted(got) == ["unit.note.phoned", "unit.note.posted"], message="both events")
    finally:
        stop.set()
        thread.join(10)
        sut.rt.dispose()


def test_a_public_only_subscription_is_bound_to_the_public_exchange_and_deaf_to_private_keys(tmp_path):
    sut = service_under_test("registry", f"sqlite:///{tmp_path}/r.db", memory_bus())
    got: list[str] = []
    sub = Subscription("unit", "outside", public_only=True)
    sub.handles("#")(lambda session, event: got.append(event.key))
    assert sub.handlers_for("unit.note.posted") and not sub.handlers_for("unit.note.phoned")
    assert not sub.handlers_for("unit.never.declared"), "an unknown key counts as private"
    [topology] = topologies(sut.rt.settings.bus, [sub])
    assert topology.public_only and topology.binding_keys == ("#",)
    stop = threading.Event()
    worker = Worker(sut.rt.settings.bus, sut.rt.factory, [sub])
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert worker.ready.wait(10)
        with transaction(sut.rt.factory) as s:
            emit(s, NOTE_PRIVATE, subject=str(uuid.uuid4()), data={"text": "b"}, district="d")
            emit(s, NOTE_PUBLIC, subject=str(uuid.uuid4()), data={"text": "a"}, district="d")
        sut.rt.relay().publish_pending()
        # The private event went first; once the public one is in, the private one is known not to come.
        wait_for(lambda: got == ["unit.note.posted"], message="the public event only")
    finally:
        stop.set()
        thread.join(10)
        sut.rt.dispose()


def test_a_woken_relay_lets_the_commits_of_the_next_moments_join_its_batch(tmp_path):
    sut = service_under_test("registry", f"sqlite:///{tmp_path}/r.db", memory_bus())
    publisher = ConfirmingPublisher(sut.rt.settings.bus, topologies=sut.rt.topologies())
    batches: list[int] = []
    waiting = threading.Event()
    publish, keepalive = publisher.publish, publisher.keepalive
    publisher.publish = lambda messages: (batches.append(len(messages)), publish(messages))[1]  # type: ignore[method-assign]
    publisher.keepalive = lambda: (waiting.set(), keepalive())[1]  # type: ignore[method-assign]
    relay = Relay(sut.rt.name, sut.rt.factory, publisher, poll_seconds=1.0, gather_seconds=0.5)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert waiting.wait(10)  # its first round found nothing: it waits for a wake-up
        for n in range(5):
            with transaction(sut.rt.factory) as s:
                emit(s, NOTE_PUBLIC, subject=str(uuid.uuid4()), data={"text": str(n)}, district="d")
        wait_for(lambda: sum(batches) == 5, message="five events published")
        # The first commit woke it; the four right after it went out in the same round, not one round each.
        assert batches == [5]
    finally:
        stop.set()
        thread.join(10)
        sut.rt.dispose()


def test_the_deployments_broker_users_keep_apps_off_the_private_exchange():
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    definitions = json.loads((root / "deploy" / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
    rules = {p["user"]: p for p in definitions["permissions"]}
    assert re.match(rules["apps"]["read"], "linli.events") and not re.match(rules["apps"]["read"], "linli.private")
    assert not re.match(rules["apps"]["configure"], "notify.deliveries")
    compose = yaml.safe_load((root / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = " ".join(compose["services"]["rabbitmq"]["volumes"])
    assert "definitions.json" in mounts and "linli.conf" in mounts
    for name in ("registry", "tickets", "rotation", "notify"):
        rule = rules[name]
        for resource in ("linli.private", "linli.events", "linli.unrouted", f"{name}.x.retry.500", "notify.deliveries"):
            assert re.match(rule["configure"], resource) and re.match(rule["read"], resource), (name, resource)
        assert re.match(rule["write"], "amq.default")
        for process in ("migrate", "web", "worker", "clock"):
            url = compose["services"][f"{name}-{process}"]["environment"]["LINLI_BROKER_URL"]
            assert url.startswith(f"amqp://{name}:"), (name, process)
