"""The embedded mode loses no event across a stop and a restart, clean (SIGTERM) or not (kill -9).

Twelve writers create compounds in registry and `linli run` is stopped under them (once a few hundred
went through: about three seconds here); after the
restart, tickets' read model must catch up with every compound registry committed.
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.embedded import EmbeddedProcess
from tests.support.http import call
from tests.support.waiting import wait_for

WRITERS = 12
MIN_WRITES = 300


def _community(suite: EmbeddedProcess) -> str:
    parent = None
    for level, name in (("district", "永川区"), ("street", "中山路街道"), ("community", "星光社区")):
        status, area = suite.call("POST", "/registry/v1/areas", {"level": level, "name": name, "parent_id": parent})
        assert status == 201, area
        parent = area["id"]
    return parent


def _drained(data_dir: Path, service: str) -> tuple[int, int]:
    """(the recorded drain watermark, the last outbox row sent) of a stopped service's database."""
    with closing(sqlite3.connect(data_dir / f"{service}.db")) as db:
        mark = db.execute("SELECT up_to_seq FROM outbox_drained").fetchone()
        sent = db.execute("SELECT max(seq) FROM outbox WHERE sent_at IS NOT NULL").fetchone()
    return (mark[0] if mark else 0), (sent[0] or 0)


def _write_compounds_until_stopped(suite: EmbeddedProcess, community: str, *, kill: bool) -> int:
    """Writers create compounds concurrently; the process is stopped under them. Returns how many got a 201."""
    created = [0] * WRITERS
    stop = threading.Event()

    def writer(i: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                status, _ = call("POST", f"{suite.base}/registry/v1/areas", suite.token,
                                 {"level": "compound", "name": f"小区 {i}-{n}", "kind": "old", "parent_id": community})
            except (OSError, http.client.HTTPException):  # a connection cut mid-answer: the process was killed
                return
            if status == 201:
                created[i] += 1
            elif status == 0:  # the server is gone
                return

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    # The stop must land in the middle of the traffic, with events on their way.
    wait_for(lambda: sum(created) >= MIN_WRITES, timeout=60, interval=0.05, message=f"{MIN_WRITES} compounds")
    code = suite.stop(kill=kill)
    stop.set()
    assert code == (-9 if kill else 0)
    for thread in threads:
        thread.join(timeout=15)
    return sum(created)


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "kill-9"])
def test_every_committed_compound_reaches_tickets_after_a_restart(tmp_path: Path, kill: bool):
    suite = EmbeddedProcess(tmp_path / "data").start()
    community = _community(suite)
    acknowledged = _write_compounds_until_stopped(suite, community, kill=kill)
    assert acknowledged > 0
    if not kill:
        # A clean stop drains the consumers: all that was sent is applied, and the watermark says so.
        mark, sent = _drained(suite.data_dir, "registry")
        assert mark == sent > 0

    suite.start()
    try:
        registry = suite.count("/registry/v1/areas?level=compound")
        assert registry >= acknowledged  # a 201 means committed
        wait_for(lambda: suite.count("/tickets/v1/compounds") == registry, timeout=90, interval=0.5,
                 message=f"tickets to know all {registry} compounds")
    finally:
        suite.stop()
