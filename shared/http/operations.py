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
