"""The baseline of `bench.http`: a bare Flask + SQLAlchemy endpoint inserting a ticket into PostgreSQL.

No auth, no validation library, no outbox, no timer, no logging or metrics: one JSON body parsed,
one INSERT committed, the row answered as JSON. It runs under gunicorn with the settings
`linli serve` uses (gthread workers, 4 threads each), so the two differ only in what the suite does.

    python -m bench.bare --bind 127.0.0.1:8101 --database-url postgresql+psycopg://…/db [--workers 2]
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Flask, request
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, Uuid, create_engine

metadata = MetaData()
tickets = Table(
    "tickets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("compound_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("category", String(40), nullable=False),
    Column("reporter_name", String(100), nullable=False),
    Column("reporter_phone", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create_app(database_url: str) -> Flask:
    engine = create_engine(database_url)
    app = Flask("bench.bare")

    @app.post("/v1/tickets")
    def submit() -> tuple[dict[str, Any], int]:
        body = request.get_json()
        row = {
            "id": uuid.uuid4(),
            "compound_id": uuid.UUID(body["compound_id"]),
            "title": body["title"],
            "description": body["description"],
            "category": body["category"],
            "reporter_name": body["reporter_name"],
            "reporter_phone": body["reporter_phone"],
            "created_at": datetime.now(UTC),
        }
        with engine.begin() as conn:
            conn.execute(tickets.insert(), row)
        return {**row, "id": str(row["id"]), "compound_id": str(row["compound_id"]),
                "created_at": row["created_at"].isoformat()}, 201

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)

    engine = create_engine(args.database_url)
    metadata.create_all(engine)
    engine.dispose()

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
            return create_app(args.database_url)

    Gunicorn().run()


if __name__ == "__main__":
    main()
