"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, json, request

from linli.shared.errors import DomainError

PROBLEM_TYPE_BASE = "/problems/"
CONTENT_TYPE = "application/problem+json"

# Stable slugs, documented once for the suite in docs/problems.md.
SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "Validation failed"),
    428: ("precondition-required", "Precondition required"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
    504: ("gateway-timeout", "Gateway timeout"),
}


# Seconds a client should wait before retrying after a 503 (the database was unreachable).
UNAVAILABLE_RETRY_AFTER = 5


def unavailable() -> Response:
    return problem(503, "the database is unavailable; nothing was changed",
                   headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})


def stale_write() -> Response:
    """Another writer changed the item between this request's read and its write."""
    if request.headers.get("If-Match") is not None:
        return problem(412, "the item changed while this request was applied; read it again",
                       errors={"If-Match": ["the item has a newer ETag"]})
    return problem(409, "the item changed while this request was applied; read it again and retry")


class ProblemSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "stable slug under /problems/"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "messages per field, nested fields joined with dots"},
    )


def problem(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    default_slug, default_title = SLUGS.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class ProblemError(Exception):
    """Raised from HTTP code to answer with a problem."""

    def __init__(self, status: int, detail: str | None = None, *, slug: str | None = None,
                 errors: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.slug, self.errors, self.headers = status, detail, slug, errors, headers

    def response(self) -> Response:
        return problem(self.status, self.detail, slug=self.slug, errors=self.errors, headers=self.headers)


def from_domain(error: DomainError) -> Response:
    return problem(error.status, error.detail, slug=error.slug, title=error.title, errors=error.errors,
                   headers=error.headers())


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nest messages by location and field; clients want `field: [messages]`."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "body" if key == "_schema" else str(key)
            if not prefix and key in ("json", "query", "querystring", "headers", "form", "path", "view_args"):
                name = ""
            flat.update(flatten_messages(value, f"{prefix}.{name}" if prefix and name else prefix or name))
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        flat.setdefault(prefix or "body", []).extend(messages)
    elif isinstance(messages, list | tuple):
        for index, value in enumerate(messages):
            flat.update(flatten_messages(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat.setdefault(prefix or "body", []).append(str(messages))
    return flat
