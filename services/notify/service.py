"""notify, as the launcher sees it."""

from __future__ import annotations

from pathlib import Path

from linli.services.notify.api import delivery_log, notifications, preference_endpoints, webhook_endpoints
from linli.services.notify.dispatch import dispatcher
from linli.services.notify.handlers import deliveries, webhook_events
from linli.services.notify.models import Base
from linli.services.notify.sender import sender
from linli.shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="notify",
    title="linli notify",
    description="Notifications of what happened to the people and systems concerned: inboxes, signed webhooks, SMS "
                "(a failover chain of gateways) and email, with preferences, quiet hours and a daily digest.",
    metadata=Base.metadata,
    blueprints=[notifications, webhook_endpoints, preference_endpoints, delivery_log],
    migrations=Path(__file__).parent / "migrations",
    subscriptions=[deliveries, webhook_events],
    loops={"webhooks": dispatcher, "messages": sender},
    scopes={
        "notify:read": "read notifications and inboxes, preferences, the SMS and email delivery log, webhook endpoints "
                       "and their deliveries",
        "notify:write": "mark notifications read, manage preferences and webhook endpoints (register, rotate "
                        "secrets, test, replay)",
        "notify:admin": "everything notify:read and notify:write allow",
    },
)
