"""One unit of work per request: views change the session, the framework commits once.

Committing after the response is built lets an `Idempotency-Key` record be stored in
the same transaction as the effect it stands for.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from linli.shared.db import CONNECTION_ERRORS, utcnow
from linli.shared.http.auth import principal
from linli.shared.http.guards import json_body
from linli.shared.http.operations import answers_secret, current_operation
from linli.shared.http.problems import ProblemError, problem, stale_write, unavailable
from linli.shared.logs import get_logger
from linli.shared.tables import idempotency_keys

log = get_logger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# What a replay must say as the first answer did: the representation and where it lives.
_KEPT_HEADERS = ("Content-Type", "Content-Language", "Content-Location", "Location", "ETag", "Vary",
                 "Last-Modified", "Cache-Control", "Link")
_KEYED_METHODS = ("POST", "PATCH")


def db() -> Session:
    session: Session | None = g.get("db_session")
    if session is None:
        session = g.db_session = current_app.extensions["linli"].factory()
    return session


def _fingerprint() -> str:
    """The request as a retry must repeat it: the same body as JSON, whatever its key order or spacing."""
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.full_path.encode())
    body = json_body()
    if body is not None:
        digest.update(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode())
    elif request.mimetype != "application/json":
        # A body of another declared type (a CSV file): the same bytes, or it is another request.
        digest.update(request.mimetype.encode())
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def idempotency_key() -> str | None:
    if request.method not in _KEYED_METHODS:
        return None
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise ProblemError(422, "Idempotency-Key must be 1 to 200 characters",
                           errors={IDEMPOTENCY_HEADER: ["1 to 200 characters"]})
    return key


def _stored(session: Session, key: str) -> Any:
    return session.execute(
        select(idempotency_keys).where(idempotency_keys.c.client == principal().sub,
                                       idempotency_keys.c.key == key)
    ).first()


def _replay(row: Any) -> Response:
    if row.fingerprint != _fingerprint():
        return problem(422, "this Idempotency-Key was used for a different request",
                       slug="idempotency-key-reused", errors={IDEMPOTENCY_HEADER: ["reused"]})
    response = Response(row.body, status=row.status)
    for name, value in json.loads(row.headers).items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def replay_if_seen() -> Response | None:
    """Before the view: a retried POST gets the first answer and does nothing new."""
    key = idempotency_key()
    if key is None:
        return None
    row = _stored(db(), key)
    return _replay(row) if row is not None else None


def _replay_if_stored() -> Response | None:
    key = idempotency_key() if g.get("principal") else None
    row = _stored(db(), key) if key else None
    return _replay(row) if row is not None else None


def finish(response: Response) -> Response:
    """After the view: commit on success (with the idempotency record), roll back otherwise."""
    session: Session | None = g.get("db_session")
    if session is None:
        return response
    if response.status_code >= 400:
        _rollback_quietly(session)
        if response.status_code == 409:
            # A concurrent retry with the same key may have won the race this request lost (its name
            # check or unique index saw the row the other one created): answer as that one did.
            return _replay_if_stored() or response
        return response
    try:
        key = idempotency_key() if g.get("principal") else None
        if key is not None and response.status_code < 300:
            kept = _kept_answer(response)
            session.execute(idempotency_keys.insert().values(
                client=principal().sub,
                key=key,
                fingerprint=_fingerprint(),
                status=kept.status_code,
                headers=json.dumps({h: kept.headers[h] for h in _KEPT_HEADERS if h in kept.headers}),
                body=kept.get_data(),
                created_at=utcnow(),
            ))
        session.commit()
        return response
    except StaleDataError:
        # Another writer changed the row after this request read it; its UPDATE matched no version.
        session.rollback()
        return stale_write()
    except IntegrityError:
        session.rollback()
        replayed = _replay_if_stored()
        if replayed is not None:
            # A concurrent retry with the same key won; answer as it did.
            return replayed
        log.exception("commit_conflict")
        return problem(409, "the change conflicted with a concurrent one; retry")
    except CONNECTION_ERRORS:
        _rollback_quietly(session)
        log.exception("commit_failed")
        return unavailable()


def _kept_answer(response: Response) -> Response:
    """What a retry with the same Idempotency-Key is answered. An answer holding a secret shown once (an
    api_key) is not kept: the retry learns the request was applied, and where its result lives, not the secret."""
    if not answers_secret(current_operation()):
        return response
    return problem(409, "this request was already applied with this Idempotency-Key; its answer held a secret "
                        "that is shown only once",
                   headers={h: response.headers[h] for h in ("Location",) if h in response.headers})


def _rollback_quietly(session: Session) -> None:
    try:
        session.rollback()
    except CONNECTION_ERRORS:
        log.warning("rollback_failed")


def close() -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()

