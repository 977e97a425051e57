"""The registry every registry test starts from: Yongchuan with a street, a community and a compound, and Bishan."""

from __future__ import annotations

from typing import Any

from linli.services.registry import usecases
from linli.services.registry.models import Area
from linli.shared.actors import Actor
from tests.support.apps import ServiceUnderTest

OPERATOR = Actor("ops", "*", frozenset({"registry:admin"}))


def add_area(session: Any, actor: Actor, level: str, name: str, parent: Area | None = None,
             kind: str | None = None) -> Area:
    """An area through the use case, as a clerk would add it."""
    return usecases.add_area(session, actor, level=level, name=name, parent_id=parent.id if parent else None,
                             kind=kind, time_zone="Asia/Shanghai")


def yongchuan_over_http(sut: ServiceUnderTest) -> dict[str, Any]:
    """Two districts over the API; in Yongchuan 中山路街道 › 星光社区 › 星光小区; callers of each district.

    `area` adds more areas as the operator, for tests that need them.
    """
    op = sut.as_("*", "registry:admin")

    def area(body: dict[str, Any]) -> dict[str, Any]:
        r = sut.client.post("/v1/areas", json=body, headers=op)
        assert r.status_code == 201, r.json
        return r.json

    district = area({"level": "district", "name": "永川区"})
    other = area({"level": "district", "name": "璧山区"})
    street = area({"level": "street", "name": "中山路街道", "parent_id": district["id"]})
    community = area({"level": "community", "name": "星光社区", "parent_id": street["id"]})
    compound = area({"level": "compound", "name": "星光小区", "kind": "managed", "parent_id": community["id"]})
    return {
        "area": area, "district": district, "other": other, "community": community, "compound": compound,
        "clerk": sut.as_(district["id"], "registry:read registry:write"),
        "pii": sut.as_(district["id"], "registry:read registry:write registry:pii"),
        "stranger": sut.as_(other["id"], "registry:read registry:write"),
    }
