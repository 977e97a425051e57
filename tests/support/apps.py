"""Build a service against a throwaway database, with a client and tokens, for tests."""

from __future__ import annotations

import functools
import sqlite3
import tempfile
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from linli.shared.config import BusSettings, Settings
from linli.shared.consumer import Event, Subscription, apply_event
from linli.shared.http.app import create_app
from linli.shared.http.auth import issue_token
from linli.shared.migrations import upgrade
from linli.shared.service import Runtime
from linli.suite import spec

SECRET = "test-secret-not-for-production-0123456789"


def memory_bus() -> BusSettings:
    # A fresh exchange and queue prefix per test: kombu's memory transport is process-wide.
    tag = uuid.uuid4().hex[:8]
    return BusSettings(url="memory://", exchange=f"t{tag}.linli.events", private_exchange=f"t{tag}.linli.private",
                       dead_exchange=f"t{tag}.linli.dead", queue_prefix=f"t{tag}.", retry_base_seconds=0.05)


def make_runtime(name: str, database_url: str, bus: BusSettings | None = None) -> Runtime:
    settings = Settings(service=name, database_url=database_url, bus=bus or memory_bus(), jwt_secret=SECRET,
                        outbox_poll_seconds=0.2, clock_tick_seconds=0.1)
    target = _sqlite_file(database_url)
    if target is not None and not target.exists():
        # Running every migration for each of hundreds of tests costs more than the tests themselves: a file
        # migrated once per process is copied instead. The migrations are tested on their own.
        _copy_database(_migrated_template(name), target)
        return Runtime.build(spec(name), settings)
    rt = Runtime.build(spec(name), settings)
    upgrade(rt)
    return rt


def _sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


@functools.cache
def _migrated_template(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"linli-{name}-template-")) / f"{name}.db"
    rt = Runtime.build(spec(name), Settings(service=name, database_url=f"sqlite:///{path}", jwt_secret=SECRET))
    upgrade(rt)
    rt.dispose()
    return path


def _copy_database(source: Path, target: Path) -> None:
    # SQLite's backup API copies what the write-ahead log holds too, which a file copy could miss.
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def token(district: str, scopes: str, sub: str = "test-client") -> str:
    return issue_token(SECRET, sub=sub, district=district, scopes=scopes)


@dataclass
class ServiceUnderTest:
    rt: Runtime
    app: Flask
    client: FlaskClient
    reusable: bool = False

    def release(self) -> None:
        """Done with: the runtime closed, the app free for another test if it may be reused."""
        self.rt.dispose()
        if self.reusable:
            _FREE_APPS.setdefault(self.rt.name, []).append(self.app)

    def as_(self, district: str, scopes: str, sub: str = "test-client") -> dict[str, str]:
        """Headers of a caller from `district` holding `scopes`."""
        return {"Authorization": f"Bearer {token(district, scopes, sub)}"}

    def deliver(self, key: str, data: dict[str, Any], *, subject: str | None = None,
                district: str | None = None, event_id: uuid.UUID | None = None) -> str:
        """Hand an event to this service's handlers as the worker would, without a broker."""
        event = Event.from_cloudevent(cloud_event(key, data, subject=subject, district=district, event_id=event_id))
        outcomes = [apply_event(self.rt.factory, sub, event) for sub in self.subscriptions_for(key)]
        return outcomes[0] if outcomes else "ignored"

    def subscriptions_for(self, key: str) -> list[Subscription]:
        return [s for s in self.rt.spec.subscriptions if s.handlers_for(key)]


def cloud_event(key: str, data: dict[str, Any], *, subject: str | None = None, district: str | None = None,
                event_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(event_id or uuid.uuid4()),
        "source": f"/linli/{key.split('.')[0]}",
        "type": f"linli.{key}",
        "time": datetime.now(UTC).isoformat(),
        "subject": subject or str(data.get("id", "")),
        "datacontenttype": "application/json",
        "data": data,
        "district": district or data.get("district_id", ""),
    }


# Apps made for earlier tests, free for the next: building one (its OpenAPI document above all) cost ~0.1 s, paid
# by hundreds of tests. A reused app is given the new test's runtime (its own database and bus), which every view
# and hook reads from app.extensions at each request.
_FREE_APPS: dict[str, list[Flask]] = {}


def service_under_test(name: str, database_url: str, bus: BusSettings | None = None, *,
                       reuse_app: bool = False) -> ServiceUnderTest:
    """The service on its database; with `reuse_app`, on an app an earlier test released if there is one (a test
    that changes the app itself, adding a route, wants its own)."""
    rt = make_runtime(name, database_url, bus)
    free = _FREE_APPS.setdefault(name, [])
    if reuse_app and free:
        app = free.pop()
        app.extensions["linli"] = rt
    else:
        app = create_app(rt, testing=True)
    return ServiceUnderTest(rt, app, app.test_client(), reusable=reuse_app)
