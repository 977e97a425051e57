"""A corpus of bad input sent to EVERY write operation (POST/PUT/PATCH) of every service's OpenAPI.

Operations and their fields are discovered from /openapi.json, so a new operation is covered without
touching this file. Each request must answer a 4xx problem+json naming the field where there is one,
never a 5xx, and change nothing: the service's whole database is compared before and after. An
operation of a public standard (`x-public-standard`: Open311's form-encoded POST) answers the
standard's errors document instead, naming the field in its description.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine

from linli.suite import SERVICES
from tests.support.apps import ServiceUnderTest
from tests.support.fuzz import SEEDS, open311_errors

WRITES = ("post", "put", "patch")


@dataclass(frozen=True)
class Bad:
    label: str
    body: bytes
    content_type: str | None = "application/json"
    field: str | None = None  # the field the answer must name


def _json(text: str) -> bytes:
    return text.encode("utf-8")


# Bad whatever the operation: the body cannot be read as a JSON document the suite accepts.
UNREADABLE = [
    Bad("object nested 1000 deep", _json('{"x": ' * 1000 + "1" + "}" * 1000)),
    Bad("array nested 100000 deep", _json("[" * 100_000 + "]" * 100_000)),
    Bad("object nested 40 deep", _json('{"x": ' * 40 + "1" + "}" * 40)),
    Bad("lone surrogate in a key", _json('{"\\ud800": 1}'), field="\\ud800"),
    Bad("lone low surrogate in a nested key", _json('{"a": {"\\udfff": 1}}'), field="a.\\udfff"),
    Bad("NUL in a key", _json('{"a\\u0000": 1}'), field="a\\u0000"),
    Bad("text/plain", _json('{"name": "x"}'), "text/plain"),
    Bad("form", b"name=x&level=district", "application/x-www-form-urlencoded"),
    Bad("multipart", b"--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--b--\r\n",
        "multipart/form-data; boundary=b"),
    Bad("xml", b"<area><name>x</name></area>", "application/xml"),
    Bad("no content type", _json('{"name": "x"}'), None),
    Bad("json in latin-1", "{\"name\": \"caf\u00e9\"}".encode("latin-1"), "application/json; charset=latin-1"),
    Bad("invalid UTF-8", b'{"name": "\xff\xfe"}'),
    Bad("truncated JSON", _json('{"name": ')),
    Bad("NaN", _json('{"x": NaN}')),
    Bad("Infinity", _json('{"x": -Infinity}')),
    Bad("a 5000-digit integer", _json('{"x": ' + "9" * 5000 + "}")),
]

# Bad for an operation that reads a body; harmless JSON for one that does not (it ignores its body).
NOT_AN_OBJECT = [
    Bad("empty body", b""),
    Bad("empty body without a content type", b"", None),
    Bad("an array", _json("[]")),
    Bad("an array of an object", _json("[{}]")),
    Bad("a string", _json('"x"')),
    Bad("a number", _json("1")),
    Bad("null", _json("null")),
]


def _field_values(kind: str) -> list[tuple[str, Any]]:
    """Raw JSON values that no field of `kind` may take."""
    values: list[tuple[str, str]] = [("an object", '{"a": 1}')]
    # An empty array is a fine value of an array field (a grid covering nothing); a string is not.
    values.append(("a string", '"x"') if kind == "array" else ("an array", "[]"))
    if kind == "string":
        values += [("empty", '""'), ("a space", '" "'), ("ideographic spaces", '"\\u3000\\u3000"'),
                   ("tab and newline", '"\\t\\n"'), ("a lone surrogate", '"x\\ud800"'),
                   ("a lone low surrogate", '"\\udc00"'), ("NUL", '"a\\u0000b"'), ("a number", "7")]
    if kind in ("integer", "number"):
        values += [("a 400-digit integer", "1" + "0" * 400), ("2**64", str(2**64)), ("1e999", "1e999"),
                   ("-1e999", "-1e999"), ("a string", '"x"')]
    return values


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _write_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(method, path, {field: type}, operation) of every write; fields empty for an operation without a body."""
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in WRITES:
                continue
            fields: dict[str, str] = {}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for name, prop in _resolve(spec, body["schema"]).get("properties", {}).items():
                    prop = _resolve(spec, prop)
                    if not prop.get("readOnly"):
                        fields[name] = prop.get("type", "string")
            found.append((method, path, fields, operation))
    return found


