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


class FlatRows(ma.fields.List):
    """A list of `schema`'s rows, documented as `List(Nested(schema))`, dumped without marshmallow's
    per-field machinery: each row's attributes, named by the schema's fields, converted as those fields convert
    them (str, int, float; None stays None). For long answers of flat figures: the rates of a district's 800
    compounds, 20 figures each, spent ~35 ms in marshmallow. The schema may hold only String, Integer and Float
    fields, or building the field fails."""

    _CONVERSIONS: dict[type[ma.fields.Field], type] = {ma.fields.String: str, ma.fields.Integer: int,
                                                        ma.fields.Float: float}

    def __init__(self, schema: type[ma.Schema], **kwargs: object) -> None:
        super().__init__(ma.fields.Nested(schema), **kwargs)  # type: ignore[arg-type]
        self._columns = []
        for name, field in schema._declared_fields.items():
            convert = self._CONVERSIONS.get(type(field))
            if convert is None or field.load_only:
                raise TypeError(f"FlatRows: {schema.__name__}.{name} is a {type(field).__name__}, not a plain figure")
            self._columns.append((name, field.data_key or name, convert))

    def _serialize(self, value: object, attr: str | None, obj: object, **kwargs: object) -> list[dict] | None:
        if value is None:
            return None
        rows = []
        for row in value:  # type: ignore[attr-defined]
            dumped = {}
            for name, key, convert in self._columns:
                figure = getattr(row, name)
                dumped[key] = None if figure is None else convert(figure)
            rows.append(dumped)
        return rows
