"""Property-based fuzzing of each service's own OpenAPI (schemathesis), in process, on SQLite.

Every documented operation gets generated requests, valid and invalid, from an operator, a district
client, an anonymous caller and one without the service's scopes. Each answer must be no 5xx, an
RFC 9457 problem for every error, and conform to what the OpenAPI documents for it. Runs are
derandomized, so CI sees the same requests every time. See tests/support/fuzz.py for the details.

It takes minutes, so it runs after the unit tests, with the integration tests; the unit tests keep
the corpus of nasty bodies (tests/unit/test_bad_input_corpus.py) over every write operation.
"""

from __future__ import annotations

import pytest

from tests.support.fuzz import check_service

EXAMPLES = 30  # per operation, caller and mode at most


@pytest.mark.parametrize("service", ["registry", "tickets", "rotation", "notify"])
def test_many_generated_requests_get_documented_answers_and_never_a_5xx(make_service, service):
    check_service(make_service(service), service, examples=EXAMPLES)
