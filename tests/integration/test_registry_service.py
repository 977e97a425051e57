"""Service records and activities on real PostgreSQL and RabbitMQ: their events go out, closed tickets credit once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import kombu
from sqlalchemy import func, select

from linli.services.registry.models import ServiceRecord
from linli.services.tickets.events import TICKET_CLOSED
from linli.shared.db import transaction
from linli.shared.events import encode
from linli.shared.outbox import emit
from linli.shared.tables import inbox
from tests.support.collector import Collector
from tests.support.ticket_events import closed_ticket
from tests.support.waiting import wait_for

PHONES = ("13812345678", "13812345679", "13812345670")


def _world(registry) -> dict:
    """A district with a community, a compound, a hospital and three members, over the API."""
    op = registry.as_("*", "registry:admin")

    def post(url: str, body: dict, headers: dict) -> dict:
        r = registry.client.post(url, json=body, headers=headers)
        assert r.status_code == 201, r.json
        return r.json

    district = post("/v1/areas", {"level": "district", "name": "永川区"}, op)
    clerk = registry.as_(district["id"], "registry:read registry:write")
    street = post("/v1/areas", {"level": "street", "name": "中山路街道", "parent_id": district["id"]}, clerk)
    community = post("/v1/areas", {"level": "community", "name": "星光社区", "parent_id": street["id"]}, clerk)
    compound = post("/v1/areas", {"level": "compound", "name": "星光小区", "kind": "managed",
                                  "parent_id": community["id"]}, clerk)
    hospital = post("/v1/organizations", {"kind": "hospital", "name": "永川区人民医院"}, clerk)
    members = [post("/v1/members", {"name": name, "phone": phone, "compound_id": compound["id"]}, clerk)["id"]
               for name, phone in zip(("张三", "李四", "王五"), PHONES, strict=True)]
    return {"district": district["id"], "community": community["id"], "compound": compound["id"],
            "hospital": hospital["id"], "members": members, "clerk": clerk}


def _call(registry, method: str, url: str, body: dict | None, headers: dict, status: int) -> dict:
    r = registry.client.open(url, method=method, json=body, headers=headers)
    assert r.status_code == status, r.json
    return r.json


def test_activity_and_service_record_events_are_published(live, bus, run_threads):
    registry = live("registry", bus)
    activities = Collector(bus, binding="registry.activity.#")
    records = Collector(bus, binding="registry.service_record.#", name="test.dupes")
    run_threads(registry.rt.relay().run)
    w = _world(registry)
    clerk, (member, second, _) = w["clerk"], w["members"]
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    body = {"host_organization_id": w["hospital"], "area_id": w["compound"], "title": "义诊", "category": "medical",
            "place": "星光小区活动室", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(), "capacity": 20}
    held = _call(registry, "POST", "/v1/activities", body, clerk, 201)
    _call(registry, "PATCH", f"/v1/activities/{held['id']}", {"title": "社区义诊"}, clerk, 200)
    _call(registry, "POST", f"/v1/activities/{held['id']}/sign-ups", {"member_id": member}, clerk, 201)
    _call(registry, "POST", f"/v1/activities/{held['id']}/hold", {
        "attendees": [{"member_id": member, "hours": 2}, {"member_id": second, "hours": 1.5}]}, clerk, 200)
    called_off = _call(registry, "POST", "/v1/activities", {**body, "area_id": w["community"]}, clerk, 201)
    _call(registry, "POST", f"/v1/activities/{called_off['id']}/cancel", {"reason": "暴雨预警"}, clerk, 200)
    kept = _call(registry, "POST", "/v1/service-records", {"member_id": member, "served_on": "2025-03-01",
                                                           "hours": 3, "category": "elderly_care"}, clerk, 201)
    _call(registry, "POST", f"/v1/service-records/{kept['id']}/verify", None, clerk, 200)
    refused = _call(registry, "POST", "/v1/service-records", {"member_id": second, "served_on": "2025-03-01",
                                                              "hours": 1, "category": "repairs"}, clerk, 201)
    _call(registry, "POST", f"/v1/service-records/{refused['id']}/reject", {"reason": "当天未到场"}, clerk, 200)

    wait_for(lambda: activities.of_type("registry.activity.cancelled"), timeout=30, message="the cancellation")
    wait_for(lambda: records.of_type("registry.service_record.rejected"), timeout=30, message="the rejection")
    steps = [(e["type"].removeprefix("linli.registry.activity."), e["subject"]) for e in activities.events]
    assert steps == [("scheduled", held["id"]), ("updated", held["id"]), ("held", held["id"]),
                     ("scheduled", called_off["id"]), ("cancelled", called_off["id"])]
    [event] = activities.of_type("registry.activity.held")
    data = event["data"]
    assert (data["community_id"], data["area_id"], data["host_organization_id"], data["host_organization_name"],
            data["title"], data["attendee_count"], data["state"]) == (
        w["community"], w["compound"], w["hospital"], "永川区人民医院", "社区义诊", 2, "held")
    assert data["held_at"] and event["district"] == w["district"]
    verified = records.of_type("registry.service_record.verified")
    credited = sorted((e["data"]["member_id"], e["data"]["minutes"]) for e in verified
                      if e["data"]["source"] == "activity")
    assert credited == sorted([(member, 120), (second, 90)])
    assert [e["subject"] for e in verified if e["data"]["source"] == "other"] == [kept["id"]]
    assert [e["subject"] for e in records.of_type("registry.service_record.logged")] == [kept["id"], refused["id"]]
    assert all(phone not in str(e) for e in activities.events + records.events for phone in PHONES)
    activities.close()
    records.close()


def _publish(bus, event: dict) -> None:
    with kombu.Connection(bus.url) as conn:
        kombu.Producer(conn.channel()).publish(
            encode(event), exchange=bus.exchange, routing_key="tickets.ticket.closed",
            content_type="application/cloudevents+json", content_encoding="binary")


def _closed(w: dict, ticket_id: str, participants: list[dict], closed_at: str) -> dict:
    return closed_ticket(w["district"], w["compound"], participants, closed_at=closed_at, id=ticket_id)


def test_a_ticket_closed_and_delivered_twice_credits_each_participant_once(live, bus, run_threads):
    registry = live("registry", bus)
    tickets = live("tickets", bus)
    worker = registry.rt.worker()
    run_threads(worker.run)
    assert worker.ready.wait(10), "the registry worker did not start"
    w = _world(registry)
    member, second, third = w["members"]
    ticket = str(uuid.uuid4())
    participants = [{"member_id": member, "hours": 2.5}, {"member_id": second, "hours": 1},
                    {"member_id": str(uuid.uuid4()), "hours": 1}]
    # tickets' own outbox and relay publish the event, checked against the contract tickets declares.
    with transaction(tickets.rt.factory) as s:
        event = emit(s, TICKET_CLOSED, subject=ticket, district=w["district"],
                     data=_closed(w, ticket, participants, "2025-03-01T17:30:00+00:00"))
    tickets.rt.relay().publish_pending()
    # The broker delivers it again, and the ticket, reopened, is closed a second time.
    _publish(bus, event)
    with transaction(tickets.rt.factory) as s:
        emit(s, TICKET_CLOSED, subject=ticket, district=w["district"],
             data={**_closed(w, ticket, participants, "2025-03-06T02:00:00+00:00"), "version": 14})
    # Another ticket last: once its credit is there, everything published before it was applied.
    marker = str(uuid.uuid4())
    with transaction(tickets.rt.factory) as s:
        emit(s, TICKET_CLOSED, subject=marker, district=w["district"],
             data=_closed(w, marker, [{"member_id": third, "hours": 0.5}], "2025-03-07T02:00:00+00:00"))
    tickets.rt.relay().publish_pending()

    def credits() -> list[ServiceRecord]:
        with registry.rt.factory() as s:
            return list(s.scalars(select(ServiceRecord).order_by(ServiceRecord.minutes)))

    wait_for(lambda: any(r.source_id == uuid.UUID(marker) for r in credits()), timeout=30,
             message="the last ticket's credit")
    rows = credits()
    assert [(str(r.member_id), r.source, str(r.source_id), r.minutes, r.state, r.served_on.isoformat(), r.category)
            for r in rows] == [
        (third, "ticket", marker, 30, "verified", "2025-03-07", "repairs"),
        (second, "ticket", ticket, 60, "verified", "2025-03-02", "repairs"),
        (member, "ticket", ticket, 150, "verified", "2025-03-02", "repairs"),
    ]
    with registry.rt.factory() as s:
        applied = s.scalar(select(func.count()).select_from(inbox).where(
            inbox.c.consumer == "registry.service-credits"))
        assert applied == 3, "the duplicate delivery was applied again"
        assert s.scalar(select(func.count()).select_from(ServiceRecord)) == 3
