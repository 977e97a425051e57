"""Fuzz a service's OpenAPI with schemathesis against its WSGI app, and say plainly what went wrong.

Each service is seeded with a few rows first (two districts, so a district caller meets foreign ids),
then every documented operation gets generated requests from several callers. Generated path, query
and body values that name an entity are sometimes swapped for ids that exist, so the 2xx paths and
their response schemas are reached too, not only the 404/422 ones. Failures are collected, not
raised one by one: a run reports every distinct failure with the request that caused it.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import SkipTest

import defusedxml.ElementTree as safe_xml
import pytest
import structlog
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.openapi import from_wsgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from structlog.testing import capture_logs

from tests.support.apps import ServiceUnderTest, token

PROBLEM_CONTENT_TYPE = "application/problem+json"


# --- Checks -------------------------------------------------------------------------------------------

def public_standard(case: Case) -> str | None:
    """The public standard an operation answers as (Open311 GeoReport v2), which shapes its errors itself."""
    return case.operation.definition.raw.get("x-public-standard")


def open311_errors(status: int, content_type: str, content: bytes) -> list[dict[str, Any]]:
    """The standard's errors document, in JSON or XML, as [{code, description}]; AssertionError if it is not one."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        body = json.loads(content)
        assert isinstance(body, list) and body, f"an Open311 error is a non-empty list, got {body!r}"[:300]
        found = body
    else:
        assert media == "text/xml", f"an Open311 error is JSON or XML, got {content_type or 'no Content-Type'}"
        root = safe_xml.fromstring(content)
        assert root.tag == "errors" and len(root), f"an Open311 error is <errors><error>…, got {content[:200]!r}"
        found = [{"code": int(error.findtext("code") or 0), "description": error.findtext("description")}
                 for error in root]
    for error in found:
        assert set(error) == {"code", "description"}, f"an error has code and description: {error}"
        assert error["code"] == status, f"the error's code {error['code']!r} is not the response's {status}"
        assert isinstance(error["description"], str) and error["description"], f"an empty description: {error}"
    return found


