"""Opaque-cursor keyset pagination: stable and fast at millions of rows, unlike offsets."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from linli.shared.http.problems import ProblemError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=DEFAULT_LIMIT, validate=ma.validate.Range(min=1, max=MAX_LIMIT))
    # Long enough for a cursor that carries a Chinese name.
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=1200))


def page_schema(item: type[ma.Schema]) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {"items": ma.fields.List(ma.fields.Nested(item)), "next_cursor": ma.fields.String(allow_none=True)},
        name=f"{item.__name__.removesuffix('Schema')}Page",
    )


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values],
                     ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        return [_parse(key, value) for key, value in zip(keys, raw, strict=True)]
    except (ValueError, TypeError) as exc:
        raise ProblemError(422, "cursor is not one this API returned", errors={"cursor": ["invalid cursor"]}) \
            from exc


def _parse(key: InstrumentedAttribute[Any], value: str) -> Any:
    python_type = key.type.python_type
    if python_type is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive time in cursor")
        return parsed
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if "\x00" in str(value):
        raise ValueError("NUL in cursor")
    return python_type(value)


def paginate(
    session: Session,
    stmt: Select[Any],
    model: Any,
    limit: int,
    cursor: str | None,
    *,
    keys: Sequence[InstrumentedAttribute[Any]] | None = None,
    descending: bool = True,
) -> dict[str, Any]:
    """A page ordered by `keys` (default newest first by created_at, id); the last key must be unique."""
    keys = list(keys) if keys else [model.created_at, model.id]
    if cursor:
        after = decode_cursor(cursor, keys)
        # (k1, k2, ...) strictly past the cursor, spelled out as every database understands it. The
        # first key's bound, implied by it, is what makes it an index range: without it PostgreSQL reads
        # the index from its start and filters out every row before the cursor, one by one.
        clauses = []
        for i, key in enumerate(keys):
            beyond = key < after[i] if descending else key > after[i]
            clauses.append(and_(*(keys[j] == after[j] for j in range(i)), beyond))
        first = keys[0] <= after[0] if descending else keys[0] >= after[0]
        stmt = stmt.where(first, or_(*clauses))
    order = [key.desc() if descending else key.asc() for key in keys]
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([getattr(last, key.key) for key in keys])
    return {"items": rows[:limit], "next_cursor": next_cursor}
