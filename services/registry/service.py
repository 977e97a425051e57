"""registry, as the launcher sees it."""

from __future__ import annotations

from pathlib import Path

from linli.services.registry.api import (
    activities,
    areas,
    check_ins,
    committees,
    coverage,
    evaluations,
    members,
    organizations,
    pairings,
    resource_categories,
    service_records,
)
from linli.services.registry.handlers import service_credits
from linli.services.registry.models import Base
from linli.shared.service import ServiceSpec

SPEC = ServiceSpec(
    name="registry",
    title="linli registry",
    description="Areas, organizations, committees, party members, check-ins, service records and activities.",
    metadata=Base.metadata,
    blueprints=[areas, committees, organizations, resource_categories, pairings, members, check_ins,
                evaluations, coverage, service_records, activities],
    migrations=Path(__file__).parent / "migrations",
    subscriptions=[service_credits],
    scopes={
        "registry:read": "read areas, organizations, committees, members, check-ins and service records",
        "registry:write": "add and change them, confirm check-ins, log service records",
        "registry:admin": "everything registry:read and registry:write allow",
        "registry:pii": "see members' phone numbers and contacts unmasked",
    },
)
