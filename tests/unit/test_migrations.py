"""Each service's migrations build exactly the schema its models describe (SQLite here, PostgreSQL in
tests/integration)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from linli.suite import SERVICES
from tests.support.apps import make_runtime


def schema_drift(rt) -> list:
    with rt.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, rt.spec.all_metadata)


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_models_on_sqlite(service, tmp_path):
    rt = make_runtime(service, f"sqlite:///{tmp_path / service}.db")
    assert schema_drift(rt) == []
    rt.dispose()
