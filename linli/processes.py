"""The long-running processes of one service: relay + consumers (worker) and the clock."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from prometheus_client import start_http_server

from linli.shared.logs import get_logger
from linli.shared.service import Runtime

log = get_logger(__name__)


def declare_bus(rt: Runtime) -> bool:
    """Declare every known queue and binding at process start, so events published before a consumer
    first runs are queued, not lost. A broker that is down must not keep the process from starting:
    the relay declares the same topology again whenever it (re)connects, before it publishes.
    """
    try:
        rt.declare_topology()
    except Exception as exc:  # noqa: BLE001 - logged; the relay retries on connect
        log.warning("bus_topology_not_declared", service=rt.name, error=f"{type(exc).__name__}: {exc}")
        return False
    return True


def start_consumers(rt: Runtime, stop: threading.Event) -> list[threading.Thread]:
    """Start a service's consumers; returns once their queues are declared (or after a grace period)."""
    if not any(s.handlers for s in rt.spec.subscriptions):
        return []
    worker = rt.worker()
    thread = threading.Thread(target=worker.run, args=(stop,), name=f"{rt.name}-worker", daemon=True)
    thread.start()
    # Queues must be bound before the first publish, or kombu's memory transport drops those events.
    if not worker.ready.wait(10):
        log.warning("consumers_not_ready", service=rt.name)
    return [thread]


def start_producers(rt: Runtime, stop: threading.Event, *, clock: bool = True) -> list[threading.Thread]:
    """Start a service's outbox relay, its loops and (optionally) its clock as daemon threads."""
    threads = _start(rt, [("relay", rt.relay().run)], stop) + start_loops(rt, stop)
    return threads + (start_clock(rt, stop) if clock else [])


def start_loops(rt: Runtime, stop: threading.Event) -> list[threading.Thread]:
    """Start the long-running loops the service declares (e.g. notify's webhook dispatcher)."""
    return _start(rt, [(name, build(rt)) for name, build in rt.spec.loops.items()], stop)


def start_clock(rt: Runtime, stop: threading.Event) -> list[threading.Thread]:
    """Start a service's clock as a daemon thread, if it has timers."""
    if not rt.spec.timers:
        return []
    clock_runner = rt.clock()
    return _start(rt, [("clock", lambda s: clock_runner.run(s, rt.settings.clock_tick_seconds))], stop)


def _start(rt: Runtime, targets: list[tuple[str, Callable[[threading.Event], None]]],
           stop: threading.Event) -> list[threading.Thread]:
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


def serve_metrics() -> None:
    """Worker and clock processes have no web app: they expose /metrics on LINLI_METRICS_PORT when set."""
    port = os.environ.get("LINLI_METRICS_PORT")
    if port:
        start_http_server(int(port))
        log.info("metrics_listening", port=int(port))


def run_worker(rt: Runtime) -> None:
    serve_metrics()
    declare_bus(rt)
    stop = threading.Event()
    stop_on_signals(stop)
    threads = start_consumers(rt, stop) + start_producers(rt, stop, clock=False)
    while not stop.wait(1.0):
        pass
    for thread in threads:
        thread.join(timeout=10)


def run_clock(rt: Runtime) -> None:
    serve_metrics()
    declare_bus(rt)
    stop = threading.Event()
    stop_on_signals(stop)
    rt.clock().run(stop, rt.settings.clock_tick_seconds)
