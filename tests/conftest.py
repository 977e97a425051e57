"""Fixtures for every test: services on SQLite for unit tests; real servers come from tests/integration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.apps import ServiceUnderTest, service_under_test


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[[str], ServiceUnderTest]]:
    """`make_service("tickets")`: the service on its own SQLite file, migrated, with a test client."""
    made: list[ServiceUnderTest] = []

    def make(name: str) -> ServiceUnderTest:
        sut = service_under_test(name, f"sqlite:///{tmp_path / name}.db")
        made.append(sut)
        return sut

    yield make
    for sut in made:
        sut.rt.dispose()
