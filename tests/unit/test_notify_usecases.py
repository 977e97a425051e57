"""notify's use cases, called directly on a SQLite session: no app, no broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from linli.services.notify import usecases
from linli.services.notify.models import Base
from linli.shared.actors import Actor
from linli.shared.errors import NotFound
from tests.support.sessions import committed_events

YONGCHUAN = str(uuid.uuid4())
COMPOUND = uuid.uuid4()
READER = Actor("reader", YONGCHUAN, frozenset({"notify:write"}))
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


def _ticket(**changes):
    return {"id": uuid.uuid4(), "compound_id": COMPOUND, "compound_name": None, "title": "楼道灯不亮",
            "due_at": "2025-03-01T02:00:00Z", **changes}


def _notify(factory, ticket=None):
    with factory() as session:
        delivered = usecases.notify_of_ticket(session, district_id=YONGCHUAN, template="ticket.submitted",
                                              ticket=ticket or _ticket(), source_event_id=uuid.uuid4())
        session.commit()
    return delivered


def test_news_of_a_ticket_reaches_the_compound_inbox_with_only_the_template_params(factory):
    ticket = _ticket(reporter_phone="13800001111")
    [notification] = _notify(factory, ticket)
    assert (notification.recipient, notification.state, notification.version) == (
        f"compound:{COMPOUND}", "unread", 1)
    params = {"id": str(ticket["id"]), "title": "楼道灯不亮", "compound_id": str(COMPOUND),
              "due_at": "2025-03-01T02:00:00Z"}
    assert json.loads(notification.params) == params
    [event] = committed_events(factory, "notify.notification.delivered")
    assert event["subject"] == str(notification.id) and event["district"] == YONGCHUAN
    assert event["data"]["event_type"] == "tickets.ticket.submitted" and event["data"]["channel"] == "inbox"
    assert "13800001111" not in json.dumps(event)


def test_a_ticket_without_a_compound_notifies_nobody(factory):
    assert _notify(factory, _ticket(compound_id=None)) == []
    assert committed_events(factory) == []


def test_reading_records_once_and_reading_again_changes_nothing(factory):
    [notification] = _notify(factory)
    with factory() as session:
        first = usecases.mark_read(session, READER, notification.id, NOW)
        again = usecases.mark_read(session, READER, notification.id, datetime(2027, 1, 1, tzinfo=UTC))
        session.commit()
    assert first is again and (again.state, again.read_at, again.version) == ("read", NOW, 2)
    [read] = committed_events(factory, "notify.notification.read")
    assert read["data"]["read_at"] == NOW.isoformat() and read["data"]["version"] == 2


def test_another_districts_or_a_missing_notification_is_not_found(factory):
    [notification] = _notify(factory)
    with factory() as session:
        with pytest.raises(NotFound):
            usecases.mark_read(session, Actor("other", str(uuid.uuid4()), frozenset()), notification.id, NOW)
        with pytest.raises(NotFound):
            usecases.mark_read(session, READER, uuid.uuid4(), NOW)
