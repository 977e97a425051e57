"""What every service gets from the shared app factory: tracing, health, metrics, auth edge cases."""

from __future__ import annotations

import json

import jwt
from sqlalchemy import select

from linli.shared.config import BusSettings
from linli.shared.tables import outbox
from linli.shared.tracing import trace_id
from tests.support.apps import SECRET, service_under_test

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_request_traceparent_flows_into_the_events_it_causes(make_service):
    sut = make_service("registry")
    r = sut.client.post("/v1/areas", json={"level": "district", "name": "璧山区"},
                        headers={**sut.as_("*", "registry:admin"), "traceparent": TRACE})
    assert r.status_code == 201
    assert trace_id(r.headers["traceparent"]) == trace_id(TRACE)
    assert r.headers["X-Request-Id"]
    with sut.rt.factory() as s:
        body = json.loads(s.scalar(select(outbox.c.body)))
    assert trace_id(body["traceparent"]) == trace_id(TRACE)
    assert body["traceparent"] != TRACE  # a new span of the same trace


def test_a_consumed_event_traceparent_flows_into_the_events_its_handler_emits(make_service):
    sut = make_service("notify")
    data = {"id": "8d2f6f9e-3b7e-4c53-9d59-2f0f3f1b8a11", "district_id": "d1",
            "compound_id": "5b0c3c8e-8f53-4a51-8f0a-8a0c7f7e2b11", "title": "路灯不亮", "state": "submitted",
            "due_at": "2026-11-28T00:00:00+00:00", "overdue": False, "version": 1}
    from linli.shared.consumer import Event, apply_event
    from tests.support.apps import cloud_event

    event = cloud_event("tickets.ticket.submitted", data)
    event["traceparent"] = TRACE
    for subscription in sut.subscriptions_for("tickets.ticket.submitted"):
        assert apply_event(sut.rt.factory, subscription, Event.from_cloudevent(event)) == "applied"
    with sut.rt.factory() as s:
        bodies = [json.loads(b) for b in s.scalars(select(outbox.c.body))]
    assert bodies and all(trace_id(b["traceparent"]) == trace_id(TRACE) for b in bodies)


def test_health_ready_and_metrics_need_no_token(make_service):
    sut = make_service("tickets")
    assert sut.client.get("/healthz").json == {"status": "ok", "service": "tickets"}
    assert sut.client.get("/readyz").json["checks"] == {"database": "ok", "broker": "ok"}
    sut.client.get("/v1/tickets")
    metrics = sut.client.get("/metrics").get_data(as_text=True)
    assert 'linli_http_requests_total{endpoint="/v1/tickets",method="GET",service="tickets",status="401"}' in metrics


def test_readyz_stays_ready_without_the_broker_and_reports_it(tmp_path):
    sut = service_under_test("registry", f"sqlite:///{tmp_path}/r.db",
                             BusSettings(url="amqp://guest:guest@127.0.0.1:1//"))
    # Writes still succeed through the outbox, so the web replica stays in the balancer...
    r = sut.client.get("/readyz")
    assert r.status_code == 200 and r.json["status"] == "ready" and r.json["ready_needs"] == ["database"]
    assert r.json["checks"]["database"] == "ok" and r.json["checks"]["broker"].startswith("unavailable")
    # ...while ?full=1 asks for everything, for operators and deployment checks.
    r = sut.client.get("/readyz?full=1")
    assert r.status_code == 503 and r.json["ready_needs"] == ["broker", "database"]
    sut.rt.dispose()


