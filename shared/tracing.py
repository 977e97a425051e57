"""W3C trace context: one traceparent follows a request into its events and out of consumed ones."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

current_traceparent: ContextVar[str | None] = ContextVar("linli_traceparent", default=None)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_of(traceparent: str | None) -> str:
    """Same trace, new span; a malformed or missing parent starts a new trace."""
    match = _TRACEPARENT.match(traceparent or "")
    if not match or match.group(1) == "0" * 32:
        return new_traceparent()
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(3)}"


def trace_id(traceparent: str | None) -> str | None:
    match = _TRACEPARENT.match(traceparent or "")
    return match.group(1) if match else None
