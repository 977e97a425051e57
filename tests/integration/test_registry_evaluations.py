"""The evaluation feed on real PostgreSQL: the database's GROUP BY sums what the records say, to the minute."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from linli.services.registry import evaluation
from linli.services.registry.models import Pledge, ServiceRecord
from tests.support.registry_world import yongchuan_over_http

CATEGORIES = ("medical", "legal_aid", "noise", "elderly_care", "sanitation")
STATES = ("verified", "verified", "verified", "logged", "rejected")


def _district(registry) -> tuple[dict[str, str], str, str]:
    world = yongchuan_over_http(registry)
    return world["clerk"], world["district"]["id"], world["compound"]["id"]


def _records(rng: random.Random, member_id: uuid.UUID, district: str) -> list[ServiceRecord]:
    """Thirty records of a member around 2024, some on its first and last days and some just outside it."""
    days = [date(2023, 12, 31), date(2024, 1, 1), date(2024, 12, 31), date(2025, 1, 1)]
    made = []
    for _ in range(30):
        source = rng.choice(("activity", "ticket", "other"))
        made.append(ServiceRecord(
            district_id=district, member_id=member_id, source=source,
            source_id=None if source == "other" else uuid.uuid4(),
            served_on=rng.choice(days) if rng.random() < 0.3 else date(2024, 1, 1) + timedelta(days=rng.randrange(366)),
            minutes=rng.randrange(1, 600), category=rng.choice(CATEGORIES), state=rng.choice(STATES)))
    return made


def _expected(records: list[ServiceRecord]) -> dict:
    in_year = [r for r in records if r.served_on.year == 2024]
    by_category: Counter[str] = Counter()
    for r in in_year:
        if r.state == "verified":
            by_category[r.category] += r.minutes
    return {
        "by_category": {code: minutes for code, minutes in by_category.items()},
        "total_minutes": sum(by_category.values()),
        "unverified_minutes": sum(r.minutes for r in in_year if r.state == "logged"),
        "activities": len({r.source_id for r in in_year if r.state == "verified" and r.source == "activity"}),
        "tickets": len({r.source_id for r in in_year if r.state == "verified" and r.source == "ticket"}),
    }


def test_an_employer_s_table_sums_every_member_s_records_exactly_on_postgresql(live, bus):
    registry = live("registry", bus)
    clerk, district, compound = _district(registry)
    org = registry.client.post("/v1/organizations", json={"kind": "hospital", "name": "永川区人民医院"}, headers=clerk)
    other = registry.client.post("/v1/organizations", json={"kind": "school", "name": "永川中学"}, headers=clerk)
    members = {}
    for i in range(12):
        employer = org.json["id"] if i < 11 else other.json["id"]
        r = registry.client.post("/v1/members", json={"name": f"党员{i:02d}", "phone": f"1380000{i:04d}",
                                                      "compound_id": compound, "employer_id": employer}, headers=clerk)
        assert r.status_code == 201, r.json
        members[r.json["id"]] = r.json
    rng = random.Random(2024)
    expected = {}
    with registry.rt.factory() as session:
        for member_id in members:
            records = _records(rng, uuid.UUID(member_id), district)
            session.add_all(records)
            expected[member_id] = _expected(records)
        session.commit()

    r = registry.client.get("/v1/evaluations", query_string={"year": 2024, "organization_id": org.json["id"]},
                            headers=clerk)
    assert r.status_code == 200, r.json
    assert r.json["count"] == 11 and [i["name"] for i in r.json["items"]] == [f"党员{i:02d}" for i in range(11)]
    present: set[str] = set()
    for item in r.json["items"]:
        want = expected[item["member_id"]]
        got = item["hours"]
        assert {c["category"]: c["minutes"] for c in got["by_category"]} == want["by_category"], item["name"]
        assert (got["total_minutes"], got["unverified_minutes"]) == (want["total_minutes"],
                                                                     want["unverified_minutes"])
        assert Decimal(str(got["total_hours"])) == evaluation.hours(want["total_minutes"])
        assert (item["activities"], item["tickets"]) == (want["activities"], want["tickets"])
        present |= set(want["by_category"])
    assert [c["code"] for c in r.json["categories"]] == evaluation.category_order(present)

    # The CSV's totals are the same figures, as hours.
    file = registry.client.get("/v1/evaluations", query_string={"year": 2024, "organization_id": org.json["id"]},
                               headers={**clerk, "Accept": "text/csv"})
    assert file.status_code == 200 and file.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(file.data.decode("utf-8-sig"), newline="")))
    assert len(rows) == 11
    for row in rows:
        want = expected[row["党员编号"]]
        assert Decimal(row["已核实服务时长合计（小时）"]) == evaluation.hours(want["total_minutes"])
        assert int(row["参与活动"]) == want["activities"]

    # One member's evaluation agrees with their row, and lists the activities counted.
    member_id = r.json["items"][3]["member_id"]
    one = registry.client.get("/v1/evaluations", query_string={"year": 2024, "member_id": member_id}, headers=clerk)
    assert one.status_code == 200, one.json
    [item] = one.json["items"]
    assert item["hours"] == r.json["items"][3]["hours"]
    assert len(item["activity_ids"]) == expected[member_id]["activities"]


def test_the_year_s_bounds_are_the_district_s_new_year_on_postgresql(live, bus):
    registry = live("registry", bus)
    clerk, district, compound = _district(registry)
    r = registry.client.post("/v1/members", json={"name": "张三", "phone": "13812345678", "compound_id": compound},
                             headers=clerk)
    member_id = r.json["id"]
    # Fulfilled at 07:00 on New Year's Day in Chongqing: still 2024 in UTC, already 2025 for the district.
    with registry.rt.factory() as session:
        session.add(Pledge(district_id=district, member_id=uuid.UUID(member_id), text="每月义诊一次",
                           status="fulfilled", created_at=datetime(2024, 3, 1, tzinfo=UTC),
                           fulfilled_at=datetime(2024, 12, 31, 23, tzinfo=UTC)))
        session.commit()

    def pledges(year: int) -> tuple[dict, list[dict]]:
        answer = registry.client.get("/v1/evaluations", query_string={"year": year, "member_id": member_id},
                                     headers=clerk)
        assert answer.status_code == 200, answer.json
        [item] = answer.json["items"]
        return item["pledges"], item["pledge_items"]

    summary, items = pledges(2024)
    assert summary == {"made": 1, "fulfilled": 0, "open_at_year_end": 1}
    assert [p["status_at_year_end"] for p in items] == ["open"]
    summary, items = pledges(2025)
    assert summary == {"made": 0, "fulfilled": 1, "open_at_year_end": 0}
    assert [p["status_at_year_end"] for p in items] == ["fulfilled"]
