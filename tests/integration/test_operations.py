"""Operator paths on real servers: the dlq command, concurrent idempotent retries."""

from __future__ import annotations

import json
import threading

import kombu
from sqlalchemy import func, select

from linli.cli import main
from linli.shared.tables import idempotency_keys, outbox
from tests.support.waiting import wait_for


def _bus_env(monkeypatch, bus, database_url: str) -> None:
    for name, value in {"LINLI_BROKER_URL": bus.url, "LINLI_EXCHANGE": bus.exchange,
                        "LINLI_PRIVATE_EXCHANGE": bus.private_exchange,
                        "LINLI_DEAD_EXCHANGE": bus.dead_exchange, "LINLI_QUEUE_PREFIX": bus.queue_prefix,
                        "NOTIFY_DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, value)


def test_dlq_list_and_replay_commands(live, bus, run_threads, monkeypatch, capsys):
    notify = live("notify", bus)
    worker = notify.rt.worker()
    run_threads(worker.run)
    assert worker.ready.wait(10)
    with kombu.Connection(bus.url) as conn:
        kombu.Producer(conn.channel()).publish(
            b"this is not a CloudEvent", exchange=bus.exchange, routing_key="tickets.ticket.submitted",
            content_type="application/cloudevents+json", content_encoding="utf-8")
    _bus_env(monkeypatch, bus, notify.rt.settings.database_url)

    def listed(queue: str = "notify.deliveries") -> list[dict]:
        assert main(["dlq", "list", "notify"]) == 0
        entries = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
        return [entry for entry in entries if entry["queue"] == bus.queue(queue)]

    dead = wait_for(listed, message="the poison message in notify's DLQ")
    assert dead[0]["error"].startswith("invalid event")
    # notify.webhooks takes every public key: the poison is dead-lettered into its DLQ as well.
    wait_for(lambda: listed("notify.webhooks"), message="the poison message in the webhooks' DLQ")
    assert main(["dlq", "replay", "notify"]) == 0
    assert "replayed 2" in capsys.readouterr().out
    # Replayed into its queue, it is still unreadable, so it lands in the DLQ again: nothing is lost.
    wait_for(listed, message="the message back in the DLQ")


def test_concurrent_retries_with_one_idempotency_key_create_one_thing(live, bus):
    registry = live("registry", bus)
    headers = {**registry.as_("*", "registry:admin"), "Idempotency-Key": "same-key"}
    answers: list = []
    barrier = threading.Barrier(4)

    def post() -> None:
        client = registry.app.test_client()
        barrier.wait()
        r = client.post("/v1/areas", json={"level": "district", "name": "大足区"}, headers=headers)
        answers.append((r.status_code, r.get_json()["id"]))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert [status for status, _ in answers] == [201] * 4
    assert len({ident for _, ident in answers}) == 1
    with registry.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(outbox)) == 1
        assert s.scalar(select(func.count()).select_from(idempotency_keys)) == 1


def test_dlq_shows_key_subject_and_handle_and_acts_on_one_message_alone(live, bus, run_threads, monkeypatch,
                                                                         capsys):
    from tests.support.apps import cloud_event

    notify = live("notify", bus)
    worker = notify.rt.worker()
    run_threads(worker.run)
    assert worker.ready.wait(10)
    with kombu.Connection(bus.url) as conn:
        producer = kombu.Producer(conn.channel())
        for body in (b"poison one", b"poison two",
                     # A real event notify cannot use (no district): it fails every try.
                     json.dumps(cloud_event("tickets.ticket.submitted", {"id": "t-1"}, subject="t-1")).encode()):
            producer.publish(body, exchange=bus.exchange, routing_key="tickets.ticket.submitted",
                             content_type="application/cloudevents+json", content_encoding="binary")
    _bus_env(monkeypatch, bus, notify.rt.settings.database_url)

    def listed() -> list[dict]:
        # notify.webhooks dead-letters the two poison messages too; this follows notify.deliveries' DLQ.
        assert main(["dlq", "list", "notify"]) == 0
        entries = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
        return [entry for entry in entries if entry["queue"] == bus.queue("notify.deliveries")]

    dead = wait_for(lambda: (d := listed()) and len(d) == 3 and d, timeout=20, message="three dead messages")
    assert {d["routing_key"] for d in dead} == {"tickets.ticket.submitted"}
    assert sorted(d["subject"] or "" for d in dead) == ["", "", "t-1"]
    assert len({d["handle"] for d in dead}) == 3 and all(d["handle"] for d in dead)
    poison = [d for d in dead if d["event_id"] is None]

    assert main(["dlq", "drop", "notify", "--id", poison[0]["handle"]]) == 0
    assert "dropped 1" in capsys.readouterr().out
    assert sorted(d["handle"] for d in listed()) == sorted(d["handle"] for d in dead if d is not poison[0])

    assert main(["dlq", "replay", "notify", "--id", poison[1]["handle"]]) == 0
    assert "replayed 1" in capsys.readouterr().out
    # Still unreadable, it is dead again (with a fresh attempt count), next to the event it did not take along.
    wait_for(lambda: len(listed()) == 2, message="the replayed message back in the DLQ")

    assert main(["dlq", "drop", "notify", "--id", "0123456789abcdef"]) == 1
    assert "no dead message" in capsys.readouterr().err


def test_dlq_with_a_wrong_prefix_or_vhost_is_an_error_not_zero(live, bus, monkeypatch, capsys):
    notify = live("notify", bus)
    notify.rt.declare_topology()
    _bus_env(monkeypatch, bus, notify.rt.settings.database_url)
    monkeypatch.setenv("LINLI_QUEUE_PREFIX", "nosuchprefix.")
    assert main(["dlq", "replay", "notify"]) == 1
    err = capsys.readouterr().err
    assert "nosuchprefix.notify.deliveries.dead" in err and "LINLI_QUEUE_PREFIX" in err

    monkeypatch.setenv("LINLI_QUEUE_PREFIX", bus.queue_prefix)
    monkeypatch.setenv("LINLI_BROKER_URL", bus.url.rsplit("/", 1)[0] + "/no-such-vhost")
    assert main(["dlq", "list", "notify"]) == 1
    assert "no-such-vhost" in capsys.readouterr().err
