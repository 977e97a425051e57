"""The OpenAPI fuzzing of tests/unit, with five times the examples: slower, so it runs with the integration tests.

Same callers, modes and checks (tests/support/fuzz.py); only the number of generated requests differs.
"""

from __future__ import annotations

import pytest

from tests.support.fuzz import check_service

EXAMPLES = 30  # per operation, caller and mode at most


@pytest.mark.parametrize("service", ["registry", "tickets", "rotation", "notify"])
def test_many_generated_requests_get_documented_answers_and_never_a_5xx(make_service, service):
    check_service(make_service(service), service, examples=EXAMPLES)