def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error is an RFC 9457 problem: application/problem+json with type, title and its own status.

    An operation of a public standard answers the standard's own errors document instead.
    """
    if response.status_code < 400:
        return None
    if public_standard(case):
        open311_errors(response.status_code, (response.headers.get("content-type") or [""])[0], response.content)
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip().lower() == PROBLEM_CONTENT_TYPE, (
        f"a {response.status_code} must be {PROBLEM_CONTENT_TYPE}, got {content_type or 'no Content-Type'}")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"a {response.status_code} body is not JSON: {response.content[:200]!r}") from exc
    assert isinstance(body, dict), f"a problem is a JSON object, got {type(body).__name__}"
    missing = [name for name in ("type", "title", "status") if name not in body]
    assert not missing, f"the problem lacks {', '.join(missing)}: {body}"
    assert isinstance(body["type"], str) and isinstance(body["title"], str), f"type and title are strings: {body}"
    assert body["status"] == response.status_code, (
        f"the problem's status {body['status']!r} is not the response's {response.status_code}")
    return None


# Not used, and why:
# - positive_data_acceptance: a schema-valid request may still be refused by a rule no schema states
#   (an opaque cursor the API never issued, a compound that does not exist, an unknown IANA zone).
# - use_after_free, ensure_resource_availability, ignored_auth: they need stateful links or resend each
#   request without credentials; the anonymous caller below checks the 401s directly.
# Note: every operation documents a `default` response, so status_code_conformance accepts any code;
# the statuses each operation really answered are listed by FuzzReport.status_table().
CHECKS = [
    not_a_server_error,
    problem_details,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


# --- Seeds --------------------------------------------------------------------------------------------

FREE_ROWS = 24  # rows per service that a generated create may still claim (one committee per community, ...)


@dataclass
class Seed:
    """What exists before fuzzing: the district client's own district, and ids worth sending.

    `values` maps a parameter or top-level body field name to values that hit real rows (the caller's
    own and another district's), swapped into generated positive cases now and then.
    """

    district: str
    values: dict[str, list[Any]] = field(default_factory=dict)


def _operator(sut: ServiceUnderTest, service: str) -> dict[str, str]:
    return sut.as_("*", f"{service}:admin")


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def _cursors(sut: ServiceUnderTest, headers: dict[str, str], *paths: str) -> list[str]:
    """Real next-page cursors, so the keyset branch of each list runs with fuzzed filters."""
    found = []
    for path in paths:
        r = sut.client.get(f"{path}?limit=1", headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        if r.json["next_cursor"]:
            found.append(r.json["next_cursor"])
    return found


def seed_registry(sut: ServiceUnderTest) -> Seed:
    op = _operator(sut, "registry")

    def area(level: str, name: str, parent: str | None = None, kind: str | None = None) -> str:
        body = {"level": level, "name": name, "parent_id": parent, "kind": kind}
        return _created(sut.client.post("/v1/areas", json=body, headers=op))["id"]

    district = area("district", "永川区")
    street = area("street", "中山路街道", district)
    community = area("community", "星光社区", street)
    compound = area("compound", "星光小区", community, "managed")
    grid = area("grid", "第一网格", community)
    other = area("district", "璧山区")
    other_street = area("street", "璧城街道", other)
    other_community = area("community", "东林社区", other_street)
    # Communities without a committee yet, so fuzzing keeps reaching the 201 path of POST /v1/committees.
    free = [area("community", f"第{i}社区", street if i % 4 else other_street) for i in range(FREE_ROWS // 2)]
    committee = _created(sut.client.post("/v1/committees", json={"community_id": community, "name": "星光社区大党委"},
                                         headers=op))["id"]
    other_committee = _created(sut.client.post(
        "/v1/committees", json={"community_id": other_community, "name": "东林社区大党委"}, headers=op))["id"]
    areas = [district, street, community, compound, grid, other, other_street, other_community]
    seed = Seed(district, {
        "area_id": areas,
        "parent_id": areas,
        "community_id": [community, other_community, *free],
        "committee_id": [committee, other_committee],
        "cursor": _cursors(sut, op, "/v1/areas", "/v1/committees"),
        **_seed_registry_units(sut, op, district, other, compound),
        **_seed_registry_members(sut, op, compound),
    })
    _seed_registry_service(sut, op, seed)
    return seed


def _seed_registry_units(sut: ServiceUnderTest, op: dict[str, str], district: str, other: str,
                         compound: str) -> dict[str, list[Any]]:
    """Organizations of both districts, with ids worth sending to the operations on them."""

    def organization(owner: str, name: str) -> str:
        body = {"kind": "hospital", "name": name, "contact_phone": "13812345678", "district_id": owner}
        return _created(sut.client.post("/v1/organizations", json=body, headers=op))["id"]

    organizations = [organization(district, "永川区人民医院"), organization(other, "璧山区人民医院")]
    # A party branch serving the compound: check-ins name it, coverage counts the compound as served.
    branch = _created(sut.client.post("/v1/organizations", json={
        "kind": "party_branch", "name": "星光小区党支部", "area_id": compound, "district_id": district},
        headers=op))["id"]
    organizations.append(branch)
    resources = [_created(sut.client.post(f"/v1/organizations/{org}/resources", json={
        "kind": "staff", "category": "medical", "description": "义诊医生"}, headers=op))["id"] for org in organizations]
    # Pairings reach the 409 of a second active pairing and, with fuzzed dates, the 201 again.
    pairings = [_created(sut.client.post("/v1/pairings", json={
        "organization_id": organizations[0], "compound_id": compound, "starts_on": "2025-01-01",
        "ends_on": "2025-12-31"}, headers=op))["id"]]
    return {
        "organization_id": organizations,
        "resource_id": resources,
        "pairing_id": pairings,
        "compound_id": [compound],
        "branch_id": [branch],
        "district_id": [district, other],
        "cursor": _cursors(sut, op, "/v1/areas", "/v1/committees", "/v1/organizations", "/v1/pairings"),
    }


def _seed_registry_members(sut: ServiceUnderTest, op: dict[str, str], compound: str) -> dict[str, list[Any]]:
    """A party member with a pledge and a check-in, so the operations on them reach their 2xx and 409 paths."""
    member = _created(sut.client.post("/v1/members", json={
        "name": "张三", "phone": "13812345678", "compound_id": compound, "skills": ["medical"]}, headers=op))["id"]
    pledges = [_created(sut.client.post(f"/v1/members/{member}/pledges", json={"text": "调解邻里纠纷"},
                                        headers=op))["id"]]
    check_ins = [_created(sut.client.post("/v1/check-ins", json={"member_id": member}, headers=op))["id"]]
    # The member lives in the seeded committee's community, so a convenor edit can reach its 200.
    return {"member_id": [member], "pledge_id": pledges, "check_in_id": check_ins, "convenor_member_id": [member]}


def _seed_registry_service(sut: ServiceUnderTest, op: dict[str, str], seed: Seed) -> None:
    """Activities of both districts (scheduled with a sign-up, and held) and service records, logged and credited."""
    member = seed.values["member_id"][0]
    own_host, other_host = seed.values["organization_id"][:2]
    compound, community, other_community = (seed.values["compound_id"][0], seed.values["community_id"][0],
                                            seed.values["community_id"][1])

    def activity(host: str, area: str, title: str, capacity: int | None = None) -> str:
        return _created(sut.client.post("/v1/activities", json={
            "host_organization_id": host, "area_id": area, "title": title, "category": "medical",
            "place": "社区活动室", "starts_at": "2025-03-01T01:00:00Z", "ends_at": "2025-03-01T03:00:00Z",
            "capacity": capacity}, headers=op))["id"]

    # Scheduled ones reach the 2xx of editing, signing up, holding and cancelling; the full one the 409.
    scheduled = [activity(own_host, compound, "义诊", capacity=1), activity(own_host, community, "法律讲座"),
                 activity(other_host, other_community, "清扫楼道")]
    _created(sut.client.post(f"/v1/activities/{scheduled[0]}/sign-ups", json={"member_id": member}, headers=op))
    held = activity(own_host, community, "重阳节活动")
    r = sut.client.post(f"/v1/activities/{held}/hold", json={"attendees": [{"member_id": member, "hours": 2}]},
                        headers=op)
    assert r.status_code == 200, r.get_data(as_text=True)
    logged = _created(sut.client.post("/v1/service-records", json={
        "member_id": member, "served_on": "2025-03-01", "hours": 1.5, "category": "medical"}, headers=op))["id"]
    credited = sut.client.get(f"/v1/service-records?source_id={held}", headers=op).json["items"][0]["id"]
    seed.values.update({
        "activity_id": [*scheduled, held],
        "service_record_id": [logged, credited],
        "source_id": [held],
        "host_organization_id": [own_host, other_host],
        "cursor": seed.values["cursor"] + _cursors(sut, op, "/v1/activities", "/v1/service-records"),
    })


def _compound_event(district: str, name: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "district_id": district, "parent_id": str(uuid.uuid4()), "level": "compound",
            "name": name, "kind": "managed", "time_zone": "Asia/Shanghai", "version": 1}


def seed_tickets(sut: ServiceUnderTest) -> Seed:
    op = _operator(sut, "tickets")
    district, other = str(uuid.uuid4()), str(uuid.uuid4())
    compounds = [_compound_event(district, "星光小区"), _compound_event(district, "阳光小区"),
                 _compound_event(other, "东林小区")]
    for data in compounds:
        assert sut.deliver("registry.area.created", data) == "applied"
    # The first compound's community and street, which the rates group by (GET /v1/stats).
    street = {**_compound_event(district, "中山路街道"), "level": "street", "kind": None}
    community = {**_compound_event(district, "星光社区"), "id": compounds[0]["parent_id"], "level": "community",
                 "parent_id": street["id"], "kind": None}
    for data in (street, community):
        assert sut.deliver("registry.area.created", data) == "applied"
    tickets = []
    for compound in compounds:
        body = {"compound_id": compound["id"], "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
                "reporter_name": "王阿姨", "reporter_phone": "13812345678"}
        tickets.append(_created(sut.client.post("/v1/tickets", json=body, headers=op))["id"])
    units = [_organization_event(sut, owner, name) for owner, name in (
        (district, "中山路派出所"), (district, "永川中学"), (other, "璧山区人民医院"))]
    flow = _seed_ticket_flow(sut, op, compounds[0]["id"], units[:2])
    _seed_ticket_suggestions(sut, district, compounds[0], units[:2])
    _seed_category_deadlines(sut, op, district)
    return Seed(district, {
        "ticket_id": tickets + flow,
        "master_id": tickets + flow,
        "unit_id": units,
        "member_id": [str(uuid.uuid4())],
        "compound_id": [c["id"] for c in compounds],
        "community_id": [c["parent_id"] for c in compounds],
        "street_id": [street["id"]],
        "cursor": _cursors(sut, op, "/v1/tickets", "/v1/compounds") + _history_cursors(sut, op, flow),
        # A category the district set its own deadlines for, one it did not; both districts, for operators.
        "code": ["facilities", "general", "fast_track"],
        "district_id": [district, other],
        **_seed_open311(sut, op, district, other, compounds, tickets + flow),
    })


def _seed_category_deadlines(sut: ServiceUnderTest, op: dict[str, str], district: str) -> None:
    """The district's own deadlines for one category, so edits meet a stored row as well as the defaults."""
    body = {"normal": {"accept_hours": 12, "dispatch_hours": 48, "resolve_hours": 120},
            "urgent": {"accept_hours": 0.5, "dispatch_hours": 1, "resolve_hours": 8}}
    r = sut.client.put(f"/v1/categories/facilities?district_id={district}", json=body, headers=op)
    assert r.status_code == 200, r.get_data(as_text=True)


def _seed_open311(sut: ServiceUnderTest, op: dict[str, str], district: str, other: str,
                  compounds: list[dict[str, Any]], tickets: list[str]) -> dict[str, list[Any]]:
    """api_keys (an active one first, then a revoked one and another district's), and what Open311 calls name."""

    def key(owner: str) -> dict[str, Any]:
        return _created(sut.client.post("/v1/open311/keys", json={"client_name": "12345热线", "district_id": owner},
                                        headers=op))

    active, revoked, foreign = key(district), key(district), key(other)
    r = sut.client.post(f"/v1/open311/keys/{revoked['id']}/revoke", json={"reason": "换发新密钥"}, headers=op)
    assert r.status_code == 200, r.get_data(as_text=True)
    own = [c for c in compounds if c["district_id"] == district]
    now = datetime.now(UTC)
    # Values a generated request needs to get past the standard's checks to its 200: the live key most often,
    # dates within 90 days of each other, a phone, coordinates, a compound named by id or by address.
    return {
        "key_id": [active["id"], revoked["id"], foreign["id"]],
        # The live key only: a generated key, the other ones' 403s, is most of what the fuzzer sends anyway.
        "api_key": [active["api_key"]],
        "jurisdiction_id": [district, district, other],
        "district_id": [district, other],
        "format": ["json", "xml"],
        "service_code": ["facilities", "general", "fast_track"],
        "service_request_id": tickets,
        "token": tickets,
        "address_id": [c["id"] for c in own],
        "address_string": [f"永川区{c['name']}3栋" for c in own],
        "phone": ["13812345678", "+86 138-1234-5678"],
        "start_date": [(now - timedelta(days=30)).isoformat(), "2026-01-01"],
        "end_date": [now.isoformat()],
        "status": ["open", "closed,open"],
        "lat": [29.35],
        "long": [105.9],
        "media_url": ["https://img.example.cn/1.jpg"],
    }


def _organization_event(sut: ServiceUnderTest, district: str, name: str) -> str:
    data = {"id": str(uuid.uuid4()), "district_id": district, "kind": "agency", "name": name, "version": 1}
    assert sut.deliver("registry.organization.created", data) == "applied"
    return data["id"]


def _seed_ticket_flow(sut: ServiceUnderTest, op: dict[str, str], compound: str, units: list[str]) -> list[str]:
    """Tickets at each stage of their lifecycle, so every verb reaches its 200 (and its 409) with fuzzed bodies."""
    lead, helper = units
    steps: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "accepted": [("accept", {})],
        "in_progress": [("accept", {}), ("start", {})],
        "listed": [("accept", {}), ("escalate", {}), ("list", {})],
        "dispatched": [("dispatch", {"units": [{"unit_id": lead, "lead": True}, {"unit_id": helper}]})],
        "resolved": [("dispatch", {"units": [{"unit_id": lead, "lead": True}]}), ("resolve", {"unit_id": lead})],
        "reviewed": [("accept", {}), ("start", {}), ("resolve", {}), ("review", {"passed": True})],
        "wish": [("accept", {})],
    }
    made = []
    for name, moves in steps.items():
        body = {"compound_id": compound, "title": "楼道灯坏了", "description": "3栋2单元楼道灯一周没亮",
                "reporter_name": "王阿姨", "reporter_phone": "13812345678", "urgency": "urgent",
                "kind": "wish" if name == "wish" else "problem"}
        ticket = _created(sut.client.post("/v1/tickets", json=body, headers=op))["id"]
        for verb, move in moves:
            r = sut.client.post(f"/v1/tickets/{ticket}/{verb}", json=move, headers=op)
            assert r.status_code == 200, r.get_data(as_text=True)
        made.append(ticket)
    return made


