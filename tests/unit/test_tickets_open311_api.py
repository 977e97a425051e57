"""Open311 GeoReport v2 at /open311/v2 over HTTP (Flask's test client, SQLite), and its api_keys over the JWT API.

XML answers are parsed with defusedxml only.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as safe_xml
import pytest
from sqlalchemy import select, text

from linli.services.tickets import usecases
from linli.services.tickets.models import Open311Key, Ticket
from linli.shared.actors import Actor
from linli.shared.tables import outbox
from tests.support.open311_world import BISHAN, OPERATOR, PHONE, YONGCHUAN, World


@pytest.fixture
def world(make_service) -> World:
    return World(make_service("tickets"))


def _errors(r) -> list[dict]:
    """The standard's errors document of an answer, JSON or XML."""
    if r.content_type.startswith("application/json"):
        return r.json
    assert r.content_type == "text/xml; charset=utf-8", r.content_type
    root = safe_xml.fromstring(r.get_data())
    assert root.tag == "errors"
    return [{"code": int(e.findtext("code")), "description": e.findtext("description")} for e in root]


# --- POST requests: a ticket through the same intake as POST /v1/tickets -------------------------------------------

def test_a_posted_request_is_a_ticket_of_the_keys_district_with_source_open311_and_its_event(world):
    r = world.post(**{"attribute[urgency]": "urgent", "lat": "29.35", "long": "105.9", "account_id": "acc-7",
                      "media_url": "https://img.example/1.jpg"})
    assert r.status_code == 200 and r.content_type == "application/json; charset=utf-8"
    [answer] = r.json
    assert answer["account_id"] == "acc-7" and answer["service_notice"].startswith("已收到您的诉求")
    ticket_id = uuid.UUID(answer["service_request_id"])
    with world.sut.rt.factory() as session:
        ticket = session.get(Ticket, ticket_id)
        assert (ticket.source, ticket.district_id, str(ticket.compound_id)) == ("open311", YONGCHUAN, world.compound)
        assert (ticket.category, ticket.urgency, ticket.title) == ("facilities", "urgent", "楼道灯坏了")
        assert (ticket.reporter_name, ticket.reporter_phone) == ("王阿姨", PHONE)
        assert (ticket.lat, ticket.lon, ticket.address) == (29.35, 105.9, "永川区星光小区3栋2单元")
        assert ticket.attachments == ["https://img.example/1.jpg"] and ticket.state == "submitted"
        [event] = [json.loads(row.body) for row in session.execute(select(outbox)).all()
                   if row.routing_key == "tickets.ticket.submitted"]
    assert event["data"]["source"] == "open311" and event["subject"] == str(ticket_id)
    assert PHONE not in json.dumps(event) and event["data"]["reporter_phone"] == "138****5678"


def test_the_xml_answer_of_a_post_carries_the_new_id(world):
    r = world.post("xml", address_string=None, address_id=world.compound)
    assert r.status_code == 200 and r.content_type == "text/xml; charset=utf-8"
    root = safe_xml.fromstring(r.get_data())
    assert root.tag == "service_requests"
    assert uuid.UUID(root.find("request/service_request_id").text)
    assert root.find("request/account_id").text is None


