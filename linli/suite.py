"""The four services the launcher knows, loaded lazily so one process imports only what it runs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from linli.shared.config import Settings

if TYPE_CHECKING:
    # Imported when used: `linli serve` must set PROMETHEUS_MULTIPROC_DIR before anything imports
    # prometheus_client, and the command line imports this module first, for SERVICES.
    from linli.shared.service import Runtime, ServiceSpec

# The services the launcher wires together; `shared` knows none of them by name.
SERVICES = ("registry", "tickets", "rotation", "notify")


def spec(name: str) -> ServiceSpec:
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    return importlib.import_module(f"linli.services.{name}.service").SPEC


def runtime(name: str, settings: Settings | None = None, *, jwt_secret: str | None = None) -> Runtime:
    """`jwt_secret` as `Settings.from_env` takes it: None requires LINLI_JWT_SECRET, "" needs no key."""
    from linli.shared.service import Runtime

    return Runtime.build(spec(name), settings or Settings.from_env(name, jwt_secret=jwt_secret))


def names(choice: str) -> list[str]:
    return list(SERVICES) if choice == "all" else [choice]


def scopes() -> dict[str, str]:
    """Every token scope of the suite, as the services declare them: scope -> what it grants."""
    return {scope: text for name in SERVICES for scope, text in spec(name).scopes.items()}
