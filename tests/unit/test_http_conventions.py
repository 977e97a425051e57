"""The suite's HTTP conventions as every service gets them from the shared app factory."""

from __future__ import annotations

import importlib
import json
import re
import uuid
from pathlib import Path

import pytest

from linli.suite import SERVICES
from tests.support.apps import service_under_test
from tests.support.fuzz import SEEDS

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = ("*", "registry:admin")


def _district(sut, name="永川区"):
    r = sut.client.post("/v1/areas", json={"level": "district", "name": name}, headers=sut.as_(*OPERATOR))
    assert r.status_code == 201, r.json
    return r.json


def _area_count(sut) -> int:
    from sqlalchemy import func, select

    from linli.services.registry.models import Area

    with sut.rt.factory() as s:
        return s.scalar(select(func.count()).select_from(Area))


# --- Bad input ------------------------------------------------------------------------------------------

def test_deeply_nested_json_is_a_400_not_a_500(make_service):
    sut = make_service("registry")
    h = {**sut.as_(*OPERATOR), "Content-Type": "application/json"}
    for depth in (40, 1000, 100_000):
        body = '{"name": ' + "[" * depth + "]" * depth + "}"
        r = sut.client.post("/v1/areas", data=body, headers=h)
        assert r.status_code == 400 and r.content_type == "application/problem+json", (depth, r.json)
        assert "nested deeper" in json.dumps(r.json, ensure_ascii=False)
    assert _area_count(sut) == 0


def test_lone_surrogates_in_values_and_keys_name_the_field(make_service):
    sut = make_service("registry")
    h = {**sut.as_(*OPERATOR), "Content-Type": "application/json"}
    r = sut.client.post("/v1/areas", data='{"level": "district", "name": "a\\ud800b"}', headers=h)
    assert r.status_code == 422 and list(r.json["errors"]) == ["name"], r.json
    r = sut.client.post("/v1/areas", data='{"level": "district", "name": "ok", "\\udc00x": 1}', headers=h)
    assert r.status_code == 422 and list(r.json["errors"]) == ["\\udc00x"], r.json
    assert _area_count(sut) == 0


def test_a_write_of_another_content_type_is_415_and_changes_nothing(make_service):
    sut = make_service("registry")
    area = _district(sut)
    h = sut.as_(*OPERATOR)
    for content_type, body in (("text/plain", '{"name": "改名"}'), ("application/x-www-form-urlencoded", "name=改名"),
                               ("application/xml", "<area><name>改名</name></area>"), (None, '{"name": "改名"}')):
        headers = {**h, "Content-Type": content_type} if content_type else h
        r = sut.client.patch(f"/v1/areas/{area['id']}", data=body.encode(), headers=headers)
        assert r.status_code == 415, (content_type, r.status_code, r.get_data(as_text=True))
        assert r.json["type"] == "/problems/unsupported-media-type"
        r = sut.client.post("/v1/areas", data=body.encode(), headers=headers)
        assert r.status_code == 415, (content_type, r.json)
    now = sut.client.get(f"/v1/areas/{area['id']}", headers=h)
    assert now.json["name"] == "永川区" and now.headers["ETag"] == '"1"'


def test_names_titles_and_descriptions_are_trimmed_and_never_blank(make_service):
    sut = make_service("registry")
    h = sut.as_(*OPERATOR)
    for blank in ("", "   ", "\u3000\u3000", "\t\n"):
        r = sut.client.post("/v1/areas", json={"level": "district", "name": blank}, headers=h)
        assert r.status_code == 422 and "name" in r.json["errors"], (blank, r.json)
    r = sut.client.post("/v1/areas", json={"level": "district", "name": "  永川区\u3000"}, headers=h)
    assert r.status_code == 201 and r.json["name"] == "永川区"
    r = sut.client.patch(f"/v1/areas/{r.json['id']}", json={"name": " "}, headers=h)
    assert r.status_code == 422 and "name" in r.json["errors"]

    tickets = make_service("tickets")
    compound = str(uuid.uuid4())
    tickets.deliver("registry.area.created", {"id": compound, "district_id": "d1", "parent_id": str(uuid.uuid4()),
                                              "level": "compound", "name": "星光小区", "kind": "managed",
                                              "time_zone": "Asia/Shanghai", "version": 1})
    r = tickets.client.post("/v1/tickets", json={"compound_id": compound, "title": " ", "description": "\u3000",
                                                 "reporter_name": "", "reporter_phone": "13812345678"},
                            headers=tickets.as_("*", "tickets:admin"))
    assert r.status_code == 422 and {"title", "description", "reporter_name"} <= set(r.json["errors"]), r.json


