"""A bearer token is verified once per process; its expiry is still checked on every request."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from linli.shared.http import auth
from linli.shared.http.problems import ProblemError

SECRET = "token-cache-secret-0123456789abcdef0123"


def test_a_token_is_verified_once_however_often_it_is_presented(monkeypatch):
    calls: list[str] = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda token, *a, **kw: calls.append(token) or real_decode(token, *a, **kw))
    token = auth.issue_token(SECRET, sub=f"client-{uuid.uuid4()}", district="d1", scopes="tickets:write")
    for _ in range(3):
        assert auth.decode_token(SECRET, token).district == "d1"
    assert calls == [token]


def test_a_cached_token_is_refused_once_it_expired(monkeypatch):
    token = auth.issue_token(SECRET, sub=f"client-{uuid.uuid4()}", district="d1", scopes="x:read", ttl_seconds=60)
    assert auth.decode_token(SECRET, token).sub.startswith("client-")
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(ProblemError) as refused:
        auth.decode_token(SECRET, token)
    assert refused.value.status == 401


def test_a_token_signed_with_another_key_is_not_taken_from_the_cache():
    token = auth.issue_token(SECRET, sub=f"client-{uuid.uuid4()}", district="d1", scopes="x:read")
    auth.decode_token(SECRET, token)
    with pytest.raises(ProblemError):
        auth.decode_token("another-secret-0123456789abcdef012345", token)
