"""The baseline of `bench.http`: a bare Flask + SQLAlchemy endpoint inserting a ticket into PostgreSQL.

What any endpoint taking a ticket must do, and nothing of what the suite adds: the JSON body parsed,
its fields checked by hand (present, strings, not blank, not too long, a UUID, a known category: a 422
naming the field otherwise), one INSERT of the row the suite would store for it, committed, and the row
answered as JSON. The row is an equivalent one: it goes into a table of the suite's own shape (tickets'
`Ticket` table, its columns and indexes), with the same values a submission stores (state, stage, the
deadline and reminder, defaults), so the database does the same work for the ticket itself. No auth, no
compound lookup, no deadlines table, no timer, no events, no history of similar tickets, no request log
line or metrics. It runs under gunicorn with the settings `linli serve` uses, so the two differ only in
what the suite does.

    python -m bench.bare --bind 127.0.0.1:8101 --database-url postgresql+psycopg://…/db [--workers 2]
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, request
from sqlalchemy import Engine, MetaData, create_engine

from linli.services.tickets.domain import CATEGORIES
from linli.services.tickets.models import Ticket

metadata = MetaData()
# The suite's table (columns, primary key, indexes) on a metadata of its own: nothing else of tickets' schema.
tickets = Ticket.__table__.to_metadata(metadata)

# name -> longest accepted; what the suite's schema requires of a submission.
REQUIRED_TEXT = {"title": 200, "description": 4000, "category": 40, "reporter_name": 100, "reporter_phone": 20}
ACCEPT_HOURS = 24
REMIND_BEFORE = 0.2  # of the deadline


class Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def checked(body: Any) -> dict[str, Any]:
    """The fields of a submission, each checked as a hand-written endpoint would."""
    if not isinstance(body, dict):
        raise Invalid("body", "a JSON object")
    fields: dict[str, Any] = {}
    for name, longest in REQUIRED_TEXT.items():
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise Invalid(name, "required, not blank")
        if len(value) > longest:
            raise Invalid(name, f"at most {longest} characters")
        fields[name] = value.strip()
    phone = fields["reporter_phone"]
    if len(phone) < 6 or not phone.removeprefix("+").isdigit():
        raise Invalid("reporter_phone", "6 to 20 digits, optionally after a leading +")
    if fields["category"] not in CATEGORIES:
        raise Invalid("category", "unknown")
    try:
        fields["compound_id"] = uuid.UUID(str(body.get("compound_id")))
    except ValueError:
        raise Invalid("compound_id", "a UUID") from None
    return fields


def ticket_row(fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    due_at = now + timedelta(hours=ACCEPT_HOURS)
    return {
        "id": uuid.uuid4(), "district_id": "bare", "building_id": None, "kind": "problem", "urgency": "normal",
        "source": "resident", "address": None, "lat": None, "lon": None, "attachments": [], "state": "submitted",
        "due_at": due_at, "overdue": False, "member_id": None, "master_id": None, "close_reason": None,
        "closed_at": None, "rating": None, "rating_comment": None, "stage": "accept", "accept_due_at": due_at,
        "dispatch_due_at": None, "resolve_due_at": None,
        "remind_at": due_at - timedelta(hours=ACCEPT_HOURS * REMIND_BEFORE), "reminded": False,
        "created_at": now, "updated_at": now, "version": 1, **fields,
    }


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime)
            else str(value) if isinstance(value, uuid.UUID) else value for name, value in row.items()}


def create_app(engine: Engine) -> Flask:
    app = Flask("bench.bare")
    app.json.ensure_ascii = False  # type: ignore[attr-defined] - as the suite answers
    insert = tickets.insert()

    @app.post("/v1/tickets")
    def submit() -> tuple[dict[str, Any], int]:
        try:
            row = ticket_row(checked(request.get_json(silent=True)), datetime.now(UTC))
        except Invalid as error:
            return {"title": "invalid input", "errors": {error.field: [str(error)]}}, 422
        with engine.begin() as conn:
            conn.execute(insert, row)
        return as_json(row), 201

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def make_engine(database_url: str) -> Engine:
    """The pool as the suite sizes it, no ping per checkout (the suite has none either)."""
    return create_engine(database_url, pool_size=10, max_overflow=20, pool_pre_ping=False)


def create_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    create_schema(args.database_url)

    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", args.bind)
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("accesslog", None)
            # gunicorn's control socket has one default path per user: two servers would fight over it.
            self.cfg.set("control_socket_disable", True)

        def load(self) -> Flask:
            return create_app(make_engine(args.database_url))

    Gunicorn().run()


if __name__ == "__main__":
    main()
