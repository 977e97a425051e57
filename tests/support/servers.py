"""Real PostgreSQL and RabbitMQ for integration tests.

URLs come from LINLI_TEST_DATABASE_URL / LINLI_TEST_AMQP_URL; failing those, from
testcontainers where a Docker engine answers. Without either the tests skip, except
under CI=true, where a missing server is a failure rather than a silent pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bench.servers import Databases as ScratchDatabases
from bench.servers import delete_bus
from bench.servers import isolated_bus as scratch_bus
from linli.shared.config import BusSettings

__all__ = ["Databases", "delete_bus", "isolated_bus", "postgres_server", "rabbitmq_server"]


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


class Databases(ScratchDatabases):
    """A fresh database per request on the server, all dropped at the end."""

    def __init__(self, server_url: str) -> None:
        super().__init__(server_url, label="t")


def isolated_bus(amqp_url: str, **overrides: object) -> BusSettings:
    """Exchanges and queues of their own, so test runs sharing a broker never meet; quick retries."""
    options: dict[str, object] = {"max_attempts": 3, "retry_base_seconds": 0.05, **overrides}
    return scratch_bus(amqp_url, label="t", **options)