def _seed_ticket_suggestions(sut: ServiceUnderTest, district: str, compound: dict[str, Any], units: list[str]) -> None:
    """A unit paired with the compound and a committee of its community whose other unit offers repairs, so
    suggestions answer ranked units with every reason."""
    paired, repairer = units
    events = [
        ("registry.pairing.created", {
            "id": str(uuid.uuid4()), "district_id": district, "organization_id": paired,
            "organization_name": "中山路派出所", "compound_id": compound["id"], "starts_on": "2024-01-01",
            "ends_on": None, "state": "active", "version": 1}),
        ("registry.resource.added", {
            "id": str(uuid.uuid4()), "district_id": district, "organization_id": repairer, "category": "repairs",
            "state": "available", "version": 1}),
        ("registry.committee.created", {
            "id": str(uuid.uuid4()), "district_id": district, "community_id": compound["parent_id"],
            "name": "星光社区大党委", "convenor_name": "张书记", "convenor_member_id": None,
            "time_zone": "Asia/Shanghai", "version": 1, "units": [
                {"organization_id": unit, "organization_name": name, "organization_kind": "agency",
                 "joined_on": "2024-01-01"} for unit, name in ((paired, "中山路派出所"), (repairer, "永川中学"))]}),
    ]
    for key, data in events:
        assert sut.deliver(key, data) == "applied"