def test_sibling_areas_cannot_share_a_name(make_service):
    sut = make_service("registry")
    h = sut.as_(*OPERATOR)
    district = _district(sut)
    street = {"level": "street", "name": "中山路街道", "parent_id": district["id"]}
    first = sut.client.post("/v1/areas", json=street, headers=h)
    assert first.status_code == 201
    r = sut.client.post("/v1/areas", json={**street, "name": " 中山路街道 "}, headers=h)
    assert r.status_code == 409 and r.json["type"] == "/problems/conflict" and "name" in r.json["errors"]
    assert sut.client.post("/v1/areas", json={"level": "district", "name": "永川区"}, headers=h).status_code == 409
    other = sut.client.post("/v1/areas", json={**street, "name": "红旗街道"}, headers=h).json
    r = sut.client.patch(f"/v1/areas/{other['id']}", json={"name": "中山路街道"}, headers=h)
    assert r.status_code == 409 and "name" in r.json["errors"]
    # The same name under another parent is fine.
    elsewhere = _district(sut, "璧山区")
    assert sut.client.post("/v1/areas", json={**street, "parent_id": elsewhere["id"]}, headers=h).status_code == 201


def test_the_unique_index_holds_sibling_names_even_past_the_check(make_service):
    from sqlalchemy.exc import IntegrityError

    from linli.services.registry.models import Area

    sut = make_service("registry")
    district = _district(sut)
    with sut.rt.factory() as s, pytest.raises(IntegrityError):
        s.add_all([Area(district_id=district["id"], parent_id=uuid.UUID(district["id"]), level="street",
                        name="同名街道") for _ in range(2)])
        s.commit()


# --- Idempotency ----------------------------------------------------------------------------------------

