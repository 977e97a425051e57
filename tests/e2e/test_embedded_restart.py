"""The embedded mode loses no event across a stop and a restart, clean (SIGTERM) or not (kill -9).

Twelve writers create compounds in registry and `linli run` is stopped under them (once a few hundred
went through: about three seconds here); after the
restart, tickets' read model must catch up with every compound registry committed.
"""

from __future__ import annotations

import threading
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


def _write_compounds_until_stopped(suite: EmbeddedProcess, community: str, *, kill: bool) -> int:
    """Writers create compounds concurrently; the process is stopped under them. Returns how many got a 201."""
    created = [0] * WRITERS
    stop = threading.Event()

    def writer(i: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            status, _ = call("POST", f"{suite.base}/registry/v1/areas", suite.token,
                             {"level": "compound", "name": f"小区 {i}-{n}", "kind": "old", "parent_id": community})
            if status == 201:
                created[i] += 1
            elif status == 0:  # the server is gone
                return

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    # The stop must land in the middle of the traffic, with events on their way.
    wait_for(lambda: sum(created) >= MIN_WRITES, timeout=60, interval=0.05, message=f"{MIN_WRITES} compounds")
    suite.stop(kill=kill)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    return sum(created)


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "kill-9"])
def test_every_committed_compound_reaches_tickets_after_a_restart(tmp_path: Path, kill: bool):
    suite = EmbeddedProcess(tmp_path / "data").start()
    community = _community(suite)
    acknowledged = _write_compounds_until_stopped(suite, community, kill=kill)
    assert acknowledged > 0

    suite.start()
    try:
        registry = suite.count("/registry/v1/areas?level=compound")
        assert registry >= acknowledged  # a 201 means committed
        wait_for(lambda: suite.count("/tickets/v1/compounds") == registry, timeout=90, interval=0.5,
                 message=f"tickets to know all {registry} compounds")
    finally:
        suite.stop()
