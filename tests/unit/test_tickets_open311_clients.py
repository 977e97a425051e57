"""Open311 GeoReport v2 clients no one here wrote (georeport and civicbot, from PyPI) drive the tickets service over
real HTTP, in JSON and XML: the standard as others read it, not as this suite's own tests do."""

from __future__ import annotations

import uuid

import pytest
from civicbot.http import HttpError
from civicbot.open311 import ValidationError
from requests import HTTPError

from linli.services.tickets.models import Ticket
from tests.support.open311_clients import civicbot, civicbot_post, georeport, post_xml
from tests.support.open311_world import PHONE, YONGCHUAN, World
from tests.support.wsgi import serving


@pytest.fixture
def served(make_service):
    world = World(make_service("tickets"))
    with serving(world.sut.app) as base_url:
        yield world, base_url


def test_civicbot_files_a_request_checked_against_our_services_and_reads_it_back(served):
    world, base_url = served
    client = civicbot(base_url, YONGCHUAN)
    answer = civicbot_post(client, "facilities", world.key, address_string="永川区星光小区3栋",
                           description="楼道灯坏了", first_name="三", last_name="张", phone=PHONE, lat=29.35, lng=105.9,
                           attributes={"urgency": "urgent"}, media_url="https://img.example/1.jpg")
    ticket = answer["service_request_id"]
    assert uuid.UUID(ticket) and answer["service_notice"]
    request = client.get_request(ticket)
    assert (request["status"], request["service_code"], request["lat"], request["long"]) == (
        "open", "facilities", 29.35, 105.9)
    assert request["media_url"] == "https://img.example/1.jpg" and "张三" not in str(request)
    assert client.get_token(ticket) == [{"service_request_id": ticket, "token": ticket}]
    listed = client.list_requests(service_code="facilities", status="open", service_request_ids=[ticket])
    assert [r["service_request_id"] for r in listed] == [ticket]
    with world.sut.rt.factory() as session:
        row = session.get(Ticket, uuid.UUID(ticket))
        assert (row.source, row.urgency, row.reporter_name) == ("open311", "urgent", "张三")


def test_civicbot_checks_attributes_against_our_definition_before_sending(served):
    world, base_url = served
    with pytest.raises(ValidationError, match="attribute 'urgency'"):
        civicbot_post(civicbot(base_url, YONGCHUAN), "facilities", world.key, address_string="星光小区",
                      phone=PHONE, attributes={"urgency": "whenever"})
    with pytest.raises(HttpError) as refused:
        civicbot_post(civicbot(base_url, YONGCHUAN), "facilities", "o311_stolen", address_string="星光小区",
                      phone=PHONE)
    assert refused.value.status == 403 and '"api_key: missing, unknown or revoked"' in refused.value.body


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_services_definitions_and_requests(served, fmt):
    world, base_url = served
    posted = [world.posted(), world.posted(service_code="environment", address_string=None,
                                           address_id=world.compound)]
    client = georeport(base_url, YONGCHUAN, fmt)
    services = client.get_service_list()
    if fmt == "xml":
        assert [s["service_code"] for s in services] == ["general", "environment", "facilities", "dispute",
                                                         "fast_track"]
        assert {s["metadata"] for s in services} == {"true"}
    else:
        assert {s["service_code"] for s in services} >= {"facilities", "environment"}
        assert all(s["metadata"] is True for s in services)
    definition = client.get_service_definition("facilities")
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert [a["code"] for a in attributes] == ["urgency", "kind", "building_id"]
    requests = client.get_service_requests()
    assert [r["service_request_id"] for r in requests] == posted[::-1]  # newest first
    # xmltodict reads a list of one as the item itself, a list of none as no element at all.
    [only] = _listed(client.get_service_requests(service_request_id=posted[1], status="closed"))
    assert (only["service_request_id"], only["service_code"]) == (posted[1], "environment")
    one = client.get_service_request(posted[0])
    assert (one["service_request_id"], one["status"], one["service_name"]) == (posted[0], "open", "设施维修")
    assert one["requested_datetime"].endswith("+08:00") and one["address_id"] == world.compound
    if fmt == "json":  # georeport cannot read an empty XML list (xmltodict makes <service_requests/> None)
        assert client.get_service_requests(status="closed") == []


def _listed(found: object) -> list:
    return found if isinstance(found, list) else [] if found is None else [found]


def test_georeport_sees_the_standards_errors_as_http_errors(served):
    world, base_url = served
    with pytest.raises(HTTPError) as unknown:
        georeport(base_url, YONGCHUAN, "xml").get_service_definition("potholes")
    assert unknown.value.response.status_code == 404
    with pytest.raises(HTTPError) as several:
        georeport(base_url, None, "json").get_service_requests()
    assert several.value.response.status_code == 400
    assert several.value.response.json()[0]["description"].startswith("jurisdiction_id:")


def test_an_xml_post_answers_the_new_id_or_the_standards_errors_in_xml(served):
    world, base_url = served
    status, answer = post_xml(base_url, {"api_key": world.key, "service_code": "dispute", "phone": PHONE,
                                         "address_string": "星光小区5栋", "description": "楼上噪音",
                                         "jurisdiction_id": YONGCHUAN})
    assert status == 200 and answer.tag == "service_requests"
    ticket = answer.findtext("request/service_request_id")
    assert georeport(base_url, YONGCHUAN, "xml").get_service_request(ticket)["service_code"] == "dispute"
    status, answer = post_xml(base_url, {"api_key": world.key, "service_code": "dispute"})
    assert status == 400 and answer.tag == "errors"
    assert answer.findtext("error/code") == "400" and answer.findtext("error/description").startswith("phone:")
