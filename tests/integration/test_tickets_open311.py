"""Open311 GeoReport v2 on real PostgreSQL and RabbitMQ: a request a 311 client posts over HTTP, in JSON and in XML,
is a ticket whose `tickets.ticket.submitted` reaches the bus with source `open311`; clients from PyPI read it back in
both formats. The compound and the district come from registry's own events."""

from __future__ import annotations

import json
import uuid

from linli.services.tickets.models import Compound
from tests.support.collector import Collector
from tests.support.open311_clients import civicbot, civicbot_post, georeport, post_xml
from tests.support.waiting import wait_for
from tests.support.wsgi import serving

PHONE = "13812345678"


def test_a_request_posted_over_open311_is_published_as_submitted_with_source_open311(live, bus, run_threads):
    registry = live("registry", bus)
    tickets = live("tickets", bus)
    collector = Collector(bus, binding="tickets.ticket.submitted")
    worker = tickets.rt.worker()
    run_threads(registry.rt.relay().run, tickets.rt.relay().run, worker.run)
    assert worker.ready.wait(10)
    admin = registry.as_("*", "registry:admin")

    def area(level: str, name: str, parent: str | None = None) -> str:
        r = registry.client.post("/v1/areas", json={"level": level, "name": name, "parent_id": parent,
                                                    "kind": "old" if level == "compound" else None}, headers=admin)
        assert r.status_code == 201, r.json
        return r.json["id"]

    district = area("district", "永川区")
    compound = area("compound", "星光小区", area("community", "星光社区", area("street", "中山路街道", district)))
    other = area("district", "璧山区")
    area("compound", "东林小区", area("community", "东林社区", area("street", "璧城街道", other)))

    def learnt():
        with tickets.rt.factory() as session:
            return session.query(Compound).count() == 2

    wait_for(learnt, timeout=30, message="both compounds in tickets' read model")
    r = tickets.client.post("/v1/open311/keys", json={"client_name": "12345热线", "district_id": district},
                            headers=tickets.as_("*", "tickets:admin"))
    assert r.status_code == 201, r.json
    key = r.json["api_key"]

    with serving(tickets.app) as base_url:
        posted = civicbot_post(civicbot(base_url, district), "facilities", key, address_string="永川区星光小区3栋",
                               description="楼道灯坏了", first_name="阿姨", last_name="王", phone=PHONE,
                               attributes={"urgency": "urgent"})
        status, answer = post_xml(base_url, {"api_key": key, "service_code": "dispute", "address_id": compound,
                                             "description": "楼上噪音", "phone": PHONE})
        assert status == 200, answer
        ids = {posted["service_request_id"], answer.findtext("request/service_request_id")}

        events = wait_for(lambda: len(collector.of_type("tickets.ticket.submitted")) == 2
                          and collector.of_type("tickets.ticket.submitted"), timeout=30,
                          message="both requests' submitted events")
        assert {e["subject"] for e in events} == ids
        for event in events:
            assert event["data"]["source"] == "open311" and event["district"] == district
            assert event["data"]["compound_id"] == compound and event["data"]["reporter_phone"] == "138****5678"
            assert PHONE not in json.dumps(event, ensure_ascii=False)
        urgent = next(e for e in events if e["subject"] == posted["service_request_id"])
        assert (urgent["data"]["category"], urgent["data"]["urgency"]) == ("facilities", "urgent")

        for fmt in ("json", "xml"):
            client = georeport(base_url, district, fmt)
            listed = client.get_service_requests()
            assert {r["service_request_id"] for r in listed} == ids
            one = client.get_service_request(posted["service_request_id"])
            assert (one["status"], one["status_notes"], one["address_id"]) == ("open", "已收到，等待受理", compound)
            assert "王阿姨" not in str(listed) and PHONE not in str(listed)
        # Another district's jurisdiction lists none of them, and refuses this key.
        assert georeport(base_url, other, "json").get_service_requests() == []
        status, refused = post_xml(base_url, {"api_key": key, "service_code": "general", "address_id": compound,
                                              "phone": PHONE, "jurisdiction_id": other})
        assert status == 403 and refused.findtext("error/code") == "403"
    assert uuid.UUID(posted["service_request_id"])
    collector.close()
