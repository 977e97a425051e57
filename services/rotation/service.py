"""rotation, as the launcher sees it."""

from __future__ import annotations

from pathlib import Path

from linli.services.rotation.api import committees, rotations
from linli.services.rotation.clock import TIMERS
from linli.services.rotation.handlers import read_models
from linli.services.rotation.models import Base
from linli.shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="rotation",
    title="linli rotation",
    description="Rotating chairs of the big party committees: rotations, terms, term reports, joint meetings.",
    metadata=Base.metadata,
    blueprints=[rotations, committees],
    migrations=Path(__file__).parent / "migrations",
    subscriptions=[read_models],
    timers=TIMERS,
)
