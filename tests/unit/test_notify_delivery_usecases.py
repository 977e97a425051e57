"""Outgoing messages (SMS, email) as use cases on a SQLite session: planning, preferences, the sender's steps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from linli.services.notify import domain, usecases
from linli.services.notify.models import Base, Delivery
from tests.support.sessions import committed_events

YONGCHUAN = str(uuid.uuid4())
MEMBER = f"member:{uuid.uuid4()}"
# 09:30 in Beijing.
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


def _words(locale: str) -> tuple[str, str]:
    return ("Ticket overdue", "Overdue: stair light") if locale == "en" else ("诉求已超期", "诉求已超期：楼道灯不亮")


def message(**changes) -> domain.Message:
    fields = {"district_id": YONGCHUAN, "event_id": uuid.uuid4(), "event_type": "tickets.ticket.overdue",
              "recipient": MEMBER, "channel": "sms", "address": "13800001111", "urgent": False, "render": _words}
    return domain.Message(**(fields | changes))


def _deliver(factory, msg, now=NOW):
    with factory() as session:
        delivery = usecases.deliver(session, msg, now=now)
        session.commit()
        return None if delivery is None else (delivery.id, delivery.state, delivery.not_before, delivery.body,
                                              delivery.locale, delivery.segments)


def test_a_plain_message_is_pending_now_worded_in_chinese_by_default(factory):
    _id, state, not_before, body, locale, segments = _deliver(factory, message())
    assert (state, not_before, body, locale, segments) == ("pending", NOW, "诉求已超期：楼道灯不亮", "zh-CN", 1)
    assert committed_events(factory) == []


def test_the_same_event_recipient_and_channel_is_delivered_at_most_once(factory):
    msg = message()
    assert _deliver(factory, msg) is not None
    assert _deliver(factory, msg) is None
    assert _deliver(factory, message(event_id=msg.event_id, channel="email", address="a@example.org")) is not None
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 2


def test_an_inbox_is_not_an_outgoing_channel(factory):
    with factory() as session, pytest.raises(ValueError):
        usecases.deliver(session, message(channel="inbox"), now=NOW + timedelta(0))