# --- Operations of a public standard (Open311's form-encoded POST) ---------------------------------------------

FORM = "application/x-www-form-urlencoded"


def _form_values(prop: dict[str, Any]) -> list[tuple[str, str]]:
    """Form values no field of this JSON schema may take (an empty value counts as the field left out)."""
    values = [("NUL", "a\x00b")]
    if prop.get("type") in ("number", "integer"):
        values += [("not a number", "x"), ("1e999", "1e999"), ("NaN", "NaN"), ("a 400-digit number", "1" * 400)]
        values += [("past its maximum", str(prop["maximum"] + 1))] if "maximum" in prop else []
        return values
    if "maxLength" in prop:
        values.append(("too long", "x" * (prop["maxLength"] + 1)))
    if prop.get("pattern") == r"\S":
        values.append(("blank", " \u3000 "))
    if prop.get("format") == "uuid":
        values.append(("not a UUID", "3f1c-not-a-uuid"))
    if prop.get("format") == "url":
        values += [("not a URL", "not a url"), ("an ftp URL", "ftp://example.com/a.jpg")]
    if "enum" in prop:
        values.append(("none of its values", "bogus"))
    return values


def _form_corpus(spec: dict[str, Any], operation: dict[str, Any], base: dict[str, str]) -> list[Bad]:
    """The unreadable bodies, then each form field given a bad value in an otherwise valid request."""
    corpus = list(UNREADABLE) + NOT_AN_OBJECT
    schema = _resolve(spec, operation["requestBody"]["content"][FORM]["schema"])
    for name, prop in schema.get("properties", {}).items():
        for label, value in _form_values(_resolve(spec, prop)):
            corpus.append(Bad(f"{name}: {label}", urlencode({**base, name: value}).encode(), FORM, field=name))
    return corpus


def _open311_base(seed: Any) -> dict[str, str]:
    """A request the seeded tickets service takes: an active api_key, a service, a compound and a phone."""
    return {"api_key": seed.values["api_key"][0], "service_code": seed.values["service_code"][0],
            "address_id": seed.values["address_id"][0], "phone": seed.values["phone"][0]}


def _standard_failures(where: str, r: Any, bad: Bad) -> list[str]:
    """What is wrong with a public standard's answer to bad input: it must be the standard's 4xx errors."""
    if not 400 <= r.status_code < 500:
        return [f"{where}: {r.get_data(as_text=True)[:300]}"]
    try:
        errors = open311_errors(r.status_code, r.content_type, r.get_data())
    except (AssertionError, ValueError) as exc:
        return [f"{where}: not the standard's errors document ({exc})"]
    if bad.field and not any(bad.field in error["description"] for error in errors):
        return [f"{where}: does not name {bad.field!r}: {errors}"]
    return []


def _database_digest(sut: ServiceUnderTest) -> str:
    digest = hashlib.sha256()
    with sut.rt.factory() as session:
        for metadata in sut.rt.spec.all_metadata:
            for table in metadata.sorted_tables:
                rows = session.execute(select(table)).all()
                digest.update(table.name.encode())
                digest.update(repr(sorted(repr(tuple(row)) for row in rows)).encode())
    return digest.hexdigest()


