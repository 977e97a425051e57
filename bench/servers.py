"""Scratch space on the real servers a benchmark runs against: fresh databases, an isolated bus namespace.

The benchmarks run without the test dependencies installed (no pytest, no testcontainers), so they
keep these few helpers of their own rather than importing the test support.
"""

from __future__ import annotations

import os
import uuid

import kombu
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from linli.shared.config import BusSettings

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def amqp_url() -> str:
    return os.environ.get("LINLI_BENCH_AMQP_URL", DEFAULT_AMQP_URL)


def database_url() -> str:
    return os.environ.get("LINLI_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


class Databases:
    """Creates fresh databases on one server and drops them all at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def fresh(self, label: str) -> str:
        name = f"linli_b_{label}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def isolated_bus(url: str, **overrides: object) -> BusSettings:
    """Exchanges and queues under a prefix of their own, so a run never meets a deployment or a test."""
    tag = uuid.uuid4().hex[:10]
    options: dict[str, object] = {
        "url": url,
        "exchange": f"b{tag}.linli.events",
        "private_exchange": f"b{tag}.linli.private",
        "dead_exchange": f"b{tag}.linli.dead",
        "queue_prefix": f"b{tag}.",
    }
    options.update(overrides)
    return BusSettings(**options)  # type: ignore[arg-type]


def bus_environment(bus: BusSettings) -> dict[str, str]:
    """The variables that point a `linli` process at `bus`."""
    return {
        "LINLI_BROKER_URL": bus.url,
        "LINLI_EXCHANGE": bus.exchange,
        "LINLI_PRIVATE_EXCHANGE": bus.private_exchange,
        "LINLI_DEAD_EXCHANGE": bus.dead_exchange,
        "LINLI_QUEUE_PREFIX": bus.queue_prefix,
    }


def delete_bus(bus: BusSettings, queues: list[str]) -> None:
    with kombu.Connection(bus.url) as conn:
        channel = conn.channel()
        for queue in queues:
            for name in (queue, f"{queue}.retry", f"{queue}.dead"):
                try:
                    channel.queue_delete(name)
                except Exception:  # noqa: BLE001 - already gone is fine
                    channel = conn.channel()
        for exchange in (bus.exchange, bus.private_exchange, bus.dead_exchange, f"{bus.queue_prefix}linli.requeue"):
            try:
                channel.exchange_delete(exchange)
            except Exception:  # noqa: BLE001
                channel = conn.channel()
