"""If-Match holds under concurrency on SQLite: of editors racing with one ETag, exactly one wins."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.races import at_once


def test_eight_racing_patches_with_one_if_match_let_exactly_one_win(make_service):
    sut = make_service("registry")
    op = sut.as_("*", "registry:admin")
    created = sut.client.post("/v1/areas", json={"level": "district", "name": "永川区"}, headers=op)
    area, tag = created.json["id"], created.headers["ETag"]
    names = iter(f"永川区{i}" for i in range(8))

    def patch() -> tuple[int, str]:
        client = sut.app.test_client()  # one client per thread, as separate callers would have
        r = client.patch(f"/v1/areas/{area}", json={"name": next(names)}, headers={**op, "If-Match": tag})
        return r.status_code, r.json["type"] if r.status_code >= 400 else r.headers["ETag"]

    results = at_once(8, patch)
    assert Counter(status for status, _ in results) == {200: 1, 412: 7}, results
    assert {kind for status, kind in results if status == 412} == {"/problems/precondition-failed"}
    winner = next(kind for status, kind in results if status == 200)
    now = sut.client.get(f"/v1/areas/{area}", headers=op)
    assert now.headers["ETag"] == winner == '"2"'


def test_a_write_whose_version_check_failed_is_412_with_if_match_else_409(make_service):
    """SQLAlchemy raises StaleDataError when the UPDATE's `WHERE version = :read` matched no row."""
    from sqlalchemy.orm.exc import StaleDataError

    sut = make_service("registry", own_app=True)  # it adds a route
    op = sut.as_("*", "registry:admin")

    def lost_race() -> str:
        raise StaleDataError("UPDATE statement on table 'areas' expected to update 1 row(s); 0 were matched.")

    sut.app.add_url_rule("/v1/race", "race", lost_race, methods=["POST"])
    r = sut.client.post("/v1/race", headers={**op, "If-Match": '"1"'}, json={})
    assert r.status_code == 412 and r.json["type"] == "/problems/precondition-failed"
    r = sut.client.post("/v1/race", headers=op, json={})
    assert r.status_code == 409 and r.json["type"] == "/problems/conflict"


def test_a_sqlite_transaction_takes_the_write_lock_at_its_first_statement(tmp_path):
    """pysqlite would begin lazily (at the first write); a read-then-write must hold the lock from the read."""
    import sqlite3

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from linli.shared.db import make_engine

    path = tmp_path / "lock.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            probe = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    probe.execute("BEGIN IMMEDIATE")
                session.commit()
                probe.execute("BEGIN IMMEDIATE")  # free again once the first one committed
                probe.execute("COMMIT")
            finally:
                probe.close()
    finally:
        engine.dispose()
