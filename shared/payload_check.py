"""A quick check that an event payload certainly passes its marshmallow schema, for `emit()`'s hot path.

Validating with marshmallow deserialises every field (a few hundred µs for a ticket's 13 fields), on
every write. Payloads are built by the services' own code from typed rows, so they are nearly always
plain: strings, ints, bools, ISO times, UUID strings. `certainly_valid` accepts a payload only when
each field is of such a plain kind that marshmallow accepts too, and runs the field's own validators
(e.g. "the phone number is masked") where they see the value as given. Anything else — an unknown
key, a field type or hook it does not know, a value of another kind — it leaves to marshmallow, which
stays the judge and writes the error message.
"""

from __future__ import annotations

import functools
import math
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import marshmallow as ma

Check = Callable[[Any], bool]

# The ISO 8601 shape `datetime.isoformat()` writes for an aware time; marshmallow parses all of it.
_AWARE_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_float(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _is_uuid(value: Any) -> bool:
    if isinstance(value, uuid.UUID):
        return True
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_aware_time(value: Any) -> bool:
    if not isinstance(value, str) or not _AWARE_ISO.fullmatch(value):
        return False
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


# Exact types only: a subclass may deserialise differently. `validators` runs the field's validators on
# the raw value, which is right only where the field deserialises a value to itself.
_KINDS: dict[type[ma.fields.Field], tuple[Check, bool]] = {
    ma.fields.String: (_is_str, True),
    ma.fields.Integer: (_is_int, True),
    ma.fields.Boolean: (_is_bool, True),
    ma.fields.Float: (_is_float, False),
    ma.fields.UUID: (_is_uuid, False),
    ma.fields.AwareDateTime: (_is_aware_time, False),
}


def _reads_as(cls: type[ma.fields.Field]) -> type[ma.fields.Field]:
    """The plain field a subclass reads exactly like: one that changes only how it writes (dumps) values."""
    for plain in _KINDS:
        if issubclass(cls, plain) and cls._deserialize is plain._deserialize and cls.deserialize is plain.deserialize:
            return plain
    return cls


@functools.cache
def _plan(schema: type[ma.Schema]) -> tuple[tuple[str, bool, bool, Check, tuple[Any, ...]], ...] | None:
    """Per field: name, required, allow_none, kind check, validators; None if the schema is not plain."""
    instance = schema()
    if any(instance._hooks.values()) or instance.unknown != ma.RAISE:
        return None
    plan = []
    for name, field in instance.load_fields.items():
        kind = _list_kind(field) if type(field) is ma.fields.List else _KINDS.get(_reads_as(type(field)))
        if kind is None or field.data_key not in (None, name):
            return None
        check, validators_see_raw = kind
        if field.validators and not validators_see_raw:
            return None
        plan.append((name, field.required, field.allow_none, check, tuple(field.validators)))
    return tuple(plan)


def _list_kind(field: ma.fields.List) -> tuple[Check, bool] | None:
    """A list of plain items without validators of their own (a ticket's attachment URLs); None otherwise."""
    inner = field.inner
    kind = _KINDS.get(_reads_as(type(inner)))
    if kind is None or inner.validators or inner.allow_none:
        return None
    item_check = kind[0]
    # The list's own validators see the items as given, which for non-string items differ from what they load as.
    return (lambda value: type(value) is list and all(item_check(item) for item in value)), kind[1]


def certainly_valid(schema: type[ma.Schema], data: dict[str, Any]) -> bool:
    """True only if marshmallow would accept `data`; False means "ask marshmallow", not "invalid"."""
    plan = _plan(schema)
    if plan is None or not isinstance(data, dict):
        return False
    known = 0
    for name, required, allow_none, check, validators in plan:
        if name not in data:
            if required:
                return False
            continue
        known += 1
        value = data[name]
        if value is None:
            if not allow_none:
                return False
            continue
        if not check(value):
            return False
        for validator in validators:
            try:
                if validator(value) is False:
                    return False
            except ma.ValidationError:
                return False
    return known == len(data)
