"""Bearer JWT auth: who calls (`sub`), for which district (`district`, `*` for operators), with what `scope`."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from copy import deepcopy
from typing import Any, TypeVar

import jwt
from flask import current_app, g, request
from sqlalchemy import Select

from linli.shared.actors import Actor
from linli.shared.http.problems import ProblemError

SECURITY_SCHEME = "bearerAuth"
ALGORITHM = "HS256"
ISSUER = "linli"

F = TypeVar("F", bound=Callable[..., Any])


# The HTTP name of the actor a bearer token stands for.
Principal = Actor


def issue_token(secret: str, *, sub: str, district: str, scopes: list[str] | str, ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    scope = scopes if isinstance(scopes, str) else " ".join(scopes)
    claims = {"sub": sub, "district": district, "scope": scope, "iss": ISSUER, "iat": now,
              "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str) -> Principal:
    found, expires = _verified(secret, token)
    if expires <= time.time():
        raise _unauthorized("token expired", "invalid_token")
    return found


# A client sends the same token with every request until it expires: verify its signature and claims once
# per process (a few hundred µs of CPU a request otherwise), check only its expiry after that.
@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "district", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise _unauthorized("token expired", "invalid_token") from exc
    except jwt.InvalidTokenError as exc:
        raise _unauthorized(f"invalid token: {exc}", "invalid_token") from exc
    district = claims.get("district")
    if not isinstance(district, str) or not district:
        raise _unauthorized("token has no district", "invalid_token")
    found = Principal(sub=str(claims["sub"]), district=district,
                      scopes=frozenset(str(claims.get("scope", "")).split()))
    return found, float(claims["exp"])


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = 'Bearer realm="linli"' + (f', error="{error}"' if error else "")
    return ProblemError(401, detail, headers={"WWW-Authenticate": challenge})


def authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("a bearer token is required")
    return decode_token(current_app.config["LINLI_JWT_SECRET"], token.strip())


def principal() -> Principal:
    found: Principal | None = g.get("principal")
    if found is None:
        found = g.principal = authenticate()
    return found


def _document_security(fn: Any, requirement: list[dict[str, list[str]]]) -> None:
    # flask-smorest merges an operation's `manual_doc` into its OpenAPI operation (as `@blp.doc` does).
    apidoc = deepcopy(getattr(fn, "_apidoc", {}))
    apidoc.setdefault("manual_doc", {})["security"] = requirement
    fn._apidoc = apidoc


def requires(scope: str) -> Callable[[F], F]:
    """Mark a view as needing `scope`; checked before the view runs and shown in the OpenAPI."""

    def mark(fn: F) -> F:
        fn._linli_scope = scope  # type: ignore[attr-defined]
        _document_security(fn, [{SECURITY_SCHEME: [scope]}])
        return fn

    return mark


def public(fn: F) -> F:
    """Mark a view as open to anyone, without a token (where a public standard says so)."""
    fn._linli_public = True  # type: ignore[attr-defined]
    _document_security(fn, [])
    return fn


def is_public(operation: Callable[..., Any] | None) -> bool:
    return bool(getattr(operation, "_linli_public", False))


def check_scope(operation: Callable[..., Any] | None) -> None:
    """Before the view: the caller is authenticated and holds the operation's scope."""
    if is_public(operation):
        return
    scope = getattr(operation, "_linli_scope", None)
    who = principal()
    if scope and not who.has(scope):
        raise ProblemError(403, f"this call needs the scope {scope}", slug="insufficient-scope")


def in_district(stmt: Select[Any], column: Any) -> Select[Any]:
    """Restrict a query to the caller's district; operators see all."""
    who = principal()
    return stmt if who.is_operator else stmt.where(column == who.district)


def visible_or_404(row: Any, what: str = "resource") -> Any:
    """Another district's row is answered exactly like a missing one."""
    if row is None or not principal().sees(row.district_id):
        raise ProblemError(404, f"{what} not found")
    return row

