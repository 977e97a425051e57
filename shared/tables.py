"""Tables every service database carries besides its own: outbox, inbox, timers, idempotency keys and
the in-memory bus's drain watermark.

They live on one metadata that each service's migrations include, so the delivery
machinery is defined once for all four services.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)

from linli.shared.db import UTCDateTime, new_metadata

infra_metadata = new_metadata()

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    infra_metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("routing_key", String(200), nullable=False),
    Column("aggregate_id", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("traceparent", String(60), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
)
# The relay only ever looks for unsent rows; a partial index keeps that cheap when sent rows pile up.
Index(
    "ix_outbox_unsent",
    outbox.c.seq,
    postgresql_where=outbox.c.sent_at.is_(None),
    sqlite_where=outbox.c.sent_at.is_(None),
)
Index("ix_outbox_sent_at", outbox.c.sent_at)

inbox = Table(
    "inbox",
    infra_metadata,
    Column("consumer", String(120), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("consumer", "event_id"),
)
Index("ix_inbox_applied_at", inbox.c.applied_at)

timers = Table(
    "timers",
    infra_metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("district_id", String(64), nullable=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False, default="{}"),
    Column("fired_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index(
    "ix_timers_due",
    timers.c.due_at,
    postgresql_where=timers.c.fired_at.is_(None),
    sqlite_where=timers.c.fired_at.is_(None),
)
# One pending timer of a kind per subject: re-scheduling moves it instead of adding a second.
Index("uq_timers_kind_subject", timers.c.kind, timers.c.subject_id, unique=True)

idempotency_keys = Table(
    "idempotency_keys",
    infra_metadata,
    Column("client", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("client", "key"),
)
Index("ix_idempotency_keys_created_at", idempotency_keys.c.created_at)

# Only the in-memory bus (embedded mode) writes here: its queues die with the process, so outbox rows sent
# after `up_to_seq` may never have been consumed and go out again at the next start (linli.shared.memory_delivery).
outbox_drained = Table(
    "outbox_drained",
    infra_metadata,
    Column("bus", String(40), primary_key=True),
    Column("up_to_seq", BigInteger, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)
