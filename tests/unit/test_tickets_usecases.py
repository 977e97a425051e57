"""tickets' use cases, called directly on a SQLite session: no app, no broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from linli.services.tickets import usecases
from linli.services.tickets.events import TICKET_SUBMITTED, TicketData
from linli.services.tickets.models import Base, Compound, Ticket
from linli.shared.actors import Actor
from linli.shared.errors import NotYetKnown
from tests.support.sessions import committed_events, pending_timers

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
CLERK = Actor("clerk", YONGCHUAN, frozenset({"tickets:write"}))
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
PHONE = "13812345678"


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


def _compound(factory, district=YONGCHUAN, version=1, name="星光小区") -> uuid.UUID:
    compound_id = uuid.uuid4()
    with factory() as session:
        usecases.record_compound(session, compound_id, version, district_id=district, name=name,
                                 community_id=uuid.uuid4(), kind="three_no")
        session.commit()
    return compound_id


def _submit(session, compound_id, actor=CLERK, category="general", now=NOW) -> Ticket:
    return usecases.submit_ticket(session, actor, compound_id=compound_id, title="楼道灯坏了",
                                  description="3栋2单元楼道灯一周没亮", category=category, reporter_name="王阿姨",
                                  reporter_phone=PHONE, now=now)


def test_submitting_records_the_ticket_with_the_phone_masked_and_sets_its_deadline(factory):
    compound_id = _compound(factory)
    with factory() as session:
        ticket = _submit(session, compound_id, category="fast_track")
        session.commit()
    # Accepted within the fast track's hour; reminded when a fifth of it (12 minutes) is left.
    assert (ticket.version, ticket.state, ticket.due_at) == (1, "submitted", NOW + timedelta(hours=1))
    assert (ticket.stage, ticket.accept_due_at, ticket.remind_at) == ("accept", ticket.due_at,
                                                                      NOW + timedelta(minutes=48))
    [event] = committed_events(factory, "tickets.ticket.submitted")
    assert event["subject"] == str(ticket.id) and event["district"] == YONGCHUAN
    assert event["data"]["reporter_phone"] == "138****5678" and PHONE not in json.dumps(event)
    # DESIGN: no resident's name on linli.events either (notify reads it from the private contact).
    assert event["data"]["reporter_name"] == "王**" and "王阿姨" not in json.dumps(event, ensure_ascii=False)
    assert event["data"]["due_at"] == ticket.due_at.isoformat() and event["data"]["version"] == 1
    assert event["data"]["stage"] == "accept"
    # Named, so a message about it (notify) need not look the compound up.
    assert event["data"]["compound_name"] == "星光小区" and event["data"]["community_id"]
    assert pending_timers(factory) == [("ticket.due", str(ticket.id), ticket.remind_at, {})]


def test_an_unknown_or_foreign_compound_names_compound_id_and_records_nothing(factory):
    foreign = _compound(factory, district=BISHAN)
    for compound_id in (uuid.uuid4(), foreign):
        with factory() as session, pytest.raises(NotYetKnown) as raised:
            _submit(session, compound_id)
        assert list(raised.value.errors) == ["compound_id"]
    assert committed_events(factory) == []


def test_an_operator_submits_in_the_compounds_district(factory):
    compound_id = _compound(factory, district=BISHAN)
    with factory() as session:
        ticket = _submit(session, compound_id, actor=Actor("ops", "*", frozenset()))
    assert ticket.district_id == BISHAN


def test_the_deadline_is_told_once_near_and_once_passed(factory):
    compound_id = _compound(factory)
    with factory() as session:
        ticket = _submit(session, compound_id)
        session.commit()
    with factory() as session:
        assert usecases.check_deadlines(session, ticket.id, ticket.remind_at - timedelta(seconds=1)) == ()
        assert usecases.check_deadlines(session, ticket.id, ticket.remind_at) == ("tickets.ticket.due_soon",)
        assert usecases.check_deadlines(session, ticket.id, ticket.due_at - timedelta(seconds=1)) == ()
        assert usecases.check_deadlines(session, ticket.id, ticket.due_at) == ("tickets.ticket.overdue",)
        session.commit()
    with factory() as session:
        assert usecases.check_deadlines(session, ticket.id, ticket.due_at + timedelta(days=1)) == ()
        assert usecases.check_deadlines(session, uuid.uuid4(), ticket.due_at) == ()
        session.commit()
        assert session.get(Ticket, ticket.id).version == 3
    [soon] = committed_events(factory, "tickets.ticket.due_soon")
    assert soon["data"]["overdue"] is False and soon["data"]["version"] == 2
    assert (soon["data"]["stage"], soon["data"]["stage_due_at"]) == ("accept", ticket.due_at.isoformat())
    [event] = committed_events(factory, "tickets.ticket.overdue")
    assert event["data"]["overdue"] is True and event["data"]["version"] == 3
    assert event["data"]["reporter_phone"] == "138****5678"
    assert (event["data"]["unit_ids"], event["data"]["escalation"]) == ([], None)
    assert pending_timers(factory) == []


def test_a_stale_compound_does_not_overwrite_a_newer_one(factory):
    compound_id = uuid.uuid4()
    with factory() as session:
        assert usecases.record_compound(session, compound_id, 2, district_id=YONGCHUAN, name="新名",
                                        community_id=None, kind="old") is True
        assert usecases.record_compound(session, compound_id, 1, district_id=YONGCHUAN, name="旧名",
                                        community_id=None, kind="old") is False
        session.commit()
        assert session.get(Compound, compound_id).name == "新名"


def test_the_ticket_schema_masks_the_phone_and_events_refuse_an_unmasked_one(factory):
    compound_id = _compound(factory)
    with factory() as session:
        ticket = _submit(session, compound_id)
        data = TicketData().dump(ticket) | {"compound_name": "星光小区"}
    assert data["reporter_phone"] == "138****5678"
    TICKET_SUBMITTED.validate(data)
    with pytest.raises(ValueError, match="reporter_phone"):
        TICKET_SUBMITTED.validate({**data, "reporter_phone": PHONE})
