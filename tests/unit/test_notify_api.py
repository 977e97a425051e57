from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from linli.services.notify.models import Notification
from linli.shared.events import InvalidEvent
from linli.shared.tables import outbox

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
COMPOUND = str(uuid.uuid4())
INBOX = f"compound:{COMPOUND}"


def _ticket(**changes: Any) -> dict[str, Any]:
    """Ticket event data as the tickets service sends it, with a field notify does not know."""
    return {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "compound_id": COMPOUND, "title": "楼道灯不亮",
            "state": "submitted", "due_at": "2025-03-01T02:00:00Z", "overdue": False, "version": 1,
            "reporter_phone": "13800001111", **changes}


def _events(sut, key: str) -> list[dict[str, Any]]:
    with sut.rt.factory() as s:
        bodies = s.scalars(select(outbox.c.body).where(outbox.c.routing_key == key).order_by(outbox.c.seq))
        return [json.loads(body) for body in bodies]


def _inbox(sut, district: str = YONGCHUAN, **headers: str) -> TestResponse:
    r = sut.client.get(f"/v1/notifications?recipient={INBOX}",
                       headers={**sut.as_(district, "notify:read"), **headers})
    assert r.status_code == 200, r.json
    return r


def test_a_submitted_ticket_reaches_the_compound_inbox_in_the_callers_language(make_service):
    sut = make_service("notify")
    ticket = _ticket()
    assert sut.deliver("tickets.ticket.submitted", ticket) == "applied"

    zh = _inbox(sut)
    [item] = zh.json["items"]
    assert item["recipient"] == INBOX and item["state"] == "unread" and item["template"] == "ticket.submitted"
    assert item["locale"] == "zh-CN" and zh.headers["Content-Language"] == "zh-CN"
    assert item["title"] == "新诉求：楼道灯不亮"
    assert "2025-03-01 10:00" in item["body"]
    assert item["params"] == {"id": ticket["id"], "title": "楼道灯不亮", "compound_id": COMPOUND,
                              "due_at": "2025-03-01T02:00:00Z"}

    [en] = _inbox(sut, **{"Accept-Language": "en-US,en;q=0.9"}).json["items"]
    assert en["id"] == item["id"] and en["locale"] == "en"
    assert en["title"] == "New ticket: 楼道灯不亮"

    [delivered] = _events(sut, "notify.notification.delivered")
    assert delivered["subject"] == item["id"] and delivered["district"] == YONGCHUAN
    assert delivered["data"]["state"] == "unread" and delivered["data"]["version"] == 1


def test_an_overdue_ticket_uses_its_own_template(make_service):
    sut = make_service("notify")
    sut.deliver("tickets.ticket.overdue", _ticket(state="dispatched", overdue=True, version=4))
    [item] = _inbox(sut).json["items"]
    assert item["template"] == "ticket.overdue" and item["title"] == "诉求已超期：楼道灯不亮"


def test_the_same_event_twice_notifies_once(make_service):
    sut = make_service("notify")
    ticket, event_id = _ticket(), uuid.uuid4()
    assert sut.deliver("tickets.ticket.submitted", ticket, event_id=event_id) == "applied"
    assert sut.deliver("tickets.ticket.submitted", ticket, event_id=event_id) == "duplicate"
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 1
    assert len(_events(sut, "notify.notification.delivered")) == 1


def test_an_event_without_a_compound_notifies_nobody_and_one_without_a_district_is_refused(make_service):
    sut = make_service("notify")
    assert sut.deliver("tickets.ticket.submitted", _ticket(compound_id=None)) == "applied"
    with pytest.raises(InvalidEvent):
        sut.deliver("tickets.ticket.submitted", _ticket(district_id=None))
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 0


def test_reading_marks_read_once_and_emits_once(make_service):
    sut = make_service("notify")
    sut.deliver("tickets.ticket.submitted", _ticket())
    [item] = _inbox(sut).json["items"]
    url = f"/v1/notifications/{item['id']}/read"
    h = sut.as_(YONGCHUAN, "notify:write")

    first = sut.client.post(url, headers=h)
    assert first.status_code == 200, first.json
    assert first.json["state"] == "read" and first.json["version"] == 2 and first.json["read_at"]
    assert first.headers["ETag"] == '"2"'
    again = sut.client.post(url, headers=h)
    assert again.status_code == 200
    assert again.json["version"] == 2 and again.json["read_at"] == first.json["read_at"]

    [read] = _events(sut, "notify.notification.read")
    assert read["subject"] == item["id"] and read["data"]["state"] == "read" and read["data"]["version"] == 2
    listed = sut.client.get("/v1/notifications?state=unread", headers=sut.as_(YONGCHUAN, "notify:read"))
    assert listed.json["items"] == []


def test_reading_needs_the_write_scope(make_service):
    sut = make_service("notify")
    sut.deliver("tickets.ticket.submitted", _ticket())
    [item] = _inbox(sut).json["items"]
    r = sut.client.post(f"/v1/notifications/{item['id']}/read", headers=sut.as_(YONGCHUAN, "notify:read"))
    assert r.status_code == 403 and r.json["type"] == "/problems/insufficient-scope"


def test_another_districts_notification_is_404_and_lists_are_scoped(make_service):
    sut = make_service("notify")
    sut.deliver("tickets.ticket.submitted", _ticket())
    [item] = _inbox(sut).json["items"]
    h = sut.as_(BISHAN, "notify:read notify:write")
    assert sut.client.get(f"/v1/notifications/{item['id']}", headers=h).status_code == 404
    assert sut.client.post(f"/v1/notifications/{item['id']}/read", headers=h).status_code == 404
    assert _inbox(sut, BISHAN).json["items"] == []
    mine = sut.client.get(f"/v1/notifications/{item['id']}", headers=sut.as_(YONGCHUAN, "notify:read"))
    assert mine.status_code == 200 and mine.json["title"] == item["title"]


def test_no_token_is_401_problem(make_service):
    sut = make_service("notify")
    r = sut.client.get("/v1/notifications")
    assert r.status_code == 401
    assert r.content_type == "application/problem+json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_inbox_pages_walk_every_notification_once(make_service):
    sut = make_service("notify")
    for _ in range(5):
        sut.deliver("tickets.ticket.submitted", _ticket())
    seen, cursor = [], None
    while True:
        url = f"/v1/notifications?recipient={INBOX}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = sut.client.get(url, headers=sut.as_(YONGCHUAN, "notify:read")).json
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
