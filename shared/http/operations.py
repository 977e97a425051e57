"""The function that will answer the current request, and what flask-smorest recorded about it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request

_BODY_LOCATIONS = ("json", "form", "json_or_form", "files")


def current_operation() -> Callable[..., Any] | None:
    """The view function of the request's endpoint; for a MethodView, its method for this request."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, request.method.lower(), None)
    return view


def takes_body(operation: Callable[..., Any] | None) -> bool:
    """Whether the operation reads a request body (an `@blp.arguments` in a body location)."""
    doc = getattr(operation, "_apidoc", None) or {}
    parameters = doc.get("arguments", {}).get("parameters", [])
    return any(isinstance(p, dict) and p.get("in") in _BODY_LOCATIONS for p in parameters)


def accepts(*mimetypes: str) -> Callable[[Any], Any]:
    """Declare that an operation also takes bodies of `mimetypes` (e.g. text/csv), besides JSON.

    The input guard then keeps such a body as UTF-8 text (`shared.http.guards.raw_text`) instead of
    refusing it with 415; every other operation still takes JSON only. Document the body with `@blp.doc`.
    """

    def mark(fn: Any) -> Any:
        fn._linli_accepts = frozenset(mimetypes)
        return fn

    return mark


def accepted_types(operation: Callable[..., Any] | None) -> frozenset[str]:
    """The non-JSON content types an operation declared with `accepts`."""
    return getattr(operation, "_linli_accepts", frozenset())


def secret_answer(fn: Any) -> Any:
    """Declare that an operation answers with a secret shown once (a new api_key).

    Its answer is then never kept for Idempotency-Key replays, which would keep the secret in the database:
    a retry is answered 409 with the Location of what the first request made instead.
    """
    fn._linli_secret_answer = True
    return fn


def answers_secret(operation: Callable[..., Any] | None) -> bool:
    return bool(getattr(operation, "_linli_secret_answer", False))
