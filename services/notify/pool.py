"""What the webhook dispatcher and the SMS/email sender share: a loop that claims due work in rounds and sends
it from a thread pool, with a bound on the sends in flight per lane (an endpoint, a provider), so one slow
receiver ties up only its lane's threads.

A subclass says how to claim (`claim`, in a short transaction of its own), which lane a job is in (`lane`) and
how to send one (`send`, which records the outcome and never raises).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from linli.shared.logs import get_logger

log = get_logger(__name__)

Job = TypeVar("Job")


class LanePool(Generic[Job]):
    name = "pool"  # names its threads and log lines

    def __init__(self, threads: int, poll_seconds: float) -> None:
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: Counter[Hashable] = Counter()
        self._pool: ThreadPoolExecutor | None = None

    def claim(self, free: int, busy: dict[Hashable, int]) -> Sequence[Job]:
        raise NotImplementedError

    def lane(self, job: Job) -> Hashable:
        raise NotImplementedError

    def send(self, job: Job) -> None:
        raise NotImplementedError

    def in_flight(self) -> int:
        with self._lock:
            return sum(self._in_flight.values())

    def run(self, stop: threading.Event) -> None:
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=f"notify-{self.name}")
        try:
            while not stop.is_set():
                try:
                    started = self.round()
                except Exception:  # noqa: BLE001 - a failed round (database away) is tried again
                    log.exception(f"{self.name}_round_failed")
                    started = 0
                if not started:
                    self.wake.wait(self.poll_seconds)
                    self.wake.clear()
        finally:
            # Sends under way finish (each within its timeout); nothing new starts.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def round(self) -> int:
        """Claim what is due and hand it to the pool; returns how many sends started."""
        with self._lock:
            free = self.threads - sum(self._in_flight.values())
            busy = dict(self._in_flight)
        if free <= 0:
            return 0
        jobs = self.claim(free, busy)
        with self._lock:
            self._in_flight.update(self.lane(job) for job in jobs)
        for job in jobs:
            if self._pool is None:
                self._send_and_free(job)
            else:
                self._pool.submit(self._send_and_free, job)
        return len(jobs)

    def _send_and_free(self, job: Job) -> None:
        try:
            self.send(job)
        finally:
            lane = self.lane(job)
            with self._lock:
                self._in_flight[lane] -= 1
                if self._in_flight[lane] <= 0:
                    del self._in_flight[lane]
            self.wake.set()
