"""Telling people, end to end on a real PostgreSQL and RabbitMQ: registry's, rotation's and tickets' events
(published as those services would, private contacts on linli.private) build notify's read models, and a
ticket's events put notifications in the right inboxes, naming the compound, the ticket and the units, and plan
SMS to those whose phone notify was told; a redelivered event tells nobody twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from linli.services.notify import samples
from linli.services.notify.models import Delivery, Notification
from linli.suite import subscriptions
from tests.support.apps import ServiceUnderTest
from tests.support.publishing import publish_as_producer
from tests.support.waiting import wait_for

YONGCHUAN = str(uuid.uuid4())
COMPOUND, COMMUNITY, COMMITTEE = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
POLICE, SCHOOL, HOSPITAL, CONVENOR = (str(uuid.uuid4()) for _ in range(4))
TICKET = str(uuid.uuid4())
NAMES = {POLICE: "中山路派出所", SCHOOL: "永川中学", HOSPITAL: "区人民医院"}


@pytest.fixture
def notify(live, bus, run_threads) -> ServiceUnderTest:
    subscriptions()  # the whole catalogue, as in every process of the suite
    sut = live("notify", bus)
    sut.rt.declare_topology()
    worker = sut.rt.worker()
    run_threads(sut.rt.relay().run, worker.run)
    assert worker.ready.wait(10), "notify's consumers did not start"
    return sut


def _part(unit: str, lead: bool) -> dict:
    return {"unit_id": unit, "unit_name": NAMES[unit], "lead": lead, "state": "dispatched",
            "due_at": "2026-03-11T09:30:00+00:00", "overdue": False}


def _ticket(key: str, **changes) -> dict:
    found = samples.sample(key) | {"id": TICKET, "district_id": YONGCHUAN, "compound_id": COMPOUND,
                                   "community_id": COMMUNITY, "title": "2号楼电梯停运", "compound_name": "龙城小区"}
    if found.get("move", {}).get("unit_ids"):
        found["move"]["unit_ids"] = [POLICE, SCHOOL]  # the sample's units, as this world names them
    return found | changes


def _inbox(sut: ServiceUnderTest, recipient: str, locale: str = "zh-CN") -> list[dict]:
    r = sut.client.get("/v1/inbox", headers={**sut.as_(YONGCHUAN, "notify:read", recipient),
                                             "Accept-Language": locale})
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_a_tickets_events_reach_the_right_inboxes_and_phones_naming_things(notify, bus):
    publish: Callable[..., dict] = lambda key, data, **kw: publish_as_producer(  # noqa: E731
        bus, key, data, district=YONGCHUAN, **kw)
    # registry: the committee of the compound's community, its convenor; the units' and convenor's phones.
    committee = samples.sample("registry.committee.unit_joined")
    publish("registry.committee.created", {
        k: v for k, v in committee.items() if k in ("name", "time_zone", "convenor_name")} | {
        "id": COMMITTEE, "district_id": YONGCHUAN, "community_id": COMMUNITY, "convenor_member_id": CONVENOR,
        "units": [{"organization_id": org, "organization_name": name, "organization_kind": "agency",
                   "joined_on": "2025-01-01"} for org, name in NAMES.items()], "version": 1})
    publish("registry.organization.contact", {"id": POLICE, "district_id": YONGCHUAN, "name": NAMES[POLICE],
                                              "contact_person": "张警官", "contact_phone": "13900002222",
                                              "version": 2})
    publish("registry.member.contact", {"id": CONVENOR, "district_id": YONGCHUAN, "name": "李书记",
                                        "phone": "13700003333", "version": 1})
    # rotation: the hospital chairs the committee this term.
    publish("rotation.term.started", samples.sample("rotation.term.started") | {
        "district_id": YONGCHUAN, "committee_id": COMMITTEE, "organization_id": HOSPITAL,
        "organization_name": NAMES[HOSPITAL]}, subject=str(uuid.uuid4()))
    # tickets: the reporter's contact (private, first), then the ticket's moves.
    publish("tickets.ticket.contact", {"id": TICKET, "district_id": YONGCHUAN, "reporter_name": "张大爷",
                                       "reporter_phone": "13800001111", "version": 1})
    publish("tickets.ticket.submitted", _ticket("tickets.ticket.submitted", version=1))
    publish("tickets.ticket.listed", _ticket("tickets.ticket.listed", version=4))
    dispatched = publish("tickets.ticket.dispatched", _ticket(
        "tickets.ticket.dispatched", parts=[_part(POLICE, True), _part(SCHOOL, False)], version=5))
    publish("tickets.ticket.commented", samples.sample("tickets.ticket.commented") | {
        "id": str(uuid.uuid4()), "district_id": YONGCHUAN, "ticket_id": TICKET, "ticket_title": "2号楼电梯停运"},
        subject=TICKET)

    police, school, hospital = (f"organization:{org}" for org in (POLICE, SCHOOL, HOSPITAL))
    compound, convenor = f"compound:{COMPOUND}", f"member:{CONVENOR}"
    expected = {compound: {"tickets.ticket.submitted", "tickets.ticket.commented"},
                hospital: {"rotation.term.started", "tickets.ticket.listed"},
                convenor: {"rotation.term.started", "tickets.ticket.listed"},
                police: {"tickets.ticket.dispatched", "tickets.ticket.commented"},
                school: {"tickets.ticket.dispatched", "tickets.ticket.commented"}}

    def inboxes() -> dict[str, set[str]]:
        with notify.rt.factory() as s:
            found: dict[str, set[str]] = {}
            for recipient, event_type in s.execute(select(Notification.recipient, Notification.event_type)):
                found.setdefault(recipient, set()).add(event_type)
            return found

    wait_for(lambda: inboxes() == expected, timeout=30, message=f"the inboxes {expected}")

    # Each reads their own inbox, worded with the names the events carried.
    listed = next(n for n in _inbox(notify, hospital) if n["event_type"] == "tickets.ticket.listed")
    assert listed["title"] == "诉求挂单：2号楼电梯停运"
    assert listed["body"] == "龙城小区的诉求「2号楼电梯停运」已列入大党委联席会议议题。"
    titles = {n["event_type"]: n for n in _inbox(notify, police, "en")}
    assert titles["tickets.ticket.dispatched"]["body"] == (
        'The ticket "2号楼电梯停运" of 龙城小区 was dispatched to 中山路派出所, 永川中学; please handle it in time.')
    assert titles["tickets.ticket.commented"]["title"] == "New comment: 2号楼电梯停运"

    # SMS planned for whom notify has a phone: the reporter (submitted, dispatched) and the police (dispatched);
    # the school has none, so it is told in its inbox only.
    def texts() -> dict[tuple[str, str], str]:
        with notify.rt.factory() as s:
            return {(d.recipient, d.event_type): d.body for d in s.scalars(select(Delivery))}

    reporter = f"reporter:{TICKET}"
    sms = wait_for(lambda: (found := texts()) and len(found) == 3 and found, timeout=30, message="three SMS")
    assert sms[(reporter, "tickets.ticket.submitted")] == (
        "【邻里】您反映的「2号楼电梯停运」已提交龙城小区，将于2026-03-02 17:30前受理。")
    assert sms[(reporter, "tickets.ticket.dispatched")] == (
        "【邻里】您反映的「2号楼电梯停运」已派给中山路派出所、永川中学办理。")
    assert sms[(police, "tickets.ticket.dispatched")] == "【邻里】龙城小区「2号楼电梯停运」已派给贵单位，请按时办理。"

    # The same event again (a redelivery, a replay) tells nobody twice.
    publish("tickets.ticket.dispatched", dispatched["data"], event_id=uuid.UUID(dispatched["id"]))
    publish("tickets.ticket.closed", _ticket("tickets.ticket.closed", parts=[
        _part(POLICE, True) | {"state": "resolved"}], version=9))
    wait_for(lambda: "tickets.ticket.closed" in inboxes().get(police, set()), timeout=30, message="closed")
    with notify.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification).where(
            Notification.event_type == "tickets.ticket.dispatched")) == 2
        assert s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.event_type == "tickets.ticket.dispatched")) == 2
