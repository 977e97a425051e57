"""notify's use cases on a SQLite session: read models, telling people by rule, inbox, rules and templates."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from structlog.testing import capture_logs

from linli.services.notify import samples, usecases
from linli.services.notify.models import Base, Contact, Delivery, Notification
from linli.shared.actors import Actor
from linli.shared.errors import NotFound, ValidationFailed
from tests.support.sessions import committed_events

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
CLERK = Actor("clerk", YONGCHUAN, frozenset({"notify:admin"}))
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
COMMUNITY, COMMITTEE, CHAIR, CONVENOR = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


def _payload(event_type: str, **changes):
    return samples.sample(event_type) | {"district_id": YONGCHUAN} | changes


def _tell(factory, event_type, payload=None, event_id=None, district=YONGCHUAN):
    with factory() as session:
        told = usecases.tell(session, event_type=event_type, district_id=district, event_id=event_id or uuid.uuid4(),
                             payload=payload or _payload(event_type), now=NOW)
        session.commit()
    return {(t.recipient, t.channel) for t in told}


def _world(factory, *, reporter_phone="13800001111"):
    """The read models as registry's, tickets' and rotation's events would have left them."""
    with factory() as session:
        usecases.record_committee(session, COMMITTEE, 1, district_id=YONGCHUAN, community_id=COMMUNITY,
                                  name="星光社区大党委", convenor_member_id=CONVENOR, convenor_name="李书记",
                                  units=[CHAIR])
        usecases.record_chair(session, COMMITTEE, district_id=YONGCHUAN, organization_id=CHAIR,
                              organization_name="区人民医院", term_index=2, term_part=0, ends_at=None)
        usecases.record_contact(session, f"reporter:{samples.TICKET}", 1, district_id=YONGCHUAN, name="王阿姨",
                                phone=reporter_phone)
        usecases.record_contact(session, f"organization:{samples.POLICE}", 3, district_id=YONGCHUAN,
                                name="中山路派出所", person="张警官", phone="13900002222")
        usecases.record_contact(session, f"member:{CONVENOR}", 1, district_id=YONGCHUAN, name="李书记",
                                phone="13700003333", email="li@example.cn")
        session.commit()


def _rows(factory, model):
    with factory() as session:
        return list(session.scalars(select(model).order_by(model.recipient)))


def test_a_dispatched_ticket_reaches_inboxes_and_sms_of_whom_the_rule_names(factory):
    _world(factory)
    told = _tell(factory, "tickets.ticket.dispatched")
    police, school, reporter = (f"organization:{samples.POLICE}", f"organization:{samples.SCHOOL}",
                                f"reporter:{samples.TICKET}")
    # The school has no phone known: its SMS is skipped, its inbox is not.
    assert told == {(police, "inbox"), (police, "sms"), (school, "inbox"), (reporter, "sms")}
    inbox = _rows(factory, Notification)
    assert [(n.recipient, n.role, n.event_type, n.state) for n in inbox] == [
        (police, "unit", "tickets.ticket.dispatched", "unread"),
        (school, "unit", "tickets.ticket.dispatched", "unread")]
    params = json.loads(inbox[0].params)
    assert params["title"] == "3栋楼道灯不亮" and params["unit_names"] == ["中山路派出所", "永川中学"]
    assert "reporter_phone" not in params and "reporter_name" not in params
    sms = {d.recipient: d for d in _rows(factory, Delivery)}
    assert sms[reporter].address == "13800001111" and sms[reporter].channel == "sms"
    assert sms[reporter].body == "【邻里】您反映的「3栋楼道灯不亮」已派给中山路派出所、永川中学办理。"
    assert sms[police].body == "【邻里】星光小区「3栋楼道灯不亮」已派给贵单位，请按时办理。"
    delivered = committed_events(factory, "notify.notification.delivered")
    assert {(e["data"]["recipient"], e["data"]["channel"]) for e in delivered} == {(police, "inbox"), (school, "inbox")}
    assert all(e["data"]["event_type"] == "tickets.ticket.dispatched" and e["data"]["provider"] is None
               for e in delivered)
    assert "13800001111" not in json.dumps(delivered) and "13900002222" not in json.dumps(delivered)


def test_the_same_event_twice_tells_nobody_twice(factory):
    _world(factory)
    event_id = uuid.uuid4()
    assert _tell(factory, "tickets.ticket.dispatched", event_id=event_id)
    assert _tell(factory, "tickets.ticket.dispatched", event_id=event_id) == set()
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 2
        assert session.scalar(select(func.count()).select_from(Delivery)) == 2


