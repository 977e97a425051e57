"""The rates (GET /v1/stats) on PostgreSQL: the same hand-worked figures as on SQLite (tests/support/stats_world.py),
here with percentile_cont and the tallies' buckets for the medians; migration 0008's backfill from the history gives
what the moves kept; the daily tallies kept by random and by concurrent moves are what the tickets say; migration
0011 adds up the week rows from the day rows as the moves keep them."""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from linli.services.tickets import api, rates, stats, usecases
from linli.services.tickets.models import Ticket
from linli.shared.actors import Actor
from tests.support import stats_world
from tests.support.stats_world import AS_OF, EXPECTED, FROM, TO, YONGCHUAN
from tests.support.ticket_churn import churn, kept_tallies, rebuilt_tallies

MIGRATION = Path(api.__file__).parent / "migrations" / "versions" / "0008_stats.py"
KEPT = ("responded_at", "resolved_at", "dissatisfied_ratings", "lead_unit_id")


@pytest.fixture
def tickets(live, bus, monkeypatch):
    sut = live("tickets", bus)
    stats_world.build(sut.rt.factory, stats_world.ids())
    monkeypatch.setattr(api, "utcnow", lambda: AS_OF)
    return sut


@pytest.mark.parametrize("by", ["district", "street", "community", "compound", "unit"])
def test_the_figures_on_postgresql_are_those_worked_out_by_hand(tickets, by):
    r = tickets.client.get(f"/v1/stats?by={by}&from={FROM}&to={TO}", headers=tickets.as_(YONGCHUAN, "tickets:read"))
    assert r.status_code == 200, r.json
    shown = {item["name"]: {k: item[k] for k in EXPECTED[by][item["name"]]} for item in r.json["items"]}
    assert shown == EXPECTED[by]


