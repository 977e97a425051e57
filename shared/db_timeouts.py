"""How long a service waits on PostgreSQL before it answers 503 instead of hanging.

A database that is down refuses connections at once; one that is partitioned or frozen
answers nothing, and by default libpq would wait for it for as long as the kernel keeps
the socket (minutes). Each limit below bounds one way of waiting:

- `connect_timeout`: opening a connection (psycopg applies it to the whole handshake);
- `statement_timeout`, `idle_in_transaction_session_timeout`: the server gives up on a slow
  statement, and on a transaction whose client went quiet (so its row locks are released);
- TCP keepalives and `tcp_user_timeout`: the kernel notices a peer that went away;
- `answer_within`: the client gives up on a server that does not answer at all, e.g. behind a
  frozen proxy whose kernel still acknowledges every packet, where nothing above fires.

All are set by environment variables (seconds), with defaults that let a web request fail
within a few seconds while no sane statement of the suite comes near them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = float(raw)
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


@dataclass(frozen=True)
class DatabaseTimeouts:
    connect: float = 3.0
    statement: float = 10.0
    idle_in_transaction: float = 30.0
    keepalives_idle: float = 10.0
    keepalives_interval: float = 3.0
    keepalives_count: int = 3
    # Past the server's own statement timeout, so a slow statement is ended cleanly by the server first.
    answer_grace: float = 2.0

    @classmethod
    def from_env(cls) -> DatabaseTimeouts:
        return cls(
            connect=_seconds("LINLI_DB_CONNECT_TIMEOUT", cls.connect),
            statement=_seconds("LINLI_DB_STATEMENT_TIMEOUT", cls.statement),
            idle_in_transaction=_seconds("LINLI_DB_IDLE_IN_TRANSACTION_TIMEOUT", cls.idle_in_transaction),
            keepalives_idle=_seconds("LINLI_DB_KEEPALIVES_IDLE", cls.keepalives_idle),
            keepalives_interval=_seconds("LINLI_DB_KEEPALIVES_INTERVAL", cls.keepalives_interval),
            keepalives_count=int(_seconds("LINLI_DB_KEEPALIVES_COUNT", cls.keepalives_count)),
            answer_grace=_seconds("LINLI_DB_ANSWER_GRACE", cls.answer_grace),
        )

    @property
    def answer_within(self) -> float | None:
        """The client-side limit on one round trip; none when the statement timeout is off (0)."""
        return self.statement + self.answer_grace if self.statement else None

    def connect_args(self) -> dict[str, Any]:
        """libpq parameters; 0 switches a limit off, as in PostgreSQL itself."""
        options = (f"-c statement_timeout={int(self.statement * 1000)} "
                   f"-c idle_in_transaction_session_timeout={int(self.idle_in_transaction * 1000)}")
        args: dict[str, Any] = {
            "options": options,
            "keepalives": 1,
            "keepalives_idle": max(1, int(self.keepalives_idle)),
            "keepalives_interval": max(1, int(self.keepalives_interval)),
            "keepalives_count": max(1, self.keepalives_count),
            # Unacknowledged data (a partition while a statement is on its way) fails the socket after this.
            "tcp_user_timeout": int((self.answer_within or 0) * 1000),
        }
        if self.connect:
            # Whole seconds, as libpq reads it (it also raises anything below 2 s to 2 s).
            args["connect_timeout"] = max(1, round(self.connect))
        return args


def bounded_connections(engine: Engine, answer_within: float | None) -> None:
    """Make `engine` open psycopg connections that stop waiting for an answer after `answer_within` s."""
    if not answer_within or engine.dialect.driver != "psycopg":
        return
    connection_class = _bounded_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        conn = connection_class.connect(*cargs, **cparams)
        conn.answer_within = answer_within
        return conn


_BOUNDED: type | None = None


def _bounded_connection_class() -> type:
    global _BOUNDED
    if _BOUNDED is None:
        import psycopg
        from psycopg import errors

        class BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
            """A psycopg connection that gives up on a server that answers nothing.

            psycopg runs every exchange with the server (execute, fetch, commit, rollback, the pool's
            ping) through `wait`, which by default waits for ever; here it waits `answer_within`.
            """

            answer_within: float | None = None

            def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
                if timeout is not None or not self.answer_within:
                    return super().wait(gen, interval, timeout)
                try:
                    return super().wait(gen, interval, self.answer_within)
                except errors._WaitTimeout as exc:  # noqa: SLF001 - psycopg's own signal for this wait
                    # Mid-exchange, the protocol state is unknown: the connection cannot be used again.
                    self.pgconn.finish()
                    raise errors.OperationalError(
                        f"the database did not answer within {self.answer_within:g} s") from exc

        _BOUNDED = BoundedConnection
    return _BOUNDED
