"""Input no schema can express, checked once for every operation before the view runs.

The request body is read and parsed here, in one place: a write must send JSON (415 otherwise),
in UTF-8, no deeper than MAX_DEPTH, and hold nothing the databases or the JSON encoder refuse:
NUL characters (PostgreSQL text cannot hold U+0000), lone UTF-16 surrogates (`"\\ud800"` parses
in Python but cannot be stored or sent back as UTF-8), non-finite numbers or integers past 64
bits. Each is answered as a problem naming the field, never as a 500 from deep inside.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import g, request

from linli.shared.http.operations import accepted_types, current_operation, takes_body
from linli.shared.http.problems import ProblemError

MAX_DEPTH = 32
_INT_LIMIT = 2**63 - 1
_WRITES = ("POST", "PUT", "PATCH", "DELETE")
_NUL = "must not contain NUL characters"
_SURROGATE = "must be valid Unicode text (it holds a lone surrogate)"
_NO_BODY = object()


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _shown(key: str) -> str:
    """A key as it can be sent back and read: a lone surrogate or a NUL is written as its escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return _NUL
    if _has_surrogate(text):
        return _SURROGATE
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _walk(document: Any) -> dict[str, list[str]]:
    """Every field of a parsed body that no service may take, by dotted path (iterative: no recursion)."""
    errors: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        here = path or "body"
        if isinstance(value, str):
            problem = _bad_text(value)
            if problem:
                errors.setdefault(here, []).append(problem)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > _INT_LIMIT:
                errors.setdefault(here, []).append("number out of range")
        elif isinstance(value, float):
            if not math.isfinite(value):
                errors.setdefault(here, []).append("must be a finite number")
        elif depth >= MAX_DEPTH:
            errors.setdefault(here, []).append(f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{_shown(key)}" if path else _shown(key)
                problem = _bad_text(key)
                if problem:
                    errors.setdefault(child, []).append(f"field name {problem}")
                else:
                    stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}" if path else str(i), depth + 1) for i, item in enumerate(value))
    return errors


def _invalid(status: int, errors: dict[str, list[str]]) -> ProblemError:
    return ProblemError(status, f"invalid input: {', '.join(sorted(errors))}", errors=errors)


def _parse_body(raw: bytes) -> Any:
    if not _is_json(request.mimetype):
        shown = request.mimetype or "none"
        raise ProblemError(415, f"the body must be application/json, not {shown}",
                           errors={"Content-Type": ["must be application/json"]})
    charset = (request.mimetype_params.get("charset") or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ProblemError(415, f"the body must be UTF-8, not {charset}",
                           errors={"Content-Type": ["charset must be utf-8"]})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(400, {"body": [f"not UTF-8 (byte {exc.start})"]}) from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise _invalid(400, {"body": [f"nested deeper than {MAX_DEPTH} levels"]}) from exc
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers longer than Python parses
        raise _invalid(400, {"body": [f"not valid JSON: {exc}"]}) from exc


def _text_body(raw: bytes) -> str:
    """A body an operation declared it takes as text (CSV): UTF-8, no NUL, no lone surrogate."""
    charset = (request.mimetype_params.get("charset") or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ProblemError(415, f"the body must be UTF-8, not {charset}",
                           errors={"Content-Type": ["charset must be utf-8"]})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(400, {"body": [f"not UTF-8 (byte {exc.start})"]}) from exc
    if "\x00" in text:
        raise _invalid(422, {"body": [_NUL]})
    return text.removeprefix("\ufeff")  # the byte-order mark spreadsheet programs write


def check_input() -> None:
    """Before every authenticated operation: the query string, and the body of a write."""
    errors = {name: [_NUL] for name, value in request.args.items(multi=True) if "\x00" in name or "\x00" in value}
    if errors:
        raise _invalid(422, errors)
    if request.method not in _WRITES:
        return
    raw = request.get_data(cache=True)
    if not raw:
        g.json_body = _NO_BODY
        if takes_body(current_operation()):
            if request.mimetype and not _is_json(request.mimetype):
                raise ProblemError(415, f"the body must be application/json, not {request.mimetype}",
                                   errors={"Content-Type": ["must be application/json"]})
            raise _invalid(422, {"body": ["a JSON object is required"]})
        return
    if request.mimetype in accepted_types(current_operation()):
        g.json_body = _NO_BODY
        g.raw_text = _text_body(raw)
        return
    document = _parse_body(raw)
    errors = _walk(document)
    if errors:
        depth_only = all(m.startswith("nested deeper") for messages in errors.values() for m in messages)
        raise _invalid(400 if depth_only else 422, errors)
    g.json_body = document


def json_body() -> Any:
    """The body as the guard parsed it; None when the request had none."""
    body = g.get("json_body", _NO_BODY)
    return None if body is _NO_BODY else body


def raw_text() -> str | None:
    """The text body of an operation that declared its content type with `accepts`; None otherwise."""
    text: str | None = g.get("raw_text")
    return text
