"""Fixtures of the unit tests: use cases run on a bare SQLite session, no app, no broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.orm import Session, sessionmaker

from tests.support.sessions import session_factory


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[[MetaData], sessionmaker[Session]]]:
    """`make_store(Base.metadata)`: a session factory on a fresh SQLite file holding those tables and the outbox."""
    made: list[sessionmaker[Session]] = []

    def make(metadata: MetaData) -> sessionmaker[Session]:
        factory = session_factory(metadata, tmp_path / f"store{len(made)}.db")
        made.append(factory)
        return factory

    yield make
    for factory in made:
        factory.kw["bind"].dispose()
