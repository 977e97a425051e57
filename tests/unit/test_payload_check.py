"""The quick payload check on emit never vouches for a payload marshmallow would refuse."""

from __future__ import annotations

import itertools
import math
import uuid
from datetime import UTC, datetime

import marshmallow as ma
import pytest

from linli.services.tickets.events import TICKET_SUBMITTED, TicketData
from linli.shared.db import transaction
from linli.shared.outbox import emit
from linli.shared.payload_check import certainly_valid


class Plain(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(max=5))
    number = ma.fields.Integer(required=True)
    ratio = ma.fields.Float()
    flag = ma.fields.Boolean(allow_none=True)
    ref = ma.fields.UUID(required=True)
    at = ma.fields.AwareDateTime(required=True)
    refs = ma.fields.List(ma.fields.UUID())
    tags = ma.fields.List(ma.fields.String(), validate=ma.validate.Length(max=2))


class Hooked(ma.Schema):
    text = ma.fields.String(required=True)

    @ma.validates_schema
    def never(self, data, **kwargs) -> None:
        raise ma.ValidationError("never")


VALUES = [None, "", "abc", "toolong", 0, 7, True, 1.5, math.nan, math.inf, str(uuid.uuid4()), uuid.uuid4(),
          "2026-11-26T01:02:03+00:00", "2026-11-26T01:02:03.123456Z", "2026-11-26T01:02:03", "20261126T010203Z",
          "2026-13-40T01:02:03+00:00", [], {}, ["abc"], [str(uuid.uuid4())], [uuid.uuid4()], [None], [1],
          ["a", "b", "c"], ("a",), [["a"]]]
MISSING = object()


def _candidates():
    good = {"text": "abc", "number": 1, "ratio": 0.5, "flag": True, "ref": str(uuid.uuid4()),
            "at": datetime.now(UTC).isoformat(), "refs": [str(uuid.uuid4())], "tags": ["a"]}
    yield good
    yield {**good, "extra": 1}
    for name, value in itertools.product(good, [*VALUES, MISSING]):
        data = dict(good)
        if value is MISSING:
            del data[name]
        else:
            data[name] = value
        yield data


@pytest.mark.parametrize("data", list(_candidates()))
def test_it_vouches_only_for_what_marshmallow_accepts(data):
    if certainly_valid(Plain, data):
        assert Plain().validate(data) == {}


def test_it_vouches_for_a_plain_payload_and_leaves_schema_hooks_to_marshmallow():
    good = {"text": "abc", "number": 1, "ref": str(uuid.uuid4()), "at": "2026-11-26T01:02:03+00:00"}
    assert certainly_valid(Plain, good)
    assert certainly_valid(Plain, {**good, "refs": [str(uuid.uuid4()), str(uuid.uuid4())], "tags": []})
    assert not certainly_valid(Plain, {**good, "tags": ["a", "b", "c"]})
    assert not certainly_valid(Hooked, {"text": "abc"})


def _ticket_data(phone: str) -> dict:
    now = datetime.now(UTC).isoformat()
    return {"id": str(uuid.uuid4()), "district_id": "d", "compound_id": str(uuid.uuid4()), "title": "t",
            "description": "x", "category": "facilities", "reporter_name": "王**", "reporter_phone": phone,
            "state": "submitted", "due_at": now, "overdue": False, "created_at": now, "version": 1,
            "kind": "problem", "urgency": "normal", "source": "resident", "attachments": [],
            "compound_name": "星光小区"}


def test_emit_validates_a_plain_event_without_marshmallow(make_service, monkeypatch):
    sut = make_service("tickets")
    calls: list[object] = []
    real_validate = ma.Schema.validate
    monkeypatch.setattr(ma.Schema, "validate", lambda self, *a, **kw: calls.append(self) or real_validate(self, *a,
                                                                                                        **kw))
    with transaction(sut.rt.factory) as s:
        emit(s, TICKET_SUBMITTED, subject="t1", data=_ticket_data("138****5678"), district="d")
    assert calls == []


def test_emit_still_refuses_an_unmasked_phone(make_service):
    assert not certainly_valid(TicketData, _ticket_data("13812345678"))
    sut = make_service("tickets")
    with pytest.raises(ValueError, match="masked"), transaction(sut.rt.factory) as s:
        emit(s, TICKET_SUBMITTED, subject="t1", data=_ticket_data("13812345678"), district="d")


def test_emit_refuses_a_phone_number_left_unmasked_in_a_ticket_s_text_and_an_address(make_service):
    sut = make_service("tickets")
    for field in ("title", "description"):
        data = _ticket_data("138****5678") | {field: "请回电 13812345678"}
        assert not certainly_valid(TICKET_SUBMITTED.payload, data)
        with pytest.raises(ValueError, match="masked"), transaction(sut.rt.factory) as s:
            emit(s, TICKET_SUBMITTED, subject="t1", data=data, district="d")
    # The ticket's address has no place on the public exchange at all.
    with_address = _ticket_data("138****5678") | {"address": "3栋2单元501"}
    with pytest.raises(ValueError, match="address"), transaction(sut.rt.factory) as s:
        emit(s, TICKET_SUBMITTED, subject="t1", data=with_address, district="d")
    # Masked, it passes the quick check: masking costs intake no marshmallow validation.
    masked = _ticket_data("138****5678") | {"description": "请回电 138****5678，2026-11-26 上门"}
    assert certainly_valid(TICKET_SUBMITTED.payload, masked)
