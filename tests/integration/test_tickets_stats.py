"""The rates (GET /v1/stats) on PostgreSQL: the same hand-worked figures as on SQLite (tests/support/stats_world.py),
here with percentile_cont for the medians; and migration 0008's backfill from the history gives what the moves kept."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from linli.services.tickets import api
from linli.services.tickets.models import Ticket
from tests.support import stats_world
from tests.support.stats_world import AS_OF, EXPECTED, FROM, TO, YONGCHUAN

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