def _history_cursors(sut: ServiceUnderTest, op: dict[str, str], tickets: list[str]) -> list[str]:
    """Cursors of a ticket's history and comments (the last ticket made is given two comments first)."""
    for text in ("已回访", "居民满意"):
        _created(sut.client.post(f"/v1/tickets/{tickets[-1]}/comments", json={"text": text}, headers=op))
    return _cursors(sut, op, f"/v1/tickets/{tickets[-2]}/history", f"/v1/tickets/{tickets[-1]}/comments")


def seed_rotation(sut: ServiceUnderTest) -> Seed:
    op = _operator(sut, "rotation")
    district, other = str(uuid.uuid4()), str(uuid.uuid4())

    def committee(owner: str, name: str, units: int = 0) -> tuple[str, list[str]]:
        data: dict[str, Any] = {"id": str(uuid.uuid4()), "district_id": owner, "community_id": str(uuid.uuid4()),
                                "name": name, "time_zone": "Asia/Shanghai", "units": [], "version": 1}
        assert sut.deliver("registry.committee.created", data) == "applied"
        ids = []
        for i in range(units):
            unit = {"organization_id": str(uuid.uuid4()), "organization_name": f"{name}共建单位{i}",
                    "organization_kind": "hospital", "joined_on": "2023-01-01"}
            data = {**data, "units": [*data["units"], unit], "version": data["version"] + 1}
            assert sut.deliver("registry.committee.unit_joined", {**data, **unit}) == "applied"
            ids.append(unit["organization_id"])
        return data["id"], ids

    taken = [committee(district, "星光社区大党委", units=3), committee(other, "东林社区大党委", units=2)]
    rotations = [_created(sut.client.post("/v1/rotations", json={
        "committee_id": c, "term_months": 1, "starts_on": "2024-01-01"}, headers=op))["id"] for c, _ in taken]
    # Committees without a rotation yet, so fuzzing keeps reaching the 201 path with its generated dates.
    free = [committee(district if i % 4 else other, f"第{i}社区大党委")[0] for i in range(FREE_ROWS)]
    units = [u for _, ids in taken for u in ids]
    future = [t for t in sut.client.get(f"/v1/rotations/{rotations[0]}/schedule?limit=200&from="
                                        "2100-01-01T00:00:00Z", headers=op).json["items"]]
    upcoming = sut.client.get(f"/v1/terms?rotation_id={rotations[0]}&limit=12", headers=op).json["items"][2:]
    # An override of each kind, and swaps to accept, decline or refuse.
    overrides = [
        _created(sut.client.post("/v1/overrides", json={
            "term_id": upcoming[0]["id"], "organization_id": next(
                u for u in taken[0][1] if u != upcoming[0]["organization_id"]), "reason": "换届"}, headers=op))["id"],
        _created(sut.client.post("/v1/overrides", json={
            "organization_id": taken[0][1][0], "from": "2030-01-01", "to": "2030-03-01", "reason": "整改"},
            headers=op))["id"]]
    upcoming = sut.client.get(f"/v1/terms?rotation_id={rotations[0]}&limit=12", headers=op).json["items"][4:]
    pairs = [(a, b) for a in upcoming for b in upcoming if a["organization_id"] != b["organization_id"]]
    swaps = [_created(sut.client.post("/v1/swaps", json={"term_id": a["id"], "with_term_id": b["id"],
                                                         "reason": "迎检"}, headers=op))["id"] for a, b in pairs[:2]]
    # The clock at April 2024 ends the first terms, so their chairs have reports to give (one given already).
    sut.rt.clock(now=lambda: datetime(2024, 4, 10, tzinfo=UTC)).tick()
    reports = sut.client.get(f"/v1/term-reports?rotation_id={rotations[0]}", headers=op).json["items"]
    _created(sut.client.post("/v1/term-reports", json={
        "term_id": reports[-1]["term_id"], "organization_id": reports[-1]["organization_id"], "text": "任期述职"},
        headers=op))
    terms = [t["id"] for t in upcoming] + [t["id"] for t in future] + [r["term_id"] for r in reports]
    meetings = _seed_rotation_meetings(sut, op, [c for c, _ in taken], units)
    return Seed(district, {
        **meetings,
        "rotation_id": rotations,
        "committee_id": [c for c, _ in taken] + free,
        # The ends of the calendar, and month ends that adding months must clamp.
        "starts_on": ["0001-01-01", "9999-12-31", "9999-10-31", "2024-02-29", "2024-01-31"],
        "time_zone": ["Asia/Shanghai", "America/Santiago", "Mars/Olympus_Mons"],
        "organization_id": units + [r["organization_id"] for r in reports],
        "order": [units[:3], units[2:]],
        "report_id": [r["id"] for r in reports],
        "text": ["本任期召开联席会议三次，办结群众诉求十二件。"],
        "term_id": terms,
        "with_term_id": terms,
        "override_id": overrides,
        "swap_id": swaps,
        "cursor": _cursors(sut, op, "/v1/rotations", "/v1/committees", "/v1/terms", "/v1/overrides", "/v1/swaps",
                           f"/v1/rotations/{rotations[0]}/schedule", f"/v1/rotations/{rotations[0]}/history",
                           "/v1/term-reports", "/v1/meetings", "/v1/feeds"),
    })


