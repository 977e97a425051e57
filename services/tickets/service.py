"""tickets, as the launcher sees it."""

from __future__ import annotations

from pathlib import Path

from linli.services.tickets.api import categories, compounds, open311_keys, stats, tickets
from linli.services.tickets.clock import TIMERS
from linli.services.tickets.handlers import read_models
from linli.services.tickets.models import Base
from linli.services.tickets.open311_api import open311_blueprint
from linli.shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="tickets",
    title="linli tickets",
    description="Residents' tickets (诉求): submission, deadlines and what becomes of them.",
    metadata=Base.metadata,
    blueprints=[tickets, compounds, categories, open311_keys, stats, open311_blueprint],
    migrations=Path(__file__).parent / "migrations",
    subscriptions=[read_models],
    timers=TIMERS,
    scopes={
        "tickets:read": "read tickets, their history and the compounds they are raised against",
        "tickets:write": "submit tickets and act on them (accept, dispatch, resolve, review...)",
        "tickets:admin": "everything tickets:read and tickets:write allow, and setting a district's category "
                         "deadlines",
        "tickets:pii": "see reporters' names and phone numbers, and numbers written into tickets' text, unmasked",
    },
)
