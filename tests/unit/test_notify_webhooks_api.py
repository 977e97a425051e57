"""/v1/webhooks over HTTP on SQLite: registering, secrets shown once, SSRF refusals, tenancy, the verbs, and
deliveries queued from events (the sending itself: test_notify_webhooks_dispatch.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from linli.services.notify import samples, sending
from linli.services.notify.models import WebhookDelivery, WebhookMessage
from linli.suite import subscriptions
from tests.support.sessions import committed_events

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
URL = "https://hooks.example.org/linli"
PUBLIC = {"hooks.example.org": ["93.184.215.14"], "other.example.org": ["2606:4700:4700::1111"],
          "internal.example.org": ["93.184.215.14", "10.0.0.7"], "localhost": ["127.0.0.1"]}


@pytest.fixture
def sut(make_service, monkeypatch):
    def resolve(host: str, port: int) -> list[str]:
        if host not in PUBLIC:
            raise OSError("Name or service not known")
        return PUBLIC[host]

    monkeypatch.setattr(sending, "resolve", resolve)
    monkeypatch.delenv("LINLI_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    # As every process of the suite does: the whole catalogue is known, so public events are told from private.
    subscriptions()
    return make_service("notify")


def _as(sut, district: str = YONGCHUAN, scopes: str = "notify:write notify:read") -> dict[str, str]:
    return sut.as_(district, scopes)


def _register(sut, district: str = YONGCHUAN, **body: Any) -> dict[str, Any]:
    r = sut.client.post("/v1/webhooks", json={"url": URL, "event_types": ["tickets.ticket.*"], **body},
                        headers=_as(sut, district))
    assert r.status_code == 201, r.json
    return r.json


def _ticket(district: str = YONGCHUAN) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "district_id": district, "compound_id": str(uuid.uuid4()), "title": "楼道灯不亮",
            "state": "submitted", "version": 1, "reporter_phone": "13800001111"}


def _deliveries(sut, webhook_id: str, query: str = "", district: str = YONGCHUAN) -> list[dict[str, Any]]:
    r = sut.client.get(f"/v1/webhooks/{webhook_id}/deliveries{query}", headers=_as(sut, district, "notify:read"))
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_registering_shows_the_secret_once_and_never_again(sut):
    created = _register(sut, description="街道办事处的工单系统", event_types=["linli.tickets.ticket.*", "registry.#"])
    assert created["secret"].startswith("whsec_") and created["state"] == "enabled"
    assert created["event_types"] == ["tickets.ticket.*", "registry.#"]
    assert created["district_id"] == YONGCHUAN and created["url"] == URL and created["version"] == 1
    item = sut.client.get(f"/v1/webhooks/{created['id']}", headers=_as(sut))
    assert item.status_code == 200 and item.headers["ETag"] == '"1"'
    listed = sut.client.get("/v1/webhooks", headers=_as(sut)).json["items"]
    assert [w["id"] for w in listed] == [created["id"]]
    for shown in (item.json, listed[0]):
        assert "secret" not in shown and created["secret"] not in json.dumps(shown)
    [event] = committed_events(sut.rt.factory, "notify.webhook.created")
    assert event["subject"] == created["id"] and event["district"] == YONGCHUAN
    assert event["data"]["event_types"] == ["tickets.ticket.*", "registry.#"]
    # Neither the secret nor the URL (it may carry a token) travels on the public exchange.
    assert created["secret"] not in json.dumps(event) and URL not in json.dumps(event)


@pytest.mark.parametrize(("url", "says"), [
    ("http://localhost:8080/hook", "loopback"),
    ("http://127.0.0.1/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://internal.example.org/hook", "10.0.0.7"),
    ("http://[fd00::5]/hook", "private"),
    ("ftp://hooks.example.org/x", "only http and https"),
    ("https://nowhere.example.org/x", "cannot be resolved"),
    ("not a url", "no spaces"),
    ("hooks.example.org/x", "only http and https"),
])
def test_endpoints_the_suite_must_not_call_are_refused_with_422_naming_url(sut, url, says):
    r = sut.client.post("/v1/webhooks", json={"url": url, "event_types": ["#"]}, headers=_as(sut))
    assert r.status_code == 422 and r.content_type == "application/problem+json", r.json
    assert set(r.json["errors"]) == {"url"} and says in r.json["errors"]["url"][0]
    assert committed_events(sut.rt.factory) == []


def test_private_endpoints_are_allowed_when_the_operator_says_so(sut, monkeypatch):
    monkeypatch.setenv("LINLI_WEBHOOKS_ALLOW_PRIVATE", "1")
    r = sut.client.post("/v1/webhooks", json={"url": "http://localhost:9000/hook", "event_types": ["#"]},
                        headers=_as(sut))
    assert r.status_code == 201, r.json


def test_malformed_patterns_are_refused_naming_event_types(sut):
    for patterns in ([], ["tickets..closed"], ["Tickets.#"]):
        r = sut.client.post("/v1/webhooks", json={"url": URL, "event_types": patterns}, headers=_as(sut))
        assert r.status_code == 422 and "event_types" in r.json["errors"], (patterns, r.json)


def test_a_district_sees_and_touches_only_its_own_endpoints(sut):
    ours = _register(sut)
    theirs = _register(sut, BISHAN)
    listed = sut.client.get("/v1/webhooks", headers=_as(sut)).json["items"]
    assert [w["id"] for w in listed] == [ours["id"]]
    foreign = theirs["id"]
    for method, path, body in (
        ("GET", f"/v1/webhooks/{foreign}", None),
        ("PATCH", f"/v1/webhooks/{foreign}", {"description": "x"}),
        ("POST", f"/v1/webhooks/{foreign}/rotate-secret", {}),
        ("POST", f"/v1/webhooks/{foreign}/disable", {}),
        ("POST", f"/v1/webhooks/{foreign}/enable", None),
        ("POST", f"/v1/webhooks/{foreign}/test", None),
        ("GET", f"/v1/webhooks/{foreign}/deliveries", None),
        ("GET", f"/v1/webhooks/{foreign}/deliveries/{uuid.uuid4()}", None),
        ("POST", f"/v1/webhooks/{foreign}/deliveries/{uuid.uuid4()}/replay", None),
    ):
        r = sut.client.open(path, method=method, json=body, headers=_as(sut))
        assert r.status_code == 404, (method, path, r.json)
    operator = sut.client.get("/v1/webhooks", headers=sut.as_("*", "notify:read")).json["items"]
    assert {w["id"] for w in operator} == {ours["id"], foreign}


def test_an_operator_names_the_district_and_a_client_only_its_own(sut):
    r = sut.client.post("/v1/webhooks", json={"url": URL, "event_types": ["#"]}, headers=sut.as_("*", "notify:write"))
    assert r.status_code == 422 and "district_id" in r.json["errors"]
    r = sut.client.post("/v1/webhooks", json={"url": URL, "event_types": ["#"], "district_id": BISHAN},
                        headers=_as(sut))
    assert r.status_code == 422 and "district_id" in r.json["errors"]
    everywhere = _register(sut, "*", district_id="*")
    assert everywhere["district_id"] == "*"
    # A district client cannot see the operator's endpoint for every district.
    assert sut.client.get(f"/v1/webhooks/{everywhere['id']}", headers=_as(sut)).status_code == 404


def test_reading_needs_notify_read_and_changing_notify_write(sut):
    webhook = _register(sut)
    r = sut.client.post("/v1/webhooks", json={"url": URL, "event_types": ["#"]},
                        headers=sut.as_(YONGCHUAN, "notify:read"))
    assert r.status_code == 403
    r = sut.client.post(f"/v1/webhooks/{webhook['id']}/test", headers=sut.as_(YONGCHUAN, "notify:read"))
    assert r.status_code == 403
    assert sut.client.get("/v1/webhooks", headers=sut.as_(YONGCHUAN, "tickets:read")).status_code == 403


def test_edits_honour_if_match_and_an_edit_that_changes_nothing_records_nothing(sut):
    webhook = _register(sut)
    path = f"/v1/webhooks/{webhook['id']}"
    stale = sut.client.patch(path, json={"description": "新"}, headers={**_as(sut), "If-Match": '"7"'})
    assert stale.status_code == 412
    r = sut.client.patch(path, json={"url": "https://other.example.org/in", "event_types": ["rotation.#"]},
                         headers={**_as(sut), "If-Match": '"1"'})
    assert r.status_code == 200, r.json
    assert (r.json["url"], r.json["event_types"], r.json["version"]) == ("https://other.example.org/in",
                                                                         ["rotation.#"], 2)
    again = sut.client.patch(path, json={"event_types": ["rotation.#"]}, headers=_as(sut))
    assert again.json["version"] == 2
    assert len(committed_events(sut.rt.factory, "notify.webhook.updated")) == 1
    refused = sut.client.patch(path, json={"url": "http://localhost/x"}, headers=_as(sut))
    assert refused.status_code == 422 and "url" in refused.json["errors"]


def test_rotating_answers_the_new_secret_and_keeps_the_old_one_signing_for_the_overlap(sut):
    webhook = _register(sut)
    path = f"/v1/webhooks/{webhook['id']}/rotate-secret"
    before = datetime.now(UTC)
    r = sut.client.post(path, json={}, headers=_as(sut))
    assert r.status_code == 200, r.json
    assert r.json["secret"].startswith("whsec_") and r.json["secret"] != webhook["secret"]
    expires = datetime.fromisoformat(r.json["previous_secret_expires_at"])
    assert before + timedelta(hours=24) <= expires <= datetime.now(UTC) + timedelta(hours=24)
    r = sut.client.post(path, json={"overlap_hours": 0}, headers={**_as(sut), "If-Match": r.headers["ETag"]})
    assert r.status_code == 200 and r.json["previous_secret_expires_at"] is None
    assert sut.client.post(path, json={"overlap_hours": 169}, headers=_as(sut)).status_code == 422
    events = committed_events(sut.rt.factory, "notify.webhook.secret_rotated")
    assert len(events) == 2 and "whsec_" not in json.dumps(events)


def test_disabling_and_enabling_each_record_once_and_a_disabled_endpoint_cannot_be_tested(sut):
    webhook = _register(sut)
    base = f"/v1/webhooks/{webhook['id']}"
    r = sut.client.post(f"{base}/disable", json={"note": "系统升级"}, headers=_as(sut))
    assert r.status_code == 200, r.json
    assert (r.json["state"], r.json["disabled_reason"], r.json["disabled_note"]) == ("disabled", "manual", "系统升级")
    assert sut.client.post(f"{base}/disable", json={}, headers=_as(sut)).json["disabled_note"] == "系统升级"
    refused = sut.client.post(f"{base}/test", headers=_as(sut))
    assert refused.status_code == 409 and refused.json["type"] == "/problems/invalid-transition"
    assert "enable" in refused.json["detail"]
    r = sut.client.post(f"{base}/enable", headers=_as(sut))
    assert (r.json["state"], r.json["disabled_reason"], r.json["disabled_at"]) == ("enabled", None, None)
    sut.client.post(f"{base}/enable", headers=_as(sut))
    [disabled] = committed_events(sut.rt.factory, "notify.webhook.disabled")
    assert disabled["data"]["disabled_reason"] == "manual" and disabled["data"]["state"] == "disabled"
    assert len(committed_events(sut.rt.factory, "notify.webhook.enabled")) == 1
    listed = sut.client.get("/v1/webhooks?state=disabled", headers=_as(sut)).json["items"]
    assert listed == []


def test_a_test_event_is_queued_for_that_endpoint_only_and_its_delivery_can_be_followed(sut):
    webhook = _register(sut, event_types=["notify.#"])
    other = _register(sut, event_types=["#"])
    r = sut.client.post(f"/v1/webhooks/{webhook['id']}/test", headers=_as(sut))
    assert r.status_code == 202, r.json
    delivery = r.json
    assert (delivery["state"], delivery["event_type"], delivery["attempt_count"]) == (
        "pending", "notify.webhook.test", 0)
    assert r.headers["Location"] == f"/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}"
    [event] = committed_events(sut.rt.factory, "notify.webhook.test")
    assert event["id"] == delivery["event_id"] and event["subject"] == webhook["id"]
    # The test event coming back from the bus changes nothing: the endpoint has it, no other gets it.
    assert sut.deliver("notify.webhook.test", event["data"], subject=event["subject"], district=YONGCHUAN,
                       event_id=uuid.UUID(event["id"])) == "applied"
    assert [d["id"] for d in _deliveries(sut, webhook["id"])] == [delivery["id"]]
    assert _deliveries(sut, other["id"]) == []
    detail = sut.client.get(r.headers["Location"], headers=_as(sut))
    assert detail.status_code == 200 and detail.json["attempts"] == [] and detail.json["id"] == delivery["id"]


def test_an_event_is_queued_once_for_each_matching_enabled_endpoint_of_its_district(sut):
    tickets = _register(sut, event_types=["tickets.ticket.*"])
    registry = _register(sut, event_types=["registry.#"])
    paused = _register(sut, event_types=["#"])
    sut.client.post(f"/v1/webhooks/{paused['id']}/disable", json={}, headers=_as(sut))
    foreign = _register(sut, BISHAN, event_types=["#"])
    everywhere = _register(sut, "*", district_id="*", event_types=["tickets.#"])
    event_id = uuid.uuid4()
    ticket = _ticket()
    assert sut.deliver("tickets.ticket.submitted", ticket, event_id=event_id) == "applied"
    assert sut.deliver("tickets.ticket.submitted", ticket, event_id=event_id) == "duplicate"
    [queued] = _deliveries(sut, tickets["id"])
    assert (queued["event_id"], queued["event_type"], queued["state"]) == (str(event_id), "tickets.ticket.submitted",
                                                                            "pending")
    assert _deliveries(sut, everywhere["id"], district="*")[0]["event_id"] == str(event_id)
    for idle in (registry, paused):
        assert _deliveries(sut, idle["id"]) == []
    assert _deliveries(sut, foreign["id"], district=BISHAN) == []
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 2
        [message] = s.scalars(select(WebhookMessage)).all()
    body = json.loads(message.body)
    assert body["specversion"] == "1.0" and body["type"] == "linli.tickets.ticket.submitted"
    assert body["id"] == str(event_id) and body["data"]["title"] == "楼道灯不亮"


def test_events_carrying_personal_data_never_reach_a_webhook(sut):
    webhook = _register(sut, event_types=["#"])
    contact = {"id": str(uuid.uuid4()), "district_id": YONGCHUAN, "name": "张三", "phone": "13800001111",
               "version": 1}
    # Kept as a contact to tell the member by (the messages' read model), and never passed to a webhook.
    assert sut.deliver("registry.member.contact", contact) == "applied"
    assert sut.deliver("registry.never.declared", contact) == "ignored"  # unknown: treated as private
    assert _deliveries(sut, webhook["id"]) == []


def test_deliveries_filter_by_state_event_type_and_time(sut):
    webhook = _register(sut, event_types=["tickets.#", "rotation.#"])
    sut.deliver("tickets.ticket.submitted", _ticket())
    sut.deliver("rotation.term.started", samples.sample("rotation.term.started") | {"district_id": YONGCHUAN})
    assert len(_deliveries(sut, webhook["id"])) == 2
    [only] = _deliveries(sut, webhook["id"], "?event_type=linli.rotation.term.started")
    assert only["event_type"] == "rotation.term.started"
    assert len(_deliveries(sut, webhook["id"], "?state=pending")) == 2
    assert _deliveries(sut, webhook["id"], "?state=delivered") == []
    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert _deliveries(sut, webhook["id"], f"?from={future}") == []
    assert len(_deliveries(sut, webhook["id"], f"?to={future}")) == 2
    r = sut.client.get(f"/v1/webhooks/{webhook['id']}/deliveries?state=lost", headers=_as(sut))
    assert r.status_code == 422 and "state" in r.json["errors"]


def test_replaying_queues_the_delivery_again_now_and_a_delivery_of_another_endpoint_is_not_found(sut):
    webhook = _register(sut, event_types=["tickets.#"])
    other = _register(sut, event_types=["tickets.#"])
    sut.deliver("tickets.ticket.submitted", _ticket())
    [delivery] = _deliveries(sut, webhook["id"])
    with sut.rt.factory() as s:
        row = s.get(WebhookDelivery, uuid.UUID(delivery["id"]))
        row.state, row.next_attempt_at, row.schedule_step = "failed", None, 8
        s.commit()
    r = sut.client.post(f"/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}/replay", headers=_as(sut))
    assert r.status_code == 202, r.json
    assert r.json["state"] == "pending" and r.json["next_attempt_at"] is not None
    with sut.rt.factory() as s:
        assert s.get(WebhookDelivery, uuid.UUID(delivery["id"])).schedule_step == 0
    wrong = sut.client.post(f"/v1/webhooks/{other['id']}/deliveries/{delivery['id']}/replay", headers=_as(sut))
    assert wrong.status_code == 404
    assert sut.client.get(f"/v1/webhooks/{other['id']}/deliveries/{delivery['id']}",
                          headers=_as(sut)).status_code == 404
