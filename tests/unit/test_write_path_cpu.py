"""What the ticket write path must not redo on every request (each cost measurable CPU under load)."""

from __future__ import annotations

import uuid

import marshmallow as ma

DISTRICT = "d-cpu"


def test_submitting_a_ticket_builds_no_schema(make_service, monkeypatch):
    sut = make_service("tickets")
    compound = str(uuid.uuid4())
    sut.deliver("registry.area.created", {"id": compound, "district_id": DISTRICT, "parent_id": None,
                                          "level": "compound", "name": "星光小区", "kind": "old", "version": 1})
    body = {"compound_id": compound, "title": "楼道灯不亮", "description": "三楼", "reporter_name": "王秀英",
            "reporter_phone": "13812345678"}
    headers = sut.as_(DISTRICT, "tickets:write")
    assert sut.client.post("/v1/tickets", json=body, headers=headers).status_code == 201

    built: list[str] = []
    real_init = ma.Schema.__init__

    def counting_init(self, *args, **kwargs) -> None:
        built.append(type(self).__name__)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(ma.Schema, "__init__", counting_init)
    assert sut.client.post("/v1/tickets", json=body, headers=headers).status_code == 201
    assert built == []


def test_submitting_a_ticket_loads_no_compound_entity(make_service):
    from sqlalchemy import event

    from linli.services.tickets.models import Compound

    sut = make_service("tickets")
    compound = str(uuid.uuid4())
    sut.deliver("registry.area.created", {"id": compound, "district_id": DISTRICT, "parent_id": None,
                                          "level": "compound", "name": "星光小区", "kind": "old", "version": 1})
    body = {"compound_id": compound, "title": "楼道灯不亮", "description": "三楼", "reporter_name": "王秀英",
            "reporter_phone": "13812345678"}
    loaded: list[object] = []

    def on_load(target: object, _context: object) -> None:
        loaded.append(target)

    # Only its district is needed: building the ORM object (identity map, instance state) cost ~10% of a request.
    event.listen(Compound, "load", on_load)
    try:
        assert sut.client.post("/v1/tickets", json=body, headers=sut.as_(DISTRICT, "tickets:write")).status_code == 201
    finally:
        event.remove(Compound, "load", on_load)
    assert loaded == []


def test_no_index_of_tickets_is_a_leading_prefix_of_another():
    from linli.services.tickets.models import Ticket

    # Such an index answers no query the longer one cannot, and costs every insert its upkeep. A partial index is
    # another matter: it holds the few rows its condition picks, and only they pay for it.
    indexes = [tuple(c.name for c in index.columns) for index in Ticket.__table__.indexes
               if index.dialect_options["postgresql"]["where"] is None]
    redundant = [(a, b) for a in indexes for b in indexes if a != b and b[:len(a)] == a]
    assert redundant == []