def _seed_rotation_meetings(sut: ServiceUnderTest, op: dict[str, str], committees: list[str],
                            units: list[str]) -> dict[str, list[Any]]:
    """Meeting rules of both districts' committees, meetings in each state (a scheduled one whose time has come
    first, so holding it reaches its 200), and feeds with their secret tokens."""
    from sqlalchemy import update

    from linli.services.rotation.models import Meeting

    soon = (datetime.now(UTC) + timedelta(days=30)).date()
    for committee in committees:
        r = sut.client.put(f"/v1/committees/{committee}/meeting-rule", json={
            "rrule": "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=2TU", "starts_on": soon.isoformat(), "place": "社区会议室"},
            headers=op)
        assert r.status_code == 200, r.get_data(as_text=True)
    planned = sut.client.get(f"/v1/meetings?committee_id={committees[0]}&limit=10", headers=op).json["items"]
    begun, cancelled = planned[0]["id"], planned[1]["id"]
    past = datetime.now(UTC) - timedelta(hours=1)
    with sut.rt.factory() as session:
        session.execute(update(Meeting).where(Meeting.id == uuid.UUID(begun)).values(
            starts_at=past, ends_at=past + timedelta(hours=2)))
        session.commit()
    assert sut.client.post(f"/v1/meetings/{cancelled}/cancel", json={"reason": "防汛"}, headers=op).status_code == 200
    ad_hoc = _created(sut.client.post("/v1/meetings", json={
        "committee_id": committees[1], "date": soon.isoformat(), "time": "19:00"}, headers=op))["id"]
    feeds = [_created(sut.client.post("/v1/feeds", json=body, headers=op)) for body in (
        {"committee_id": committees[0]}, {"organization_id": units[0]}, {"committee_id": committees[1]})]
    return {
        "meeting_id": [begun, cancelled, ad_hoc, *(m["id"] for m in planned[2:])],
        "feed_id": [f["id"] for f in feeds],
        "token": [f["token"] for f in feeds],
        "rrule": ["FREQ=WEEKLY;INTERVAL=2", "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=2TU", "FREQ=HOURLY",
                  "FREQ=MONTHLY;INTERVAL=3"],
        "date": [soon.isoformat(), "2020-01-01"],
        "time": ["09:30", "19:00"],
        "local_time": ["09:30"],
        "attendance": [[{"organization_id": units[0], "status": "present"}], []],
        "decisions": [[{"ticket_id": str(uuid.uuid4()), "kind": "dispatch", "unit_ids": units[:1]}], []],
    }


