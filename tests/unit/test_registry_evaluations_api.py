"""GET /v1/evaluations: one member's year, an employer's table, as JSON or as CSV for Excel."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import event

from linli.services.registry import evaluation
from linli.services.registry.models import CheckIn, Pledge, ServiceRecord
from tests.support.registry_world import yongchuan_over_http

CSV = {"Accept": "text/csv"}


def _world(sut) -> dict[str, Any]:
    """Yongchuan with a hospital employing 张三 and 李四, a school employing 王五, and a Bishan hospital."""
    w = yongchuan_over_http(sut)

    def organization(name: str, headers: dict[str, str], kind: str = "hospital") -> dict[str, Any]:
        r = sut.client.post("/v1/organizations", json={"kind": kind, "name": name}, headers=headers)
        assert r.status_code == 201, r.json
        return r.json

    w["hospital"] = organization("永川区人民医院", w["clerk"])
    w["school"] = organization("永川中学", w["clerk"], "school")
    w["foreign_org"] = organization("璧山区人民医院", w["stranger"])
    w["zhang"] = _member(sut, w, "张三", "13812345678", w["hospital"]["id"])
    w["li"] = _member(sut, w, "李四", "13912345678", w["hospital"]["id"])
    w["wang"] = _member(sut, w, "王五", "13712345678", w["school"]["id"])
    return w


def _member(sut, w, name: str, phone: str, employer_id: str) -> dict[str, Any]:
    r = sut.client.post("/v1/members", json={"name": name, "phone": phone, "compound_id": w["compound"]["id"],
                                             "employer_id": employer_id}, headers=w["clerk"])
    assert r.status_code == 201, r.json
    return r.json


def _records(sut, member: dict[str, Any], *records: tuple[Any, ...]) -> None:
    """Service records as the crediting would leave them: (source, source_id, served_on, minutes, category, state)."""
    with sut.rt.factory() as session:
        for source, source_id, served_on, minutes, category, state in records:
            session.add(ServiceRecord(district_id=member["district_id"], member_id=uuid.UUID(member["id"]),
                                      source=source, source_id=source_id, served_on=served_on, minutes=minutes,
                                      category=category, state=state))
        session.commit()


def _add(sut, *rows: Any) -> None:
    with sut.rt.factory() as session:
        session.add_all(rows)
        session.commit()


def _get(sut, headers: dict[str, str], **query: Any):
    return sut.client.get("/v1/evaluations", query_string=query, headers=headers)


def _zhang_s_2024(sut, w) -> tuple[uuid.UUID, uuid.UUID]:
    """张三's 2024: 95 verified minutes of medical care and 20 of noise control over two activities and a
    ticket, 25 minutes awaiting verification; a check-in confirmed in March; two pledges, one kept."""
    zhang, day = w["zhang"], date(2024, 6, 1)
    clinic, patrol, ticket = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _records(sut, zhang,
             ("activity", clinic, day, 45, "medical", "verified"),
             ("activity", patrol, date(2024, 12, 31), 20, "noise", "verified"),
             ("ticket", ticket, date(2024, 1, 1), 30, "medical", "verified"),
             ("other", None, day, 20, "medical", "verified"),
             ("other", None, day, 25, "medical", "logged"),
             ("other", None, day, 600, "noise", "rejected"),
             ("activity", uuid.uuid4(), date(2023, 12, 31), 120, "medical", "verified"),  # last year
             ("activity", uuid.uuid4(), date(2025, 1, 1), 120, "medical", "verified"))  # next year
    member_id, district = uuid.UUID(zhang["id"]), zhang["district_id"]
    compound = uuid.UUID(w["compound"]["id"])
    _add(sut,
         CheckIn(district_id=district, member_id=member_id, compound_id=compound, state="confirmed",
                 created_at=datetime(2024, 3, 1, tzinfo=UTC), decided_at=datetime(2024, 3, 5, tzinfo=UTC)),
         Pledge(district_id=district, member_id=member_id, text="每月义诊一次", status="fulfilled",
                created_at=datetime(2024, 2, 1, tzinfo=UTC), fulfilled_at=datetime(2024, 11, 1, tzinfo=UTC)),
         Pledge(district_id=district, member_id=member_id, text="调解邻里纠纷", status="open",
                created_at=datetime(2024, 4, 1, tzinfo=UTC)))
    return clinic, patrol


def test_one_member_s_year_counts_verified_service_by_category_with_exact_sums(make_service):
    sut = make_service("registry")
    w = _world(sut)
    clinic, patrol = _zhang_s_2024(sut, w)
    r = _get(sut, w["clerk"], year=2024, member_id=w["zhang"]["id"])
    assert r.status_code == 200, r.json
    assert (r.json["year"], r.json["member_id"], r.json["organization_id"], r.json["count"]) == (
        2024, w["zhang"]["id"], None, 1)
    assert (r.json["time_zone"], r.json["starts_at"]) == ("Asia/Shanghai", "2023-12-31T16:00:00+00:00")
    assert r.json["categories"] == [{"code": "medical", "zh": "医疗卫生", "en": "Medical care"},
                                    {"code": "noise", "zh": "噪音治理", "en": "Noise control"}]
    [item] = r.json["items"]
    assert item["hours"] == {
        "by_category": [{"category": "medical", "minutes": 95, "hours": 1.58},
                        {"category": "noise", "minutes": 20, "hours": 0.33}],
        "total_minutes": 115, "total_hours": 1.92, "unverified_minutes": 25, "unverified_hours": 0.42}
    assert (item["activities"], item["tickets"]) == (2, 1)
    assert sorted(item["activity_ids"]) == sorted([str(clinic), str(patrol)]) and len(item["ticket_ids"]) == 1
    assert item["check_in"] == {"status_at_year_end": "confirmed", "compound_id": w["compound"]["id"],
                                "compound_name": "星光小区", "checked_in_during_year": True, "confirmed_in_year": 1}
    pledges = item["pledges"]
    assert (pledges["made"], pledges["fulfilled"], pledges["open_at_year_end"]) == (2, 1, 1)
    assert [(p["text"], p["status_at_year_end"]) for p in item["pledge_items"]] == [("每月义诊一次", "fulfilled"),
                                                                               ("调解邻里纠纷", "open")]
    assert item["phone"] == "138****5678"
    assert _get(sut, w["pii"], year=2024, member_id=w["zhang"]["id"]).json["items"][0]["phone"] == "13812345678"
    # Another year of the same member: only what happened in it.
    other = _get(sut, w["clerk"], year=2023, member_id=w["zhang"]["id"]).json["items"][0]
    assert other["hours"]["by_category"] == [{"category": "medical", "minutes": 120, "hours": 2.0}]
    assert other["check_in"]["status_at_year_end"] == "none" and other["pledge_items"] == []


def test_an_employer_s_table_lists_its_members_only_by_name_without_member_details(make_service):
    sut = make_service("registry")
    w = _world(sut)
    _zhang_s_2024(sut, w)
    _records(sut, w["li"], ("activity", uuid.uuid4(), date(2024, 5, 1), 50, "legal_aid", "verified"))
    _records(sut, w["wang"], ("activity", uuid.uuid4(), date(2024, 5, 1), 500, "education", "verified"))
    r = _get(sut, w["clerk"], year=2024, organization_id=w["hospital"]["id"])
    assert r.status_code == 200, r.json
    assert (r.json["organization_id"], r.json["organization_name"], r.json["member_id"]) == (
        w["hospital"]["id"], "永川区人民医院", None)
    assert [c["code"] for c in r.json["categories"]] == ["medical", "legal_aid", "noise"]
    assert r.json["count"] == 2
    assert [i["name"] for i in r.json["items"]] == sorted(["张三", "李四"])
    by_name = {i["name"]: i for i in r.json["items"]}
    assert by_name["张三"]["hours"]["total_minutes"] == 115 and by_name["张三"]["activities"] == 2
    assert by_name["李四"]["hours"] == {"by_category": [{"category": "legal_aid", "minutes": 50, "hours": 0.83}],
                                       "total_minutes": 50, "total_hours": 0.83, "unverified_minutes": 0,
                                       "unverified_hours": 0.0}
    assert by_name["李四"]["check_in"]["status_at_year_end"] == "none"
    assert all("activity_ids" not in i and "pledge_items" not in i for i in r.json["items"])
    assert {i["phone"] for i in r.json["items"]} == {"138****5678", "139****5678"}


def test_the_table_leaves_out_members_gone_before_the_year(make_service):
    sut = make_service("registry")
    w = _world(sut)
    left = sut.client.post(f"/v1/members/{w['li']['id']}/leave", json={"left_on": "2024-01-01"}, headers=w["clerk"])
    assert left.status_code == 200, left.json

    def names(year: int) -> list[str]:
        r = _get(sut, w["clerk"], year=year, organization_id=w["hospital"]["id"])
        assert r.status_code == 200, r.json
        return [(i["name"], i["membership"]) for i in r.json["items"]]

    # Registered here today, both were members in 2023 already: registration is not joining the party.
    assert names(2023) == sorted([("张三", "active"), ("李四", "left")])
    assert names(2024) == sorted([("张三", "active"), ("李四", "left")])  # left on its first day
    assert names(2025) == [("张三", "active")]
    # One member's evaluation is answered whatever the year.
    assert _get(sut, w["clerk"], year=2025, member_id=w["li"]["id"]).json["count"] == 1


def test_the_table_costs_the_same_few_queries_for_two_members_or_twenty(make_service):
    sut = make_service("registry")
    w = _world(sut)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    def queries() -> int:
        statements.clear()
        event.listen(sut.rt.engine, "before_cursor_execute", count)
        try:
            assert _get(sut, w["clerk"], year=2024, organization_id=w["hospital"]["id"]).status_code == 200
        finally:
            event.remove(sut.rt.engine, "before_cursor_execute", count)
        return len(statements)

    for member in (w["zhang"], w["li"]):
        _records(sut, member, ("activity", uuid.uuid4(), date(2024, 5, 1), 50, "medical", "verified"))
    few = queries()
    for i in range(18):
        member = _member(sut, w, f"赵{i:02d}", f"1360000{i:04d}", w["hospital"]["id"])
        _records(sut, member, ("activity", uuid.uuid4(), date(2024, 5, 1), 50, "medical", "verified"))
    assert queries() == few and few <= 10
    grouped = [s for s in statements if "service_records" in s]
    assert len(grouped) == 2 and all("GROUP BY" in s for s in grouped)


def test_csv_is_utf8_with_a_bom_and_chinese_headers_one_column_per_category(make_service):
    sut = make_service("registry")
    w = _world(sut)
    _zhang_s_2024(sut, w)
    _records(sut, w["li"], ("activity", uuid.uuid4(), date(2024, 5, 1), 50, "legal_aid", "verified"))
    r = _get(sut, {**w["clerk"], **CSV}, year=2024, organization_id=w["hospital"]["id"])
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "text/csv" and r.mimetype_params["charset"] == "utf-8"
    assert r.data.startswith(b"\xef\xbb\xbf")
    assert r.headers["Vary"] == "Accept, Accept-Language" and r.headers["Content-Language"] == "zh-CN"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="evaluations-2024-{w["hospital"]["id"]}.csv"')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "永川区人民医院-2024年度党员双向评价.csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["姓名", "手机号", "在职/退休", "党员状态", "年末报到状态", "报到小区", "年内曾报到",
                       "年内确认报到次数", "年内作出承诺", "年内兑现承诺", "年末未兑现承诺",
                       "服务时长·医疗卫生（小时）", "服务时长·法律援助（小时）", "服务时长·噪音治理（小时）",
                       "已核实服务时长合计（小时）", "待核实服务时长（小时）", "参与活动", "参与工单", "党员编号"]
    by_name = {row[0]: row for row in rows[1:]}
    assert len(rows) == 3 and set(by_name) == {"张三", "李四"}
    assert by_name["张三"] == ["张三", "138****5678", "在职", "在册", "已报到", "星光小区", "是", "1", "2", "1", "1",
                              "1.58", "0.00", "0.33", "1.92", "0.42", "2", "1", w["zhang"]["id"]]
    assert by_name["李四"][4:7] == ["未报到", "", "否"] and by_name["李四"][11:16] == ["0.00", "0.83", "0.00",
                                                                                 "0.83", "0.00"]
    unmasked = _get(sut, {**w["pii"], **CSV}, year=2024, organization_id=w["hospital"]["id"])
    assert "13812345678" in unmasked.data.decode("utf-8-sig")


def test_csv_headers_are_english_when_asked_and_one_member_s_file_is_named_after_them(make_service):
    sut = make_service("registry")
    w = _world(sut)
    _zhang_s_2024(sut, w)
    r = _get(sut, {**w["clerk"], **CSV, "Accept-Language": "en-US,en;q=0.9"}, year=2024, member_id=w["zhang"]["id"])
    assert r.status_code == 200 and r.headers["Content-Language"] == "en"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"), newline="")))
    assert rows[0][:5] == ["Name", "Phone", "Employment", "Membership", "Check-in at year end"]
    assert rows[0][11:13] == ["Hours: Medical care", "Hours: Noise control"]
    assert rows[1][2:7] == ["in service", "active", "checked in", "星光小区", "yes"]
    assert unquote(r.headers["Content-Disposition"].split("''")[1]) == "张三-evaluations-2024.csv"
    # JSON stays the default, also for a client that takes anything.
    for accept in (None, "*/*", "application/json", "text/csv;q=0.5, application/json"):
        answer = _get(sut, {**w["clerk"], **({"Accept": accept} if accept else {})}, year=2024,
                      member_id=w["zhang"]["id"])
        assert answer.status_code == 200 and answer.mimetype == "application/json", accept


def test_a_name_that_looks_like_a_formula_stays_text_in_the_csv(make_service):
    sut = make_service("registry")
    w = _world(sut)
    sneaky = _member(sut, w, "=HYPERLINK(\"http://x\")", "13600000000", w["school"]["id"])
    r = _get(sut, {**w["clerk"], **CSV}, year=datetime.now(UTC).year, member_id=sneaky["id"])
    [_, row] = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"), newline="")))
    assert row[0] == "'=HYPERLINK(\"http://x\")"


def test_another_district_s_member_or_organization_is_404_and_unknown_ones_too(make_service):
    sut = make_service("registry")
    w = _world(sut)
    for query in ({"member_id": w["zhang"]["id"]}, {"organization_id": w["hospital"]["id"]}):
        r = _get(sut, w["stranger"], year=2024, **query)
        assert r.status_code == 404 and r.content_type == "application/problem+json", r.json
        assert _get(sut, {**w["stranger"], **CSV}, year=2024, **query).status_code == 404
    assert _get(sut, w["clerk"], year=2024, organization_id=w["foreign_org"]["id"]).status_code == 404
    assert _get(sut, w["clerk"], year=2024, member_id=str(uuid.uuid4())).status_code == 404
    # An operator sees every district's.
    op = sut.as_("*", "registry:read")
    assert _get(sut, op, year=2024, organization_id=w["foreign_org"]["id"]).json["count"] == 0
    assert _get(sut, sut.as_(w["district"]["id"], "registry:write"), year=2024,
                member_id=w["zhang"]["id"]).status_code == 403


@pytest.mark.parametrize(("query", "fields"), [
    ({}, {"year"}),
    ({"year": 1999}, {"year"}),
    ({"year": 2101}, {"year"}),
    ({"year": "2024年"}, {"year"}),
    ({"year": 2024}, {"member_id", "organization_id"}),
    ({"year": 2024, "member_id": "x"}, {"member_id"}),
])
def test_bad_queries_are_422_naming_the_field(make_service, query, fields):
    sut = make_service("registry")
    w = yongchuan_over_http(sut)
    r = _get(sut, w["clerk"], **query)
    assert r.status_code == 422 and set(r.json["errors"]) == fields, r.json


def test_both_a_member_and_an_organization_is_422_naming_both(make_service):
    sut = make_service("registry")
    w = _world(sut)
    r = _get(sut, {**w["clerk"], **CSV}, year=2024, member_id=w["zhang"]["id"], organization_id=w["hospital"]["id"])
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert set(r.json["errors"]) == {"member_id", "organization_id"} and "not both" in r.json["errors"]["member_id"][0]


def test_a_table_past_the_cap_is_refused_whole_naming_the_organization(make_service, monkeypatch):
    sut = make_service("registry")
    w = _world(sut)
    monkeypatch.setattr(evaluation, "MAX_TABLE_ROWS", 1)
    r = _get(sut, w["clerk"], year=datetime.now(UTC).year, organization_id=w["hospital"]["id"])
    assert r.status_code == 422 and list(r.json["errors"]) == ["organization_id"], r.json
    assert "member_id" in r.json["errors"]["organization_id"][0]
    assert _get(sut, w["clerk"], year=datetime.now(UTC).year, organization_id=w["school"]["id"]).status_code == 200


def test_the_openapi_documents_json_and_csv(make_service):
    sut = make_service("registry")
    operation = sut.client.get("/openapi.json").json["paths"]["/v1/evaluations"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert content["application/json"]["schema"]["$ref"].endswith("/EvaluationTable")
    assert "verified" in operation["description"] and "text/csv" in operation["description"]
    assert "byte-order mark" in content["text/csv"]["schema"]["description"]
    assert "Content-Disposition" in operation["responses"]["200"]["headers"]
    assert operation["security"] == [{"bearerAuth": ["registry:read"]}]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} >= {"year", "member_id",
                                                                                 "organization_id"}
