"""Open311 GeoReport v2's rules and formats in plain Python: how a request maps onto a ticket, how a ticket looks
to the public, and the two formats (XML parsed back with defusedxml only)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as safe_xml
import pytest

from linli.services.tickets import domain, open311
from linli.services.tickets import open311_formats as formats
from linli.shared.errors import ValidationFailed

NOW = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def _fails_on(name: str, call, *args, **kwargs) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        call(*args, **kwargs)
    assert list(caught.value.errors) == [name], caught.value.errors
    return caught.value


# --- Services ---------------------------------------------------------------------------------------------------

def test_every_category_is_a_service_named_in_chinese_with_the_same_attributes():
    offered = open311.services()
    assert [s.code for s in offered] == list(domain.CATEGORIES)
    assert open311.service("facilities").name == "设施维修"
    assert all(s.metadata and s.type == "realtime" for s in offered)
    assert open311.service("potholes") is None
    urgency = {a.code: a for a in open311.ATTRIBUTES}["urgency"]
    assert [v.key for v in urgency.values] == list(domain.URGENCIES)


# --- A POST mapped onto a ticket ------------------------------------------------------------------------------------

def _intake(service_code: str = "facilities", **changes):
    given = {"description": "3栋楼道灯坏了\n一周没亮", "first_name": "三", "last_name": "张", "phone": "13812345678",
             "media_url": None, "attributes": {}} | changes
    return open311.intake(service_code, **given)


def test_a_request_becomes_a_ticket_of_its_category_titled_by_its_first_line():
    wanted = _intake(attributes={"urgency": ["urgent"], "kind": ["problem"]}, media_url="https://img.example/1.jpg",
                     lat=29.35, lon=105.9, address="永川区星光小区3栋")
    assert (wanted.category, wanted.title) == ("facilities", "3栋楼道灯坏了")
    assert wanted.description == "3栋楼道灯坏了\n一周没亮"
    assert (wanted.urgency, wanted.kind, wanted.attachments) == ("urgent", "problem", ("https://img.example/1.jpg",))
    assert (wanted.lat, wanted.lon, wanted.address) == (29.35, 105.9, "永川区星光小区3栋")


def test_without_a_description_the_service_name_is_the_ticket_text_and_long_titles_are_cut():
    assert _intake(description=None).description == "设施维修"
    title = _intake(description="灯" * 300).title
    assert len(title) == 60 and title.endswith("…")


def test_names_read_family_name_first_in_chinese_and_as_given_otherwise():
    assert open311.reporter_name("三", "张") == "张三"
    assert open311.reporter_name("Jane", "Doe") == "Jane Doe"
    assert open311.reporter_name(None, "  ") == open311.ANONYMOUS
    assert open311.reporter_name("Wei", None) == "Wei"


def test_a_phone_is_required_and_written_without_its_separators():
    assert open311.reporter_phone(" +86 138-1234 (5678) ") == "+8613812345678"
    assert "calls the reporter back" in _fails_on("phone", open311.reporter_phone, None).detail
    _fails_on("phone", open311.reporter_phone, "call me maybe")
    _fails_on("phone", open311.reporter_phone, "12345")


def test_an_unknown_service_or_attribute_or_value_names_the_field():
    _fails_on("service_code", _intake, service_code="potholes")
    _fails_on("attribute[colour]", _intake, attributes={"colour": ["red"]})
    _fails_on("attribute[urgency]", _intake, attributes={"urgency": ["soon"]})
    _fails_on("attribute[urgency]", _intake, attributes={"urgency": ["normal", "urgent"]})
    _fails_on("attribute[building_id]", _intake, attributes={"building_id": ["3栋"]})
    building = uuid.uuid4()
    assert _intake(attributes={"building_id": [str(building)], "kind": [" "]}).building_id == building


def test_attributes_are_read_from_the_standards_form_keys_only():
    form = [("attribute[urgency]", "urgent"), ("attribute[tags][]", "a"), ("attribute[tags][]", "b"),
            ("attribute", "x"), ("attribute[]", "y"), ("description", "z")]
    assert open311.attributes_of(form) == {"urgency": ["urgent"], "tags": ["a", "b"]}


def test_an_address_names_the_compound_whose_name_it_holds_the_longest_first():
    star, big_star = uuid.uuid4(), uuid.uuid4()
    compounds = [(star, "星光小区"), (big_star, "新星光小区"), (uuid.uuid4(), "阳光小区")]
    assert open311.match_compound("永川区星光小区3栋", compounds) == star
    assert open311.match_compound("永川区新星光小区3栋", compounds) == big_star
    assert open311.match_compound("璧山区东林小区", compounds) is None


def test_the_jurisdiction_is_the_one_asked_or_the_only_one_served():
    assert open311.choose_jurisdiction(None, ["d1"]) == "d1"
    assert open311.choose_jurisdiction("d2", ["d2"]) == "d2"
    assert open311.choose_jurisdiction(None, []) is None
    assert "several" in _fails_on("jurisdiction_id", open311.choose_jurisdiction, None, ["d1", "d2"]).detail
    _fails_on("jurisdiction_id", open311.choose_jurisdiction, "d3", [])


# --- A ticket as the public sees it ---------------------------------------------------------------------------------

@dataclass
class _Ticket:
    state: str = domain.SUBMITTED
    close_reason: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    category: str = "facilities"
    description: str = "楼道灯坏了"
    created_at: datetime = NOW
    updated_at: datetime = NOW + timedelta(hours=1)
    due_at: datetime = NOW + timedelta(hours=72)
    address: str | None = None
    compound_id: uuid.UUID = field(default_factory=uuid.uuid4)
    lat: float | None = 29.35
    lon: float | None = 105.9
    attachments: list[str] = field(default_factory=lambda: ["https://img.example/1.jpg", "https://img.example/2.jpg"])
    reporter_name: str = "王阿姨"
    reporter_phone: str = "13812345678"


def test_states_map_onto_open_and_closed():
    assert {domain.REJECTED, domain.CLOSED} == {s for s in domain.STATES if open311.status_of(s) == "closed"}
    assert open311.states_of(["closed"]) == domain.CLOSED_STATES
    assert open311.states_of(["open", "closed"]) == frozenset(domain.STATES)


def test_status_notes_are_the_last_moves_note_or_the_state_in_chinese():
    assert open311.status_notes(domain.DISPATCHED) == "已派单至责任单位办理"
    assert open311.status_notes(domain.DISPATCHED, last_note="派出所已到场") == "派出所已到场"
    assert open311.status_notes(domain.CLOSED, "duplicate") == "与其他诉求重复，已合并办理"
    assert open311.status_notes(domain.CLOSED) == "已办结"
    assert open311.status_notes(domain.REJECTED, last_reason="不属于小区事务") == "未予受理：不属于小区事务"
    assert all(open311.status_notes(state) for state in domain.STATES)


def test_the_public_request_carries_the_standards_fields_and_nothing_of_the_reporter():
    ticket = _Ticket(state=domain.CLOSED, close_reason="referred")
    shown = open311.public_request(ticket, open311.Seen(agency_responsible="中山路派出所", compound_name="星光小区"))
    assert list(shown) == ["service_request_id", "status", "status_notes", "service_name", "service_code",
                           "description", "agency_responsible", "service_notice", "requested_datetime",
                           "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
                           "media_url"]
    assert shown["status"] == "closed" and shown["status_notes"] == "已转交其他部门办理"
    assert shown["requested_datetime"] == "2026-03-01T09:30:00+08:00"
    assert shown["expected_datetime"] == "2026-03-04T09:30:00+08:00"
    assert (shown["address"], shown["address_id"], shown["agency_responsible"]) == (
        "星光小区", str(ticket.compound_id), "中山路派出所")
    assert shown["media_url"] == "https://img.example/1.jpg" and shown["long"] == 105.9
    text = json.dumps(shown, ensure_ascii=False)
    assert "王阿姨" not in text and "13812345678" not in text and "****5678" not in text


# --- Dates of GET requests ------------------------------------------------------------------------------------------

def test_dates_are_w3c_and_read_in_local_time_without_an_offset():
    assert open311.parse_time("2010-01-01T00:00:00Z", "start_date") == datetime(2010, 1, 1, tzinfo=UTC)
    assert open311.parse_time("2010-01-01", "start_date") == datetime(2009, 12, 31, 16, tzinfo=UTC)
    assert open311.parse_time("2010-01-01T08:00:00+08:00", "end_date") == datetime(2010, 1, 1, tzinfo=UTC)
    _fails_on("start_date", open311.parse_time, "yesterday", "start_date")
    _fails_on("end_date", open311.parse_time, "0001-01-01T00:00:00+08:00", "end_date")


def test_the_window_is_the_last_90_days_by_default_and_never_wider():
    assert open311.window(None, None, NOW) == (NOW - timedelta(days=90), NOW)
    start = NOW - timedelta(days=200)
    assert open311.window(start, None, NOW) == (start, start + timedelta(days=90))
    assert open311.window(None, NOW, NOW + timedelta(days=5)) == (NOW - timedelta(days=90), NOW)
    _fails_on("end_date", open311.window, NOW - timedelta(days=91), NOW, NOW)
    _fails_on("end_date", open311.window, NOW, NOW - timedelta(seconds=1), NOW)
    _fails_on("start_date", open311.window, datetime(9999, 12, 1, tzinfo=UTC), None, NOW)
    _fails_on("end_date", open311.window, None, datetime(1, 1, 2, tzinfo=UTC), NOW)


def test_request_ids_are_uuids_and_bounded():
    ids = [uuid.uuid4() for _ in range(3)]
    assert open311.request_ids(",".join(map(str, ids)) + ",") == ids
    _fails_on("service_request_id", open311.request_ids, "1,2")
    _fails_on("service_request_id", open311.request_ids, ",".join(str(uuid.uuid4()) for _ in range(201)))


def test_keys_are_random_and_kept_as_their_sha256():
    one, two = open311.new_api_key(), open311.new_api_key()
    assert one != two and one.startswith(open311.KEY_PREFIX) and len(one) > 40
    assert open311.hash_api_key(one) != one and len(open311.hash_api_key(one)) == 64
    assert open311.hash_api_key(one) == open311.hash_api_key(one)


# --- The two formats ------------------------------------------------------------------------------------------------

def test_lists_become_an_element_per_item_and_xml_parses_back():
    document = [{"service_code": "facilities", "metadata": True, "lat": 29.35, "notice": None,
                 "attributes": [{"values": [{"key": "urgent", "name": "紧急"}]}]}]
    body, content_type = formats.render("services", document, "xml")
    assert content_type == "text/xml; charset=utf-8"
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = safe_xml.fromstring(body)
    [service] = root.findall("service")
    assert (root.tag, service.findtext("service_code"), service.findtext("metadata")) == ("services", "facilities",
                                                                                         "true")
    assert service.findtext("lat") == "29.35" and service.find("notice").text is None
    assert service.find("attributes/attribute/values/value/name").text == "紧急"
    assert json.loads(formats.render("services", document, "json")[0]) == document


def test_text_xml_cannot_carry_is_replaced_so_the_answer_stays_well_formed():
    body, _ = formats.render("errors", formats.errors(400, ["bad \x01 <b>&amp; \ufffe ok\t\n"]), "xml")
    error = safe_xml.fromstring(body).find("error")
    assert error.findtext("code") == "400"
    assert error.findtext("description") == "bad \ufffd <b>&amp; \ufffd ok\t\n"


def test_the_xml_parser_of_the_tests_refuses_entities():
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><errors>&a;</errors>'
    with pytest.raises(Exception, match="Entit"):
        safe_xml.fromstring(bomb)


def test_an_empty_list_is_an_empty_root_element():
    root = safe_xml.fromstring(formats.render("service_requests", [], "xml")[0])
    assert (root.tag, len(root)) == ("service_requests", 0)
    assert formats.render("service_requests", [], "json")[0] == b"[]"


@pytest.mark.parametrize("module", ["open311", "open311_formats"])
def test_the_open311_rules_and_formats_run_without_flask_or_a_database(module):
    from tests.unit.test_layers import ROOT, _imports, _uses

    used = _imports(ROOT / "services" / "tickets" / f"{module}.py")
    assert not _uses(used, "flask", "flask_smorest", "linli.shared.http", "kombu", "sqlalchemy", "marshmallow")
