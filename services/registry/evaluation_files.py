"""An evaluation table as a CSV file for spreadsheets: one row per member, one column per hours category.

UTF-8 with a byte-order mark, which is how Excel on Chinese Windows tells UTF-8 from GBK; headers and
values in Chinese, or English. Phones come as the caller may see them (masked or not).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from linli.services.registry.domain import RESOURCE_CATEGORIES
from linli.services.registry.evaluation import (
    STANDING_CONFIRMED,
    STANDING_NONE,
    STANDING_SUBMITTED,
    Evaluation,
    hours,
)
from linli.shared import spreadsheets
from linli.shared.spreadsheets import BOM, LANGUAGES, MEDIA_TYPE, language_of

# Kept importable from here, where the evaluations' callers have always found them.
__all__ = ["BOM", "LANGUAGES", "MEDIA_TYPE", "csv_of", "disposition", "header", "language_of", "row"]

_HEAD = {
    "name": ("姓名", "Name"),
    "phone": ("手机号", "Phone"),
    "status": ("在职/退休", "Employment"),
    "membership": ("党员状态", "Membership"),
    "check_in": ("年末报到状态", "Check-in at year end"),
    "compound": ("报到小区", "Compound"),
    "checked_in": ("年内曾报到", "Checked in during the year"),
    "confirmed": ("年内确认报到次数", "Check-ins confirmed in the year"),
    "pledges_made": ("年内作出承诺", "Pledges made"),
    "pledges_fulfilled": ("年内兑现承诺", "Pledges fulfilled"),
    "pledges_open": ("年末未兑现承诺", "Pledges open at year end"),
    "total": ("已核实服务时长合计（小时）", "Verified hours, total"),
    "unverified": ("待核实服务时长（小时）", "Hours awaiting verification"),
    "activities": ("参与活动", "Activities"),
    "tickets": ("参与工单", "Tickets"),
    "member_id": ("党员编号", "Member ID"),
}
_CATEGORY_HEAD = ("服务时长·{}（小时）", "Hours: {}")
_VALUES: dict[object, tuple[str, str]] = {
    STANDING_CONFIRMED: ("已报到", "checked in"),
    STANDING_SUBMITTED: ("待确认", "awaiting the branch"),
    STANDING_NONE: ("未报到", "not checked in"),
    "in_service": ("在职", "in service"),
    "retired": ("退休", "retired"),
    "active": ("在册", "active"),
    "left": ("已离开", "left"),
    True: ("是", "yes"),
    False: ("否", "no"),
}
_text = spreadsheets.text


def _category_label(code: str, index: int) -> str:
    labels = RESOURCE_CATEGORIES.get(code)
    return _CATEGORY_HEAD[index].format(labels[index] if labels else code)


def header(categories: Sequence[str], language: str) -> list[str]:
    index = LANGUAGES.index(language)

    def head(key: str) -> str:
        return _HEAD[key][index]

    return ([head(k) for k in ("name", "phone", "status", "membership", "check_in", "compound", "checked_in",
                               "confirmed", "pledges_made", "pledges_fulfilled", "pledges_open")]
            + [_category_label(code, index) for code in categories]
            + [head(k) for k in ("total", "unverified", "activities", "tickets", "member_id")])


def row(evaluation: Evaluation, categories: Sequence[str], compound_names: Mapping[uuid.UUID, str],
        language: str) -> list[str]:
    index = LANGUAGES.index(language)

    def said(value: object) -> str:
        labels = _VALUES.get(value)
        return labels[index] if labels else str(value)

    standing, pledges, service = evaluation.check_in, evaluation.pledges, evaluation.service
    compound = compound_names.get(standing.compound_id, "") if standing.compound_id else ""
    return ([_text(evaluation.name), _text(evaluation.phone), said(evaluation.status), said(evaluation.membership),
             said(standing.status_at_year_end), _text(compound), said(standing.checked_in_during_year),
             str(standing.confirmed_in_year), str(pledges.made), str(pledges.fulfilled),
             str(pledges.open_at_year_end)]
            + [str(hours(service.minutes_in(code))) for code in categories]
            + [str(service.total_hours), str(service.unverified_hours), str(evaluation.activities),
               str(evaluation.tickets), str(evaluation.member_id)])


def csv_of(evaluations: Sequence[Evaluation], categories: Sequence[str], compound_names: Mapping[uuid.UUID, str],
           language: str) -> bytes:
    """The table as CSV bytes, byte-order mark first."""
    return spreadsheets.csv_of(header(categories, language),
                               (row(evaluation, categories, compound_names, language) for evaluation in evaluations))


def disposition(title: str, year: int, subject_id: uuid.UUID, language: str) -> str:
    """A Content-Disposition that saves the file under a readable name: `星光医院-2024年度党员双向评价.csv`.

    An ASCII `filename` for old clients, the UTF-8 one in `filename*` (RFC 6266) for the others.
    """
    named = f"{title}-{year}年度党员双向评价.csv" if language == "zh" else f"{title}-evaluations-{year}.csv"
    return spreadsheets.attachment(f"evaluations-{year}-{subject_id}.csv", named)
