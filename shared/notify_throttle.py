"""How often one process wakes the relays of other processes: at most one NOTIFY per interval.

A commit that writes outbox rows must be followed by a PostgreSQL NOTIFY, or a relay in another
process finds the rows only at its next poll. One NOTIFY per commit made the relay run one round per
request under load (~1 ms of CPU each, plus its database work), and every NOTIFY takes PostgreSQL's
global notify lock at commit. So a process lets a committing transaction carry the NOTIFY only if it
sent none within the last `interval`; a transaction committed inside that window is owed one instead,
which a background thread sends after the commit, when the window ends. A relay therefore learns of
every commit at most `interval` late, and under load runs one round per interval per web process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from linli.shared.logs import get_logger

log = get_logger(__name__)

# Long enough to batch a busy web process's commits into one relay round, short next to the relay's
# poll; what it costs in delivery latency is at most this, and only while commits come faster than it.
NOTIFY_INTERVAL_SECONDS = 0.025


class NotifyThrottle:
    def __init__(self, send: Callable[[], None], interval: float = NOTIFY_INTERVAL_SECONDS) -> None:
        self.send = send
        self.interval = interval
        self._cond = threading.Condition()
        self._last = float("-inf")
        self._owed_at: float | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def claim(self) -> bool:
        """Before a commit: whether this transaction should carry the NOTIFY itself."""
        with self._cond:
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                return True
            return False

    def owe(self) -> None:
        """After a commit that carried no NOTIFY: make sure one follows it within the interval."""
        with self._cond:
            if self._owed_at is None:
                self._owed_at = self._last + self.interval
            self._ensure_thread()
            self._cond.notify()

    def _ensure_thread(self) -> None:
        # A thread does not survive fork (gunicorn forks its workers): start one in each process.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="outbox-notify", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._owed_at is None:
                    self._cond.wait()
                delay = self._owed_at - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                self._owed_at = None
                self._last = time.monotonic()
            try:
                self.send()
            except Exception as exc:  # noqa: BLE001 - the relay's poll covers for a lost wake-up
                log.warning("outbox_notify_failed", error=str(exc)[:200])
