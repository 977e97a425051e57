"""A service and its real PostgreSQL: racing editors, and the database cut off or frozen behind a proxy."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from tests.support.apps import ServiceUnderTest, memory_bus, service_under_test
from tests.support.proxy import TcpProxy
from tests.support.races import at_once
from tests.support.servers import Databases
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

OPERATOR = ("*", "registry:admin")
# Small limits, so the test sees them work in seconds; the defaults are in shared/db_timeouts.py.
CONNECT_TIMEOUT, STATEMENT_TIMEOUT, ANSWER_GRACE = 2, 1, 1


def test_eight_racing_patches_with_one_if_match_let_exactly_one_win_on_postgresql(databases: Databases):
    sut = service_under_test("registry", databases.fresh("race"), memory_bus())
    try:
        op = sut.as_(*OPERATOR)
        created = sut.client.post("/v1/areas", json={"level": "district", "name": "永川区"}, headers=op)
        area, tag = created.json["id"], created.headers["ETag"]
        names = iter(f"永川区{i}" for i in range(8))

        def patch() -> int:
            r = sut.app.test_client().patch(f"/v1/areas/{area}", json={"name": next(names)},
                                            headers={**op, "If-Match": tag})
            return r.status_code

        assert Counter(at_once(8, patch)) == {200: 1, 412: 7}
        assert sut.client.get(f"/v1/areas/{area}", headers=op).headers["ETag"] == '"2"'
    finally:
        sut.rt.dispose()


@pytest.fixture
def behind_proxy(databases: Databases, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServiceUnderTest, TcpProxy]]:
    monkeypatch.setenv("LINLI_DB_CONNECT_TIMEOUT", str(CONNECT_TIMEOUT))
    monkeypatch.setenv("LINLI_DB_STATEMENT_TIMEOUT", str(STATEMENT_TIMEOUT))
    monkeypatch.setenv("LINLI_DB_ANSWER_GRACE", str(ANSWER_GRACE))
    url = make_url(databases.fresh("outage"))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    sut = service_under_test("registry", through, memory_bus())
    yield sut, proxy
    proxy.close()
    sut.rt.dispose()


def _timed(send: object) -> tuple[object, float]:
    started = time.monotonic()
    result = send()  # type: ignore[operator]
    return result, time.monotonic() - started


def _assert_unavailable(response: object) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.json["type"] == "/problems/service-unavailable"  # type: ignore[attr-defined]
    assert int(response.headers["Retry-After"]) > 0  # type: ignore[attr-defined]


def _scenario(sut: ServiceUnderTest, proxy: TcpProxy, break_line: str, limit: float) -> None:
    op = sut.as_(*OPERATOR)
    area = sut.client.post("/v1/areas", json={"level": "district", "name": "璧山区"}, headers=op).json["id"]
    assert urlsplit(str(sut.rt.engine.url)).port == proxy.port
    getattr(proxy, break_line)()
    calls = {
        "read": lambda: sut.client.get(f"/v1/areas/{area}", headers=op),
        "write": lambda: sut.client.post("/v1/areas", json={"level": "district", "name": "铜梁区"}, headers=op),
        "edit": lambda: sut.client.patch(f"/v1/areas/{area}", json={"name": "新名"}, headers=op),
    }
    for label, call in calls.items():
        response, elapsed = _timed(call)
        _assert_unavailable(response)
        assert elapsed < limit, f"{break_line}: the {label} took {elapsed:.1f}s"
    ready, elapsed = _timed(lambda: sut.client.get("/readyz"))
    assert ready.status_code == 503 and ready.json["checks"]["database"].startswith("unavailable")
    assert elapsed < limit
    proxy.restore()
    wait_for(lambda: sut.client.get(f"/v1/areas/{area}", headers=op).status_code == 200, timeout=15,
             message="the service to read again once the database is back")
    assert sut.client.get(f"/v1/areas/{area}", headers=op).json["name"] == "璧山区"  # the edit was not applied


def test_a_database_cut_off_answers_503_with_retry_after_at_once(behind_proxy):
    sut, proxy = behind_proxy
    _scenario(sut, proxy, "cut", limit=1.5)


def test_a_frozen_database_answers_503_within_the_timeouts(behind_proxy):
    sut, proxy = behind_proxy
    # A pooled connection's ping waits for an answer, then a new connection waits to be let in.
    _scenario(sut, proxy, "freeze", limit=STATEMENT_TIMEOUT + ANSWER_GRACE + CONNECT_TIMEOUT + 1.5)
