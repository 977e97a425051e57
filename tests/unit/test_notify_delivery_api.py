"""/v1/preferences and /v1/deliveries over HTTP on SQLite: who may read and change preferences, validation, and
the delivery log's filters, masking and tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from linli.services.notify import domain, outgoing, usecases
from linli.services.notify.sender import Sender, SenderSettings
from linli.shared.events import is_private
from tests.support.sessions import committed_events

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
MEMBER = f"member:{uuid.uuid4()}"
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@pytest.fixture
def sut(make_service):
    return make_service("notify")


def _clerk(sut, district=YONGCHUAN, scopes="notify:read notify:write"):
    return sut.as_(district, scopes)


def _put(sut, body, headers, recipient=MEMBER):
    return sut.client.put(f"/v1/preferences/{recipient}", json=body, headers=headers)


def test_preferences_start_as_the_defaults_and_are_replaced_whole(sut):
    r = sut.client.get(f"/v1/preferences/{MEMBER}", headers=_clerk(sut))
    assert r.status_code == 200 and r.json["version"] == 0 and r.headers["ETag"] == '"0"'
    assert (r.json["sms"], r.json["locale"], r.json["time_zone"], r.json["quiet_start"]) == (
        True, "zh-CN", "Asia/Shanghai", None)
    body = {"sms": False, "locale": "en", "time_zone": "Europe/Berlin", "quiet_start": "22:00", "quiet_end": "07:00",
            "digest": True, "digest_time": "19:30"}
    r = _put(sut, body, {**_clerk(sut), "If-Match": '"0"'})
    assert r.status_code == 200, r.json
    assert {k: r.json[k] for k in body} == body and r.json["district_id"] == YONGCHUAN
    assert r.headers["ETag"] == f'"{r.json["version"]}"'
    r = _put(sut, {"locale": "en"}, {**_clerk(sut), "If-Match": r.headers["ETag"]})
    assert (r.json["sms"], r.json["quiet_start"], r.json["digest"]) == (True, None, False)


def test_a_stale_if_match_is_412_and_changes_nothing(sut):
    assert _put(sut, {"locale": "en"}, _clerk(sut)).status_code == 200
    assert _put(sut, {"locale": "zh-CN"}, {**_clerk(sut), "If-Match": '"0"'}).status_code == 412
    assert sut.client.get(f"/v1/preferences/{MEMBER}", headers=_clerk(sut)).json["locale"] == "en"


@pytest.mark.parametrize(("body", "field"), [
    ({"time_zone": "Mars/Olympus"}, "time_zone"), ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({"time_zone": "localtime"}, "time_zone"), ({"time_zone": "Factory"}, "time_zone"),
    ({"quiet_start": "22:00"}, "quiet_end"), ({"quiet_end": "07:00"}, "quiet_start"),
    ({"quiet_start": "25:00", "quiet_end": "07:00"}, "quiet_start"), ({"digest_time": "8pm"}, "digest_time"),
    ({"locale": "fr"}, "locale"), ({"sms": "maybe"}, "sms"),
])
def test_bad_preferences_are_refused_naming_the_field(sut, body, field):
    r = _put(sut, body, _clerk(sut))
    assert r.status_code == 422 and field in r.json["errors"], r.json
    assert sut.client.get(f"/v1/preferences/{MEMBER}", headers=_clerk(sut)).json["version"] == 0


def test_quiet_hours_that_start_when_they_end_are_refused(sut):
    r = _put(sut, {"quiet_start": "07:00", "quiet_end": "07:00"}, _clerk(sut))
    assert r.status_code == 422 and "quiet_end" in r.json["errors"]


def test_another_districts_clerk_gets_404_but_the_member_themselves_may(sut):
    assert _put(sut, {"locale": "en"}, _clerk(sut)).status_code == 200
    other = _clerk(sut, BISHAN)
    assert sut.client.get(f"/v1/preferences/{MEMBER}", headers=other).status_code == 404
    assert _put(sut, {"locale": "zh-CN"}, other).status_code == 404
    member = sut.as_(BISHAN, "notify:read notify:write", sub=MEMBER)
    assert sut.client.get(f"/v1/preferences/{MEMBER}", headers=member).json["locale"] == "en"
    assert _put(sut, {"locale": "zh-CN"}, member).status_code == 200


def test_a_recipient_is_a_kind_and_an_id(sut):
    r = _put(sut, {}, _clerk(sut), recipient="nobody")
    assert r.status_code == 422 and "recipient" in r.json["errors"]


def test_writing_needs_the_write_scope(sut):
    assert _put(sut, {}, _clerk(sut, scopes="notify:read")).status_code == 403


def _words(locale):
    return ("诉求已超期", "诉求已超期：楼道灯不亮")


def _deliveries(sut):
    event = uuid.uuid4()
    with sut.rt.factory() as session:
        for district, channel, address in ((YONGCHUAN, "sms", "13800001111"), (YONGCHUAN, "email", "zhang@example.cn"),
                                           (BISHAN, "sms", "13900002222")):
            usecases.deliver(session, domain.Message(district, event, "tickets.ticket.overdue", f"member:{district}",
                                                     channel, address, False, _words), now=NOW)
        session.commit()
    return event


class Flaky:
    name = "gw1"

    def __init__(self):
        self.calls = 0

    def send(self, message, timeout):
        self.calls += 1
        return outgoing.Outcome(outgoing.RETRYABLE, "HTTP 503") if self.calls == 1 else outgoing.Outcome(outgoing.OK)


def test_the_delivery_log_is_district_scoped_filtered_masked_and_shows_attempts(sut):
    event = _deliveries(sut)
    clock = [NOW]
    Sender(sut.rt.factory, SenderSettings(sms=[Flaky()], email=[Flaky()]), now=lambda: clock[0]).round()
    h = _clerk(sut)
    r = sut.client.get("/v1/deliveries", headers=h)
    assert r.status_code == 200 and len(r.json["items"]) == 2
    addresses = {item["channel"]: item["address"] for item in r.json["items"]}
    assert addresses == {"sms": "138****1111", "email": "z***@example.cn"}
    assert "13800001111" not in r.get_data(as_text=True)
    [sms] = sut.client.get(f"/v1/deliveries?channel=sms&event={event}&status=pending", headers=h).json["items"]
    assert sut.client.get("/v1/deliveries?status=sent", headers=h).json["items"] == []
    assert len(sut.client.get(f"/v1/deliveries?recipient=member:{YONGCHUAN}", headers=h).json["items"]) == 2
    assert sut.client.get(f"/v1/deliveries?recipient=member:{BISHAN}", headers=h).json["items"] == []
    paged = sut.client.get("/v1/deliveries?limit=1", headers=h).json
    rest = sut.client.get("/v1/deliveries", query_string={"limit": 1, "cursor": paged["next_cursor"]}, headers=h)
    assert {paged["items"][0]["id"], rest.json["items"][0]["id"]} == {i["id"] for i in r.json["items"]}
    assert sut.client.get("/v1/deliveries?event_type=tickets.ticket.submitted", headers=h).json["items"] == []
    later = (NOW + timedelta(days=400)).isoformat()
    assert sut.client.get("/v1/deliveries", query_string={"from": later}, headers=h).json["items"] == []
    item = sut.client.get(f"/v1/deliveries/{sms['id']}", headers=h)
    assert item.status_code == 200 and item.headers["ETag"] == f'"{item.json["version"]}"'
    [attempt] = item.json["attempts"]
    assert (attempt["provider"], attempt["status"], attempt["error"]) == ("gw1", "retryable", "HTTP 503")
    assert sut.client.get(f"/v1/deliveries/{sms['id']}", headers=_clerk(sut, BISHAN)).status_code == 404


@pytest.mark.parametrize("query", ["channel=inbox", "status=lost", "event=nope", "from=yesterday"])
def test_bad_filters_are_400_naming_them(sut, query):
    r = sut.client.get(f"/v1/deliveries?{query}", headers=_clerk(sut))
    assert r.status_code in (400, 422) and query.split("=")[0] in r.json["errors"], r.json


def test_setting_preferences_is_told_privately_once_per_change(sut):
    assert _put(sut, {"locale": "en", "quiet_start": "22:00", "quiet_end": "07:00"}, _clerk(sut)).status_code == 200
    assert _put(sut, {"locale": "en", "quiet_start": "22:00", "quiet_end": "07:00"}, _clerk(sut)).status_code == 200
    [event] = committed_events(sut.rt.factory, "notify.preferences.updated")
    assert event["data"]["recipient"] == MEMBER and event["data"]["quiet_start"] == "22:00"
    assert event["data"]["version"] == 1
    assert is_private("notify.preferences.updated")


def _known_member(sut, district=YONGCHUAN) -> str:
    member = f"member:{uuid.uuid4()}"
    with sut.rt.factory() as session:
        usecases.record_contact(session, member, 1, district_id=district, name="李四", phone="13800001111")
        session.commit()
    return member


def test_another_district_cannot_set_preferences_of_a_recipient_notify_knows(sut):
    member = _known_member(sut)
    other = _clerk(sut, BISHAN)
    assert _put(sut, {"sms": False}, other, recipient=member).status_code == 404
    assert sut.client.get(f"/v1/preferences/{member}", headers=other).status_code == 404
    r = sut.client.get(f"/v1/preferences/{member}", headers=_clerk(sut))
    assert r.status_code == 200 and r.json["version"] == 0 and r.json["sms"] is True
    # The owner's clerk sets them without naming the district, even as an operator.
    r = _put(sut, {"locale": "en"}, sut.as_("*", "notify:read notify:write"), recipient=member)
    assert r.status_code == 200 and r.json["district_id"] == YONGCHUAN


def test_preferences_another_district_set_first_neither_silence_nor_lock_out_the_recipient(sut):
    member = f"member:{uuid.uuid4()}"
    assert _put(sut, {"sms": False}, _clerk(sut, BISHAN), recipient=member).status_code == 200
    with sut.rt.factory() as session:   # registry then tells notify whose member it is
        usecases.record_contact(session, member, 1, district_id=YONGCHUAN, name="李四", phone="13800001111")
        message = domain.Message(district_id=YONGCHUAN, event_id=uuid.uuid4(), event_type="tickets.ticket.overdue",
                                 recipient=member, channel="sms", address="13800001111", urgent=False,
                                 render=lambda locale: ("", "超期"))
        assert usecases.deliver(session, message, now=NOW).state != outgoing.SKIPPED
        session.commit()
    assert sut.client.get(f"/v1/preferences/{member}", headers=_clerk(sut, BISHAN)).status_code == 404
    r = sut.client.get(f"/v1/preferences/{member}", headers=_clerk(sut))
    assert r.status_code == 200 and r.json["sms"] is True and r.json["version"] == 0
    r = _put(sut, {"locale": "en"}, {**_clerk(sut), "If-Match": '"0"'}, recipient=member)
    assert r.status_code == 200 and r.json["district_id"] == YONGCHUAN and r.json["sms"] is True


def test_a_members_token_reads_its_own_deliveries_only(sut):
    _deliveries(sut)
    own = sut.as_(YONGCHUAN, "notify:read", sub=f"member:{YONGCHUAN}")
    other = sut.as_(YONGCHUAN, "notify:read", sub=f"organization:{uuid.uuid4()}")
    mine = sut.client.get("/v1/deliveries", headers=own).json["items"]
    assert len(mine) == 2
    assert sut.client.get("/v1/deliveries", headers=other).json["items"] == []
    assert sut.client.get(f"/v1/deliveries?recipient=member:{YONGCHUAN}", headers=other).json["items"] == []
    assert sut.client.get(f"/v1/deliveries/{mine[0]['id']}", headers=own).status_code == 200
    assert sut.client.get(f"/v1/deliveries/{mine[0]['id']}", headers=other).status_code == 404


def test_a_units_token_cannot_read_or_set_another_recipients_preferences(sut):
    known = _known_member(sut)
    me = f"organization:{uuid.uuid4()}"
    unit = sut.as_(YONGCHUAN, "notify:read notify:write", sub=me)
    for recipient in (known, MEMBER):   # one notify has a contact for, one it has not
        assert _put(sut, {"sms": False}, unit, recipient=recipient).status_code == 404
        assert sut.client.get(f"/v1/preferences/{recipient}", headers=unit).status_code == 404
        assert sut.client.get(f"/v1/preferences/{recipient}", headers=_clerk(sut)).json["version"] == 0
    assert _put(sut, {"locale": "en"}, unit, recipient=me).status_code == 200
