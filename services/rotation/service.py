"""rotation, as the launcher sees it."""

from __future__ import annotations

from pathlib import Path

from linli.services.rotation.api import (
    committees,
    feeds,
    meetings_blueprint,
    overrides,
    rotations,
    swaps,
    term_reports,
    terms,
)
from linli.services.rotation.clock import TIMERS
from linli.services.rotation.handlers import read_models
from linli.services.rotation.models import Base
from linli.shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="rotation",
    title="linli rotation",
    description="Rotating chairs of the big party committees: rotations, terms, term reports, joint meetings.",
    metadata=Base.metadata,
    blueprints=[rotations, terms, term_reports, overrides, swaps, committees, meetings_blueprint, feeds],
    migrations=Path(__file__).parent / "migrations",
    subscriptions=[read_models],
    timers=TIMERS,
    scopes={
        "rotation:read": "read rotations, terms, term reports and joint meetings",
        "rotation:write": "set up and reorder rotations, override terms, ask for and answer swaps, schedule and "
                          "record joint meetings, issue calendar feeds",
        "rotation:admin": "everything rotation:read and rotation:write allow",
    },
)