def test_idempotency_compares_bodies_as_json_not_bytes(make_service):
    sut = make_service("registry")
    h = {**sut.as_(*OPERATOR), "Content-Type": "application/json", "Idempotency-Key": "k-1"}
    first = sut.client.post("/v1/areas", data='{"level": "district", "name": "永川区"}', headers=h)
    again = sut.client.post("/v1/areas", data='{ "name":"永川区",\n  "level":"district" }', headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    other = sut.client.post("/v1/areas", data='{"level": "district", "name": "璧山区"}', headers=h)
    assert other.status_code == 422 and other.json["type"] == "/problems/idempotency-key-reused"
    assert _area_count(sut) == 1


def test_a_replay_keeps_the_representation_headers(make_service):
    sut = make_service("notify")
    seed = SEEDS["notify"](sut)
    notification = seed.values["notification_id"][0]
    h = {**sut.as_("*", "notify:admin"), "Idempotency-Key": "read-1", "Accept-Language": "en"}
    first = sut.client.post(f"/v1/inbox/{notification}/read", headers=h)
    again = sut.client.post(f"/v1/inbox/{notification}/read", headers=h)
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    for name in ("Content-Language", "Vary", "ETag", "Content-Type"):
        assert again.headers[name] == first.headers[name], name
    assert again.headers["Content-Language"] == "en"


def test_patch_honours_the_idempotency_key(make_service):
    sut = make_service("registry")
    h = sut.as_(*OPERATOR)
    area = _district(sut)["id"]
    first = sut.client.patch(f"/v1/areas/{area}", json={"name": "甲"}, headers={**h, "Idempotency-Key": "p-1"})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    assert sut.client.patch(f"/v1/areas/{area}", json={"name": "乙"}, headers=h).status_code == 200
    again = sut.client.patch(f"/v1/areas/{area}", json={"name": "甲"}, headers={**h, "Idempotency-Key": "p-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    now = sut.client.get(f"/v1/areas/{area}", headers=h)
    assert now.json["name"] == "乙" and now.headers["ETag"] == '"3"'  # the retry changed nothing


# --- References not yet known ---------------------------------------------------------------------------

def test_a_reference_not_yet_known_is_its_own_problem_with_retry_after(make_service):
    tickets = make_service("tickets")
    h = tickets.as_("d1", "tickets:write")
    body = {"compound_id": str(uuid.uuid4()), "title": "楼道灯坏了", "description": "一周没亮",
            "reporter_name": "王阿姨", "reporter_phone": "13812345678"}
    r = tickets.client.post("/v1/tickets", json=body, headers=h)
    assert r.status_code == 422 and r.json["type"] == "/problems/reference-not-yet-known", r.json
    assert list(r.json["errors"]) == ["compound_id"] and int(r.headers["Retry-After"]) > 0
    # Another district's compound answers exactly as an unknown one: the caller learns nothing of other districts.
    foreign = str(uuid.uuid4())
    tickets.deliver("registry.area.created", {"id": foreign, "district_id": "d2", "parent_id": str(uuid.uuid4()),
                                              "level": "compound", "name": "东林小区", "kind": "managed",
                                              "time_zone": "Asia/Shanghai", "version": 1})
    foreign_answer = tickets.client.post("/v1/tickets", json={**body, "compound_id": foreign}, headers=h)
    assert (foreign_answer.status_code, foreign_answer.json) == (r.status_code, r.json)
    r = tickets.client.post("/v1/tickets", json={**body, "compound_id": "not-a-uuid"}, headers=h)
    assert r.status_code == 422 and r.json["type"] == "/problems/validation"

    rotation = make_service("rotation")
    r = rotation.client.post("/v1/rotations", json={"committee_id": str(uuid.uuid4()), "term_months": 1,
                                                    "starts_on": "2025-01-01"},
                             headers=rotation.as_("d1", "rotation:write"))
    assert r.status_code == 422 and r.json["type"] == "/problems/reference-not-yet-known"
    assert list(r.json["errors"]) == ["committee_id"] and "Retry-After" in r.headers


# --- Conditional GET ------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_every_item_get_with_an_etag_answers_304_to_its_own_etag(make_service, service):
    sut = make_service(service)
    seed = SEEDS[service](sut)
    h = sut.as_("*", f"{service}:admin")
    spec = sut.client.get("/openapi.json").json
    checked = []
    for path, operations in spec["paths"].items():
        if "get" not in operations or "{" not in path:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(seed.values[m.group(1)][0]), path)
        r = sut.client.get(url, headers=h)
        if r.status_code != 200 or "ETag" not in r.headers:
            continue
        cached = sut.client.get(url, headers={**h, "If-None-Match": r.headers["ETag"]})
        assert cached.status_code == 304 and cached.get_data() == b"", url
        assert cached.headers["ETag"] == r.headers["ETag"]
        assert sut.client.get(url, headers={**h, "If-None-Match": '"999"'}).status_code == 200
        checked.append(path)
    assert checked, f"{service} has no item GET with an ETag"


# --- CORS -----------------------------------------------------------------------------------------------

def test_cors_is_off_by_default(make_service):
    sut = make_service("registry")
    r = sut.client.get("/v1/areas", headers={**sut.as_(*OPERATOR), "Origin": "https://gov.example.cn"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_answers_preflights_and_exposes_the_headers_clients_read(tmp_path, monkeypatch):
    monkeypatch.setenv("LINLI_CORS_ORIGINS", "https://gov.example.cn, https://ops.example.cn")
    sut = service_under_test("registry", f"sqlite:///{tmp_path}/r.db")
    origin = {"Origin": "https://gov.example.cn"}
    pre = sut.client.options("/v1/areas/00000000-0000-0000-0000-000000000001", headers={
        **origin, "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type, if-match, idempotency-key"})
    assert pre.status_code == 200 and pre.headers["Access-Control-Allow-Origin"] == "https://gov.example.cn"
    assert "PATCH" in pre.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "if-match", "idempotency-key"} <= {
        h.strip().lower() for h in pre.headers["Access-Control-Allow-Headers"].split(",")}
    created = sut.client.post("/v1/areas", json={"level": "district", "name": "永川区"},
                              headers={**origin, **sut.as_(*OPERATOR)})
    exposed = {h.strip().lower() for h in created.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "location", "retry-after"} <= exposed
    denied = sut.client.get("/v1/areas", headers={"Origin": "https://evil.example.com", **sut.as_(*OPERATOR)})
    assert "Access-Control-Allow-Origin" not in denied.headers
    problem = sut.client.get("/v1/areas", headers=origin)  # errors too, or a browser cannot read them
    assert problem.status_code == 401 and problem.headers["Access-Control-Allow-Origin"] == origin["Origin"]
    sut.rt.dispose()


# --- OpenAPI: every operation states its scope ----------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_states_the_scope_it_needs(make_service, service):
    from linli.shared.http.auth import is_public

    sut = make_service(service)
    spec = sut.client.get("/openapi.json").json
    documented = {(path, method): op for path, ops in spec["paths"].items() for method, op in ops.items()
                  if method in ("get", "post", "put", "patch", "delete")}
    assert documented
    seen = set()
    for rule in sut.app.url_map.iter_rules():
        view = sut.app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = getattr(getattr(view, "view_class", None), method.lower(), view)
            key = (path, method.lower())
            if key not in documented:
                assert rule.endpoint in ("healthz", "readyz", "metrics", "static", "docs_assets", "problem_type") \
                    or rule.endpoint.startswith("api-docs."), f"{method} {path} is not in the OpenAPI"
                continue
            seen.add(key)
            scope = getattr(operation, "_linli_scope", None)
            expected = [] if is_public(operation) else [{"bearerAuth": [scope]}]
            assert scope or is_public(operation), f"{method} {path} has neither a scope nor @public"
            assert documented[key]["security"] == expected, (key, documented[key].get("security"))
    assert seen == set(documented)


# --- Docs and problem pages -----------------------------------------------------------------------------

def test_the_docs_page_loads_only_local_assets_and_they_are_served(make_service):
    sut = make_service("tickets")
    page = sut.client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and not [a for a in assets if "//" in a or a.startswith("/")], assets
    for asset in assets:
        r = sut.client.get(f"/{asset}")  # relative to /docs, i.e. under the service's own root
        assert r.status_code == 200 and len(r.get_data()) > 1000, asset


def _all_problem_slugs() -> set[str]:
    from linli.shared.errors import DomainError
    from linli.shared.http.problems import SLUGS

    for name in SERVICES:
        importlib.import_module(f"linli.services.{name}.service")
    slugs = {slug for slug, _ in SLUGS.values()} | {"error"}
    todo = [DomainError]
    while todo:
        cls = todo.pop()
        slugs.add(cls.slug)
        todo.extend(cls.__subclasses__())
    sources = "\n".join(p.read_text() for p in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")])
    slugs |= set(re.findall(r'slug="([a-z-]+)"', sources))
    documented = set(re.findall(r"`/problems/([a-z-]+)`", (ROOT / "docs/problems.md").read_text()))
    assert slugs <= documented, f"not in docs/problems.md: {sorted(slugs - documented)}"
    return slugs | documented


def test_every_problem_type_resolves_to_its_page_on_each_service_and_the_root(make_service):
    from linli.home import home_app

    slugs = _all_problem_slugs()
    apps = {"registry": make_service("registry").app, "root": home_app(list(SERVICES))}
    for where, app in apps.items():
        client = app.test_client()
        for slug in sorted(slugs):
            zh = client.get(f"/problems/{slug}")
            assert zh.status_code == 200 and zh.content_type.startswith("text/html"), (where, slug)
            assert zh.headers["Content-Language"] == "zh-CN" and f"/problems/{slug}" in zh.get_data(as_text=True)
            en = client.get(f"/problems/{slug}", headers={"Accept-Language": "en-US,en;q=0.9"})
            assert en.headers["Content-Language"] == "en"
            assert client.get(f"/problems/{slug}?lang=en").headers["Content-Language"] == "en"
        assert client.get("/problems/no-such-type").status_code == 404


def test_the_gateway_serves_problem_pages():
    conf = (ROOT / "deploy/nginx/nginx.conf").read_text()
    block = re.search(r"location /problems/ \{(.*?)\}", conf, re.S)
    assert block and "proxy_pass" in block.group(1)
