"""The four services the launcher knows, loaded on first use.

A process imports every service's spec once: it declares the queues of all of them on the broker.
Nothing heavy is imported at module level: `linli serve` must set up Prometheus' multiprocess
directory before prometheus_client is first imported, and `linli.cli` imports this module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linli.shared.config import Settings
    from linli.shared.service import Runtime, ServiceSpec
    from linli.shared.subscriptions import Subscription

# The services the launcher wires together; `shared` knows none of them by name.
SERVICES = ("registry", "tickets", "rotation", "notify")


def spec(name: str) -> ServiceSpec:
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    return importlib.import_module(f"linli.services.{name}.service").SPEC


def subscriptions() -> list[Subscription]:
    """Every service's subscriptions: each process declares all their queues, whichever service it runs."""
    return [subscription for name in SERVICES for subscription in spec(name).subscriptions]


def runtime(name: str, settings: Settings | None = None, *, jwt_secret: str | None = None) -> Runtime:
    """`jwt_secret` as `Settings.from_env` takes it: None requires LINLI_JWT_SECRET, "" needs no key."""
    from linli.shared.config import Settings
    from linli.shared.service import Runtime

    return Runtime.build(spec(name), settings or Settings.from_env(name, jwt_secret=jwt_secret),
                         known_subscriptions=subscriptions())


def names(choice: str) -> list[str]:
    return list(SERVICES) if choice == "all" else [choice]


def scopes() -> dict[str, str]:
    """Every token scope of the suite, as the services declare them: scope -> what it grants."""
    return {scope: text for name in SERVICES for scope, text in spec(name).scopes.items()}
