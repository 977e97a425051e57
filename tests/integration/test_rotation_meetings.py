"""Joint meetings on real PostgreSQL and RabbitMQ: registry's committee (with its convenor) reaches rotation over
the bus, a rule's meetings are announced on the exchange, and the agenda lists the tickets that tickets listed,
learnt from tickets' events over the bus; the committee's feed serves them all as iCalendar."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import vobject

from linli.services.rotation.models import Committee
from tests.support.collector import Collector
from tests.support.registry_world import yongchuan_over_http
from tests.support.waiting import wait_for

WRITE = "rotation:read rotation:write"
TICKETS = "tickets:read tickets:write"


def test_meetings_are_announced_and_their_agenda_follows_tickets_over_the_bus(live, bus, run_threads):
    registry, tickets, rotation = live("registry", bus), live("tickets", bus), live("rotation", bus)
    collector = Collector(bus, binding="rotation.meeting.*")
    rotation_worker, tickets_worker = rotation.rt.worker(), tickets.rt.worker()
    run_threads(registry.rt.relay().run, tickets.rt.relay().run, rotation.rt.relay().run, rotation_worker.run,
                tickets_worker.run)
    assert rotation_worker.ready.wait(15) and tickets_worker.ready.wait(15)

    world = yongchuan_over_http(registry)
    clerk, district = world["clerk"], world["district"]["id"]
    committee = registry.client.post("/v1/committees", json={
        "community_id": world["community"]["id"], "name": "星光社区大党委", "convenor_name": "张书记"}, headers=clerk)
    assert committee.status_code == 201, committee.json
    committee_id = committee.json["id"]

    def known():
        with rotation.rt.factory() as s:
            row = s.get(Committee, uuid.UUID(committee_id))
            return row is not None and row.convenor_name
    assert wait_for(known, timeout=30, message="the committee and its convenor in rotation") == "张书记"

    # The rule: its meetings are scheduled, and announced on the exchange with the convenor and the local time.
    h = rotation.as_(district, WRITE)
    starts_on = (datetime.now(UTC) + timedelta(days=7)).date()
    r = rotation.client.put(f"/v1/committees/{committee_id}/meeting-rule", json={
        "rrule": "FREQ=MONTHLY;INTERVAL=3", "starts_on": starts_on.isoformat(), "local_time": "14:30",
        "place": "星光社区党群服务中心"}, headers=h)
    assert r.status_code == 200, r.json
    meetings = rotation.client.get(f"/v1/meetings?committee_id={committee_id}", headers=h).json["items"]
    assert meetings and meetings[0]["local_date"] == starts_on.isoformat()
    wait_for(lambda: len(collector.of_type("rotation.meeting.scheduled")) == len(meetings), timeout=30,
             message="every meeting.scheduled on the exchange")
    first = next(e for e in collector.of_type("rotation.meeting.scheduled") if e["subject"] == meetings[0]["id"])
    data = first["data"]
    assert (data["convenor_name"], data["local_time"], data["place"]) == ("张书记", "14:30", "星光社区党群服务中心")
    assert data["community_id"] == world["community"]["id"] and data["committee_name"] == "星光社区大党委"
    assert first["district"] == district

    # A resident's ticket the compound cannot solve is listed for the committee (挂单): tickets' events reach
    # rotation over the bus, and the next meeting's agenda carries it.
    wait_for(lambda: tickets.client.get("/v1/compounds", headers=tickets.as_(district, TICKETS)).json["items"],
             timeout=30, message="the compound in tickets")
    th = tickets.as_(district, TICKETS)
    ticket = tickets.client.post("/v1/tickets", json={
        "compound_id": world["compound"]["id"], "title": "小区路灯不亮", "description": "5栋门口路灯坏了两周",
        "reporter_name": "李大爷", "reporter_phone": "13912345678"}, headers=th)
    assert ticket.status_code == 201, ticket.json
    for verb, body in (("accept", {}), ("escalate", {"note": "小区解决不了"}), ("list", {})):
        r = tickets.client.post(f"/v1/tickets/{ticket.json['id']}/{verb}", json=body, headers=th)
        assert r.status_code == 200, r.json

    def agenda():
        r = rotation.client.get(f"/v1/meetings/{meetings[0]['id']}/agenda", headers=h)
        assert r.status_code == 200, r.json
        return r.json["items"]
    items = wait_for(agenda, timeout=30, message="the listed ticket on the agenda")
    assert [(i["kind"], i["ticket_id"], i["text"]) for i in items] == [("ticket", ticket.json["id"], "小区路灯不亮")]

    # The committee's feed: every meeting under its UID, at 14:30 in Shanghai.
    feed = rotation.client.post("/v1/feeds", json={"committee_id": committee_id}, headers=h)
    assert feed.status_code == 201, feed.json
    ics = rotation.client.get(f"/v1/feeds/{feed.json['token']}.ics")
    assert ics.status_code == 200
    events = {e.uid.value: e for e in vobject.readOne(ics.get_data(as_text=True)).vevent_list}
    assert set(events) == {m["uid"] for m in meetings}
    start = events[meetings[0]["uid"]].dtstart.value
    assert (start.date(), start.hour, start.minute) == (date.fromisoformat(meetings[0]["local_date"]), 14, 30)
    collector.close()
