from __future__ import annotations

import pytest

from linli.suite import SERVICES
from tests.support.apps import make_runtime
from tests.unit.test_migrations import schema_drift


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_models_on_postgres(service, databases):
    rt = make_runtime(service, databases.fresh(service))
    assert schema_drift(rt) == []
    rt.dispose()
