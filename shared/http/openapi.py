"""What every operation of the suite answers beyond its own documented responses.

flask-smorest documents each view's success and input-validation responses; the
suite's shared machinery adds more to every operation (auth, scoping, idempotency,
optimistic locking), so they are added here once rather than decorated on every view.
"""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask_smorest.utils import prepare_response

PROBLEM_CONTENT_TYPE = "application/problem+json"


def register_problem_responses(spec: Any, error_schema: Any) -> None:
    """One response component per error status, all RFC 9457 problems."""
    for status in http.HTTPStatus:
        if status < 400:
            continue
        response = {"description": status.phrase, "schema": error_schema}
        prepare_response(response, spec, PROBLEM_CONTENT_TYPE)
        spec.components.response(status.name, response, lazy=True)
    response = {"description": "Any other error, as a problem", "schema": error_schema}
    prepare_response(response, spec, PROBLEM_CONTENT_TYPE)
    spec.components.response("DEFAULT_ERROR", response, lazy=True)


# Marks an operation that answers as a public standard says (Open311's GeoReport), not as the suite does:
# `@blp.doc(**{PUBLIC_STANDARD: "..."})`. It documents its own error answers, and gets none of the suite's.
PUBLIC_STANDARD = "x-public-standard"


def _suite_response(response: Any) -> bool:
    """A response flask-smorest or this plugin added by name: one of the problem components above."""
    return isinstance(response, str) or (isinstance(response, dict) and set(response) == {"$ref"}
                                          and str(response["$ref"]).startswith("#/components/responses/"))


class SuiteConventionsPlugin(BasePlugin):
    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            if PUBLIC_STANDARD in operation:
                responses = operation.setdefault("responses", {})
                for status in [status for status, response in responses.items() if _suite_response(response)]:
                    del responses[status]
                continue
            # `@requires(scope)` states the scope as the operation's security requirement; an operation
            # without one still needs a token (`@public` ones say `security: []` themselves).
            operation.setdefault("security", [{"bearerAuth": []}])
            public = operation["security"] == []
            responses = operation.setdefault("responses", {})
            extra = {} if public else {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
            if path and "{" in path:
                extra[404] = "NOT_FOUND"
            if method in ("post", "patch", "put"):
                extra[400] = "BAD_REQUEST"
                extra[409] = "CONFLICT"
                extra[413] = "REQUEST_ENTITY_TOO_LARGE"
                extra[415] = "UNSUPPORTED_MEDIA_TYPE"
            if method == "patch":
                extra[412] = "PRECONDITION_FAILED"
            extra[422] = "UNPROCESSABLE_ENTITY"
            extra[503] = "SERVICE_UNAVAILABLE"
            for status, name in extra.items():
                if str(status) not in responses and status not in responses:
                    responses[str(status)] = name
            parameters = operation.setdefault("parameters", [])
            if method in ("post", "patch"):
                parameters.append({
                    "in": "header", "name": "Idempotency-Key", "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": f"a retried {method.upper()} with the same key and the same JSON body (key "
                                   "order and spacing aside) returns the first answer, headers included, and "
                                   "changes nothing again (kept 24 hours); the same key with another body "
                                   "answers 422 idempotency-key-reused",
                })
            if method == "patch":
                parameters.append({
                    "in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
                    "description": "the ETag you read; a newer version answers 412",
                })
            if method == "get" and path and "{" in path and "200" in responses:
                parameters.append({
                    "in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
                    "description": "the ETag you hold; while it is current the answer is 304 without a body",
                })
                responses.setdefault("304", {"description": "Not modified: the ETag you sent is current",
                                             "headers": {"ETag": {"schema": {"type": "string"}}}})