def test_a_recipient_without_an_address_is_skipped_and_logged(factory):
    with capture_logs() as logs:
        told = _tell(factory, "registry.check_in.confirmed")
    member = f"member:{samples.MEMBER}"
    assert told == {(member, "inbox")}
    [skipped] = [entry for entry in logs if entry["event"] == "recipient skipped: no address"]
    assert (skipped["recipient"], skipped["channel"], skipped["role"]) == (member, "sms", "member")


def test_an_overdue_ticket_reaches_the_chair_and_convenor_urgently(factory):
    _world(factory)
    payload = _payload("tickets.ticket.overdue")
    payload["escalation"] |= {"chair_unit_id": str(samples.POLICE), "convenor_member_id": str(CONVENOR)}
    told = _tell(factory, "tickets.ticket.overdue", payload)
    assert (f"member:{CONVENOR}", "sms") in told and (f"organization:{samples.POLICE}", "sms") in told
    assert all(d.urgent for d in _rows(factory, Delivery))


def test_the_sitting_chair_and_convenor_come_from_the_read_models(factory):
    _world(factory)
    payload = _payload("tickets.ticket.listed", community_id=str(COMMUNITY))
    assert _tell(factory, "tickets.ticket.listed", payload) == {(f"organization:{CHAIR}", "inbox"),
                                                               (f"member:{CONVENOR}", "inbox")}
    # Another district's committee of the same community id is not this district's.
    assert _tell(factory, "tickets.ticket.listed", payload, district=BISHAN) == set()


def test_a_later_term_replaces_the_chair_and_an_earlier_one_does_not(factory):
    with factory() as session:
        for index, part, org in ((3, 0, "a"), (3, 1, "b"), (2, 0, "c")):
            usecases.record_chair(session, COMMITTEE, district_id=YONGCHUAN, organization_id=uuid.uuid5(
                uuid.NAMESPACE_DNS, org), organization_name=org, term_index=index, term_part=part, ends_at=None)
        session.commit()
        directory = usecases._ReadModels(session, YONGCHUAN)
        assert directory.chair_of(str(COMMITTEE)) == str(uuid.uuid5(uuid.NAMESPACE_DNS, "b"))


def test_an_older_contact_never_overwrites_a_newer_one(factory):
    recipient = f"member:{uuid.uuid4()}"
    with factory() as session:
        assert usecases.record_contact(session, recipient, 2, district_id=YONGCHUAN, name="新", phone="1")
        assert not usecases.record_contact(session, recipient, 1, district_id=YONGCHUAN, name="旧", phone="0")
        assert usecases.record_contact(session, recipient, 2, district_id=YONGCHUAN, name="同版", phone="2")
        session.commit()
        assert (session.get(Contact, recipient).name, session.get(Contact, recipient).phone) == ("同版", "2")


def test_a_districts_rule_and_template_decide_whom_and_in_which_words(factory):
    _world(factory)
    with factory() as session:
        usecases.set_rule(session, CLERK, "tickets.ticket.accepted",
                          recipients=[{"role": "reporter", "channels": ["sms"]},
                                      {"role": "compound", "channels": ["inbox"]}])
        usecases.set_template(session, CLERK, "tickets.ticket.accepted:sms:zh-CN", subject="",
                              body="【永川】{{ compound_name }}已受理「{{ title }}」")
        session.commit()
    told = _tell(factory, "tickets.ticket.accepted")
    assert told == {(f"reporter:{samples.TICKET}", "sms"), (f"compound:{samples.COMPOUND}", "inbox")}
    [sms] = _rows(factory, Delivery)
    assert sms.body == "【永川】星光小区已受理「3栋楼道灯不亮」"
    # Bishan keeps the defaults.
    assert _tell(factory, "tickets.ticket.accepted", district=BISHAN) == set()


def test_an_empty_rule_tells_nobody_and_dropping_it_restores_the_default(factory):
    _world(factory)
    with factory() as session:
        view = usecases.set_rule(session, CLERK, "tickets.ticket.accepted", recipients=[])
        session.commit()
    assert (view.overridden, view.recipients, view.version) == (True, [], 1)
    assert _tell(factory, "tickets.ticket.accepted") == set()
    with factory() as session:
        back = usecases.reset_rule(session, CLERK, "tickets.ticket.accepted")
        session.commit()
    assert (back.overridden, back.version, back.recipients) == (False, 0, [{"role": "reporter", "channels": ["sms"]}])
    assert _tell(factory, "tickets.ticket.accepted") == {(f"reporter:{samples.TICKET}", "sms")}