def test_expired_wrongly_signed_and_districtless_tokens_are_401(make_service):
    sut = make_service("registry")
    cases = {
        "expired": jwt.encode({"sub": "x", "district": "*", "scope": "registry:read", "iss": "linli", "exp": 1},
                              SECRET, algorithm="HS256"),
        "other key": jwt.encode({"sub": "x", "district": "*", "scope": "registry:read", "iss": "linli",
                                 "exp": 4102444800}, "another-secret-of-sufficient-length-123456", algorithm="HS256"),
        "no district": jwt.encode({"sub": "x", "scope": "registry:read", "iss": "linli", "exp": 4102444800},
                                  SECRET, algorithm="HS256"),
        "alg none": jwt.encode({"sub": "x", "district": "*", "scope": "registry:read", "iss": "linli",
                                "exp": 4102444800}, None, algorithm="none"),
    }
    for name, tok in cases.items():
        r = sut.client.get("/v1/areas", headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 401, name
        assert r.content_type == "application/problem+json", name
        assert "invalid_token" in r.headers["WWW-Authenticate"], name


def test_unknown_path_and_oversized_body_are_problems(make_service):
    sut = make_service("registry")
    h = sut.as_("*", "registry:admin")
    r = sut.client.get("/v1/nothing-here", headers=h)
    assert r.status_code == 404 and r.json["type"] == "/problems/not-found"
    r = sut.client.post("/v1/areas", data=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={
        **h, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.content_type == "application/problem+json"


def test_nul_characters_are_refused_naming_the_field(make_service):
    sut = make_service("registry")
    h = sut.as_("*", "registry:admin")
    r = sut.client.post("/v1/areas", json={"level": "district", "name": "a\u0000b"}, headers=h)
    assert r.status_code == 422 and r.json["errors"] == {"name": ["must not contain NUL characters"]}
    r = sut.client.get("/v1/areas?level=dis%00trict", headers=h)
    assert r.status_code == 422 and "level" in r.json["errors"]
    r = sut.client.post("/v1/areas", json={"level": "district", "name": "a\\u0000b"}, headers=h)
    assert r.status_code == 201  # an escaped backslash followed by "u0000" is ordinary text


def test_an_unreachable_database_requeues_without_spending_an_attempt(tmp_path):
    from linli.shared.consumer import Outcome, Worker
    from tests.support.apps import cloud_event, memory_bus

    sut = service_under_test("notify", f"sqlite:///{tmp_path}/n.db", memory_bus())
    worker = Worker(sut.rt.settings.bus, sut.rt.factory, sut.rt.spec.subscriptions)
    (tmp_path / "n.db").unlink()
    (tmp_path / "n.db").mkdir()  # a directory where the database file was: every connection now fails
    sut.rt.engine.dispose()
    body = json.dumps(cloud_event("tickets.ticket.submitted", {"id": "x", "district_id": "d"})).encode()
    assert worker.handle(sut.rt.spec.subscriptions[0], body, {}) == Outcome.REQUEUE


def test_inbox_claims_once_with_or_without_returning(make_service, monkeypatch):
    import sqlite3
    import uuid as _uuid

    from linli.shared.consumer import Event, Subscription, apply_events
    from tests.support.apps import cloud_event

    sut = make_service("registry")
    seen: list[str] = []
    sub = Subscription("test", "claims")
    sub.handles("registry.area.created")(lambda session, event: seen.append(event.subject))
    events = [Event.from_cloudevent(cloud_event("registry.area.created", {"id": str(_uuid.uuid4())}))
              for _ in range(3)]
    assert apply_events(sut.rt.factory, [(sub, events[0]), (sub, events[0])]) == ["applied", "duplicate"]
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))  # as on older systems: no RETURNING
    assert apply_events(sut.rt.factory, [(sub, e) for e in events]) == ["duplicate", "applied", "applied"]
    assert sorted(seen) == sorted(e.subject for e in events)


def test_request_logs_are_json_lines_with_request_id_and_trace(make_service, capsys):
    from linli.shared.logs import configure_logging

    sut = make_service("registry")
    configure_logging(fmt="json")
    try:
        capsys.readouterr()
        sut.client.get("/v1/areas", headers={**sut.as_("*", "registry:read"), "X-Request-Id": "req-42",
                                             "traceparent": TRACE})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging(fmt="console")
    request = next(line for line in lines if line["event"] == "request")
    assert request["request_id"] == "req-42" and request["service"] == "registry" and request["status"] == 200
    assert trace_id(request["traceparent"]) == trace_id(TRACE)


def test_an_unexpected_error_is_a_500_problem_without_internals(tmp_path):
    sut = service_under_test("registry", f"sqlite:///{tmp_path}/r.db")

    def boom() -> None:
        raise RuntimeError("secret connection string postgresql://admin:hunter2@db")

    sut.app.add_url_rule("/v1/boom", "boom", boom)
    r = sut.client.get("/v1/boom", headers=sut.as_("*", "registry:read"))
    assert r.status_code == 500 and r.content_type == "application/problem+json"
    assert r.json["type"] == "/problems/internal"
    assert "hunter2" not in r.get_data(as_text=True) and "RuntimeError" not in r.get_data(as_text=True)
    sut.rt.dispose()
