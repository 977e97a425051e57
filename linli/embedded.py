"""The embedded mode: all four services in one process, SQLite files, kombu's in-memory bus.

Same code as the distributed mode, other wiring: the services are mounted under their
prefixes on one WSGI server, and each one's relay, consumers and clock run as threads.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from linli.home import home_app
from linli.processes import declare_bus, start_consumers, start_producers
from linli.shared.http.app import create_app
from linli.shared.http.auth import issue_token
from linli.shared.logs import get_logger
from linli.shared.migrations import upgrade
from linli.shared.service import Runtime
from linli.suite import SERVICES, runtime

log = get_logger(__name__)

OPERATOR_SCOPES = " ".join(f"{name}:admin" for name in SERVICES) + " tickets:pii"


@dataclass
class Suite:
    runtimes: dict[str, Runtime]
    apps: dict[str, Flask]
    wsgi: Any
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def operator_token(self, ttl_seconds: int = 30 * 24 * 3600) -> str:
        secret = self.runtimes["registry"].settings.jwt_secret
        return issue_token(secret, sub="operator", district="*", scopes=OPERATOR_SCOPES, ttl_seconds=ttl_seconds)

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        for rt in self.runtimes.values():
            rt.dispose()


def start(data_dir: str | Path, *, demo: bool = True) -> Suite:
    """Migrate, wire and start the four services; returns the WSGI app serving them all."""
    os.environ["LINLI_DATA_DIR"] = str(Path(data_dir).resolve())
    runtimes = {name: runtime(name) for name in SERVICES}
    for rt in runtimes.values():
        upgrade(rt)
    apps = {name: create_app(rt) for name, rt in runtimes.items()}
    mounts = {f"/{name}": app for name, app in apps.items()}
    suite = Suite(runtimes, apps, DispatcherMiddleware(home_app(list(SERVICES)), mounts))
    # Each runtime knows every service's queues; declaring them once covers the whole suite.
    declare_bus(runtimes[SERVICES[0]])
    for rt in runtimes.values():
        suite.threads += start_consumers(rt, suite.stop)
    for rt in runtimes.values():
        suite.threads += start_producers(rt, suite.stop)
    if demo:
        from linli.demo import load_demo

        load_demo(suite)
    return suite


def serve(*, host: str, port: int, data_dir: str, demo: bool) -> None:
    suite = start(data_dir, demo=demo)
    server = make_server(host, port, suite.wsgi, threaded=True)
    # The apps log every request themselves, with request id and trace; werkzeug's line would repeat it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def on_signal(signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    base = f"http://{host}:{port}"
    print(f"linli 邻里 is running at {base}  (data in {os.environ['LINLI_DATA_DIR']})", flush=True)
    for name in SERVICES:
        print(f"  {name:<9} {base}/{name}/docs", flush=True)
    print(f"operator token (district *, all scopes):\nLINLI_TOKEN={suite.operator_token()}", flush=True)
    print(f'try: curl -H "Authorization: Bearer $LINLI_TOKEN" {base}/tickets/v1/tickets', flush=True)
    try:
        server.serve_forever()
    finally:
        suite.shutdown()
