"""The long-running processes of one service: relay + consumers (worker) and the clock."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from shared.logs import get_logger
from shared.service import Runtime

log = get_logger(__name__)


def background_threads(rt: Runtime, stop: threading.Event, *, clock: bool = True) -> list[threading.Thread]:
    """Start the relay, the consumers and (optionally) the clock of a service as daemon threads."""
    targets: list[tuple[str, Callable[[threading.Event], None]]] = [
        ("relay", rt.relay().run),
    ]
    if any(s.handlers for s in rt.spec.subscriptions):
        targets.append(("worker", rt.worker().run))
    if clock and rt.spec.timers:
        clock_runner = rt.clock()
        targets.append(("clock", lambda s: clock_runner.run(s, rt.settings.clock_tick_seconds)))
    threads = []
    for role, target in targets:
        thread = threading.Thread(target=target, args=(stop,), name=f"{rt.name}-{role}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_worker(rt: Runtime) -> None:
    stop = threading.Event()
    stop_on_signals(stop)
    threads = background_threads(rt, stop, clock=False)
    while not stop.wait(1.0):
        pass
    for thread in threads:
        thread.join(timeout=10)


def run_clock(rt: Runtime) -> None:
    stop = threading.Event()
    stop_on_signals(stop)
    rt.clock().run(stop, rt.settings.clock_tick_seconds)
