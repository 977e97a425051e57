"""Tables as CSV files for spreadsheets: UTF-8 with a byte-order mark (how Excel on Chinese Windows tells UTF-8 from
GBK), headers in Chinese by default or English, and cells that a spreadsheet would run as formulas kept as text.

Plain Python: a service builds its header and rows, this makes the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from urllib.parse import quote

MEDIA_TYPE = "text/csv"
LANGUAGES = ("zh", "en")
BOM = "\ufeff"
# A cell starting with one of these is a formula to a spreadsheet; a leading apostrophe keeps it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def language_of(wanted: str | None) -> str:
    """`en` for an English language tag, `zh` otherwise (the default)."""
    return "en" if wanted and wanted.lower().startswith("en") else "zh"


def content_language(language: str) -> str:
    return "zh-CN" if language == "zh" else "en"


def text(value: str) -> str:
    """A cell of free text (a name, a phone), escaped so that no spreadsheet runs it as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_of(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """The table as CSV bytes, byte-order mark first. Cells are written as given: escape free text with `text`."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return (BOM + out.getvalue()).encode("utf-8")


def attachment(ascii_name: str, name: str) -> str:
    """A Content-Disposition that saves the file under a readable name: an ASCII `filename` for old clients, the
    UTF-8 one in `filename*` (RFC 6266) for the others."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