def seed_notify(sut: ServiceUnderTest) -> Seed:
    from linli.services.notify import samples

    op = _operator(sut, "notify")
    district, other = str(uuid.uuid4()), str(uuid.uuid4())
    compounds = {district: str(uuid.uuid4()), other: str(uuid.uuid4())}
    for owner, compound in compounds.items():
        for key in ("tickets.ticket.dispatched", "tickets.ticket.overdue"):
            ticket = samples.sample(key) | {"id": str(uuid.uuid4()), "district_id": owner, "compound_id": compound}
            assert sut.deliver(key, ticket) == "applied"
    r = sut.client.get("/v1/inbox?limit=200", headers=op)
    assert r.status_code == 200 and r.json["items"], r.get_data(as_text=True)
    # A district's own rule and template, so the GETs, PUTs and DELETEs meet an override (and its ETag) too.
    for path, body in (("/v1/rules/tickets.ticket.accepted", {"recipients": [{"role": "compound",
                                                                               "channels": ["inbox"]}]}),
                       ("/v1/templates/tickets.ticket.closed:inbox:zh-CN", {"subject": "办结：{{ title }}",
                                                                            "body": "「{{ title }}」已办结"})):
        put = sut.client.put(f"{path}?district_id={district}", json=body, headers=op)
        assert put.status_code == 200, put.get_data(as_text=True)
    webhooks = _seed_notify_webhooks(sut, op, district, other)
    deliveries = _seed_notify_deliveries(sut, op, compounds)
    return Seed(district, {
        "notification_id": [item["id"] for item in r.json["items"]],
        "recipient": sorted({item["recipient"] for item in r.json["items"]}),
        "event_type": ["tickets.ticket.accepted", "rotation.term.handed_over", "tickets.ticket.overdue"],
        "template_id": ["tickets.ticket.closed:inbox:zh-CN", "tickets.ticket.overdue:sms:en",
                        "rotation.term.started:email:zh-CN"],
        "channel": ["inbox", "sms"],
        "locale": ["zh-CN", "en"],
        "role": ["unit", "reporter", "chair"],
        "recipients": [[{"role": "reporter", "channels": ["sms"]}, {"role": "compound", "channels": ["inbox"]}], []],
        "subject": ["办结：{{ title }}", ""],
        "body": ["{{ compound_name }}「{{ title }}」已办结", "{{ ''.__class__ }}", "{{ nothing }}"],
        "payload": [samples.sample("tickets.ticket.overdue")],
        **webhooks,
        **deliveries,
        # Webhook deliveries first: /v1/webhooks/{webhook_id}/deliveries/{delivery_id} pairs the first of each.
        "delivery_id": webhooks["delivery_id"] + deliveries["delivery_id"],
        "cursor": _cursors(sut, op, "/v1/inbox", "/v1/webhooks", "/v1/deliveries"),
    })


# An IP literal of a public network: registering needs no name resolution, and nothing is ever sent in fuzzing.
WEBHOOK_URL = "https://93.184.215.14/linli"


def _seed_notify_webhooks(sut: ServiceUnderTest, op: dict[str, str], district: str, other: str
                          ) -> dict[str, list[Any]]:
    """Endpoints of both districts (one disabled, for the 409s) with deliveries, for every webhook operation."""
    from linli.suite import subscriptions

    subscriptions()  # the whole catalogue, as every process knows it: tickets' events are public ones

    def register(owner: str, patterns: list[str]) -> str:
        body = {"url": WEBHOOK_URL, "event_types": patterns, "district_id": owner, "description": "区工单系统"}
        return _created(sut.client.post("/v1/webhooks", json=body, headers=op))["id"]

    webhooks = [register(district, ["tickets.ticket.*"]), register(other, ["#"]), register(district, ["#"])]
    deliveries = []
    for webhook in webhooks[:2]:
        r = sut.client.post(f"/v1/webhooks/{webhook}/test", headers=op)
        assert r.status_code == 202, r.get_data(as_text=True)
        deliveries.append(r.json["id"])
    ticket = {"id": str(uuid.uuid4()), "district_id": district, "title": "电梯故障", "version": 1}
    assert sut.deliver("tickets.ticket.submitted", ticket) == "applied"
    assert sut.client.post(f"/v1/webhooks/{webhooks[2]}/disable", json={}, headers=op).status_code == 200
    return {
        "webhook_id": webhooks,
        "delivery_id": deliveries,
        "url": [WEBHOOK_URL],
        "event_types": [["tickets.#"], ["registry.#", "rotation.term.*"]],
        "district_id": [district, other, "*"],
        "overlap_hours": [0, 24],
        "cursor": _cursors(sut, op, "/v1/webhooks", *(f"/v1/webhooks/{w}/deliveries" for w in webhooks[:1])),
    }


def _seed_notify_deliveries(sut: ServiceUnderTest, op: dict[str, str], compounds: dict[str, str]
                            ) -> dict[str, list[Any]]:
    """Preferences of both districts' recipients, and SMS and email deliveries with an attempt each."""
    from datetime import UTC, datetime

    from linli.services.notify import domain, outgoing, usecases
    from linli.services.notify.sender import Sender, SenderSettings

    for owner, compound in compounds.items():
        body = {"district_id": owner, "locale": "en", "quiet_start": "22:00", "quiet_end": "07:00"}
        r = sut.client.put(f"/v1/preferences/compound:{compound}", json=body, headers=op)
        assert r.status_code == 200, r.get_data(as_text=True)

    class Busy:
        name = "gw1"

        def send(self, message: Any, timeout: float) -> outgoing.Outcome:
            return outgoing.Outcome(outgoing.RETRYABLE, "HTTP 503")

    now = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # noon in Beijing: outside the quiet hours
    with sut.rt.factory() as session:
        for owner, compound in compounds.items():
            for channel, address in (("sms", "13800001111"), ("email", "zhang@example.cn")):
                usecases.deliver(session, domain.Message(owner, uuid.uuid4(), "tickets.ticket.overdue",
                                                         f"compound:{compound}", channel, address, False,
                                                         lambda locale: ("超期", "楼道灯不亮")), now=now)
        session.commit()
    Sender(sut.rt.factory, SenderSettings(sms=[Busy()], email=[Busy()]), now=lambda: now).round()
    r = sut.client.get("/v1/deliveries?limit=200", headers=op)
    assert r.status_code == 200 and len(r.json["items"]) == 4, r.get_data(as_text=True)
    return {
        "delivery_id": [item["id"] for item in r.json["items"]],
        "time_zone": ["Asia/Shanghai", "America/Santiago", "Mars/Olympus_Mons"],
        "quiet_start": ["22:00", "00:00"],
        "quiet_end": ["07:00", "23:59"],
        "digest_time": ["20:00"],
    }


