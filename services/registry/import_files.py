"""Reading an area import file (CSV with a header row, or a JSON array) into numbered rows.

A row's number is what its author sees: the line of a CSV file (the header is line 1), or the
1-based position of an item of a JSON array. Blank CSV cells are left out, so an optional column
may stay empty.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from linli.shared.errors import ValidationFailed

MAX_ROWS = 5000

Row = tuple[int, dict[str, Any]]


def _too_many(count: int) -> ValidationFailed:
    return ValidationFailed.field("body", f"at most {MAX_ROWS} rows per file, not {count}")


def rows_of_csv(text: str) -> tuple[list[Row], dict[str, list[str]]]:
    """The data rows of a CSV file, and what is wrong with its shape (by `line N`)."""
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    if not reader.fieldnames or not any(name.strip() for name in reader.fieldnames):
        raise ValidationFailed.field("body", "a CSV header row is required")
    rows: list[Row] = []
    errors: dict[str, list[str]] = {}
    try:
        for record in reader:
            line = reader.line_num
            if "\x00extra" in record:
                errors[f"line {line}"] = ["more values than the header has columns"]
                continue
            cells = {(key or "").strip(): value.strip() for key, value in record.items() if value is not None}
            cells = {key: value for key, value in cells.items() if value}
            if cells:
                rows.append((line, cells))
            if len(rows) > MAX_ROWS:
                raise _too_many(len(rows))
    except csv.Error as exc:
        raise ValidationFailed.field(f"line {reader.line_num}", f"not valid CSV: {exc}") from exc
    return rows, errors


def rows_of_json(document: Any) -> tuple[list[Row], dict[str, list[str]]]:
    """The items of a JSON array, and which are not objects."""
    if not isinstance(document, list):
        raise ValidationFailed.field("body", "a JSON array of rows (or a text/csv file) is required")
    if len(document) > MAX_ROWS:
        raise _too_many(len(document))
    rows: list[Row] = []
    errors: dict[str, list[str]] = {}
    for number, item in enumerate(document, start=1):
        if isinstance(item, dict):
            rows.append((number, item))
        else:
            errors[f"line {number}"] = ["must be an object"]
    return rows, errors
