"""API shapes every service shares."""

from __future__ import annotations

import marshmallow as ma


class EntitySchema(ma.Schema):
    """The fields every item of the suite carries (DESIGN.md, "One API shape")."""

    id = ma.fields.UUID(dump_only=True)
    district_id = ma.fields.String(dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class Text(ma.fields.String):
    """Human-written text (a name, a title, a description): trimmed, and never blank.

    Surrounding whitespace, including the ideographic space U+3000, is dropped before the length is
    checked, so "  " or "\u3000" is refused as blank rather than stored as a name no one can see.
    """

    def __init__(self, *, max_length: int, **kwargs: object) -> None:
        validators = [ma.validate.Length(min=1, max=max_length)]
        metadata = {"pattern": r"\S", **dict(kwargs.pop("metadata", None) or {})}  # type: ignore[call-overload]
        super().__init__(validate=validators, metadata=metadata, **kwargs)  # type: ignore[arg-type]

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()  # type: ignore[arg-type]
        if not text:
            raise ma.ValidationError("must not be blank")
        return text
