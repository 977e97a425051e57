"""notify's HTTP API for people: the inbox, rules and templates (webhooks: test_notify_webhooks_api.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from linli.services.notify import samples
from linli.services.notify.models import Notification
from linli.shared.events import InvalidEvent
from linli.shared.tables import outbox

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
POLICE, SCHOOL = f"organization:{samples.POLICE}", f"organization:{samples.SCHOOL}"


def _ticket(key: str = "tickets.ticket.dispatched", **changes: Any) -> dict[str, Any]:
    """Ticket event data as tickets sends it (with fields notify does not show, such as the masked phone)."""
    return samples.sample(key) | {"district_id": YONGCHUAN, "id": str(uuid.uuid4())} | changes


def _events(sut, key: str) -> list[dict[str, Any]]:
    with sut.rt.factory() as s:
        bodies = s.scalars(select(outbox.c.body).where(outbox.c.routing_key == key).order_by(outbox.c.seq))
        return [json.loads(body) for body in bodies]


def _inbox(sut, district: str = YONGCHUAN, sub: str = "clerk", query: str = "", **headers: str) -> TestResponse:
    r = sut.client.get(f"/v1/inbox{query}", headers={**sut.as_(district, "notify:read", sub), **headers})
    assert r.status_code == 200, r.json
    return r


def test_a_dispatched_ticket_reaches_each_units_inbox_in_the_readers_language(make_service):
    sut = make_service("notify")
    ticket = _ticket()
    assert sut.deliver("tickets.ticket.dispatched", ticket) == "applied"

    zh = _inbox(sut, sub=POLICE)
    [item] = zh.json["items"]
    assert zh.json["unread_count"] == 1 and zh.headers["Content-Language"] == "zh-CN"
    assert (item["recipient"], item["role"], item["event_type"], item["state"]) == (
        POLICE, "unit", "tickets.ticket.dispatched", "unread")
    assert item["title"] == "派单：3栋楼道灯不亮"
    assert item["body"] == "星光小区的诉求「3栋楼道灯不亮」已派给中山路派出所、永川中学，请按时限办理。"
    assert "reporter_phone" not in item["params"]

    [en] = _inbox(sut, sub=POLICE, **{"Accept-Language": "en-US,en;q=0.9"}).json["items"]
    assert en["id"] == item["id"] and en["locale"] == "en" and en["title"] == "Dispatched: 3栋楼道灯不亮"

    clerk = _inbox(sut).json
    assert {n["recipient"] for n in clerk["items"]} == {POLICE, SCHOOL} and clerk["unread_count"] == 2
    assert [n["recipient"] for n in _inbox(sut, query=f"?recipient={SCHOOL}").json["items"]] == [SCHOOL]

    delivered = _events(sut, "notify.notification.delivered")
    assert {(e["data"]["recipient"], e["data"]["channel"]) for e in delivered} == {(POLICE, "inbox"), (SCHOOL, "inbox")}


def test_the_same_event_twice_notifies_once(make_service):
    sut = make_service("notify")
    ticket, event_id = _ticket(), uuid.uuid4()
    assert sut.deliver("tickets.ticket.dispatched", ticket, event_id=event_id) == "applied"
    assert sut.deliver("tickets.ticket.dispatched", ticket, event_id=event_id) == "duplicate"
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 2
    assert len(_events(sut, "notify.notification.delivered")) == 2


def test_an_event_without_a_district_is_refused(make_service):
    sut = make_service("notify")
    with pytest.raises(InvalidEvent):
        sut.deliver("tickets.ticket.dispatched", _ticket(district_id=None))
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 0


def test_reading_one_and_all(make_service):
    sut = make_service("notify")
    for _ in range(3):
        sut.deliver("tickets.ticket.dispatched", _ticket())
    [first, *_] = _inbox(sut, sub=POLICE).json["items"]
    h = sut.as_(YONGCHUAN, "notify:write", POLICE)
    one = sut.client.post(f"/v1/inbox/{first['id']}/read", headers=h)
    assert one.status_code == 200 and one.json["state"] == "read" and one.headers["ETag"] == '"2"'
    again = sut.client.post(f"/v1/inbox/{first['id']}/read", headers=h)
    assert again.json["version"] == 2 and again.json["read_at"] == one.json["read_at"]
    assert _inbox(sut, sub=POLICE).json["unread_count"] == 2

    everything = sut.client.post("/v1/inbox/read-all", json={}, headers=h)
    assert everything.status_code == 200 and everything.json == {"marked": 2, "unread_count": 0}
    # The school's inbox is not the police's to mark.
    assert _inbox(sut, sub=SCHOOL).json["unread_count"] == 3
    assert len(_events(sut, "notify.notification.read")) == 3
    assert _inbox(sut, sub=POLICE, query="?state=unread").json["items"] == []


def test_a_unit_never_sees_another_units_notification_nor_a_district_anothers(make_service):
    sut = make_service("notify")
    sut.deliver("tickets.ticket.dispatched", _ticket())
    [police] = _inbox(sut, sub=POLICE).json["items"]
    school = sut.as_(YONGCHUAN, "notify:read notify:write", SCHOOL)
    assert sut.client.get(f"/v1/inbox/{police['id']}", headers=school).status_code == 404
    assert sut.client.post(f"/v1/inbox/{police['id']}/read", headers=school).status_code == 404
    assert _inbox(sut, sub=SCHOOL, query=f"?recipient={POLICE}").json["items"] == []
    bishan = sut.as_(BISHAN, "notify:read notify:write")
    assert sut.client.get(f"/v1/inbox/{police['id']}", headers=bishan).status_code == 404
    assert sut.client.post(f"/v1/inbox/{police['id']}/read", headers=bishan).status_code == 404
    assert _inbox(sut, BISHAN).json == {"items": [], "next_cursor": None, "unread_count": 0}
    mine = sut.client.get(f"/v1/inbox/{police['id']}", headers=sut.as_(YONGCHUAN, "notify:read", POLICE))
    assert mine.status_code == 200 and mine.json["title"] == police["title"]


def test_reading_needs_the_write_scope_and_a_token(make_service):
    sut = make_service("notify")
    sut.deliver("tickets.ticket.dispatched", _ticket())
    [item, _] = _inbox(sut).json["items"]
    r = sut.client.post(f"/v1/inbox/{item['id']}/read", headers=sut.as_(YONGCHUAN, "notify:read"))
    assert r.status_code == 403 and r.json["type"] == "/problems/insufficient-scope"
    anonymous = sut.client.get("/v1/inbox")
    assert anonymous.status_code == 401 and anonymous.content_type == "application/problem+json"


def test_inbox_pages_walk_every_notification_once(make_service):
    sut = make_service("notify")
    for _ in range(5):
        sut.deliver("tickets.ticket.dispatched", _ticket())
    seen, cursor = [], None
    while True:
        page = _inbox(sut, sub=POLICE, query="?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5


# --- Rules -------------------------------------------------------------------------------------------------------

def _admin(sut, district: str = YONGCHUAN) -> dict[str, str]:
    return sut.as_(district, "notify:admin")


def test_rules_list_the_defaults_and_a_district_overrides_one_with_if_match(make_service):
    sut = make_service("notify")
    listed = sut.client.get("/v1/rules", headers=_admin(sut)).json["items"]
    overdue = next(r for r in listed if r["event_type"] == "tickets.ticket.overdue")
    assert overdue["overridden"] is False and overdue["urgent"] is True and overdue["version"] == 0
    assert {"role": "chair", "channels": ["inbox", "sms"]} in overdue["recipients"]

    url = "/v1/rules/tickets.ticket.accepted"
    got = sut.client.get(url, headers=_admin(sut))
    assert got.status_code == 200 and got.headers["ETag"] == '"0"'
    body = {"recipients": [{"role": "compound", "channels": ["inbox"]}, {"role": "reporter", "channels": ["sms"]}]}
    put = sut.client.put(url, json=body, headers={**_admin(sut), "If-Match": '"0"'})
    assert put.status_code == 200, put.json
    assert put.json["overridden"] is True and put.headers["ETag"] == '"1"' and put.json["recipients"] == body[
        "recipients"]
    stale = sut.client.put(url, json={"recipients": []}, headers={**_admin(sut), "If-Match": '"0"'})
    assert stale.status_code == 412
    assert sut.client.get(url, headers=_admin(BISHAN and sut, BISHAN)).json["overridden"] is False

    sut.deliver("tickets.ticket.accepted", _ticket("tickets.ticket.accepted"))
    assert [n["recipient"] for n in _inbox(sut).json["items"]] == [f"compound:{samples.COMPOUND}"]

    dropped = sut.client.delete(url, headers={**_admin(sut), "If-Match": '"1"'})
    assert dropped.status_code == 200 and dropped.json["overridden"] is False and dropped.headers["ETag"] == '"0"'


@pytest.mark.parametrize(("body", "field"), [
    ({"recipients": [{"role": "incoming_chair", "channels": ["inbox"]}]}, "recipients.0.role"),
    ({"recipients": [{"role": "reporter", "channels": ["fax"]}]}, "recipients"),
    ({"recipients": [{"role": "nobody", "channels": []}]}, "recipients"),
    ({}, "recipients"),
])
def test_a_bad_rule_is_refused_naming_the_field(make_service, body, field):
    sut = make_service("notify")
    r = sut.client.put("/v1/rules/tickets.ticket.accepted", json=body, headers=_admin(sut))
    assert r.status_code in (400, 422), r.json
    assert any(name.startswith(field) for name in r.json["errors"]), r.json


def test_rules_need_the_admin_scope_to_change_and_unknown_events_are_404(make_service):
    sut = make_service("notify")
    foreign = sut.client.put(f"/v1/rules/tickets.ticket.accepted?district_id={BISHAN}", json={"recipients": []},
                             headers=_admin(sut))
    assert foreign.status_code == 422 and "district_id" in foreign.json["errors"]
    h = sut.as_(YONGCHUAN, "notify:read notify:write")
    assert sut.client.put("/v1/rules/tickets.ticket.accepted", json={"recipients": []}, headers=h).status_code == 403
    assert sut.client.get("/v1/rules/registry.area.created", headers=h).status_code == 404


def test_the_rule_preview_says_who_would_be_told_and_what_they_would_read(make_service):
    sut = make_service("notify")
    r = sut.client.get("/v1/rules/preview?event_type=rotation.term.handed_over", headers=_admin(sut))
    assert r.status_code == 200, r.json
    assert r.json["rule"]["event_type"] == "rotation.term.handed_over" and r.json["sample"]["committee_name"]
    told = {(t["role"], t["channel"]): t for t in r.json["told"]}
    assert set(told) == {("incoming_chair", "inbox"), ("incoming_chair", "sms"), ("outgoing_chair", "inbox"),
                         ("outgoing_chair", "sms"), ("convenor", "inbox")}
    assert told[("incoming_chair", "sms")]["segments"] == 1 and told[("convenor", "inbox")]["segments"] is None
    assert "永川中学" in told[("incoming_chair", "sms")]["body"]
    missing = sut.client.get("/v1/rules/preview?event_type=registry.area.created", headers=_admin(sut))
    assert missing.status_code == 404


# --- Templates ---------------------------------------------------------------------------------------------------

def test_templates_list_the_defaults_and_a_district_saves_its_own(make_service):
    sut = make_service("notify")
    # The path: each part of a template's id a parameter of its own, in the OpenAPI as in the routes.
    paths = sut.client.get("/openapi.json").json["paths"]
    assert {"/v1/templates/{event_type}:{channel}:{locale}",
            "/v1/templates/{event_type}:{channel}:{locale}/preview"} <= paths.keys()
    listed = sut.client.get("/v1/templates?event_type=tickets.ticket.closed&locale=zh-CN", headers=_admin(sut))
    assert {t["id"] for t in listed.json["items"]} == {
        f"tickets.ticket.closed:{c}:zh-CN" for c in ("inbox", "sms", "email")}
    url = "/v1/templates/tickets.ticket.closed:inbox:zh-CN"
    body = {"subject": "办结：{{ title }}", "body": "{{ compound_name }}「{{ title }}」已办结，谢谢大家。"}
    put = sut.client.put(url, json=body, headers={**_admin(sut), "If-Match": '"0"'})
    assert put.status_code == 200, put.json
    assert put.json["overridden"] is True and put.json["version"] == 1 and put.headers["ETag"] == '"1"'

    sut.deliver("tickets.ticket.closed", _ticket("tickets.ticket.closed"))
    [item] = _inbox(sut, sub=POLICE).json["items"]
    assert (item["title"], item["body"]) == ("办结：3栋楼道灯不亮", "星光小区「3栋楼道灯不亮」已办结，谢谢大家。")
    # A corrected wording applies to notifications already delivered: they are rendered when read.
    sut.client.put(url, json={**body, "subject": "已办结：{{ title }}"}, headers={**_admin(sut), "If-Match": '"1"'})
    assert _inbox(sut, sub=POLICE).json["items"][0]["title"] == "已办结：3栋楼道灯不亮"
    # Another district reads the default.
    assert sut.client.get(url, headers=_admin(sut, BISHAN)).json["overridden"] is False

    dropped = sut.client.delete(url, headers=_admin(sut))
    assert dropped.status_code == 200 and dropped.json["overridden"] is False
    assert _inbox(sut, sub=POLICE).json["items"][0]["title"] == "诉求已关闭：3栋楼道灯不亮"


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"subject": "x", "body": "{{ closed_by }}"}, "body", "uses closed_by"),
    ({"subject": "{{ ''.__class__ }}", "body": "x"}, "subject", "not allowed"),
    ({"subject": "x", "body": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, "body", "not allowed"),
    ({"subject": "x", "body": "{% for %}"}, "body", "line 1"),
    ({"subject": "x", "body": "   "}, "body", ""),
    ({"subject": "x"}, "body", ""),
])
def test_a_bad_template_is_refused_naming_the_field_and_nothing_is_saved(make_service, body, field, says):
    sut = make_service("notify")
    url = "/v1/templates/tickets.ticket.closed:email:en"
    r = sut.client.put(url, json=body, headers=_admin(sut))
    assert r.status_code == 422 and r.content_type == "application/problem+json", r.json
    assert field in r.json["errors"] and says in json.dumps(r.json["errors"][field]), r.json
    assert sut.client.get(url, headers=_admin(sut)).json["overridden"] is False


def test_an_sms_template_shows_its_segments_and_a_long_one_is_refused(make_service):
    sut = make_service("notify")
    url = "/v1/templates/tickets.ticket.overdue:sms:zh-CN"
    two = sut.client.put(url, json={"body": "【邻里】" + "请" * 80 + "{{ title }}"}, headers=_admin(sut))
    assert two.status_code == 200 and two.json["segments"] == 2 and two.json["warnings"], two.json
    long = sut.client.put(url, json={"body": "请" * 300}, headers=_admin(sut))
    assert long.status_code == 422 and "segments" in long.json["errors"]["body"][0]
    subject = sut.client.put(url, json={"subject": "x", "body": "y"}, headers=_admin(sut))
    assert subject.status_code == 422 and "subject" in subject.json["errors"]


def test_a_template_preview_renders_the_sample_a_draft_or_a_payload(make_service):
    sut = make_service("notify")
    url = "/v1/templates/tickets.ticket.dispatched:sms:zh-CN/preview"
    sample = sut.client.post(url, json={}, headers=_admin(sut))
    assert sample.status_code == 200, sample.json
    assert sample.json["segments"] == 1 and sample.json["encoding"] == "ucs2"
    # Worded for the rule's first role (the dispatched units) unless another is asked for.
    assert sample.json["body"] == "【邻里】星光小区「3栋楼道灯不亮」已派给贵单位，请按时办理。"
    reporter = sut.client.post(url, json={"role": "reporter"}, headers=_admin(sut))
    assert reporter.json["body"] == "【邻里】您反映的「3栋楼道灯不亮」已派给中山路派出所、永川中学办理。"
    draft = sut.client.post(url, json={"body": "Ticket {{ title }}", "payload": _ticket(title="Lift")},
                            headers=_admin(sut))
    assert (draft.json["body"], draft.json["encoding"], draft.json["units"]) == ("Ticket Lift", "gsm7", 11)
    bad = sut.client.post(url, json={"body": "{{ nothing }}"}, headers=_admin(sut))
    assert bad.status_code == 422 and "body" in bad.json["errors"]
    assert sut.client.post("/v1/templates/nope:sms:zh-CN/preview", json={}, headers=_admin(sut)).status_code == 404