SEEDS: dict[str, Callable[[ServiceUnderTest], Seed]] = {
    "registry": seed_registry,
    "tickets": seed_tickets,
    "rotation": seed_rotation,
    "notify": seed_notify,
}


# --- Callers ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    modes: tuple[tuple[GenerationMode, int], ...]  # generation mode and examples per operation
    only_status: int | None = None  # the one answer this caller may get from any documented operation


def callers(service: str, seed: Seed, examples: int) -> list[Caller]:
    bearer = {"Authorization": f"Bearer {token('*', f'{service}:admin tickets:pii')}"}
    own = {"Authorization": f"Bearer {token(seed.district, f'{service}:read {service}:write')}"}
    # A scope of another service only: every operation must answer 403.
    stranger = {"Authorization": f"Bearer {token(seed.district, 'elsewhere:admin')}"}
    few = max(2, examples // 10)
    return [
        Caller("operator", bearer, ((GenerationMode.POSITIVE, examples), (GenerationMode.NEGATIVE, examples))),
        Caller(f"district {seed.district[:8]}", own, ((GenerationMode.POSITIVE, examples // 2),
                                                      (GenerationMode.NEGATIVE, examples // 4))),
        Caller("anonymous", {}, ((GenerationMode.POSITIVE, few),), only_status=401),
        Caller("without scope", stranger, ((GenerationMode.POSITIVE, few),), only_status=403),
    ]


# --- Undocumented request headers the suite's conventions define ----------------------------------------

# Printable ASCII, trimmed: header values cannot start or end with whitespace on the wire.
_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=220).map(str.strip)


def _maybe(values: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), values)


def convention_headers(service: str, method: str) -> st.SearchStrategy[dict[str, str | None]]:
    """Idempotency-Key on POST, If-Match on PATCH, Accept-Language on notify: not in the OpenAPI, still input."""
    drawn: dict[str, st.SearchStrategy[str | None]] = {}
    if method == "POST":
        drawn["Idempotency-Key"] = _maybe(st.one_of(st.sampled_from(["retry-1", "retry-2", ""]), _header_text))
    if method == "PATCH":
        drawn["If-Match"] = _maybe(st.one_of(st.sampled_from(['"1"', '"2"', 'W/"1"', "*", '"1", "2"', ""]),
                                             _header_text))
    if service == "notify":
        drawn["Accept-Language"] = _maybe(st.one_of(
            st.sampled_from(["en", "zh-CN", "en-US;q=0.8, zh;q=0.9", "*", "fr;q=nan", "en;q=inf", ",;q=,"]),
            _header_text))
    return st.fixed_dictionaries(drawn)


# --- Running and reporting ------------------------------------------------------------------------------

@dataclass
class Finding:
    operation: str
    caller: str
    mode: str
    check: str
    message: str
    request: str
    response: str
    traceback: str | None = None

    def render(self, service: str) -> str:
        lines = [f"[{service}] {self.operation} as {self.caller} ({self.mode}): {self.check}",
                 "  " + self.message.strip().replace("\n", "\n  "),
                 f"  request:  {self.request}",
                 f"  response: {self.response}"]
        if self.traceback:
            lines.append("  server: " + self.traceback.strip().replace("\n", "\n    "))
        return "\n".join(lines)


@dataclass
class FuzzReport:
    service: str
    findings: dict[tuple[str, ...], Finding] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    documented: dict[str, set[str]] = field(default_factory=dict)
    requests: int = 0

    def add(self, key: tuple[str, ...], finding: Finding) -> None:
        self.findings.setdefault(key, finding)

    def status_table(self) -> str:
        """Per operation: the statuses it answered, and those its OpenAPI lists only under `default`."""
        rows = []
        for label, seen in sorted(self.statuses.items()):
            listed = self.documented.get(label, set())
            implicit = sorted(code for code in seen if str(code) not in listed)
            rows.append(f"  {label}: answered {sorted(seen)}; documented {sorted(listed)}"
                        + (f"; only under default: {implicit}" if implicit else ""))
        return "\n".join(rows)

    def failure_text(self) -> str:
        """Distinct failures, worst first; one failure seen on several operations is shown once, with the list."""
        groups: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
        for finding in self.findings.values():
            groups[(finding.check, finding.message.strip(), _last_line(finding.traceback))].append(finding)
        ordered = sorted(groups.values(), key=lambda group: _SEVERITY.get(group[0].check, len(_SEVERITY)))
        parts = []
        for group in ordered:
            text = group[0].render(self.service)
            if len(group) > 1:
                also = sorted({f"{f.operation} ({f.response.split()[0]})" for f in group[1:]})
                text += "\n  the same on: " + ", ".join(also)
            parts.append(text)
        return (f"[{self.service}] {len(self.findings)} distinct failure(s) in {self.requests} requests:\n\n"
                + "\n\n".join(parts))


_SEVERITY = {name: rank for rank, name in enumerate([
    "the app raised instead of answering", "Server error", "Custom check failed: `problem_details`",
    "expected 401 for this caller", "expected 403 for this caller", "Response violates schema",
    "Undocumented HTTP status code", "Schema-violating request accepted", "Undocumented Content-Type",
])}


def _last_line(traceback: str | None) -> str:
    """The exception a traceback ends in, e.g. `ValueError: year 10000 is out of range`."""
    return (traceback or "").strip().rsplit("\n", 1)[-1].strip()


def _describe_request(response: Response) -> str:
    request = response.request
    shown = {name: value for name, value in request.headers.items()
             if name.lower() not in ("authorization", "user-agent", "x-schemathesis-testcaseid", "accept",
                                     "accept-encoding", "connection", "content-length")}
    body = request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else request.body
    text = f"{request.method} {request.url.removeprefix('http://localhost')}"
    if shown:
        text += f" headers={shown}"
    if body:
        text += f" body={body[:600]}"
    return text


def _describe_response(response: Response) -> str:
    content_type = (response.headers.get("content-type") or ["-"])[0]
    return f"{response.status_code} {content_type} {response.content[:600].decode('utf-8', 'replace')}"


def _swap_in(case: Case, picks: dict[str, Any]) -> None:
    """Put real ids where the generated case has a parameter or body field of the same name."""
    for name, value in picks.items():
        if value is None:
            continue
        for container in (case.path_parameters, case.query):
            if container is not None and name in container:
                container[name] = value
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = value


@contextmanager
def _server_logs() -> Iterator[list[dict[str, Any]]]:
    """Keep the services' log lines off the output, with each logged exception's traceback at hand."""
    with capture_logs(
            processors=[structlog.contextvars.merge_contextvars, structlog.processors.format_exc_info]) as logs:
        yield logs


def _traceback_of(logs: list[dict[str, Any]], response: Response) -> str | None:
    request_id = (response.headers.get("x-request-id") or [None])[0]
    for entry in reversed(logs):
        if entry.get("exception") and entry.get("request_id") == request_id:
            return f"{entry.get('event')}: {entry['exception'][-3000:]}"
    return None


def check_service(sut: ServiceUnderTest, service: str, *, examples: int, shard: tuple[int, int] = (0, 1)) -> None:
    """Fuzz a service (or one shard of its operations) and fail the test with every finding."""
    report = fuzz_service(sut, service, examples=examples, shard=shard)
    print(f"{service}: {report.requests} requests\n{report.status_table()}")
    assert report.requests > 0
    if report.findings:
        pytest.fail(report.failure_text(), pytrace=False)


def fuzz_service(sut: ServiceUnderTest, service: str, *, examples: int = 30,
                 shard: tuple[int, int] = (0, 1)) -> FuzzReport:
    """`shard` (i, n) fuzzes every n-th operation from the i-th, so one service's run can be spread over cores."""
    report = FuzzReport(service)
    with _server_logs() as logs:
        seed = SEEDS[service](sut)
        schema = from_wsgi("/openapi.json", sut.app)
        swaps = st.fixed_dictionaries({name: st.one_of(st.none(), st.sampled_from(values))
                                       for name, values in seed.values.items() if values})
        for number, result in enumerate(schema.get_all_operations()):
            if number % shard[1] != shard[0]:
                continue
            operation = result.ok()
            report.documented[operation.label] = {str(code) for code in operation.responses.status_codes}
            extra = convention_headers(service, operation.method.upper())
            for caller in callers(service, seed, examples):
                for mode, count in caller.modes:
                    _fuzz_operation(operation, caller, mode, count, swaps, extra, report, logs)
    return report


def _fuzz_operation(operation: Any, caller: Caller, mode: GenerationMode, count: int,
                    swaps: st.SearchStrategy[dict[str, Any]], extra: st.SearchStrategy[dict[str, str | None]],
                    report: FuzzReport, logs: list[dict[str, Any]]) -> None:
    # The caller's credentials are fixed, not generated: negative cases then break the data, not the auth.
    cases = operation.as_strategy(generation_mode=mode, headers=dict(caller.headers) or None)
    public = operation.definition.raw.get("security") == []

    @settings(max_examples=count, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(drawn=st.tuples(cases, swaps, extra))
    def run(drawn: tuple[Case, dict[str, Any], dict[str, str | None]]) -> None:
        case, picks, headers = drawn
        if mode.is_positive:
            _swap_in(case, picks)  # a negative case stays negative: its breakage is the point
        # A negative case may have broken a documented header (an over-long Idempotency-Key): a drawn value
        # must not mend it, or the broken request is sent whole and its acceptance reported as a finding.
        kept = set() if mode.is_positive else set(case.headers or {})
        sent = {**caller.headers, **{name: value for name, value in headers.items()
                                     if value is not None and name not in kept}}
        report.requests += 1
        try:
            response = case.call(headers=sent)
        except Exception as exc:  # noqa: BLE001 - an exception escaping the app is itself a finding
            report.add((operation.label, "exception", type(exc).__name__), Finding(
                operation.label, caller.name, mode.value, "the app raised instead of answering", repr(exc),
                f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"[:800], "-"))
            return
        report.statuses[operation.label].add(response.status_code)
        # An operation open to all (a public standard's) answers a caller without a token or scope like any other.
        if caller.only_status is not None and not public and response.status_code != caller.only_status:
            report.add((operation.label, caller.name, str(response.status_code)), Finding(
                operation.label, caller.name, mode.value, f"expected {caller.only_status} for this caller",
                f"a caller {caller.name} must get {caller.only_status}, got {response.status_code}",
                _describe_request(response), _describe_response(response)))
        try:
            case.validate_response(response, checks=CHECKS, headers=sent)
        except FailureGroup as group:
            server_side = _traceback_of(logs, response) if response.status_code >= 500 else None
            for failure in group.exceptions:
                # One entry per operation, kind of failure and status (and server exception): the first request.
                key = (operation.label, type(failure).__name__, failure.title, str(response.status_code),
                       _last_line(server_side).split(":")[0])
                report.add(key, Finding(
                    operation.label, caller.name, mode.value, failure.title, failure.message,
                    _describe_request(response), _describe_response(response), server_side))

    # No case of this mode may exist for an operation (nothing to break); the other modes still run.
    with suppress(Unsatisfiable, SkipTest):
        run()
