"""The in-memory bus's drain watermark: what a stop of the embedded mode may have lost goes out again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from linli.shared.db import transaction, utcnow
from linli.shared.memory_delivery import MemoryDelivery, drained_up_to, record_drained, republish_undrained
from linli.shared.tables import inbox, outbox


def _rows(sut, *keys: str, sent: bool = True, sent_at=None) -> list[tuple[int, uuid.UUID]]:
    made = []
    with transaction(sut.rt.factory) as s:
        for key in keys:
            event_id = uuid.uuid4()
            seq = s.execute(outbox.insert().values(
                event_id=event_id, routing_key=key, aggregate_id="a", body=b"{}", created_at=utcnow(),
                sent_at=(sent_at or utcnow()) if sent else None).returning(outbox.c.seq)).scalar_one()
            made.append((seq, event_id))
    return made


def _applied(sut, consumer: str, event_id: uuid.UUID) -> None:
    with transaction(sut.rt.factory) as s:
        s.execute(inbox.insert().values(consumer=consumer, event_id=event_id, event_type="x", applied_at=utcnow()))


def _unsent(sut) -> list[int]:
    with sut.rt.factory() as s:
        return list(s.scalars(select(outbox.c.seq).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.seq)))


def test_the_watermark_stops_before_the_first_event_a_consumer_has_not_applied(make_service):
    registry, tickets, rotation = make_service("registry"), make_service("tickets"), make_service("rotation")
    delivery = MemoryDelivery([registry.rt, tickets.rt, rotation.rt])
    (s1, area1), (s2, committee), (s3, unheard), (s4, area2) = _rows(
        registry, "registry.area.created", "registry.committee.created", "registry.pledge.added",
        "registry.area.created")
    assert delivery.settled_up_to(registry.rt) == 0

    _applied(tickets, "tickets.read-models", area1)
    assert delivery.settled_up_to(registry.rt) == s1  # rotation has not applied the committee yet
    _applied(rotation, "rotation.read-models", committee)
    assert delivery.settled_up_to(registry.rt) == s1  # nor tickets, which keeps committees' units and convenors
    _applied(tickets, "tickets.read-models", committee)
    # Nobody handles the pledge event: sent is settled. tickets still lacks the second area.
    assert delivery.settled_up_to(registry.rt) == s3
    _applied(tickets, "tickets.read-models", area2)
    assert delivery.checkpoint()["registry"] == s4
    with registry.rt.factory() as s:
        assert drained_up_to(s) == s4


def test_an_unsent_row_holds_the_watermark_back(make_service):
    registry, tickets = make_service("registry"), make_service("tickets")
    (s1, _), = _rows(registry, "registry.pairing.created", sent=False)
    (s2, area), = _rows(registry, "registry.area.created")
    _applied(tickets, "tickets.read-models", area)
    # Passing the unsent row would leave it unrepeated if it is sent and then lost.
    assert MemoryDelivery([registry.rt, tickets.rt]).settled_up_to(registry.rt) == s1 - 1


def test_at_start_every_row_sent_after_the_watermark_is_published_again(make_service):
    registry = make_service("registry")
    rows = _rows(registry, *["registry.area.created"] * 4)
    record_drained(registry.rt.factory, rows[1][0])
    assert republish_undrained(registry.rt.factory) == 2
    assert _unsent(registry) == [rows[2][0], rows[3][0]]


def test_a_dead_lettered_event_is_tried_again_after_a_restart(make_service):
    """The in-memory dead-letter queue dies with the process; the outbox row does not."""
    registry, tickets = make_service("registry"), make_service("tickets")
    delivery = MemoryDelivery([registry.rt, tickets.rt])
    (s1, ok), (s2, dead), (s3, later) = _rows(registry, *["registry.area.created"] * 3)
    _applied(tickets, "tickets.read-models", ok)
    _applied(tickets, "tickets.read-models", later)  # applied, but after the one that failed for good
    delivery.checkpoint()
    assert delivery.unsettled() == {"registry": 2, "tickets": 0}
    assert delivery.republish_undrained()["registry"] == 2
    assert _unsent(registry) == [s2, s3]


def test_drain_gives_up_at_its_deadline_and_says_what_is_left(make_service):
    registry, tickets = make_service("registry"), make_service("tickets")
    _rows(registry, "registry.area.created")
    assert MemoryDelivery([registry.rt, tickets.rt]).drain(timeout=0.2) is False


def test_the_memory_relay_never_prunes_a_sent_row_past_the_watermark(make_service):
    registry = make_service("registry")
    long_ago = utcnow() - timedelta(days=2)
    rows = _rows(registry, *["registry.area.created"] * 3, sent_at=long_ago)
    record_drained(registry.rt.factory, rows[0][0])
    assert registry.rt.relay().cleanup()["outbox"] == 1
    with registry.rt.factory() as s:
        assert list(s.scalars(select(outbox.c.seq).order_by(outbox.c.seq))) == [rows[1][0], rows[2][0]]


def test_a_relay_on_a_real_broker_prunes_as_before(make_service):
    from dataclasses import replace

    from linli.shared.config import BusSettings
    from linli.shared.service import Runtime

    registry = make_service("registry")
    _rows(registry, *["registry.area.created"] * 2, sent_at=utcnow() - timedelta(days=2))
    rt = registry.rt
    amqp = Runtime(rt.spec, replace(rt.settings, bus=BusSettings(url="amqp://nowhere:1//")), rt.engine, rt.factory)
    assert amqp.relay().cleanup()["outbox"] == 2


def test_the_watermark_is_recorded_once_and_moved_after(make_service):
    registry = make_service("registry")
    record_drained(registry.rt.factory, 3)
    record_drained(registry.rt.factory, 7)
    with registry.rt.factory() as s:
        assert drained_up_to(s) == 7


def test_a_service_consuming_its_own_events_is_settled_without_locking_itself_out(make_service):
    """notify's webhooks take notify's own public events: its SQLite file is then producer and consumer."""
    import time

    from linli.suite import subscriptions

    subscriptions()  # the catalogue: notify.webhook.* are public keys notify.webhooks takes
    notify = make_service("notify")
    delivery = MemoryDelivery([notify.rt])
    (s1, first), (s2, second) = _rows(notify, "notify.webhook.created", "notify.webhook.updated")
    _applied(notify, "notify.webhooks", first)
    started = time.monotonic()
    assert delivery.settled_up_to(notify.rt) == s1
    _applied(notify, "notify.webhooks", second)
    assert delivery.checkpoint()["notify"] == s2
    assert time.monotonic() - started < 5, "a nested transaction on the same file waited for the busy timeout"