class CommittedWrites:
    """Whether a transaction that wrote anything was committed since the last look.

    Hashing the whole database around each of thousands of requests was most of this test's time; a
    request that committed no write cannot have changed it, so only those that did are hashed.
    """

    WRITES = ("insert", "update", "delete", "replace")

    def __init__(self, engine: Engine) -> None:
        self.seen = False
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._committed)
        event.listen(engine, "rollback", self._rolled_back)

    def _executed(self, conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().lower().startswith(self.WRITES):
            conn.info["wrote"] = True

    def _committed(self, conn: Any) -> None:
        if conn.info.pop("wrote", False):
            self.seen = True

    def _rolled_back(self, conn: Any) -> None:
        conn.info.pop("wrote", None)

    def since_last_look(self) -> bool:
        seen, self.seen = self.seen, False
        return seen


def _corpus(fields: dict[str, str]) -> list[Bad]:
    corpus = list(UNREADABLE)
    if not fields:
        return corpus
    corpus += NOT_AN_OBJECT
    for name, kind in fields.items():
        for label, raw in _field_values(kind):
            corpus.append(Bad(f"{name}: {label}", _json(f'{{"{name}": {raw}}}'), field=name))
    return corpus


def _names(errors: dict[str, Any], field: str) -> bool:
    return any(key == field or key.startswith(f"{field}.") for key in errors)


@pytest.mark.parametrize("service", SERVICES)
def test_every_write_operation_refuses_the_bad_input_corpus_and_changes_nothing(make_service, service):
    sut = make_service(service)
    seed = SEEDS[service](sut)
    auth = sut.as_("*", f"{service}:admin tickets:pii")
    spec = sut.client.get("/openapi.json").json
    operations = _write_operations(spec)
    assert operations, f"{service} documents no write operation"
    failures: list[str] = []
    sent = 0
    unchanged = _database_digest(sut)
    writes = CommittedWrites(sut.rt.engine)
    for method, path, fields, operation in operations:
        url = re.sub(r"\{(\w+)\}", lambda m: str(seed.values[m.group(1)][0]), path)
        standard = operation.get("x-public-standard")
        corpus = _form_corpus(spec, operation, _open311_base(seed)) if standard else _corpus(fields)
        for bad in corpus:
            headers = dict(auth)
            if bad.content_type:
                headers["Content-Type"] = bad.content_type
            writes.since_last_look()
            r = sut.client.open(url, method=method.upper(), data=bad.body, headers=headers)
            sent += 1
            where = f"{method.upper()} {path} [{bad.label}] -> {r.status_code}"
            text = r.get_data(as_text=True)[:300]
            if writes.since_last_look() and _database_digest(sut) != unchanged:
                failures.append(f"{where}: the database changed")
                unchanged = _database_digest(sut)
            if standard:
                failures += _standard_failures(where, r, bad)
                continue
            if not 400 <= r.status_code < 500:
                failures.append(f"{where}: {text}")
                continue
            if r.content_type != "application/problem+json":
                failures.append(f"{where}: not a problem ({r.content_type})")
                continue
            problem = json.loads(r.get_data())
            if problem.get("status") != r.status_code or not problem.get("type", "").startswith("/problems/"):
                failures.append(f"{where}: malformed problem {problem}")
            if bad.field and not _names(problem.get("errors") or {}, bad.field):
                failures.append(f"{where}: does not name {bad.field!r}: {problem}")
    assert not failures, f"{len(failures)} of {sent} bad requests mishandled:\n" + "\n".join(failures)


def test_committed_writes_are_seen_and_rolled_back_ones_are_not():
    engine = create_engine("sqlite://")
    writes = CommittedWrites(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    writes.since_last_look()
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.rollback()
    assert not writes.since_last_look()
    with engine.begin() as conn:
        conn.execute(text("SELECT x FROM t")).all()
    assert not writes.since_last_look()
    with engine.begin() as conn:
        conn.execute(text("UPDATE t SET x = 2"))
    assert writes.since_last_look()
    assert not writes.since_last_look()
