"""The four services the launcher knows, loaded lazily so one process imports only what it runs."""

from __future__ import annotations

import importlib

from linli.shared.config import Settings
from linli.shared.service import Runtime, ServiceSpec

# The services the launcher wires together; `shared` knows none of them by name.
SERVICES = ("registry", "tickets", "rotation", "notify")


def spec(name: str) -> ServiceSpec:
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    return importlib.import_module(f"linli.services.{name}.service").SPEC


def runtime(name: str, settings: Settings | None = None) -> Runtime:
    return Runtime.build(spec(name), settings or Settings.from_env(name))


def names(choice: str) -> list[str]:
    return list(SERVICES) if choice == "all" else [choice]
