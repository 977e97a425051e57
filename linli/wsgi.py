"""WSGI entry points for gunicorn: `linli.wsgi:app()` builds the service named by LINLI_SERVICE."""

from __future__ import annotations

import os

from flask import Flask

from linli.services import runtime
from shared.http.app import create_app
from shared.logs import configure_logging


def app(service: str | None = None) -> Flask:
    configure_logging()
    return create_app(runtime(service or os.environ["LINLI_SERVICE"]))
