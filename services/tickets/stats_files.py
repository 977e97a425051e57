"""The rates as a CSV file for spreadsheets (shared/spreadsheets.py makes the file): one row per group."""

from __future__ import annotations

from collections.abc import Sequence

from linli.services.tickets.rates import GroupFigures, Period
from linli.shared import spreadsheets

_GROUP = {
    "district": ("区县", "District"),
    "street": ("街道", "Street"),
    "community": ("社区", "Community"),
    "compound": ("小区", "Compound"),
    "unit": ("牵头单位", "Lead unit"),
}
_COLUMNS = (
    ("submitted", "诉求总数", "Submitted"),
    ("duplicates", "重复件", "Duplicates"),
    ("rejected", "不予受理", "Rejected"),
    ("open", "在办", "Open"),
    ("response_due", "应响应", "Response due"),
    ("responded_in_time", "按时响应", "Responded in time"),
    ("response_rate", "响应率", "Response rate"),
    ("taken_on", "受理", "Taken on"),
    ("resolved", "已解决", "Resolved"),
    ("resolution_rate", "解决率", "Resolution rate"),
    ("ratings", "评价数", "Ratings"),
    ("satisfied", "满意及基本满意", "Satisfied or basically satisfied"),
    ("satisfaction_rate", "满意率", "Satisfaction rate"),
    ("finished", "已办结", "Finished"),
    ("finished_on_time", "按时办结", "Finished on time"),
    ("open_overdue", "超期未办结", "Open and overdue"),
    ("on_time_rate", "按时办结率", "On-time rate"),
    ("median_hours_to_resolve", "解决用时中位数（小时）", "Median hours to resolve"),
)


def header(by: str, language: str) -> list[str]:
    index = spreadsheets.LANGUAGES.index(language)
    group = _GROUP[by][index]
    id_head = f"{group}编号" if language == "zh" else f"{group} ID"
    return [group, id_head] + [column[1 + index] for column in _COLUMNS]


def _cell(value: object) -> str:
    return "" if value is None else str(value)  # an empty cell for a rate with nothing to judge


def row(group: GroupFigures) -> list[str]:
    return ([spreadsheets.text(group.name or ""), _cell(group.id)]
            + [_cell(getattr(group, name)) for name, _, _ in _COLUMNS])


def csv_of(by: str, groups: Sequence[GroupFigures], language: str) -> bytes:
    return spreadsheets.csv_of(header(by, language), (row(group) for group in groups))


def disposition(by: str, period: Period, language: str) -> str:
    """`工单三率-小区-20260101-20260201.csv`, the days in UTC."""
    days = f"{period.starts_at:%Y%m%d}-{period.ends_at:%Y%m%d}"
    named = (f"工单三率-{_GROUP[by][0]}-{days}.csv" if language == "zh" else f"ticket-rates-{by}-{days}.csv")
    return spreadsheets.attachment(f"ticket-rates-{by}-{days}.csv", named)
