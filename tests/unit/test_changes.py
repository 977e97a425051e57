"""shared.changes.record: the one step every use case ends a change with."""

from __future__ import annotations

from uuid import uuid4

import marshmallow as ma
import pytest
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.shared.actors import Actor
from linli.shared.changes import edits, record
from linli.shared.db import new_metadata
from linli.shared.errors import NotFound
from linli.shared.events import declare
from linli.shared.orm import Entity
from linli.shared.visibility import visible
from tests.support.sessions import committed_events


class Base(DeclarativeBase):
    metadata = new_metadata()


class Thing(Entity, Base):
    __tablename__ = "things"

    name: Mapped[str] = mapped_column(String(50))


class ThingData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(max=10))
    version = ma.fields.Integer(required=True)


class LabelData(ma.Schema):
    label = ma.fields.String(required=True)


THING_CHANGED = declare("testing.thing.changed", "A thing of the tests changed.", ThingData)
THING_LABELLED = declare("testing.thing.labelled", "A thing of the tests got a label.", LabelData)


def test_a_new_entity_is_flushed_and_its_event_carries_the_schema_dump(make_store):
    factory = make_store(Base.metadata)
    with factory() as session:
        thing = Thing(district_id="d1", name="lamp")
        session.add(thing)
        event = record(session, THING_CHANGED, thing)
        assert thing.version == 1  # flushed: the mapper set the version
        session.commit()
    assert event["subject"] == str(thing.id) and event["district"] == "d1"
    assert event["data"] == {"id": str(thing.id), "district_id": "d1", "name": "lamp", "version": 1}
    assert committed_events(factory, THING_CHANGED.key) == [event]


def test_an_edit_carries_the_version_the_mapper_just_wrote(make_store):
    factory = make_store(Base.metadata)
    with factory() as session:
        thing = Thing(district_id="d1", name="lamp")
        session.add(thing)
        session.commit()
        thing.name = "lamp post"
        event = record(session, THING_CHANGED, thing)
        session.commit()
    assert thing.version == 2 and event["data"]["version"] == 2 and event["data"]["name"] == "lamp post"


def test_payload_of_dumps_another_object_but_subject_and_district_stay_the_entitys(make_store):
    factory = make_store(Base.metadata)
    with factory() as session:
        thing = Thing(district_id="d2", name="lamp")
        session.add(thing)
        event = record(session, THING_LABELLED, thing, payload_of={"label": "broken"})
        session.commit()
    assert event["data"] == {"label": "broken"}
    assert event["subject"] == str(thing.id) and event["district"] == "d2"


def test_an_entity_outside_the_session_is_refused(make_store):
    factory = make_store(Base.metadata)
    with factory() as session, pytest.raises(ValueError, match="not in the session"):
        record(session, THING_CHANGED, Thing(district_id="d1", name="lamp"))


def test_a_dump_its_own_schema_refuses_is_not_emitted(make_store):
    factory = make_store(Base.metadata)
    with factory() as session:
        thing = Thing(district_id="d1", name="far too long a name")
        session.add(thing)
        with pytest.raises(ValueError, match="testing.thing.changed"):
            record(session, THING_CHANGED, thing)
        session.rollback()
    assert committed_events(factory) == []


def test_edits_are_the_fields_that_differ_and_an_uneditable_field_is_a_bug():
    thing = Thing(district_id="d1", name="lamp")
    assert edits(thing, {"name": "lamp"}, ("name",)) == {}
    assert edits(thing, {"name": "light"}, ("name",)) == {"name": "light"}
    with pytest.raises(ValueError, match="district_id"):
        edits(thing, {"district_id": "d2"}, ("name",))


def test_another_districts_entity_is_not_found_like_a_missing_one(make_store):
    factory = make_store(Base.metadata)
    with factory() as session:
        thing = Thing(district_id="d1", name="lamp")
        session.add(thing)
        session.commit()
        assert visible(session, Actor("c", "d1", frozenset()), Thing, thing.id, what="thing") is thing
        assert visible(session, Actor("ops", "*", frozenset()), Thing, thing.id, what="thing") is thing
        answers = []
        for actor, thing_id in ((Actor("c", "d2", frozenset()), thing.id), (Actor("c", "d1", frozenset()), uuid4())):
            with pytest.raises(NotFound) as raised:
                visible(session, actor, Thing, thing_id, what="thing")
            answers.append(raised.value.detail)
        assert answers == ["thing not found", "thing not found"]


def test_a_savepoint_rolled_back_drops_its_own_events_and_keeps_those_before_and_after(make_store):
    factory = make_store(Base.metadata)
    with factory() as session:
        names = ["before", "inside", "after"]
        things = [Thing(district_id="d1", name=name) for name in names]
        session.add(things[0])
        record(session, THING_CHANGED, things[0])
        savepoint = session.begin_nested()
        session.add(things[1])
        record(session, THING_CHANGED, things[1])
        savepoint.rollback()
        session.add(things[2])
        record(session, THING_CHANGED, things[2])
        session.commit()
    assert [event["data"]["name"] for event in committed_events(factory)] == ["before", "after"]


def test_a_savepoint_released_keeps_its_events_and_a_rollback_of_all_drops_every_one(make_store):
    factory = make_store(Base.metadata)
    with factory() as session:
        with session.begin_nested():
            thing = Thing(district_id="d1", name="kept")
            session.add(thing)
            record(session, THING_CHANGED, thing)
        session.commit()
        thing = Thing(district_id="d1", name="dropped")
        session.add(thing)
        record(session, THING_CHANGED, thing)
        session.rollback()
        session.commit()
    assert [event["data"]["name"] for event in committed_events(factory)] == ["kept"]
