"""Every event notify declares reaches real RabbitMQ from real PostgreSQL, on the exchange its privacy names.

The other notify integration tests look closely at particular events; this one walks a district through
every action so that no event of the catalogue goes untried, and a new one without a path here fails: a
ticket's event (published as tickets would) told by the district's rule to a unit's inbox, by SMS through a
real HTTP gateway and by e-mail to a real SMTP server, read in the inbox; preferences set; a webhook
endpoint's whole life over HTTP. The unit's phone and e-mail address, told on the private exchange, never
reach a public event — not even when the gateway's refusal names the number.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from sqlalchemy import func, select

import linli.services.notify.events  # noqa: F401 - declares notify's events in the catalogue
from linli.services.notify import providers, samples
from linli.services.notify.models import Contact
from linli.services.notify.sender import Sender, SenderSettings
from linli.shared.bus import private_exchange
from linli.shared.config import BusSettings
from linli.shared.events import CATALOGUE
from linli.suite import subscriptions
from tests.support.apps import ServiceUnderTest
from tests.support.collector import Collector
from tests.support.publishing import publish_as_producer
from tests.support.receiver import Receiver, Reply
from tests.support.smtp import MailServer
from tests.support.waiting import wait_for

NOTIFY_EVENTS = {key for key in CATALOGUE if key.startswith("notify.")}
YONGCHUAN = str(uuid.uuid4())
POLICE, COMPOUND, TICKET = (str(uuid.uuid4()) for _ in range(3))
PHONE, EMAIL = "13900002222", "duty@police.example.cn"


def test_every_notify_event_is_published_to_its_exchange(live, bus, run_threads, monkeypatch):
    monkeypatch.setenv("LINLI_WEBHOOKS_ALLOW_PRIVATE", "1")  # the webhook endpoint listens on 127.0.0.1
    subscriptions()  # the whole catalogue, as in every process of the suite
    gateway, endpoint, mail = Receiver(), Receiver(), MailServer()
    # The gateway refuses the number, naming it, as gateways do.
    gateway.script("/sms", Reply(200, body=json.dumps({"accepted": False,
                                                       "reason": f"{PHONE} is on the blocklist"}).encode()))
    notify = live("notify", bus)
    notify.rt.declare_topology()
    public = Collector(bus, binding="notify.#")
    private = Collector(bus, binding="notify.#", name="test.private", exchange=private_exchange(bus))
    worker = notify.rt.worker()
    smtp = providers.Smtp(providers.SmtpSettings(host="127.0.0.1", port=mail.port, starttls=False,
                                                 sender="linli <noreply@linli.example.cn>"))
    sender = Sender(notify.rt.factory, SenderSettings(sms=[providers.HttpGateway(gateway.url("/sms"))],
                                                      email=[smtp], timeout_seconds=2, poll_seconds=0.05))
    run_threads(notify.rt.relay().run, worker.run, sender.run)
    assert worker.ready.wait(15), "notify's consumers did not start"
    try:
        _walk_through_every_action(notify, bus, endpoint)

        def keys(collector: Collector) -> set[str]:
            return {e["type"].removeprefix("linli.") for e in list(collector.events)}

        def missing() -> set[str]:
            return NOTIFY_EVENTS - keys(public) - keys(private)

        with contextlib.suppress(AssertionError):  # the assertion below names what never arrived
            wait_for(lambda: not missing(), timeout=30, message="every notify event")
        assert not missing(), f"declared but never published: {sorted(missing())}"
        assert keys(public) | keys(private) == NOTIFY_EVENTS
        assert all(not CATALOGUE[key].private for key in keys(public)), keys(public)
        assert all(CATALOGUE[key].private for key in keys(private)), keys(private)
        [failed] = public.of_type("notify.notification.failed")
        assert failed["data"]["channel"] == "sms" and "blocklist" in failed["data"]["error"]
        # One `sent` event may be the SMS's while the e-mail is on its way, or the other way round: wait for both.
        wait_for(lambda: mail.mails() and gateway.received("/sms"), timeout=30,
                 message="the unit's e-mail at the SMTP server and its SMS at the gateway")
        assert [to for to, _ in mail.mails()] == [[EMAIL]] and json.loads(gateway.received("/sms")[0].body)[
            "to"] == PHONE
        bodies = [json.dumps(e, ensure_ascii=False) for e in list(public.events)]
        assert not [(needle, body) for body in bodies for needle in (PHONE, EMAIL) if needle in body]
    finally:
        public.close()
        private.close()
        gateway.close()
        endpoint.close()
        mail.close()


def _walk_through_every_action(notify: ServiceUnderTest, bus: BusSettings, endpoint: Receiver) -> None:
    admin = notify.as_(YONGCHUAN, "notify:admin")
    unit = notify.as_(YONGCHUAN, "notify:read notify:write", f"organization:{POLICE}")

    def call(method: str, path: str, body: dict[str, Any] | None = None, status: int = 200,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        r = notify.client.open(path, method=method, json=body, headers=headers or admin)
        assert r.status_code == status, (path, r.status_code, r.json)
        return r.json

    # The district tells a dispatched ticket's units by e-mail too; registry tells notify how to reach the unit.
    call("PUT", "/v1/rules/tickets.ticket.dispatched",
         {"recipients": [{"role": "unit", "channels": ["inbox", "sms", "email"]}]})
    publish_as_producer(bus, "registry.organization.contact", {
        "id": POLICE, "district_id": YONGCHUAN, "name": "中山路派出所", "contact_person": "张警官",
        "contact_phone": PHONE, "contact_email": EMAIL, "version": 2}, district=YONGCHUAN)

    def known() -> bool:
        with notify.rt.factory() as session:
            return bool(session.scalar(select(func.count()).select_from(Contact).where(
                Contact.recipient == f"organization:{POLICE}")))

    wait_for(known, timeout=30, message="the unit's contact in notify")
    ticket = samples.sample("tickets.ticket.dispatched") | {
        "id": TICKET, "district_id": YONGCHUAN, "compound_id": COMPOUND, "title": "2号楼电梯停运",
        "compound_name": "龙城小区", "version": 5,
        "parts": [{"unit_id": POLICE, "unit_name": "中山路派出所", "lead": True, "state": "dispatched",
                   "due_at": "2026-03-11T09:30:00+00:00", "overdue": False}]}
    ticket["move"]["unit_ids"] = [POLICE]
    publish_as_producer(bus, "tickets.ticket.dispatched", ticket, district=YONGCHUAN)

    # The unit reads its inbox, and chooses English.
    inbox = wait_for(lambda: call("GET", "/v1/inbox", headers=unit)["items"], timeout=30,
                     message="the dispatched ticket in the unit's inbox")
    call("POST", f"/v1/inbox/{inbox[0]['id']}/read", headers=unit)
    call("PUT", f"/v1/preferences/organization:{POLICE}", {"locale": "en"}, headers=unit)

    # A webhook endpoint's life.
    hook = call("POST", "/v1/webhooks", {"url": endpoint.url("/hook"), "event_types": ["tickets.#"]}, 201)
    call("PATCH", f"/v1/webhooks/{hook['id']}", {"description": "工单同步"})
    call("POST", f"/v1/webhooks/{hook['id']}/rotate-secret", {"overlap_hours": 1})
    call("POST", f"/v1/webhooks/{hook['id']}/test", status=202)
    call("POST", f"/v1/webhooks/{hook['id']}/disable", {"note": "维护"})
    call("POST", f"/v1/webhooks/{hook['id']}/enable")