def test_the_migration_s_backfill_finds_in_the_history_what_the_moves_kept(tickets):
    spec = importlib.util.spec_from_file_location("tickets_0008", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    columns = [getattr(Ticket, name) for name in KEPT]
    with tickets.rt.factory() as session:
        kept = {row[0]: tuple(row[1:]) for row in session.execute(select(Ticket.id, *columns))}
        session.execute(update(Ticket).values(responded_at=None, resolved_at=None, dissatisfied_ratings=0,
                                              lead_unit_id=None))
        for statement in migration._BACKFILL:
            if "overdue_at" not in statement:  # when a ticket turned overdue was never in the history
                session.execute(text(statement))
        found = {row[0]: tuple(row[1:]) for row in session.execute(select(Ticket.id, *columns))}
        session.rollback()
    assert found == kept
    assert any(values[1] is not None for values in kept.values())  # resolved ones among them


def _both(factory, **asked):
    from linli.services.tickets.stats import ticket_stats

    with factory() as session:
        fast = ticket_stats(session, stats_world.CLERK, now=AS_OF + timedelta(days=60), **asked)[1]
        slow = ticket_stats(session, stats_world.CLERK, now=AS_OF + timedelta(days=60), tallied=False, **asked)[1]
    shown = [*rates.COUNT_NAMES, *rates.RATE_NAMES, "median_hours_to_resolve"]
    return ([(g.id, {n: getattr(g, n) for n in shown}) for g in fast],
            [(g.id, {n: getattr(g, n) for n in shown}) for g in slow])


def test_random_moves_keep_the_tallies_and_the_medians_read_from_one_bucket_are_percentile_cont(tickets,
                                                                                              monkeypatch):
    class Strict:
        def warning(self, event: str, **_: object) -> None:
            raise AssertionError(event)  # the tallies disagreed with the tickets: the slow medians stood in

    monkeypatch.setattr(stats, "log", Strict())
    world = stats_world.ids()
    factory = tickets.rt.factory
    stats_world.build(factory, world)
    assert churn(factory, world, seed=11, tickets=40, steps=300) > 120
    # Resolved tickets of a compound registry told of without its community: a group whose key is NULL.
    nowhere = uuid.uuid4()
    with factory() as session:
        usecases.record_compound(session, nowhere, 1, district_id=YONGCHUAN, name="无名小区", community_id=None,
                                 kind="old")
        session.commit()
    for hours in (5, 9, 30):
        at = AS_OF + timedelta(days=3)
        with factory() as session:
            ticket = usecases.submit_ticket(session, stats_world.CLERK, compound_id=nowhere, title="灯",
                                            description="坏", category="facilities", reporter_name="王阿姨",
                                            reporter_phone="13812345678", now=at)
            for step, verb in enumerate(("accept", "start")):
                getattr(usecases, verb)(session, stats_world.CLERK, ticket.id, at + timedelta(minutes=step + 1))
            usecases.resolve(session, stats_world.CLERK, ticket.id, at + timedelta(hours=hours))
            session.commit()
    with factory() as session:
        kept = kept_tallies(session)
        assert kept == rebuilt_tallies(session)
    for by in ("district", "street", "community", "unit"):
        medians = []
        for starts, ends in ((date(2026, 3, 1), date(2026, 6, 1)),
                             (datetime(2026, 3, 22, 9, 30, tzinfo=UTC), datetime(2026, 4, 3, 17, 0, tzinfo=UTC))):
            fast, slow = _both(factory, by=by, starts=starts, ends=ends)
            assert fast == slow
            medians += [figures["median_hours_to_resolve"] for _, figures in fast]
        assert any(medians), by
    nameless = dict(_both(factory, by="community", starts=date(2026, 3, 1), ends=date(2026, 6, 1))[0])[None]
    assert nameless["resolved"] == 3 and nameless["median_hours_to_resolve"] == 9.0


def test_one_district_s_counts_and_median_in_one_pass_are_those_of_two_statements(tickets):
    """A clerk's district is one group: its filtered figures come from one statement (counts and percentile_cont
    together); an operator asking for the same district gets them from two. Both must agree."""
    from linli.services.tickets.stats import ticket_stats

    world = stats_world.ids()
    factory = tickets.rt.factory
    stats_world.build(factory, world)
    assert churn(factory, world, seed=5, tickets=40, steps=300) > 120
    operator = Actor("operator", "*", frozenset({"tickets:read"}))
    shown = [*rates.COUNT_NAMES, *rates.RATE_NAMES, "median_hours_to_resolve"]
    asked_filters = [{"unit_id": world[unit]} for unit in ("police", "school")] + [
        {"category": "facilities"}, {"compound_id": world["a"]}, {"urgency": "normal", "kind": "problem"}]
    medians = []
    with factory() as session:
        for filters in asked_filters:
            for starts, ends in ((date(2026, 3, 1), date(2026, 6, 1)),
                                 (datetime(2026, 3, 22, 9, 30, tzinfo=UTC), datetime(2026, 4, 3, 17, 0, tzinfo=UTC))):
                asked = {"by": "district", "starts": starts, "ends": ends, **filters}
                now = AS_OF + timedelta(days=60)
                [one] = ticket_stats(session, stats_world.CLERK, now=now, **asked)[1]
                [two] = ticket_stats(session, operator, now=now, district_id=YONGCHUAN, **asked)[1]
                assert {n: getattr(one, n) for n in shown} == {n: getattr(two, n) for n in shown}, filters
                medians.append(one.median_hours_to_resolve)
    assert any(m is not None for m in medians)


def test_one_unit_s_rates_are_read_from_its_index_alone(tickets):
    """One unit's figures (`unit_id=`) read every column they need from ix_tickets_lead_unit_figures: a column the
    rates come to read and the index does not include would send each of a unit's tickets to the table's pages."""
    from linli.services.tickets.stats import ticket_stats
    from tests.support.plans import plan_of, statements_sent

    world = stats_world.ids()
    stats_world.build(tickets.rt.factory, world)
    with statements_sent(tickets.rt.engine) as seen, tickets.rt.factory() as session:
        [figures] = ticket_stats(session, stats_world.CLERK, now=AS_OF, by="district", starts=date(2026, 3, 1),
                                 ends=date(2026, 6, 1), unit_id=world["police"])[1]
    assert figures.submitted > 0
    [(statement, parameters)] = [(s, p) for s, p in seen if "FROM tickets" in s]
    # A bitmap scan cannot be index-only: it is switched off too, so that a column missing would show.
    plan = plan_of(tickets.rt.engine, statement, parameters, "enable_seqscan", "enable_bitmapscan")
    assert "Index Only Scan using ix_tickets_lead_unit_figures" in plan, plan


def test_concurrent_moves_of_one_day_s_tickets_add_up(tickets):
    """Eight writers at once, each moving its own tickets of the same compound and day: every difference lands in
    the same tally row, under its lock, and none is lost."""
    world = stats_world.ids()
    factory = tickets.rt.factory
    stats_world.build(factory, world)
    clerk = stats_world.CLERK
    now = AS_OF + timedelta(hours=1)
    with factory() as session:
        ids = [usecases.submit_ticket(session, clerk, compound_id=world["a"], title=f"灯 {i}", description="坏了",
                                      category="facilities", reporter_name="王阿姨", reporter_phone="13812345678",
                                      now=now).id for i in range(40)]
        session.commit()
    failures: list[BaseException] = []

    def writer(mine: list) -> None:
        try:
            for verb in ("accept", "start", "resolve"):
                for ticket_id in mine:
                    with factory() as session:
                        getattr(usecases, verb)(session, clerk, ticket_id, now + timedelta(hours=2))
                        session.commit()
        except BaseException as failure:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(failure)

    threads = [threading.Thread(target=writer, args=(ids[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and not any(thread.is_alive() for thread in threads)
    with factory() as session:
        kept = kept_tallies(session)
        assert kept == rebuilt_tallies(session)
        day = kept[("ticket_tallies", YONGCHUAN, "day", date(2026, 3, 22), world["c1"])]
        month = kept[("ticket_tallies", YONGCHUAN, "month", date(2026, 3, 1), world["c1"])]
        resolved = rates.TALLY_NAMES.index("resolved")
        assert day[resolved] == 40 and month[resolved] == 40 + 2  # and the world's T1 and T2


@pytest.fixture
def warned(monkeypatch) -> list[str]:
    """The warnings stats logs, by event."""
    logged: list[str] = []

    class Recorder:
        def warning(self, event: str, **_: object) -> None:
            logged.append(event)

    monkeypatch.setattr(stats, "log", Recorder())
    return logged


def test_tallies_that_disagree_with_the_tickets_give_the_medians_from_every_time_not_a_500(tickets, warned):
    from linli.services.tickets.models import ticket_tallies

    factory = tickets.rt.factory
    asked = {"by": "community", "starts": date.fromisoformat(FROM), "ends": date.fromisoformat(TO)}
    right = _both(factory, **asked)[1]
    median_bucket = rates.HOURS_NAMES[rates.resolve_bucket(49 * 3600)]  # T2's, one of 星光社区's two
    with factory() as session:
        # As if a thousand resolved tickets were tallied that the table does not hold.
        session.execute(ticket_tallies.update().where(ticket_tallies.c[median_bucket] > 0)
                        .values({median_bucket: ticket_tallies.c[median_bucket] + 1000}))
        session.commit()
    fast, slow = _both(factory, **asked)
    assert fast == slow == right and warned == ["ticket_tallies_disagree"]


def test_a_drift_in_a_bucket_the_medians_do_not_read_is_found_by_the_check(tickets, warned):
    """After random moves the check finds no drift on PostgreSQL. A count off in a bucket no median reads goes unseen
    by the rates (which check only the buckets they read), and the check names that row and figure."""
    from linli.services.tickets.models import ticket_tallies
    from linli.services.tickets.tallies import check

    world = stats_world.ids()
    factory = tickets.rt.factory
    stats_world.build(factory, world)
    assert churn(factory, world, seed=11, tickets=30, steps=200) > 80
    with factory() as session:
        assert check(session) == []
    unread = rates.HOURS_NAMES[-1]  # past three years: no ticket here took that long
    key = (YONGCHUAN, "month", date(2026, 3, 1), world["c1"])
    with factory() as session:
        row = ticket_tallies.c
        assert session.execute(ticket_tallies.update().where(
            row.district_id == key[0], row.span == key[1], row.day == key[2], row.community_id == key[3])
            .values({unread: row[unread] + 1})).rowcount == 1
        session.commit()
    _both(factory, by="community", starts=date(2026, 3, 1), ends=date(2026, 4, 1))
    assert warned == []  # unseen by the rates, though it moves the middle rank of 星光社区's month
    with factory() as session:
        [drift] = check(session)
        assert (drift.table, drift.key, drift.figures) == ("ticket_tallies", key, (unread,))
        assert check(session, district_id="elsewhere") == []


def test_the_check_reads_one_snapshot_while_tickets_move(tickets):
    """Moves committing while the check counts are no drift: it reads the tickets and the rows in one snapshot."""
    from linli.services.tickets.tallies import check

    world = stats_world.ids()
    factory = tickets.rt.factory
    stats_world.build(factory, world)
    moving, failures, checks = threading.Event(), [], 0

    def mover() -> None:
        try:
            seed = 0
            while not moving.is_set():
                seed += 1
                churn(factory, world, seed=seed, tickets=4, steps=30)
        except BaseException as failure:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(failure)

    thread = threading.Thread(target=mover)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while checks < 15 and time.monotonic() < deadline:
            with factory() as session:
                assert check(session) == []
            checks += 1
    finally:
        moving.set()
        thread.join(timeout=60)
    assert not failures and not thread.is_alive() and checks >= 5
    with factory() as session:
        assert check(session) == [] and kept_tallies(session) == rebuilt_tallies(session)


def test_a_drifted_bucket_count_that_would_move_the_median_is_noticed(tickets, warned):
    """Ranks that exist yet are not the middle ones: the group's times read in its buckets are fewer or more than
    its tallies count there, so the medians come from every time, with a warning."""
    from linli.services.tickets.models import ticket_tallies

    factory = tickets.rt.factory
    community, compound = uuid.uuid4(), uuid.uuid4()
    at = AS_OF + timedelta(days=3)
    with factory() as session:
        usecases.record_compound(session, compound, 1, district_id=YONGCHUAN, name="测试小区", community_id=community,
                                 kind="old")
        session.commit()
    # Two times in bucket 14 ([5.05 h, 6.56 h)) and two in bucket 15 ([6.56 h, 8.53 h)): the median is 6.5 h.
    for hours in (5.5, 6, 7, 8):
        with factory() as session:
            ticket = usecases.submit_ticket(session, stats_world.CLERK, compound_id=compound, title="灯",
                                            description="坏", category="facilities", reporter_name="王阿姨",
                                            reporter_phone="13812345678", now=at)
            usecases.accept(session, stats_world.CLERK, ticket.id, at + timedelta(minutes=1))
            usecases.start(session, stats_world.CLERK, ticket.id, at + timedelta(minutes=2))
            usecases.resolve(session, stats_world.CLERK, ticket.id, at + timedelta(hours=hours))
            session.commit()
    assert [rates.resolve_bucket(hours * 3600) for hours in (5.5, 6, 7, 8)] == [14, 14, 15, 15]
    asked = {"by": "community", "starts": date(2026, 3, 25), "ends": date(2026, 3, 26)}
    right = dict(_both(factory, **asked)[1])[community]
    assert right["median_hours_to_resolve"] == 6.5 and not warned
    with factory() as session:
        # One time tallied in bucket 15 rather than 14: ranks 2 and 3 would be bucket 15's 1st and 2nd, 7 h and 8 h,
        # both there to read.
        session.execute(ticket_tallies.update().where(ticket_tallies.c.community_id == community).values(
            resolved_in_14=ticket_tallies.c.resolved_in_14 - 1, resolved_in_15=ticket_tallies.c.resolved_in_15 + 1))
        session.commit()
    fast, slow = _both(factory, **asked)
    assert dict(fast)[community] == dict(slow)[community] == right and warned == ["ticket_tallies_disagree"]


def test_migration_0011_adds_up_on_postgresql_the_week_rows_the_moves_keep(tickets):
    from alembic import command

    from linli.shared.migrations import alembic_config, upgrade

    world = stats_world.ids()
    factory = tickets.rt.factory
    stats_world.build(factory, world)
    assert churn(factory, world, seed=11, tickets=20, steps=120) > 40
    with factory() as session:
        kept = kept_tallies(session)
    weeks = {key for key in kept if key[2] == "week"}
    assert len(weeks) > 4  # tickets over several weeks, in both tables
    assert {key[0] for key in weeks} == {"ticket_tallies", "ticket_unit_tallies"}
    command.downgrade(alembic_config(tickets.rt), "0010")
    with factory() as session:
        assert not {key for key in kept_tallies(session) if key[2] == "week"}
    upgrade(tickets.rt)
    with factory() as session:
        assert kept_tallies(session) == kept
