"""Outgoing messages (SMS, email) as use cases on a SQLite session: planning, preferences, the sender's steps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from linli.services.notify import domain, outgoing, usecases
from linli.services.notify.models import Base, Delivery, DeliveryAttempt
from linli.services.notify.sender import Sender, SenderSettings
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


def _prefer(factory, **fields):
    from linli.services.notify.models import Preference

    with factory() as session:
        session.add(Preference(district_id=YONGCHUAN, recipient=MEMBER, **fields))
        session.commit()


def test_preferences_decide_locale_skip_and_quiet_hours(factory):
    _prefer(factory, locale="en", sms=False, quiet_start="09:00", quiet_end="10:00")
    assert _deliver(factory, message())[1] == "skipped"
    _id, state, not_before, body, locale, _segments = _deliver(factory, message(channel="email", address="a@b.cn"))
    # 09:30 in Beijing is within 09:00-10:00: held until 10:00 Beijing (02:00 UTC).
    assert (state, not_before, body, locale) == ("held", NOW + timedelta(minutes=30), "Overdue: stair light", "en")
    assert _deliver(factory, message(channel="email", address="a@b.cn", urgent=True))[1] == "pending"


class Script:
    """A provider answering from a script of outcomes, recording what it was given."""

    def __init__(self, name, *outcomes):
        self.name, self.outcomes, self.sent = name, list(outcomes), []

    def send(self, message, timeout):
        self.sent.append(message)
        return self.outcomes.pop(0) if self.outcomes else outgoing.Outcome(outgoing.OK)


def _sender(factory, clock, sms=(), email=()):
    settings = SenderSettings(sms=list(sms), email=list(email),
                              retries=outgoing.Retries(tries_per_provider=2, base_delay=timedelta(seconds=10)))
    return Sender(factory, settings, now=lambda: clock[0])


def _row(factory, delivery_id):
    with factory() as session:
        delivery = session.get_one(Delivery, delivery_id)
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                                   .order_by(DeliveryAttempt.number)).all()
        return delivery, [(a.provider, a.status, a.error) for a in attempts]


def test_a_retryable_failure_is_retried_later_then_handed_to_the_next_provider(factory):
    retry = outgoing.Outcome(outgoing.RETRYABLE, "HTTP 503")
    first, second = Script("gw1", retry, retry), Script("gw2")
    clock = [NOW]
    sender = _sender(factory, clock, sms=[first, second])
    delivery_id = _deliver(factory, message())[0]
    assert sender.round() == 1
    assert _row(factory, delivery_id)[0].not_before == NOW + timedelta(seconds=10)
    assert sender.round() == 0, "a retry waits for its time; the loop does not"
    clock[0] = NOW + timedelta(seconds=10)
    assert sender.round() == 1
    assert sender.round() == 1, "the next provider at once"
    delivery, attempts = _row(factory, delivery_id)
    assert attempts == [("gw1", "retryable", "HTTP 503"), ("gw1", "retryable", "HTTP 503"), ("gw2", "ok", None)]
    assert (delivery.state, delivery.provider, delivery.sent_at) == ("sent", "gw2", clock[0])
    [event] = committed_events(factory, "notify.notification.delivered")
    assert event["data"]["provider"] == "gw2" and event["data"]["state"] == "sent"
    assert "13800001111" not in str(event)
    assert [m.address for m in second.sent] == ["13800001111"]


def test_a_permanent_failure_fails_with_its_reason_and_asks_no_other_provider(factory):
    first, second = Script("gw1", outgoing.Outcome(outgoing.PERMANENT, "rejected: blocked number")), Script("gw2")
    sender = _sender(factory, [NOW], sms=[first, second])
    delivery_id = _deliver(factory, message())[0]
    sender.round()
    delivery, attempts = _row(factory, delivery_id)
    assert (delivery.state, delivery.error) == ("failed", "rejected: blocked number") and second.sent == []
    [event] = committed_events(factory, "notify.notification.failed")
    assert event["data"]["error"] == "rejected: blocked number" and event["subject"] == str(delivery_id)


def test_held_messages_go_when_the_quiet_hours_end_never_dropped(factory):
    _prefer(factory, quiet_start="09:00", quiet_end="10:00")
    provider = Script("gw1")
    clock = [NOW]
    sender = _sender(factory, clock, sms=[provider])
    delivery_id = _deliver(factory, message())[0]
    assert sender.round() == 0
    clock[0] = NOW + timedelta(minutes=30)
    assert sender.round() == 1
    assert _row(factory, delivery_id)[0].state == "sent" and len(provider.sent) == 1


def test_the_daily_digest_is_one_message_listing_the_day_and_marks_them_sent(factory):
    _prefer(factory, digest=True, digest_time="20:00")
    provider = Script("smtp")
    clock = [NOW]
    sender = _sender(factory, clock, email=[provider])
    ids = [_deliver(factory, message(channel="email", address="m@b.cn"))[0] for _ in range(2)]
    assert sender.round() == 0 and provider.sent == []
    clock[0] = NOW + timedelta(hours=11)  # 20:30 Beijing
    assert sender.round() == 1
    [digest] = provider.sent
    assert digest.subject == "2026年3月2日通知摘要（2条）" and digest.body.count("诉求已超期：楼道灯不亮") == 2
    for delivery_id in ids:
        delivery, _ = _row(factory, delivery_id)
        assert (delivery.state, delivery.digest_id) == ("sent", digest.delivery_id)
    assert len(committed_events(factory, "notify.notification.delivered")) == 3
    assert sender.round() == 0, "one digest a day"


def test_a_chain_shorter_than_the_delivery_expects_fails_it_rather_than_looping(factory):
    delivery_id = _deliver(factory, message())[0]
    with factory() as session:
        session.get_one(Delivery, delivery_id).provider_index = 3
        session.commit()
    _sender(factory, [NOW], sms=[Script("gw1")]).round()
    assert _row(factory, delivery_id)[0].state == "failed"


def test_a_slow_provider_does_not_hold_the_others_lane(factory):
    busy = {("sms", 0): 4}
    with factory() as session:
        usecases.deliver(session, message(), now=NOW)
        usecases.deliver(session, message(channel="email", address="x@y.cn"), now=NOW)
        jobs = usecases.claim_due_messages(session, NOW, limit=10, per_provider=4, in_flight=busy,
                                           lease=timedelta(seconds=40))
    assert [job.channel for job in jobs] == ["email"]


def test_a_failing_provider_opens_its_circuit_and_later_messages_go_straight_to_the_next(factory):
    retry = outgoing.Outcome(outgoing.RETRYABLE, "HTTP 503")
    first, second = Script("gw1", *[retry] * 10), Script("gw2")
    settings = SenderSettings(sms=[first, second], breaker_threshold=2, breaker_seconds=60,
                              retries=outgoing.Retries(tries_per_provider=1))
    sender = Sender(factory, settings, now=lambda: NOW)
    early = [_deliver(factory, message())[0] for _ in range(2)]
    sender.round()  # two attempts on gw1 fail: its circuit opens
    late = _deliver(factory, message())[0]
    while sender.round():
        pass
    assert len(first.sent) == 2 and len(second.sent) == 3
    for delivery_id in early:
        assert [a[0] for a in _row(factory, delivery_id)[1]] == ["gw1", "gw2"]
    delivery, attempts = _row(factory, late)
    assert delivery.state == "sent"
    assert attempts == [("gw1", "retryable", "not tried: failing lately (circuit open)"), ("gw2", "ok", None)]
