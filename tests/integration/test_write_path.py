"""The write path on PostgreSQL: what one request costs the database, and that the cuts keep their promises."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from linli.shared.clock import schedule
from linli.shared.db import transaction, utcnow
from linli.shared.outbox import NOTIFY_CHANNEL, emit
from linli.shared.tables import outbox, timers
from tests.integration.test_delivery import THING_CHANGED
from tests.support.apps import memory_bus, service_under_test
from tests.support.proxy import TcpProxy
from tests.support.waiting import wait_for

DISTRICT = "d-write-path"
WRITER = "tickets:write"


def _with_compound(sut) -> str:
    compound = str(uuid.uuid4())
    sut.deliver("registry.area.created", {"id": compound, "district_id": DISTRICT, "parent_id": str(uuid.uuid4()),
                                          "level": "compound", "name": "星光小区", "kind": "old", "version": 1})
    return compound


def _ticket(compound: str) -> dict:
    return {"compound_id": compound, "title": "楼道灯不亮", "description": "三楼到五楼", "category": "facilities",
            "reporter_name": "王秀英", "reporter_phone": "13812345678"}


def test_submitting_a_ticket_costs_four_statements_and_no_ping(live):
    sut = live("tickets", memory_bus())
    compound = _with_compound(sut)
    headers = sut.as_(DISTRICT, WRITER)
    assert sut.client.post("/v1/tickets", json=_ticket(compound), headers=headers).status_code == 201

    statements: list[str] = []
    pings: list[object] = []
    request_thread = threading.get_ident()

    def record(*args) -> None:
        if threading.get_ident() == request_thread:  # not the worker threads of other tests' relays
            statements.append(args[2].split()[0:3])

    event.listen(sut.rt.engine, "before_cursor_execute", record)
    real_ping = sut.rt.engine.dialect.do_ping
    sut.rt.engine.dialect.do_ping = lambda conn: pings.append(conn) or real_ping(conn)  # type: ignore[method-assign]
    # A pooled connection this time, which is where a pre-ping would cost its round trip.
    assert sut.client.post("/v1/tickets", json=_ticket(compound), headers=headers).status_code == 201

    # The compound with the district's deadlines for the category and its latest tickets of the category, which the
    # new one may duplicate (one SELECT, bounded), the ticket, its timer (one upsert) and its events, public and
    # private (one INSERT, which also NOTIFYs); then COMMIT.
    assert [s[0] for s in statements] == ["SELECT", "INSERT", "INSERT", "INSERT"], statements
    assert [statements[0][1]] + [s[2] for s in statements[1:]] == [
        "compounds.district_id,", "tickets", "timers", "outbox"], statements
    assert pings == []


def test_after_the_database_dropped_every_connection_one_request_fails_then_writes_resume(databases):
    url = make_url(databases.fresh("tickets"))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        sut = service_under_test("tickets", url.set(host="127.0.0.1", port=proxy.port)
                                 .render_as_string(hide_password=False))
        compound = _with_compound(sut)
        headers = sut.as_(DISTRICT, WRITER)
        # Several idle connections in the pool, all of which the cut below kills.
        held = [sut.rt.engine.connect() for _ in range(3)]
        for conn in held:
            conn.close()
        assert sut.client.post("/v1/tickets", json=_ticket(compound), headers=headers).status_code == 201

        proxy.cut()  # what a database restart does to open connections
        proxy.restore()
        statuses = [sut.client.post("/v1/tickets", json=_ticket(compound), headers=headers).status_code
                    for _ in range(5)]
        # The first use of a dead connection fails; SQLAlchemy then invalidates the whole pool.
        assert statuses[1:] == [201] * 4, statuses
        assert statuses[0] in (201, 500, 503), statuses
        sut.rt.dispose()
    finally:
        proxy.close()


@pytest.fixture
def listener(databases):
    """A connection LISTENing on the outbox channel, as a relay in another process does."""
    url = databases.fresh("registry")
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
    yield url, conn
    conn.close()


def _notified(conn: psycopg.Connection, timeout: float) -> int:
    return len(list(conn.notifies(timeout=timeout)))


def test_a_committed_outbox_row_wakes_a_relay_in_another_process_and_a_rollback_does_not(listener):
    url, conn = listener
    sut = service_under_test("registry", url)
    with sut.rt.factory() as s:
        emit(s, THING_CHANGED, subject="a", data={"aggregate": "a", "n": 0}, district="d")
        s.flush()
        s.rollback()
    assert _notified(conn, 0.3) == 0

    with transaction(sut.rt.factory) as s:
        for n in range(3):
            emit(s, THING_CHANGED, subject="a", data={"aggregate": "a", "n": n}, district="d")
    # One wake-up for the transaction, however many events it holds.
    assert wait_for(lambda: _notified(conn, 0.2), message="a notification") == 1
    sut.rt.dispose()


def test_a_transaction_of_more_events_than_one_outbox_insert_takes_keeps_them_all_in_emit_order(listener):
    url, conn = listener
    sut = service_under_test("registry", url)
    with transaction(sut.rt.factory) as s:
        emitted = [emit(s, THING_CHANGED, subject="a", data={"aggregate": "a", "n": n}, district="d")["id"]
                   for n in range(1201)]  # three INSERTs of at most 500 rows
    with sut.rt.factory() as s:
        assert [str(i) for i in s.scalars(select(outbox.c.event_id).order_by(outbox.c.seq))] == emitted
    assert wait_for(lambda: _notified(conn, 0.2), message="a notification") == 1
    sut.rt.dispose()


def test_concurrent_reschedules_of_one_subject_leave_one_armed_timer(live):
    sut = live("tickets", memory_bus())
    due = utcnow() + timedelta(hours=1)
    errors: list[BaseException] = []

    def reschedule(n: int) -> None:
        try:
            for i in range(20):
                with transaction(sut.rt.factory) as s:
                    schedule(s, "test.due", "subject-1", due + timedelta(minutes=n * 100 + i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reschedule, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with sut.rt.factory() as s:
        rows = s.execute(select(timers).where(timers.c.subject_id == "subject-1")).all()
    assert len(rows) == 1 and rows[0].fired_at is None

