"""A service's HTTP API asked through its Flask app in process, as one district's clerk: what the read
benchmarks (bench/registry.py, bench/tickets.py) time, with the SQL a request runs at hand for EXPLAIN."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

SECRET = "bench-secret-not-for-production-0123456789"


class ServiceApi:
    """`service` at database `url`, asked with `scope` as a caller of `district`."""

    def __init__(self, service: str, url: str, district: str, scope: str) -> None:
        from linli.shared.config import BusSettings, Settings
        from linli.shared.http.app import create_app
        from linli.shared.http.auth import issue_token
        from linli.suite import runtime

        # An in-memory bus of its own: nothing is published, and nothing of another run is consumed.
        tag = uuid.uuid4().hex[:8]
        bus = BusSettings(url="memory://", exchange=f"b{tag}.linli.events", private_exchange=f"b{tag}.linli.private",
                          dead_exchange=f"b{tag}.linli.dead", queue_prefix=f"b{tag}.")
        self.rt = runtime(service, Settings(service=service, database_url=url, bus=bus, jwt_secret=SECRET))
        self.client = create_app(self.rt).test_client()
        token = issue_token(SECRET, sub="bench", district=district, scopes=scope)
        self.headers = {"Authorization": f"Bearer {token}"}

    def ask(self, path: str, query: Mapping[str, str]) -> Any:
        response = self.client.get(path, query_string=dict(query), headers=self.headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}?{dict(query)} answered {response.status_code}: "
                             f"{response.get_data(as_text=True)[:500]}")
        return response.json

    def statements(self, path: str, query: Mapping[str, str]) -> list[tuple[str, Any]]:
        """The SQL statements (with their parameters) one request runs."""
        seen: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            seen.append((statement, parameters))

        event.listen(self.rt.engine, "before_cursor_execute", capture)
        try:
            self.ask(path, query)
        finally:
            event.remove(self.rt.engine, "before_cursor_execute", capture)
        return seen

    def close(self) -> None:
        self.rt.dispose()


@contextmanager
def service_api(service: str, url: str, district: str, scope: str) -> Iterator[ServiceApi]:
    api = ServiceApi(service, url, district, scope)
    try:
        yield api
    finally:
        api.close()


def migrate(service: str, url: str) -> None:
    """Bring a fresh database of `service` to its head revision."""
    from linli.shared.config import Settings
    from linli.shared.migrations import upgrade
    from linli.suite import runtime

    rt = runtime(service, Settings(service=service, database_url=url, jwt_secret=SECRET))
    try:
        upgrade(rt)
    finally:
        rt.dispose()
