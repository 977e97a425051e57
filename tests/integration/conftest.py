"""Integration fixtures: a fresh PostgreSQL database per service and an isolated RabbitMQ namespace."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from linli.shared.config import BusSettings
from tests.support.apps import ServiceUnderTest, service_under_test
from tests.support.servers import Databases

pytestmark = pytest.mark.integration


@pytest.fixture
def live(databases: Databases) -> Iterator[Callable[..., ServiceUnderTest]]:
    """`live("tickets", bus)`: a service on a fresh PostgreSQL database, wired to `bus`."""
    made: list[ServiceUnderTest] = []

    def make(name: str, bus: BusSettings) -> ServiceUnderTest:
        sut = service_under_test(name, databases.fresh(name), bus)
        made.append(sut)
        return sut

    yield make
    for sut in made:
        sut.rt.dispose()


@pytest.fixture
def run_threads() -> Iterator[Callable[..., None]]:
    """Run relays/workers/clocks in threads stopped at the end of the test."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(*targets: Callable[[threading.Event], None]) -> None:
        for target in targets:
            thread = threading.Thread(target=target, args=(stop,), daemon=True)
            thread.start()
            threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=15)

