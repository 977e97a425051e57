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
# Services with many operations are fuzzed in shards, so the unit run spreads them over the cores.
SHARDS = {"registry": 4, "tickets": 2, "rotation": 1, "notify": 1}


@pytest.mark.parametrize(("service", "shard"), [(service, (i, n)) for service, n in SHARDS.items() for i in range(n)],
                         ids=lambda value: f"{value[0]}of{value[1]}" if isinstance(value, tuple) else value)
def test_generated_requests_get_documented_answers_and_never_a_5xx(make_service, service, shard):
    check_service(make_service(service), service, examples=EXAMPLES, shard=shard)
