"""Property-based fuzzing of each service's own OpenAPI (schemathesis), in process, on SQLite.

Every documented operation gets generated requests, valid and invalid, from an operator, a district
client, an anonymous caller and one without the service's scopes. Each answer must be no 5xx, an
RFC 9457 problem for every error, and conform to what the OpenAPI documents for it. Runs are
derandomized, so CI sees the same requests every time. See tests/support/fuzz.py for the details.

This quick pass keeps the unit tests fast; tests/fuzz runs the same with many more examples.
"""

from __future__ import annotations

import pytest

from tests.support.fuzz import check_service

EXAMPLES = 6  # per operation, caller and mode at most; see callers() for the split


@pytest.mark.parametrize("service", ["registry", "tickets", "rotation", "notify"])
def test_generated_requests_get_documented_answers_and_never_a_5xx(make_service, service):
    check_service(make_service(service), service, examples=EXAMPLES)
