"""shared.incoming: consumers read only the fields they use, and a payload lacking them is an InvalidEvent."""

from __future__ import annotations

import uuid

import marshmallow as ma
import pytest

from linli.shared.events import InvalidEvent
from linli.shared.incoming import Incoming, load


class CompoundNews(Incoming):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)


def test_fields_a_consumer_does_not_use_are_dropped_not_refused():
    compound_id = uuid.uuid4()
    loaded = load(CompoundNews, {"id": str(compound_id), "name": "星光小区", "added_in_a_later_release": 1})
    assert loaded == {"id": compound_id, "name": "星光小区"}


def test_a_payload_lacking_a_used_field_is_an_invalid_event_naming_it():
    with pytest.raises(InvalidEvent, match="name"):
        load(CompoundNews, {"id": str(uuid.uuid4())})
    with pytest.raises(InvalidEvent, match="id"):
        load(CompoundNews, {"id": "not-a-uuid", "name": "x"})
