"""Cross-origin access for browser apps of the districts, off unless LINLI_CORS_ORIGINS names origins.

LINLI_CORS_ORIGINS is a comma-separated list of origins (`https://gov.example.cn,https://ops.example.cn`),
or `*` for any. Preflight requests are answered without a token; the headers a client needs to read
(ETag for If-Match, Location of a created item, Retry-After of a 503 or a not-yet-known reference)
are exposed.
"""

from __future__ import annotations

import os

from flask import Flask
from flask_cors import CORS

ALLOWED_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key",
                   "X-Request-Id", "traceparent", "Accept-Language"]
EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "Idempotent-Replayed", "X-Request-Id", "traceparent",
                   "Content-Language", "WWW-Authenticate"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def cors_origins() -> list[str]:
    raw = os.environ.get("LINLI_CORS_ORIGINS", "")
    return [origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()]


def enable_cors(app: Flask, origins: list[str] | None = None) -> None:
    allowed = cors_origins() if origins is None else origins
    if not allowed:
        return
    CORS(app, origins="*" if "*" in allowed else allowed, allow_headers=ALLOWED_HEADERS,
         expose_headers=EXPOSED_HEADERS, methods=METHODS, max_age=600, supports_credentials=False)
