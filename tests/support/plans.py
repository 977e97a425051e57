"""The SQL a piece of code sends, and PostgreSQL's plan of it: for the tests that hold a query to its index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) sent on `engine` within the block, in order."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def plan_of(engine: Engine, statement: str, parameters: Any, *off: str) -> str:
    """PostgreSQL's plan of `statement`, with the planner settings `off` (`enable_seqscan`…) switched off for it:
    a test's tables are small, and the planner would rather read them whole."""
    with engine.connect() as conn:
        for setting in off:
            conn.execute(text(f"SET LOCAL {setting} = off"))
        return "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
