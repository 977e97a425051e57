"""The one step that records a change: flush the entity, then emit its event with the payload its schema dumps.

Every use case of every service ends a change here, so an event always carries the
version the mapper just wrote, names its entity as subject and its district, and has
its payload written in one place only: the event's payload schema.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import marshmallow as ma
from sqlalchemy.orm import Session

from linli.shared.events import EventType
from linli.shared.outbox import emit


class Recordable(Protocol):
    id: Any
    district_id: str


@functools.cache
def _dumper(payload: type[ma.Schema]) -> ma.Schema:
    # Building a schema costs more than dumping with it, and this runs on every write.
    return payload()


def record(session: Session, event_type: EventType, entity: Recordable, *, payload_of: Any = None) -> dict[str, Any]:
    """Flush `entity` (the mapper bumps its version) and emit `event_type` about it in the same transaction.

    The payload is the event's schema dumping `entity`, or `payload_of` for an event that tells of
    more than the entity's row (a term of a rotation); subject and district are always the entity's.
    """
    if entity not in session:
        raise ValueError(f"{type(entity).__name__} is not in the session: add it before recording it")
    session.flush()
    data = _dumper(event_type.payload).dump(entity if payload_of is None else payload_of)
    return emit(session, event_type, subject=entity.id, data=data, district=entity.district_id)


def edits(entity: Any, changes: Mapping[str, Any], editable: Collection[str]) -> dict[str, Any]:
    """The fields of `changes` whose values differ from `entity`'s; none at all means nothing to record.

    A field outside `editable` is a bug in the caller (its schema lets through what the use case does not
    take), not bad input, so it raises ValueError rather than a domain error.
    """
    unknown = set(changes) - set(editable)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    return {name: value for name, value in changes.items() if getattr(entity, name) != value}
