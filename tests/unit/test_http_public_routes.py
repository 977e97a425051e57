"""The JWT is needed by every route of the suite but health, metrics, docs, the Open311 GeoReport v2 routes a
public standard opens (its GETs and its api_key POST) and rotation's calendar feeds, reached by their secret URL.
The exemption is per operation (`@public`), not per path, so nothing else under /open311/v2 or anywhere else slips
through."""

from __future__ import annotations

import re
import uuid

import pytest

from linli.shared.http.app import PUBLIC_ENDPOINTS, PUBLIC_PREFIXES
from linli.shared.http.auth import is_public
from linli.suite import SERVICES

# (service, method, rule) of every operation open without a token.
OPEN311 = {
    ("tickets", "GET", "/open311/v2/discovery.<format>"),
    ("tickets", "GET", "/open311/v2/services.<format>"),
    ("tickets", "GET", "/open311/v2/services/<service_code>.<format>"),
    ("tickets", "GET", "/open311/v2/requests.<format>"),
    ("tickets", "POST", "/open311/v2/requests.<format>"),
    ("tickets", "GET", "/open311/v2/requests/<service_request_id>.<format>"),
    ("tickets", "GET", "/open311/v2/tokens/<token>.<format>"),
}
# Calendar apps subscribe to a URL; the secret token in it is the key (DESIGN.md, "HTTP conventions").
FEEDS = {("rotation", "GET", "/v1/feeds/<token>.ics")}


def _operations(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.startswith(PUBLIC_PREFIXES):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method, getattr(getattr(view, "view_class", None), method.lower(), view)


def _url(rule) -> str:
    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        return "json" if name == "format" else str(uuid.uuid4()) if converter == "uuid" else "x"

    return re.sub(r"<(?:(\w+):)?(\w+)>", value, rule.rule)


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_open311_operations_answer_without_a_token(make_service, service):
    sut = make_service(service)
    public, checked = set(), 0
    for rule, method, operation in _operations(sut.app):
        key = (service, method, rule.rule)
        r = sut.client.open(_url(rule), method=method, headers={"Authorization": "Bearer not-a-token"}
                            if checked % 2 else {})
        checked += 1
        if is_public(operation):
            public.add(key)
            assert r.status_code != 401, key
        else:
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), (key, r.status_code)
    assert checked >= 3
    assert public == {op for op in OPEN311 | FEEDS if op[0] == service}


def test_the_open311_post_is_refused_without_its_api_key_and_a_jwt_is_no_substitute(make_service):
    sut = make_service("tickets")
    as_operator = sut.as_("*", "tickets:admin tickets:write")
    r = sut.client.post("/open311/v2/requests.json", data={"service_code": "general"}, headers=as_operator)
    assert r.status_code == 403 and r.json == [{"code": 403, "description": "api_key: missing, unknown or revoked"}]
    # Another method on the same path is no operation at all, and the keys' own API needs the token.
    assert sut.client.put("/open311/v2/requests.json").status_code == 405
    assert sut.client.get("/v1/open311/keys").status_code == 401
