"""The embedded mode: all four services in one process, SQLite files, kombu's in-memory bus.

Same code as the distributed mode, other wiring: the services are mounted under their
prefixes on one WSGI server, and each one's relay, consumers and clock run as threads.
The in-memory bus forgets everything when the process stops; what makes a stop lose no
event is in `linli.shared.memory_delivery`, and the order of `Suite.shutdown`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from linli.home import home_app
from linli.processes import declare_bus, start_clock, start_consumers, start_producers
from linli.shared.config import data_dir as default_data_dir
from linli.shared.config import embedded_jwt_secret
from linli.shared.http.app import create_app
from linli.shared.http.auth import issue_token
from linli.shared.logs import get_logger
from linli.shared.memory_delivery import MemoryDelivery
from linli.shared.migrations import upgrade
from linli.shared.service import Runtime
from linli.suite import SERVICES, runtime, scopes

log = get_logger(__name__)

# A working day: long enough to try the suite, short enough that a token copied out of a terminal expires.
OPERATOR_TOKEN_TTL = 8 * 3600
# How long a clean stop waits for the consumers to apply what the relays already sent; within the 10 s
# `docker stop` grants. What is not applied by then is sent again at the next start, not lost.
DRAIN_SECONDS = float(os.environ.get("LINLI_DRAIN_SECONDS", "8"))


def operator_scopes() -> str:
    """Every scope the services declare: the embedded mode's operator may do anything."""
    return " ".join(scopes())


@dataclass
class Stage:
    """Threads of one kind (consumers, relays, clocks), stopped together."""

    name: str
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def halt(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=timeout)
            if thread.is_alive():
                log.warning("thread_did_not_stop", stage=self.name, thread=thread.name)


@dataclass
class Suite:
    runtimes: dict[str, Runtime]
    apps: dict[str, Flask]
    wsgi: Any
    consumers: Stage = field(default_factory=lambda: Stage("consumers"))
    relays: Stage = field(default_factory=lambda: Stage("relays"))
    clocks: Stage = field(default_factory=lambda: Stage("clocks"))
    checkpoints: Stage = field(default_factory=lambda: Stage("checkpoints"))
    memory: MemoryDelivery | None = None

    def operator_token(self, ttl_seconds: int = OPERATOR_TOKEN_TTL) -> str:
        secret = self.runtimes["registry"].settings.jwt_secret
        return issue_token(secret, sub="operator", district="*", scopes=operator_scopes(), ttl_seconds=ttl_seconds)

    def shutdown(self) -> None:
        """Stop after the HTTP server did: nothing new is produced, then what was sent is applied."""
        self.clocks.halt()
        self.relays.halt()
        self.checkpoints.halt()
        drained = self.memory.drain(DRAIN_SECONDS) if self.memory is not None else True
        self.consumers.halt()
        if self.memory is not None:
            # Recorded after the consumers stopped: the watermark covers all they applied, and only that.
            marks = self.memory.checkpoint()
            log.info("memory_bus_drained" if drained else "memory_bus_partly_drained", watermarks=marks)
        for rt in self.runtimes.values():
            rt.dispose()


def start(data_dir: str | Path | None = None, *, demo: bool = True) -> Suite:
    """Migrate, wire and start the four services; returns the WSGI app serving them all."""
    folder = Path(data_dir).resolve() if data_dir else default_data_dir()
    os.environ["LINLI_DATA_DIR"] = str(folder)
    secret = embedded_jwt_secret(folder)
    runtimes = {name: runtime(name, jwt_secret=secret) for name in SERVICES}
    for rt in runtimes.values():
        upgrade(rt)
    apps = {name: create_app(rt) for name, rt in runtimes.items()}
    mounts = {f"/{name}": app for name, app in apps.items()}
    suite = Suite(runtimes, apps, DispatcherMiddleware(home_app(list(SERVICES)), mounts))
    # Each runtime knows every service's queues; declaring them once covers the whole suite.
    declare_bus(runtimes[SERVICES[0]])
    if all(rt.settings.bus.is_memory for rt in runtimes.values()):
        suite.memory = MemoryDelivery(list(runtimes.values()))
        # Before any relay runs: what the last run sent but may not have applied goes out again.
        suite.memory.republish_undrained()
    for rt in runtimes.values():
        suite.consumers.threads += start_consumers(rt, suite.consumers.stop)
    for rt in runtimes.values():
        suite.relays.threads += start_producers(rt, suite.relays.stop, clock=False)
        suite.clocks.threads += start_clock(rt, suite.clocks.stop)
    if suite.memory is not None:
        thread = threading.Thread(target=suite.memory.run_checkpoints, args=(suite.checkpoints.stop,),
                                  name="memory-bus-checkpoints", daemon=True)
        thread.start()
        suite.checkpoints.threads.append(thread)
    if demo:
        from linli.demo import load_demo

        load_demo(suite)
        # The demo went through the apps in this thread; their request context must not tag later log lines.
        structlog.contextvars.clear_contextvars()
    return suite


def serve(*, host: str, port: int, data_dir: str | None, demo: bool) -> None:
    suite = start(data_dir, demo=demo)
    server = make_server(host, port, suite.wsgi, threaded=True)
    # The apps log every request themselves, with request id and trace; werkzeug's line would repeat it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    base = f"http://{host}:{port}"
    print(f"linli 邻里 is running at {base}  (data in {os.environ['LINLI_DATA_DIR']})", flush=True)
    for name in SERVICES:
        print(f"  {name:<9} {base}/{name}/docs", flush=True)
    hours = OPERATOR_TOKEN_TTL // 3600
    print(f"operator token (district *, all scopes, valid {hours} h; `linli token create` makes others):\n"
          f"LINLI_TOKEN={suite.operator_token()}", flush=True)
    print(f'try: curl -H "Authorization: Bearer $LINLI_TOKEN" {base}/tickets/v1/tickets', flush=True)
    try:
        server.serve_forever()
    finally:
        # HTTP first (serve_forever returned: no new request), then clocks, relays, and the consumers drain.
        server.server_close()
        suite.shutdown()
