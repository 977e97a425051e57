"""Opaque-cursor keyset pagination: stable and fast at millions of rows, unlike offsets."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from shared.http.problems import ProblemError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=DEFAULT_LIMIT, validate=ma.validate.Range(min=1, max=MAX_LIMIT))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


def page_schema(item: type[ma.Schema]) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {"items": ma.fields.List(ma.fields.Nested(item)), "next_cursor": ma.fields.String(allow_none=True)},
        name=f"{item.__name__.removesuffix('Schema')}Page",
    )


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        return datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise ProblemError(422, "cursor is not one this API returned", errors={"cursor": ["invalid cursor"]}) \
            from exc


def paginate(session: Session, stmt: Select[Any], model: Any, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first, by (created_at, id); `model` needs both columns and an index on them."""
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(model.created_at < created_at, and_(model.created_at == created_at, model.id < row_id))
        )
    rows = list(session.scalars(stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return {"items": rows[:limit], "next_cursor": next_cursor}
