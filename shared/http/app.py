"""The Flask app factory every service uses: OpenAPI, problems, auth, unit of work, health, metrics."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import kombu
import structlog
from flask import Flask, Response, current_app, g, request, send_from_directory
from flask_smorest import Api
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from linli.shared.db import CONNECTION_ERRORS, ping
from linli.shared.errors import DomainError
from linli.shared.http import uow
from linli.shared.http.auth import check_scope, is_public
from linli.shared.http.conditional import not_modified_if_cached
from linli.shared.http.cors import enable_cors
from linli.shared.http.guards import check_input
from linli.shared.http.openapi import SuiteConventionsPlugin, register_problem_responses
from linli.shared.http.operations import current_operation
from linli.shared.http.problem_pages import problem_page
from linli.shared.http.problems import (
    ProblemError,
    ProblemSchema,
    flatten_messages,
    from_domain,
    problem,
    stale_write,
    unavailable,
)
from linli.shared.logs import get_logger
from linli.shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from linli.shared.service import Runtime
from linli.shared.tracing import child_of, current_traceparent

log = get_logger(__name__)

PUBLIC_ENDPOINTS = {"healthz", "readyz", "metrics", "static", "docs_assets", "problem_type"}
PUBLIC_PREFIXES = ("api-docs.",)


class ProblemApi(Api):
    """flask-smorest answers errors in its own shape; the suite answers RFC 9457 problems."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # flask-smorest documents its errors as application/json; ours are problems.
        register_problem_responses(self.spec, self.ERROR_SCHEMA)

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        data = getattr(error, "data", None) or {}
        code = error.code or 500
        errors = None
        messages = data.get("errors") or data.get("messages")
        if messages:
            errors = flatten_messages(messages)
        detail = data.get("message") or error.description
        if errors:
            fields = ", ".join(sorted(errors))
            detail = f"invalid input: {fields}"
        headers = dict(data.get("headers") or {})
        if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return problem(code, detail, errors=errors, headers=headers)


def create_app(runtime: Runtime, *, testing: bool = False) -> Flask:
    spec = runtime.spec
    app = Flask(f"linli.{spec.name}")
    app.config.update(
        TESTING=testing,
        LINLI_JWT_SECRET=runtime.settings.jwt_secret,
        API_TITLE=spec.title,
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Swagger UI's own files, served by the service from the swagger-ui-bundle package: the docs work
        # offline. Relative to /docs, so they resolve under the gateway's /<service> prefix too.
        OPENAPI_SWAGGER_UI_URL="docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": spec.description},
            "security": [{"bearerAuth": []}],
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        },
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["linli"] = runtime
    # Behind the gateway the service sits under /<service>; trust its forwarded prefix, host and scheme.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    api = ProblemApi(app, spec_kwargs={"extra_plugins": [SuiteConventionsPlugin()]})
    for blueprint in spec.blueprints:
        api.register_blueprint(blueprint)
    _register_health(app)
    _register_docs(app)
    _register_hooks(app, runtime)
    _register_error_handlers(app)
    enable_cors(app)
    return app


def _register_docs(app: Flask) -> None:
    @app.get("/docs/assets/<path:filename>", endpoint="docs_assets")
    def docs_assets(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    # Problem `type`s are relative URIs (/problems/<slug>); each resolves to its documentation.
    app.add_url_rule("/problems/<slug>", "problem_type", problem_page)


def _register_hooks(app: Flask, runtime: Runtime) -> None:
    service = runtime.name

    @app.before_request
    def start() -> Response | None:
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id") or str(uuid.uuid4())
        g.traceparent = child_of(request.headers.get("traceparent"))
        current_traceparent.set(g.traceparent)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            service=service, request_id=g.request_id, traceparent=g.traceparent
        )
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(PUBLIC_PREFIXES) or request.url_rule is None:
            return None
        if request.method == "OPTIONS":
            return None
        operation = current_operation()
        check_scope(operation)
        check_input()
        return None if is_public(operation) else uow.replay_if_seen()

    @app.after_request
    def finish(response: Response) -> Response:
        response = not_modified_if_cached(uow.finish(response))
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if g.get("traceparent"):
            response.headers["traceparent"] = g.traceparent
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(service, request.method, endpoint, response.status_code).inc()
        if "started" in g:
            elapsed = time.perf_counter() - g.started
            HTTP_LATENCY.labels(service, request.method, endpoint).observe(elapsed)
            if endpoint not in ("/healthz", "/metrics"):
                log.info("request", method=request.method, path=request.path, status=response.status_code,
                         ms=round(elapsed * 1000, 1))
        return response

    @app.teardown_request
    def teardown(_exc: BaseException | None) -> None:
        uow.close()


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ProblemError)
    def on_problem(error: ProblemError) -> Response:
        return error.response()

    @app.errorhandler(DomainError)
    def on_domain(error: DomainError) -> Response:
        return from_domain(error)

    @app.errorhandler(StaleDataError)
    def on_stale(_error: StaleDataError) -> Response:
        return stale_write()

    def on_unreachable(error: Exception) -> Response:
        # Down, partitioned or frozen: the bounded timeouts of shared/db_timeouts.py end the wait.
        log.warning("database_unavailable", error=f"{type(error).__name__}: {str(error)[:200]}")
        return unavailable()

    for error_class in CONNECTION_ERRORS:
        app.register_error_handler(error_class, on_unreachable)

    @app.errorhandler(IntegrityError)
    def on_integrity(error: IntegrityError) -> Response:
        # Two writers raced for the same unique thing; the loser is told, not given a 500.
        log.info("integrity_conflict", error=str(error.orig)[:200])
        return problem(409, "the change conflicts with existing data; read it again and retry")

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):  # normally taken by the more specific handler above
            return problem(error.code or 500, error.description)
        log.exception("unhandled_error")
        return problem(500, "an unexpected error occurred; it has been logged")


def _register_health(app: Flask) -> None:
    # The runtime is the app's (app.extensions), looked up at each request as the views' is.
    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok", "service": current_app.extensions["linli"].name}

    @app.get("/readyz")
    def readyz() -> Any:
        """Ready while the database answers: writes then succeed, their events wait in the outbox.

        The broker is checked and reported too, but only `?full=1` makes its outage unready: a web
        replica taken out of the balancer for a broker outage would refuse writes it could take.
        """
        runtime = current_app.extensions["linli"]
        checks: dict[str, str] = {}
        try:
            ping(runtime.engine)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"unavailable: {type(exc).__name__}"
        checks["broker"] = _broker_check(runtime)
        needed = checks if request.args.get("full") in ("1", "true") else {"database": checks["database"]}
        ready = all(v == "ok" for v in needed.values())
        body = {"status": "ready" if ready else "unavailable", "checks": checks,
                "ready_needs": sorted(needed)}
        return body, 200 if ready else 503

    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Under gunicorn each worker counts alone; sum them so a scrape sees the whole service.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def _broker_check(runtime: Runtime) -> str:
    bus = runtime.settings.bus
    if bus.is_memory:
        return "ok"
    try:
        with kombu.Connection(bus.url, connect_timeout=2) as conn:
            # One try: kombu's retry would first sleep 2 s, keeping a probe waiting on a broker that refused.
            conn.ensure_connection(max_retries=0, timeout=2)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"unavailable: {type(exc).__name__}"
