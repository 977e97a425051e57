"""The yearly evaluation's rules (双向评价): year bounds, check-in standing, pledges and exact hours. No database."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from linli.services.registry import evaluation
from linli.services.registry.evaluation import CheckInFact, MemberFacts, MinutesFact, PledgeFact
from linli.shared.errors import ValidationFailed

Y2024 = evaluation.year_of(2024, "Asia/Shanghai")
HOME, NEW_HOME = uuid.uuid4(), uuid.uuid4()


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_a_year_runs_from_new_year_to_new_year_in_the_district_s_time_zone():
    assert Y2024.starts_at == datetime(2023, 12, 31, 16, tzinfo=UTC)
    assert Y2024.ends_at == datetime(2024, 12, 31, 16, tzinfo=UTC)
    assert (Y2024.first_day.isoformat(), Y2024.last_day.isoformat()) == ("2024-01-01", "2024-12-31")
    assert evaluation.year_of(2024, "UTC").starts_at == datetime(2024, 1, 1, tzinfo=UTC)
    # 07:00 on 1 January in Chongqing is still 2024 in UTC, but already the new year where the member lives.
    assert not Y2024.holds(datetime(2024, 12, 31, 23, tzinfo=UTC))


@pytest.mark.parametrize("year", [1999, 2101, -1])
def test_a_year_out_of_range_is_a_bad_year(year):
    with pytest.raises(ValidationFailed) as caught:
        evaluation.year_of(year, "Asia/Shanghai")
    assert list(caught.value.errors or {}) == ["year"]


# --- Hours ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("minutes", "hours"), [(0, "0.00"), (20, "0.33"), (30, "0.50"), (50, "0.83"),
                                                (90, "1.50"), (61, "1.02"), (100_000, "1666.67")])
def test_minutes_become_hours_to_the_hundredth(minutes, hours):
    assert evaluation.hours(minutes) == Decimal(hours)


def test_only_verified_minutes_count_summed_by_category_and_logged_ones_stand_apart():
    service = evaluation.service_time([
        MinutesFact("medical", "verified", 45), MinutesFact("noise", "verified", 20),
        MinutesFact("medical", "verified", 50), MinutesFact("medical", "logged", 25),
        MinutesFact("noise", "rejected", 600), MinutesFact("legal_aid", "logged", 35),
        MinutesFact("tree_trimming", "verified", 0)])
    # The vocabulary's order (medical before noise), and no column for a category with no verified minute.
    assert service.by_category == (("medical", 95), ("noise", 20))
    assert (service.total_minutes, service.total_hours) == (115, Decimal("1.92"))
    assert (service.unverified_minutes, service.unverified_hours) == (60, Decimal("1.00"))
    assert service.minutes_in("noise") == 20 and service.minutes_in("legal_aid") == 0


def test_the_total_is_summed_in_minutes_not_from_rounded_hours():
    service = evaluation.service_time([MinutesFact(code, "verified", 20) for code in ("medical", "noise", "venue")])
    assert [evaluation.hours(m) for _, m in service.by_category] == [Decimal("0.33")] * 3
    assert service.total_hours == Decimal("1.00")  # not 0.99


def test_categories_outside_the_vocabulary_come_last_by_code():
    assert evaluation.category_order(["zz_old", "noise", "aa_old", "medical"]) == ["medical", "noise", "aa_old",
                                                                                   "zz_old"]


# --- Check-ins -----------------------------------------------------------------------------------------------

def test_a_check_in_confirmed_during_the_year_and_still_in_force_stands_confirmed():
    standing = evaluation.check_in_standing([CheckInFact(HOME, at(2024, 3, 1), at(2024, 3, 5))], Y2024)
    assert standing == evaluation.CheckInStanding("confirmed", HOME, True, 1)


def test_one_confirmed_years_ago_still_counts_but_was_not_confirmed_this_year():
    standing = evaluation.check_in_standing([CheckInFact(HOME, at(2019, 3, 1), at(2019, 3, 5))], Y2024)
    assert standing == evaluation.CheckInStanding("confirmed", HOME, True, 0)


def test_one_ended_during_the_year_was_in_force_but_is_none_at_the_end():
    facts = [CheckInFact(HOME, at(2022, 3, 1), at(2022, 3, 5), ended_at=at(2024, 6, 1))]
    assert evaluation.check_in_standing(facts, Y2024) == evaluation.CheckInStanding("none", None, True, 0)
    # Ended before the year began: nothing in it.
    facts = [CheckInFact(HOME, at(2022, 3, 1), at(2022, 3, 5), ended_at=at(2023, 6, 1))]
    assert evaluation.check_in_standing(facts, Y2024) == evaluation.CheckInStanding("none", None, False, 0)


def test_a_move_during_the_year_ends_at_the_new_compound_and_counts_two_confirmations():
    moved = at(2024, 9, 1)
    facts = [CheckInFact(HOME, at(2024, 2, 1), at(2024, 2, 2), ended_at=moved),
             CheckInFact(NEW_HOME, at(2024, 8, 20), moved)]
    assert evaluation.check_in_standing(facts, Y2024) == evaluation.CheckInStanding("confirmed", NEW_HOME, True, 2)
    assert evaluation.check_in_standing(facts, evaluation.year_of(2023, "UTC")).status_at_year_end == "none"


def test_one_submitted_in_december_and_confirmed_in_january_stands_submitted_at_the_year_s_end():
    facts = [CheckInFact(HOME, at(2024, 12, 20), at(2025, 1, 10))]
    assert evaluation.check_in_standing(facts, Y2024) == evaluation.CheckInStanding("submitted", HOME, False, 0)
    y2025 = evaluation.year_of(2025, "Asia/Shanghai")
    assert evaluation.check_in_standing(facts, y2025) == evaluation.CheckInStanding("confirmed", HOME, True, 1)


def test_rejected_and_ended_while_waiting_ones_leave_the_member_unchecked():
    facts = [CheckInFact(HOME, at(2024, 2, 1), at(2024, 2, 3), rejected=True),
             CheckInFact(NEW_HOME, at(2024, 4, 1), ended_at=at(2024, 5, 1))]
    assert evaluation.check_in_standing(facts, Y2024) == evaluation.CheckInStanding("none", None, False, 0)
    assert evaluation.check_in_standing([], Y2024) == evaluation.CheckInStanding("none", None, False, 0)


# --- Pledges -------------------------------------------------------------------------------------------------

def _pledge(made: datetime, fulfilled: datetime | None = None, text: str = "义务巡逻") -> PledgeFact:
    return PledgeFact(uuid.uuid4(), text, made, fulfilled)


def test_pledges_made_fulfilled_and_open_are_counted_at_the_year_s_bounds():
    carried = _pledge(at(2023, 5, 1), at(2024, 2, 1), "帮扶独居老人")  # made last year, kept this year
    kept = _pledge(at(2024, 3, 1), at(2024, 4, 1))
    still_open = _pledge(at(2024, 6, 1))
    late = _pledge(at(2024, 7, 1), at(2025, 3, 1))  # open at the year's end
    old = _pledge(at(2022, 1, 1), at(2023, 1, 1))  # done before the year
    future = _pledge(at(2025, 2, 1))
    # Fulfilled at 07:00 Beijing time on New Year's Day: the new year's, though still 2024 in UTC.
    new_year = _pledge(at(2024, 10, 1), datetime(2024, 12, 31, 23, tzinfo=UTC))
    summary = evaluation.pledge_summary([future, late, old, still_open, kept, carried, new_year], Y2024)
    assert (summary.made, summary.fulfilled, summary.open_at_year_end) == (4, 2, 3)
    assert [item.id for item in summary.items] == [carried.id, kept.id, still_open.id, late.id, new_year.id]
    assert [item.status_at_year_end for item in summary.items] == ["fulfilled", "fulfilled", "open", "open", "open"]
    assert summary.items[0].text == "帮扶独居老人"


# --- One member and an employer's table ----------------------------------------------------------------------

def test_a_member_s_evaluation_brings_the_parts_together():
    member = MemberFacts(
        member_id=uuid.uuid4(), name="张三", phone="13812345678", status="in_service", membership="active",
        check_ins=[CheckInFact(HOME, at(2024, 3, 1), at(2024, 3, 5))],
        pledges=[_pledge(at(2024, 3, 1))],
        minutes=[MinutesFact("medical", "verified", 130), MinutesFact("medical", "verified", 5)],
        activities=3, tickets=1)
    result = evaluation.evaluate(member, Y2024)
    assert (result.name, result.check_in.status_at_year_end, result.pledges.made) == ("张三", "confirmed", 1)
    assert (result.service.total_minutes, result.service.total_hours) == (135, Decimal("2.25"))
    assert (result.activities, result.tickets) == (3, 1)
    nobody = evaluation.evaluate(MemberFacts(uuid.uuid4(), "李四", "13900000000", "retired", "active"), Y2024)
    assert nobody.service.by_category == () and nobody.service.total_hours == Decimal("0.00")
    assert evaluation.table_categories([nobody, result]) == ["medical"]


def test_an_employer_s_table_is_whole_or_refused():
    evaluation.check_table_size(evaluation.MAX_TABLE_ROWS)
    with pytest.raises(ValidationFailed) as caught:
        evaluation.check_table_size(evaluation.MAX_TABLE_ROWS + 1)
    assert list(caught.value.errors or {}) == ["organization_id"]


@pytest.mark.parametrize("module", ["evaluation", "evaluation_files"])
def test_the_evaluation_rules_and_its_file_are_plain_python(module):
    path = Path(__file__).resolve().parents[2] / "services" / "registry" / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    frameworks = ("flask", "flask_smorest", "sqlalchemy", "marshmallow", "kombu", "linli.shared.http")
    assert not {name for name in imported if name.split(".")[0] in frameworks or name.startswith(frameworks)}
