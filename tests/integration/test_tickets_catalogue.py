"""Every event tickets declares reaches real RabbitMQ from real PostgreSQL, on the exchange its privacy names.

The other tickets integration tests look closely at particular events; this one takes tickets through every action
(over HTTP, Open311 included, and the clock for deadlines) so that no event of the catalogue goes untried, and a new
one without a path here fails. The compound and units come from registry's events on the bus, as in production.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import linli.services.registry.events  # noqa: F401 - declares the registry events published here
import linli.services.tickets.events  # noqa: F401 - declares tickets' events in the catalogue
from linli.services.tickets.models import Compound, Organization
from linli.shared.bus import private_exchange
from linli.shared.events import CATALOGUE
from tests.support.collector import Collector
from tests.support.publishing import publish_as_producer
from tests.support.waiting import wait_for

TICKETS_EVENTS = {key for key in CATALOGUE if key.startswith("tickets.")}
PHONE = "13812345678"
NAME = "王阿姨"  # as both reporters give it: to the API in full, to Open311 as 王 + 阿姨
# Given to Open311 with separators, as a hotline's system may send it: tickets keeps the digits.
OPEN311_PHONE, OPEN311_DIGITS = "139-8765-4321", "13987654321"
ADDRESS = "星光小区3栋2单元501"  # the resident's home: private, like their number
EMAIL = "wang.ayi@example.cn"
WRITE = "tickets:read tickets:write"


def test_every_tickets_event_is_published_to_its_exchange(live, bus, run_threads):
    tickets = live("tickets", bus)
    public = Collector(bus, binding="tickets.#")
    private = Collector(bus, binding="tickets.#", name="test.dupes", exchange=private_exchange(bus))
    worker = tickets.rt.worker()
    run_threads(tickets.rt.relay().run, worker.run)
    assert worker.ready.wait(10)

    district = str(uuid.uuid4())
    compound = {"id": str(uuid.uuid4()), "district_id": district, "parent_id": str(uuid.uuid4()),
                "level": "compound", "name": "星光小区", "kind": "old", "time_zone": "Asia/Shanghai", "version": 1}
    publish_as_producer(bus, "registry.area.created", compound, district=district)
    police, school, hospital = (str(uuid.uuid4()) for _ in range(3))
    for unit, name in ((police, "中山路派出所"), (school, "永川中学"), (hospital, "永川区人民医院")):
        publish_as_producer(bus, "registry.organization.created", {
            "id": unit, "district_id": district, "kind": "agency", "name": name, "version": 1}, district=district)

    def learnt() -> bool:
        with tickets.rt.factory() as s:
            return (s.get(Compound, uuid.UUID(compound["id"])) is not None
                    and all(s.get(Organization, uuid.UUID(unit)) is not None for unit in (police, school, hospital)))

    wait_for(learnt, timeout=30, message="the compound and the units from registry's events")
    h = tickets.as_(district, WRITE)

    def call(method: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
        r = tickets.client.open(path, method=method, json=body or {}, headers=h)
        assert r.status_code == status, (path, r.status_code, r.json)
        return r.json

    def submit() -> str:
        return call("POST", "/v1/tickets", {
            "compound_id": compound["id"], "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
            "category": "facilities", "reporter_name": NAME, "reporter_phone": PHONE, "address": ADDRESS,
            "lat": 29.356789, "lon": 105.912345}, 201)["id"]

    main, duplicate, refused = submit(), submit(), submit()
    call("POST", f"/v1/tickets/{duplicate}/merge", {"master_id": main})
    call("POST", f"/v1/tickets/{refused}/reject", {"reason": "不属于小区事务"})
    # Residents' numbers written into a comment and a note (staff copy them in): masked on the public exchange.
    call("POST", f"/v1/tickets/{main}/comments", {"text": f"已联系物业，业主 {PHONE}"}, 201)
    for verb, body in (
            ("accept", {}), ("escalate", {"note": f"小区解决不了，业主电话{PHONE}"}), ("list", {}),
            ("claim", {"unit_id": police}),
            ("dispatch", {"units": [{"unit_id": school}]}), ("start", {"unit_id": police}),
            ("reroute", {"category": "environment", "units": [{"unit_id": hospital, "lead": True}]}),
            ("resolve", {"unit_id": hospital}), ("review", {"passed": False, "note": "没修好"}),
            ("resolve", {"unit_id": hospital, "participants": [{"member_id": str(uuid.uuid4()), "hours": 2.5}]}),
            ("review", {"passed": True}), ("rate", {"rating": "satisfied"})):
        last = call("POST", f"/v1/tickets/{main}/{verb}", body)
    assert last["state"] == "closed"

    # A hotline's request over Open311, with an e-mail address tickets has nowhere to keep; left to lapse.
    key = tickets.client.post("/v1/open311/keys", json={"client_name": "12345热线", "district_id": district},
                              headers=tickets.as_("*", "tickets:admin"))
    assert key.status_code == 201, key.json
    posted = tickets.client.post("/open311/v2/requests.json", data={
        "api_key": key.json["api_key"], "service_code": "facilities", "address_id": compound["id"],
        "description": f"小区门口路灯不亮，请回电 {OPEN311_PHONE}", "first_name": "阿姨", "last_name": "王",
        "phone": OPEN311_PHONE, "email": EMAIL})
    assert posted.status_code == 200, posted.get_data(as_text=True)
    late = posted.json[0]["service_request_id"]
    due = datetime.fromisoformat(call("GET", f"/v1/tickets/{late}")["due_at"])
    # The clock at a fake instant: a minute before the deadline it reminds, a second after it the ticket is late.
    assert tickets.rt.clock(now=lambda: due - timedelta(minutes=1)).tick() >= 1
    assert tickets.rt.clock(now=lambda: due + timedelta(seconds=1)).tick() >= 1
    call("POST", f"/v1/tickets/{late}/close", {"reason": "referred", "note": "转12345热线"})

    def keys(collector: Collector) -> set[str]:
        return {e["type"].removeprefix("linli.") for e in list(collector.events)}

    def missing() -> set[str]:
        return TICKETS_EVENTS - keys(public) - keys(private)

    wait_for(lambda: not missing(), timeout=30, message=f"every tickets event of {sorted(TICKETS_EVENTS)}")
    # Nothing published that the catalogue does not declare either.
    assert keys(public) | keys(private) == TICKETS_EVENTS, (missing(), keys(public) | keys(private))
    assert all(not CATALOGUE[key].private for key in keys(public)), keys(public)
    assert all(CATALOGUE[key].private for key in keys(private)), keys(private)
    # Each body whole: the collector keeps bodies parsed, so re-serialised, unescaped (a number, an address or a
    # Chinese name reads the same as on the wire, where ensure_ascii could only have escaped the name).
    bodies = [json.dumps(e, ensure_ascii=False) for e in list(public.events)]
    assert not [b for b in bodies if PHONE in b or OPEN311_DIGITS in b or OPEN311_PHONE in b or EMAIL in b]
    # The numbers written into the text went out masked, not dropped.
    for masked in ("已联系物业，业主 138****5678", "小区解决不了，业主电话138****5678", "请回电 139******4321"):
        assert [b for b in bodies if masked in b], masked
    # Nor where the resident lives: no address, coordinates to about 100 m.
    assert not [b for b in bodies if ADDRESS in b or "29.356789" in b]
    assert {e["data"]["lat"] for e in public.events if e["subject"] == main and "lat" in e["data"]} == {29.357}
    # Nor a resident's name (DESIGN: names are personal data too).
    assert not [b for b in bodies if NAME in b]
    # ...while the private contact has them in full, so the checks above look for the right thing.
    contacts = {e["subject"]: (e["data"]["reporter_name"], e["data"]["reporter_phone"])
                for e in private.of_type("tickets.ticket.contact")}
    assert (contacts[main], contacts[late]) == ((NAME, PHONE), (NAME, OPEN311_DIGITS))
    [where] = [e["data"] for e in private.of_type("tickets.ticket.contact") if e["subject"] == main]
    assert (where["address"], where["lat"], where["lon"]) == (ADDRESS, 29.356789, 105.912345)
    assert not [e for e in private.events if EMAIL in json.dumps(e, ensure_ascii=False)]
    public.close()
    private.close()
