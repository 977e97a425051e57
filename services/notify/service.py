"""notify, as the launcher sees it."""

from __future__ import annotations

from pathlib import Path

from linli.services.notify.api import notifications
from linli.services.notify.handlers import deliveries
from linli.services.notify.models import Base
from linli.shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="notify",
    title="linli notify",
    description="Notifications of what happened to the people concerned: inboxes now; SMS, email and webhooks later.",
    metadata=Base.metadata,
    blueprints=[notifications],
    migrations=Path(__file__).parent / "migrations",
    subscriptions=[deliveries],
    scopes={
        "notify:read": "read notifications and inboxes",
        "notify:write": "mark notifications read, manage preferences and webhook subscriptions",
        "notify:admin": "everything notify:read and notify:write allow",
    },
)
