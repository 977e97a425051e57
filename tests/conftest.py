"""Fixtures for every test: services on SQLite for unit tests; real servers come from tests/integration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from linli.shared.config import BusSettings
from linli.shared.logs import configure_logging
from tests.support.apps import ServiceUnderTest, service_under_test
from tests.support.servers import Databases, delete_bus, isolated_bus, postgres_server, rabbitmq_server


@pytest.fixture(scope="session", autouse=True)
def _logs_to_stderr() -> None:
    # As the processes do; structlog's default would print to stdout, where commands put their output.
    configure_logging(fmt="console")


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[[str], ServiceUnderTest]]:
    """`make_service("tickets")`: the service on its own SQLite file, migrated, with a test client."""
    made: list[ServiceUnderTest] = []

    def make(name: str, *, own_app: bool = False) -> ServiceUnderTest:
        sut = service_under_test(name, f"sqlite:///{tmp_path / name}.db", reuse_app=not own_app)
        made.append(sut)
        return sut

    yield make
    for sut in made:
        sut.release()


# Real servers, requested only by integration and end-to-end tests.
@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    with postgres_server() as url:
        dbs = Databases(url)
        yield dbs
        dbs.drop_all()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    with rabbitmq_server() as url:
        yield url


@pytest.fixture
def bus(amqp_url: str) -> Iterator[BusSettings]:
    settings = isolated_bus(amqp_url)
    yield settings
    delete_bus(settings, [settings.queue(q) for q in _KNOWN_QUEUES])


_KNOWN_QUEUES = ("tickets.read-models", "rotation.read-models", "notify.deliveries", "notify.webhooks",
                 "registry.service-credits", "test.collector", "test.flaky", "test.dupes")
