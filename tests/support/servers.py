"""Real PostgreSQL and RabbitMQ for integration tests.

URLs come from LINLI_TEST_DATABASE_URL / LINLI_TEST_AMQP_URL; failing those, from
testcontainers where a Docker engine answers. Without either the tests skip, except
under CI=true, where a missing server is a failure rather than a silent pass.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from linli.shared.config import BusSettings


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"integration servers are required under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means no engine
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    url = os.environ.get("LINLI_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if not _docker_answers():
        _unavailable("set LINLI_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)"
                     " or run a Docker engine")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", driver="psycopg") as pg:
        yield pg.get_connection_url()


@contextmanager
def rabbitmq_server() -> Iterator[str]:
    url = os.environ.get("LINLI_TEST_AMQP_URL")
    if url:
        yield url
        return
    if not _docker_answers():
        _unavailable("set LINLI_TEST_AMQP_URL (e.g. amqp://guest:guest@127.0.0.1:5672//) or run a Docker engine")
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13") as rabbit:
        # The container has no URL helper; build one from its parameters.
        host, port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(rabbit.port)
        yield f"amqp://{rabbit.username}:{rabbit.password}@{host}:{port}/{rabbit.vhost.lstrip('/')}"


class Databases:
    """Creates a fresh database per request on the server and drops them all at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def fresh(self, label: str) -> str:
        name = f"linli_t_{label}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def isolated_bus(amqp_url: str, **overrides: object) -> BusSettings:
    """Exchanges and queues of their own, so test runs sharing a broker never meet."""
    tag = uuid.uuid4().hex[:10]
    options: dict[str, object] = {
        "url": amqp_url,
        "exchange": f"t{tag}.linli.events",
        "private_exchange": f"t{tag}.linli.private",
        "dead_exchange": f"t{tag}.linli.dead",
        "queue_prefix": f"t{tag}.",
        "max_attempts": 3,
        "retry_base_seconds": 0.05,
    }
    options.update(overrides)
    return BusSettings(**options)  # type: ignore[arg-type]


def delete_bus(bus: BusSettings, queues: list[str]) -> None:
    import kombu

    from linli.shared.bus import retry_delays_ms, retry_queue_name, unrouted_name

    with kombu.Connection(bus.url) as conn:
        channel = conn.channel()
        names = [unrouted_name(bus)]
        # Processes started with the default retry settings make the default steps' queues.
        steps = dict.fromkeys([*retry_delays_ms(bus), *retry_delays_ms(BusSettings())])
        for queue in queues:
            names += [queue, f"{queue}.dead", *(retry_queue_name(queue, ms) for ms in steps)]
        for name in names:
            try:
                channel.queue_delete(name)
            except Exception:  # noqa: BLE001 - already gone is fine
                channel = conn.channel()
        for exchange in (bus.exchange, bus.private_exchange, bus.dead_exchange, f"{bus.queue_prefix}linli.requeue",
                         unrouted_name(bus)):
            try:
                channel.exchange_delete(exchange)
            except Exception:  # noqa: BLE001
                channel = conn.channel()
