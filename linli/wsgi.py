"""WSGI entry points for gunicorn: `linli.wsgi:app()` builds the service named by LINLI_SERVICE."""

from __future__ import annotations

import os

from flask import Flask

from linli.shared.http.app import create_app
from linli.shared.logs import configure_logging
from linli.suite import runtime


def app(service: str | None = None) -> Flask:
    configure_logging()
    return create_app(runtime(service or os.environ["LINLI_SERVICE"]))
