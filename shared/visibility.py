"""What an actor may reach: another district's entity answers exactly like a missing one.

Use cases look their subject up here, so every service tells "not yours" and "not there"
apart nowhere, and a district client learns nothing of other districts' ids.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from linli.shared.actors import Actor
from linli.shared.errors import NotFound


class Tenanted(Protocol):
    district_id: str


T = TypeVar("T", bound=Tenanted)


def visible(session: Session, actor: Actor, model: type[T], entity_id: uuid.UUID | Any, *, what: str,
            for_update: bool = False) -> T:
    """The entity `entity_id` if `actor` may see it, else NotFound naming `what`; locked for an edit if asked."""
    entity = session.get(model, entity_id, with_for_update=for_update)
    if entity is None or not actor.sees(entity.district_id):
        raise NotFound(f"{what} not found")
    return entity
