"""Read models fed by events: an older or repeated version of an entity never overwrites a newer one."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session


class Versioned(Protocol):
    version: int


T = TypeVar("T", bound=Versioned)


def apply_versioned(session: Session, model: type[T], key: Any, version: int, values: dict[str, Any]) -> bool:
    """Insert or update the row `key` to `version`; returns False when the event was stale."""
    row = session.get(model, key, with_for_update=True)
    if row is None:
        session.add(model(id=key, version=version, **values))
        return True
    if row.version >= version:
        return False
    for name, value in values.items():
        setattr(row, name, value)
    row.version = version
    return True
