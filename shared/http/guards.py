"""Input no schema can express but the databases refuse: NUL characters in text.

PostgreSQL text cannot hold U+0000 (SQLite can), so such input is turned away up front
with the field named, for every service, instead of failing at the database with a 500.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from linli.shared.http.problems import ProblemError

_MESSAGE = "must not contain NUL characters"


def _paths_with_nul(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            found += [child] if "\x00" in str(key) else _paths_with_nul(item, child)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _paths_with_nul(item, f"{path}.{i}" if path else str(i))]
    return []


def reject_nul_characters() -> None:
    errors = {name: [_MESSAGE] for name, value in request.args.items(multi=True)
              if "\x00" in name or "\x00" in value}
    raw = request.get_data(cache=True)
    if b"\\u0000" in raw or b"\x00" in raw:
        try:
            paths = _paths_with_nul(json.loads(raw), "")
        except ValueError:
            paths = []  # not JSON at all: the body parser names that problem
        errors.update({path: [_MESSAGE] for path in paths})
    if errors:
        raise ProblemError(422, f"invalid input: {', '.join(sorted(errors))}", errors=errors)