def test_rules_and_templates_are_refused_naming_what_is_wrong(factory):
    with factory() as session:
        with pytest.raises(ValidationFailed) as role:
            usecases.set_rule(session, CLERK, "rotation.term.started",
                              recipients=[{"role": "reporter", "channels": ["sms"]}])
        assert "recipients.0.role" in role.value.errors
        with pytest.raises(NotFound):
            usecases.set_rule(session, CLERK, "registry.area.created", recipients=[])
        with pytest.raises(ValidationFailed) as operator:
            usecases.set_rule(session, Actor("op", "*", frozenset()), "tickets.ticket.closed", recipients=[])
        assert "district_id" in operator.value.errors
        with pytest.raises(ValidationFailed) as variable:
            usecases.set_template(session, CLERK, "tickets.ticket.closed:inbox:en", subject="{{ title }}",
                                  body="{{ closed_by }}")
        assert variable.value.errors == {"body": ["uses closed_by, which this event does not carry"]}
        with pytest.raises(ValidationFailed) as subject:
            usecases.set_template(session, CLERK, "tickets.ticket.closed:sms:en", subject="x", body="y")
        assert "subject" in subject.value.errors
        with pytest.raises(NotFound):
            usecases.get_template(session, CLERK, "tickets.ticket.closed:fax:en")


def test_a_stale_version_is_refused_and_nothing_changes(factory):
    def expect(version):
        def check(current):
            if current != version:
                raise ValidationFailed.field("If-Match", f"at {current}")
        return check

    with factory() as session:
        usecases.set_template(session, CLERK, "tickets.ticket.closed:inbox:zh-CN", subject="关闭", body="已关闭",
                              check_version=expect(0))
        session.commit()
        with pytest.raises(ValidationFailed):
            usecases.set_template(session, CLERK, "tickets.ticket.closed:inbox:zh-CN", subject="关", body="关",
                                  check_version=expect(0))
        session.rollback()
        view = usecases.get_template(session, CLERK, "tickets.ticket.closed:inbox:zh-CN")
    assert (view.overridden, view.body, view.version) == (True, "已关闭", 1)


def test_the_inbox_reads_in_the_readers_locale_and_marks_read_once(factory):
    _world(factory)
    _tell(factory, "tickets.ticket.dispatched")
    police = Actor(f"organization:{samples.POLICE}", YONGCHUAN, frozenset({"notify:write"}))
    with factory() as session:
        [mine] = session.scalars(usecases.inbox_query(police)).all()
        zh, en = usecases.present(session, mine, "zh-CN"), usecases.present(session, mine, "en")
        assert zh["title"] == "派单：3栋楼道灯不亮" and en["title"] == "Dispatched: 3栋楼道灯不亮"
        assert usecases.unread_count(session, police) == 1 and usecases.unread_count(session, CLERK) == 2
        first = usecases.mark_read(session, police, mine.id, NOW)
        again = usecases.mark_read(session, police, mine.id, datetime(2027, 1, 1, tzinfo=UTC))
        session.commit()
        assert first is again and (again.state, again.read_at, again.version) == ("read", NOW, 2)
        assert usecases.unread_count(session, police) == 0
    [read] = committed_events(factory, "notify.notification.read")
    assert read["data"]["event_type"] == "tickets.ticket.dispatched" and read["data"]["version"] == 2


def test_a_member_or_unit_reads_only_its_own_inbox(factory):
    _world(factory)
    _tell(factory, "tickets.ticket.dispatched")
    school = Actor(f"organization:{samples.SCHOOL}", YONGCHUAN, frozenset({"notify:write"}))
    with factory() as session:
        [police_row] = session.scalars(select(Notification).where(
            Notification.recipient == f"organization:{samples.POLICE}")).all()
        with pytest.raises(NotFound):
            usecases.mark_read(session, school, police_row.id, NOW)
        with pytest.raises(NotFound):
            usecases.mark_read(session, Actor("clerk", BISHAN, frozenset()), police_row.id, NOW)
        # A personal token asking for another inbox gets its own (empty) answer, not the other's.
        asked = usecases.inbox_query(school, f"organization:{samples.POLICE}")
        assert session.scalars(asked).all() == []
        garbled = Actor("member:not-a-uuid", YONGCHUAN, frozenset())
        assert session.scalars(usecases.inbox_query(garbled)).all() == []


def test_mark_all_read_marks_the_callers_inbox_only(factory):
    _world(factory)
    for _ in range(3):
        _tell(factory, "tickets.ticket.dispatched")
    police = Actor(f"organization:{samples.POLICE}", YONGCHUAN, frozenset({"notify:write"}))
    with factory() as session:
        assert usecases.mark_all_read(session, police, NOW) == 3
        assert usecases.mark_all_read(session, police, NOW) == 0
        session.commit()
        assert usecases.unread_count(session, CLERK) == 3
        assert usecases.mark_all_read(session, CLERK, NOW, recipient=f"organization:{samples.SCHOOL}") == 3
        session.commit()
    assert len(committed_events(factory, "notify.notification.read")) == 6


