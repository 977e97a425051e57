"""Reading other services' events: each consumer loads only the fields it uses and ignores the rest.

A producer may add fields to a payload in any release; a consumer that refused them would
break on every such release. A payload lacking what a consumer needs cannot be fixed by
retrying, so it is an `InvalidEvent`, dead-lettered at once for an operator to look at.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import marshmallow as ma

from linli.shared.events import InvalidEvent


class Incoming(ma.Schema):
    """Base of a consumer's view of another service's payload: declare only the fields the handler uses."""

    class Meta:
        unknown = ma.EXCLUDE


@functools.cache
def _loader(schema: type[Incoming]) -> Incoming:
    return schema()


def load(schema: type[Incoming], data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` read through `schema`; an `InvalidEvent` naming the fields when it does not fit."""
    try:
        return _loader(schema).load(data)
    except ma.ValidationError as exc:
        raise InvalidEvent(f"payload does not fit {schema.__name__}: {exc.messages}") from exc