@pytest.mark.parametrize(("fields", "field", "status"), [
    ({"api_key": None}, "api_key", 403),
    ({"api_key": "o311_nope"}, "api_key", 403),
    ({"jurisdiction_id": BISHAN}, "jurisdiction_id", 403),
    ({"service_code": "potholes"}, "service_code", 400),
    ({"phone": None}, "phone", 400),
    ({"phone": "ring me"}, "phone", 400),
    ({"address_string": "璧山区东林小区"}, "address_string", 400),
    ({"address_string": None, "lat": "29.35", "long": "105.9"}, "address_id", 400),
    ({"address_string": None}, "address_id", 400),
    ({"lat": "29.35"}, "long", 400),
    ({"lat": "abc", "long": "1"}, "lat", 400),
    ({"attribute[colour]": "red"}, "attribute[colour]", 400),
    ({"attribute[urgency]": "soon"}, "attribute[urgency]", 400),
    ({"media_url": "javascript:alert(1)"}, "media_url", 400),
    ({"description": " \u3000 "}, "description", 400),
    ({"address_id": "3f1c-not-a-uuid"}, "address_id", 400),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_refused_post_is_the_standards_error_naming_the_field_and_changes_nothing(world, fields, field, status, fmt):
    r = world.post(fmt, **fields)
    assert r.status_code == status, r.get_data(as_text=True)
    [error] = _errors(r)
    assert error["code"] == status and error["description"].startswith(f"{field}:"), error
    with world.sut.rt.factory() as session:
        assert session.scalar(select(Ticket.id)) is None


def test_a_compound_of_another_district_or_unknown_is_not_yet_known(world):
    r = world.post(address_string=None, address_id=world.other_compound)
    assert r.status_code == 400 and r.json[0]["description"].startswith("address_id: no compound")
    assert r.headers["Retry-After"] == "2"


def test_a_post_must_be_form_encoded(world):
    r = world.sut.client.post("/open311/v2/requests.json", json={"api_key": world.key, "service_code": "general"})
    assert r.status_code == 400 and r.json[0]["description"].startswith("Content-Type:")
    r = world.sut.client.post("/open311/v2/requests.xml", data=b"<x/>", content_type="application/xml")
    assert r.status_code == 400 and _errors(r)[0]["description"].startswith("Content-Type:")
    r = world.sut.client.post("/open311/v2/requests.json", data=b"api_key=a%00b", content_type=FORM)
    assert r.status_code == 400 and "NUL" in r.json[0]["description"]


FORM = "application/x-www-form-urlencoded"


def test_a_post_needs_no_jwt_but_a_live_key_and_a_revoked_key_is_refused(world):
    assert world.post().status_code == 200
    with world.sut.rt.factory() as session:
        key_id = session.scalar(select(Open311Key.id).where(Open311Key.district_id == YONGCHUAN))
    r = world.sut.client.post(f"/v1/open311/keys/{key_id}/revoke", json={"reason": "热线系统更换"},
                              headers=world.sut.as_(*OPERATOR))
    assert r.status_code == 200 and r.json["state"] == "revoked" and r.json["revoked_reason"] == "热线系统更换"
    r = world.post()
    assert r.status_code == 403 and r.json == [{"code": 403, "description": "api_key: missing, unknown or revoked"}]
    again = world.sut.client.post(f"/v1/open311/keys/{key_id}/revoke", json={}, headers=world.sut.as_(*OPERATOR))
    assert again.status_code == 409 and again.content_type == "application/problem+json"


# --- api_keys over the JWT API ----------------------------------------------------------------------------------

def test_a_key_is_shown_once_and_kept_only_as_its_hash(world):
    made = world.new_key(YONGCHUAN)
    secret = made["api_key"]
    assert made["key_prefix"] == secret[:12] and made["state"] == "active" and made["created_by"] == "test-client"
    listed = world.sut.client.get("/v1/open311/keys", headers=world.sut.as_(*OPERATOR)).json["items"]
    assert made["id"] in {k["id"] for k in listed} and all("api_key" not in k for k in listed)
    one = world.sut.client.get(f"/v1/open311/keys/{made['id']}", headers=world.sut.as_(*OPERATOR))
    assert one.status_code == 200 and "api_key" not in one.json
    assert secret not in _every_value(world)


def _every_value(world: World) -> str:
    with world.sut.rt.factory() as session:
        tables = [row[0] for row in session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        return repr([session.execute(text(f'SELECT * FROM "{table}"')).all() for table in tables])


def test_a_retried_key_creation_makes_nothing_new_and_does_not_keep_the_secret(world):
    first = world.new_key(YONGCHUAN, **{"Idempotency-Key": "key-1"})
    r = world.sut.client.post("/v1/open311/keys", json={"client_name": "12345热线", "district_id": YONGCHUAN},
                              headers={**world.sut.as_(*OPERATOR), "Idempotency-Key": "key-1"})
    assert r.status_code == 409 and r.headers["Idempotent-Replayed"] == "true"
    assert r.headers["Location"] == f"/v1/open311/keys/{first['id']}"
    assert first["api_key"] not in r.get_data(as_text=True)
    assert first["api_key"] not in _every_value(world)
    with world.sut.rt.factory() as session:
        assert len(session.scalars(select(Open311Key.id)).all()) == 3


def test_keys_are_an_admins_of_their_own_district_only(world):
    clerk = world.sut.as_(YONGCHUAN, "tickets:admin")
    r = world.sut.client.post("/v1/open311/keys", json={"client_name": "网格App"}, headers=clerk)
    assert r.status_code == 201 and r.json["district_id"] == YONGCHUAN
    r = world.sut.client.post("/v1/open311/keys", json={"client_name": "网格App", "district_id": BISHAN},
                              headers=clerk)
    assert r.status_code == 422 and list(r.json["errors"]) == ["district_id"]
    assert {k["district_id"] for k in world.sut.client.get("/v1/open311/keys", headers=clerk).json["items"]} \
        == {YONGCHUAN}
    r = world.sut.client.post("/v1/open311/keys", json={"client_name": "x"}, headers=world.sut.as_(*OPERATOR))
    assert r.status_code == 422 and list(r.json["errors"]) == ["district_id"]
    r = world.sut.client.post("/v1/open311/keys", json={"client_name": "x", "district_id": "district-nowhere"},
                              headers=world.sut.as_(*OPERATOR))
    assert r.status_code == 422 and r.json["type"] == "/problems/reference-not-yet-known"
    writer = world.sut.as_(YONGCHUAN, "tickets:read tickets:write")
    assert world.sut.client.get("/v1/open311/keys", headers=writer).status_code == 403
    assert world.sut.client.get("/v1/open311/keys").status_code == 401


# --- GETs: public, per jurisdiction, without the reporter ------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_gets_are_public_and_never_show_who_reported(world, fmt):
    ticket = world.posted()
    world.move(ticket, "accept", {"note": "物业已知悉"})
    answers = [world.get(f"requests.{fmt}", jurisdiction_id=YONGCHUAN),
               world.get(f"requests/{ticket}.{fmt}", jurisdiction_id=YONGCHUAN),
               world.get(f"requests.{fmt}", jurisdiction_id=YONGCHUAN, service_request_id=ticket)]
    for r in answers:
        assert r.status_code == 200, r.get_data(as_text=True)
        body = r.get_data(as_text=True)
        assert ticket in body and "物业已知悉" in body
        for private in ("王", "阿姨", PHONE, "****5678", "wang@example.cn"):
            assert private not in body, (private, body)


def _public(world: World, ticket: str, fmt: str) -> dict:
    """The public answer of one request, JSON or XML, as a dict of the standard's fields."""
    r = world.get(f"requests/{ticket}.{fmt}", jurisdiction_id=YONGCHUAN)
    assert r.status_code == 200, r.get_data(as_text=True)
    if fmt == "json":
        [request] = r.json
        return request
    [request] = safe_xml.fromstring(r.get_data())
    return {field.tag: field.text for field in request}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_phone_number_written_into_the_text_is_masked_in_the_public_answers(world, fmt):
    ticket = world.posted(description="楼道灯坏了，请回电 139-8765-4321 或 023-67891234")
    world.move(ticket, "accept", {"note": "已电话联系 +8613987654321，2026-11-26 8:30 上门"})
    request = _public(world, ticket, fmt)
    assert request["description"] == "楼道灯坏了，请回电 139******4321 或 023*****1234"
    assert request["status_notes"] == "已电话联系 +86*******4321，2026-11-26 8:30 上门"
    for path in (f"requests.{fmt}", f"requests/{ticket}.{fmt}"):
        body = world.get(path, jurisdiction_id=YONGCHUAN).get_data(as_text=True)
        # Whole numbers and their parts with separators: bare 4-digit runs could be in a UUID of the answer.
        for written in ("139-8765-4321", "8765-4321", "67891234", "13987654321"):
            assert written not in body, (written, body)
    # Masked as the public sees it only: the ticket keeps what the resident wrote.
    with world.sut.rt.factory() as session:
        assert "139-8765-4321" in session.get(Ticket, uuid.UUID(ticket)).description


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_public_sees_the_compound_not_the_residents_address_and_coordinates_to_about_100_m(world, fmt):
    ticket = world.posted(address_string="永川区星光小区3栋2单元501", lat="29.356789", long="105.912345")
    request = _public(world, ticket, fmt)
    assert (request["address"], request["address_id"]) == ("星光小区", world.compound)
    assert (float(request["lat"]), float(request["long"])) == (29.357, 105.912)
    body = world.get(f"requests.{fmt}", jurisdiction_id=YONGCHUAN).get_data(as_text=True)
    assert "3栋2单元501" not in body and "29.356789" not in body and "105.912345" not in body
    # The district's own systems read them whole.
    whole = world.sut.client.get(f"/v1/tickets/{ticket}", headers=world.sut.as_(YONGCHUAN, "tickets:read")).json
    assert (whole["address"], whole["lat"], whole["lon"]) == ("永川区星光小区3栋2单元501", 29.356789, 105.912345)


def test_a_get_without_jurisdiction_is_refused_when_several_are_served(world):
    r = world.get("requests.xml")
    assert r.status_code == 400
    assert _errors(r) == [{"code": 400, "description": "jurisdiction_id: required: this endpoint serves several "
                                                       "jurisdictions"}]
    assert world.get("services.json").status_code == 400
    r = world.get("requests.json", jurisdiction_id="district-nowhere")
    assert r.status_code == 400 and r.json[0]["description"].startswith("jurisdiction_id:")


def test_a_jurisdiction_sees_only_its_own_requests(world):
    own = world.posted()
    foreign = world.posted(api_key=world.other_key, address_string="璧山区东林小区")
    listed = world.get("requests.json", jurisdiction_id=YONGCHUAN).json
    assert [r["service_request_id"] for r in listed] == [own]
    assert world.get("requests.json", jurisdiction_id=BISHAN).json[0]["service_request_id"] == foreign
    both = world.get("requests.json", jurisdiction_id=YONGCHUAN, service_request_id=f"{own},{foreign}").json
    assert [r["service_request_id"] for r in both] == [own]
    r = world.get(f"requests/{foreign}.json", jurisdiction_id=YONGCHUAN)
    assert r.status_code == 404 and r.json == [{"code": 404, "description": "service_request_id: no such request"}]
    assert world.get(f"tokens/{foreign}.json", jurisdiction_id=YONGCHUAN).status_code == 404
    assert world.get("requests/not-an-id.xml", jurisdiction_id=YONGCHUAN).status_code == 404


def test_one_district_served_needs_no_jurisdiction(make_service):
    world = World(make_service("tickets"), both_districts=False)
    ticket = world.posted()
    assert [r["service_request_id"] for r in world.get("requests.json").json] == [ticket]
    assert world.get(f"requests/{ticket}.json").json[0]["service_request_id"] == ticket


def test_states_show_as_open_or_closed_with_notes_and_the_lead_unit(world):
    ticket = world.posted(**{"attribute[urgency]": "urgent"})
    shown = world.get(f"requests/{ticket}.json", jurisdiction_id=YONGCHUAN).json[0]
    assert (shown["status"], shown["status_notes"], shown["agency_responsible"]) == ("open", "已收到，等待受理", None)
    world.move(ticket, "dispatch", {"units": [{"unit_id": world.police, "lead": True}]})
    shown = world.get(f"requests/{ticket}.json", jurisdiction_id=YONGCHUAN).json[0]
    assert (shown["status"], shown["status_notes"], shown["agency_responsible"]) == (
        "open", "已派单至责任单位办理", "中山路派出所")
    world.move(ticket, "close", {"reason": "referred"})
    shown = world.get(f"requests/{ticket}.json", jurisdiction_id=YONGCHUAN).json[0]
    assert (shown["status"], shown["status_notes"]) == ("closed", "已转交其他部门办理")
    assert shown["requested_datetime"].endswith("+08:00") and shown["expected_datetime"].endswith("+08:00")
    rejected = world.posted()
    world.move(rejected, "reject", {"reason": "不属于小区事务"})
    shown = world.get(f"requests/{rejected}.xml", jurisdiction_id=YONGCHUAN)
    request = safe_xml.fromstring(shown.get_data()).find("request")
    assert (request.findtext("status"), request.findtext("status_notes")) == ("closed", "未予受理：不属于小区事务")


def _submitted_at(world: World, at: datetime, category: str = "facilities") -> str:
    with world.sut.rt.factory() as session:
        ticket = usecases.submit_ticket(session, Actor("test", YONGCHUAN, frozenset()), compound_id=uuid.UUID(
            world.compound), title="旧诉求", description="旧诉求", category=category, reporter_name="王阿姨",
            reporter_phone=PHONE, now=at, source="open311")
        session.commit()
        return str(ticket.id)


def test_requests_filter_by_service_status_and_date_within_90_days(world):
    now = datetime.now(UTC)
    recent = world.posted()
    general = world.posted(service_code="general")
    old = _submitted_at(world, now - timedelta(days=100))
    world.move(general, "reject", {"reason": "重复"})

    def ids(**query: str) -> list[str]:
        r = world.get("requests.json", jurisdiction_id=YONGCHUAN, **query)
        assert r.status_code == 200, r.json
        return [item["service_request_id"] for item in r.json]

    assert ids() == [general, recent]  # newest first, the last 90 days
    assert ids(service_code="facilities") == [recent]
    assert ids(service_code="facilities,general", status="closed") == [general]
    assert ids(status="open,closed") == [general, recent]
    start = (now - timedelta(days=120)).isoformat()
    assert ids(start_date=start) == [old]
    assert ids(start_date=start, end_date=(now - timedelta(days=95)).isoformat()) == [old]
    assert ids(service_request_id=old) == [old]  # ids override the other filters
    assert ids(page_size="1") == [general]


@pytest.mark.parametrize(("query", "field"), [
    ({"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-06-01T00:00:00Z"}, "end_date"),
    ({"start_date": "last week"}, "start_date"),
    ({"status": "pending"}, "status"),
    ({"service_code": "potholes"}, "service_code"),
    ({"service_request_id": "12,13"}, "service_request_id"),
    ({"page_size": "1001"}, "page_size"),
    ({"jurisdiction_id": "x" * 65}, "jurisdiction_id"),
    ({"start_date": "a\x00"}, "start_date"),
])
def test_bad_filters_are_the_standards_400_naming_them(world, query, field):
    r = world.get("requests.json", **({"jurisdiction_id": YONGCHUAN} | query))
    assert r.status_code == 400, r.json
    assert all(error["code"] == 400 for error in r.json) and r.json[0]["description"].startswith(f"{field}:"), r.json


def test_an_unknown_format_is_a_404_in_xml_the_standards_default(world):
    for path in ("requests.yaml", "services.html", "discovery.csv", "services/facilities.txt"):
        r = world.get(path, jurisdiction_id=YONGCHUAN)
        assert r.status_code == 404 and _errors(r)[0]["description"].startswith("format:"), path
    r = world.sut.client.post("/open311/v2/requests.yaml", data={"api_key": world.key})
    assert r.status_code == 404 and r.content_type.startswith("text/xml")


# --- Services, discovery, tokens --------------------------------------------------------------------------------

def test_services_and_their_definition_in_both_formats(world):
    services = world.get("services.json", jurisdiction_id=YONGCHUAN).json
    assert {"service_code": "facilities", "service_name": "设施维修",
            "description": "楼道灯、电梯、管网、道路等公共设施损坏", "metadata": True, "type": "realtime",
            "keywords": "路灯,电梯,维修", "group": "社区治理"} in services
    root = safe_xml.fromstring(world.get("services.xml", jurisdiction_id=YONGCHUAN).get_data())
    assert [s.findtext("service_code") for s in root.findall("service")] == [s["service_code"] for s in services]
    definition = world.get("services/facilities.json", jurisdiction_id=YONGCHUAN).json
    assert definition["service_code"] == "facilities"
    assert [a["code"] for a in definition["attributes"]] == ["urgency", "kind", "building_id"]
    xml = safe_xml.fromstring(world.get("services/facilities.xml", jurisdiction_id=YONGCHUAN).get_data())
    assert [v.findtext("key") for v in xml.findall("attributes/attribute/values/value")] == [
        "normal", "urgent", "problem", "wish"]
    r = world.get("services/potholes.json", jurisdiction_id=YONGCHUAN)
    assert r.status_code == 404 and r.json[0]["description"].startswith("service_code:")


def test_discovery_names_the_endpoint_and_both_formats(world):
    discovery = world.get("discovery.json").json
    [endpoint] = discovery["endpoints"]
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    proxied = {"X-Forwarded-Prefix": "/tickets", "X-Forwarded-Host": "gov.example.cn", "X-Forwarded-Proto": "https"}
    root = safe_xml.fromstring(world.sut.client.get("/open311/v2/discovery.xml", headers=proxied).get_data())
    assert root.findtext("endpoints/endpoint/url") == "https://gov.example.cn/tickets/open311/v2"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_a_token_is_the_request_id_answered_at_once(world):
    ticket = world.posted()
    assert world.get(f"tokens/{ticket}.json", jurisdiction_id=YONGCHUAN).json == [
        {"service_request_id": ticket, "token": ticket}]
    root = safe_xml.fromstring(world.get(f"tokens/{ticket}.xml", jurisdiction_id=YONGCHUAN).get_data())
    assert root.findtext("request/token") == ticket


def test_the_openapi_documents_open311_as_public_with_both_formats(world):
    spec = world.sut.client.get("/openapi.json").json
    post = spec["paths"]["/open311/v2/requests.{format}"]["post"]
    assert post["security"] == [] and post["x-public-standard"].startswith("Open311 GeoReport v2")
    assert set(post["requestBody"]["content"]) == {FORM}
    assert set(post["responses"]["200"]["content"]) == {"application/json", "text/xml"}
    assert "Idempotency-Key" not in {p.get("name") for p in post.get("parameters", [])}
    get = spec["paths"]["/open311/v2/requests.{format}"]["get"]
    assert "422" not in get["responses"] and get["responses"]["400"]["content"]["text/xml"]
    form = spec["components"]["schemas"]["Open311RequestForm"]["properties"]
    assert {"api_key", "service_code", "lat", "long", "attribute[urgency]"} <= set(form)