def test_the_rule_preview_resolves_the_sample_and_words_each_message(factory):
    with factory() as session:
        view, told = usecases.preview_rule(session, CLERK, "tickets.ticket.overdue", locale="en")
    assert view.district_id == YONGCHUAN and not view.overridden
    by = {(t.recipient, t.channel): t for t in told}
    chair = by[(f"organization:{samples.HOSPITAL}", "sms")]
    assert chair.role == "chair" and chair.segments == 1
    assert chair.body == '[linli] "3栋楼道灯不亮" (星光小区) passed its deadline (2026-03-11 17:30).'
    assert by[(f"member:{samples.CONVENOR}", "inbox")].subject == "Ticket overdue: 3栋楼道灯不亮"


def test_a_template_preview_renders_a_draft_against_a_given_payload(factory):
    with factory() as session:
        preview = usecases.preview_template(session, CLERK, "tickets.ticket.overdue:sms:zh-CN",
                                            body="{{ title }}超期", payload=_payload("tickets.ticket.overdue",
                                                                                   title="电梯停运"))
        assert (preview.body, preview.segments, preview.units, preview.encoding) == ("电梯停运超期", 1, 6, "ucs2")
        with pytest.raises(ValidationFailed) as refused:
            usecases.preview_template(session, CLERK, "tickets.ticket.overdue:sms:zh-CN", payload={"id": "x"})
        assert refused.value.errors == {
            "payload": ["uses compound_name, stage_due_at, title, which this event does not carry"]}
        with pytest.raises(ValidationFailed) as draft:
            usecases.preview_template(session, CLERK, "tickets.ticket.overdue:sms:zh-CN", body="{{ x }}",
                                      payload={"id": "x"})
        assert list(draft.value.errors) == ["body"]


def _statements(session):
    seen: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_burst_in_one_transaction_reads_the_districts_rules_and_templates_once(factory):
    _world(factory)
    with factory() as session:
        seen = _statements(session)
        for _ in range(5):
            usecases.tell(session, event_type="tickets.ticket.dispatched", district_id=YONGCHUAN,
                          event_id=uuid.uuid4(), payload=_payload("tickets.ticket.dispatched"), now=NOW)
        session.commit()
    assert sum("FROM rule_overrides" in s for s in seen) == 1
    assert sum("FROM template_overrides" in s for s in seen) == 1
    assert sum("FROM preferences" in s for s in seen) == 2  # the police's and the reporter's, once each
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 10


def test_a_rule_template_or_preference_changed_in_the_transaction_is_what_the_next_event_uses(factory):
    _world(factory)
    reporter = f"reporter:{samples.TICKET}"
    with factory() as session:
        assert _told_in(session, "tickets.ticket.accepted") == {(reporter, "sms")}
        usecases.set_rule(session, CLERK, "tickets.ticket.accepted",
                          recipients=[{"role": "compound", "channels": ["inbox"]},
                                      {"role": "reporter", "channels": ["sms"]}])
        usecases.set_template(session, CLERK, "tickets.ticket.accepted:sms:en", subject="", body="Taken: {{ title }}")
        usecases.set_preferences(session, CLERK, reporter, {"locale": "en"})
        assert _told_in(session, "tickets.ticket.accepted") == {(reporter, "sms"), (f"compound:{samples.COMPOUND}",
                                                                                   "inbox")}
        usecases.reset_rule(session, CLERK, "tickets.ticket.accepted")
        assert _told_in(session, "tickets.ticket.accepted") == {(reporter, "sms")}
        session.commit()
    bodies = sorted(d.body for d in _rows(factory, Delivery))
    # The first before the template and preference; the rest in English by the district's new wording.
    assert bodies == ["Taken: 3栋楼道灯不亮", "Taken: 3栋楼道灯不亮",
                      "【邻里】您反映的「3栋楼道灯不亮」已由星光小区受理。"]


def _told_in(session, event_type):
    told = usecases.tell(session, event_type=event_type, district_id=YONGCHUAN, event_id=uuid.uuid4(),
                         payload=_payload(event_type), now=NOW)
    return {(t.recipient, t.channel) for t in told}


def test_an_event_told_in_part_is_told_the_rest_when_redelivered(factory):
    _world(factory)
    event_id = uuid.uuid4()
    police = f"organization:{samples.POLICE}"
    first = _tell(factory, "tickets.ticket.dispatched", event_id=event_id)
    with factory() as session:
        session.execute(Delivery.__table__.delete().where(Delivery.recipient == police))
        session.commit()
    assert _tell(factory, "tickets.ticket.dispatched", event_id=event_id) == {(police, "sms")}
    assert (police, "sms") in first
