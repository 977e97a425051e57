"""Migrations of the tables in `linli.shared.tables`, called from each service's own revisions.

Every service database carries these tables; writing their DDL once here keeps the
four services' histories from repeating it. A later change to an infra table adds a
`v2_upgrade()` here and a revision in each service calling it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def v1_upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("routing_key", sa.String(200), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("traceparent", sa.String(60), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["seq"], postgresql_where=sa.text("sent_at IS NULL"),
                    sqlite_where=sa.text("sent_at IS NULL"))
    op.create_index("ix_outbox_sent_at", "outbox", ["sent_at"])

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(120), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    op.create_index("ix_inbox_applied_at", "inbox", ["applied_at"])

    op.create_table(
        "timers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
    )
    op.create_index("ix_timers_due", "timers", ["due_at"], postgresql_where=sa.text("fired_at IS NULL"),
                    sqlite_where=sa.text("fired_at IS NULL"))
    op.create_index("uq_timers_kind_subject", "timers", ["kind", "subject_id"], unique=True)

    op.create_table(
        "idempotency_keys",
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def v1_downgrade() -> None:
    for table in ("idempotency_keys", "timers", "inbox", "outbox"):
        op.drop_table(table)


def v2_upgrade() -> None:
    """The in-memory bus's drain watermark (`outbox_drained`)."""
    op.create_table(
        "outbox_drained",
        sa.Column("bus", sa.String(40), nullable=False),
        sa.Column("up_to_seq", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bus", name="pk_outbox_drained"),
    )


def v2_downgrade() -> None:
    op.drop_table("outbox_drained")


def entity_columns() -> list[sa.Column]:
    """The columns of `linli.shared.orm.Entity`, for a service's create_table."""
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def read_model_columns() -> list[sa.Column]:
    """The columns of `linli.shared.orm.ReadModel`."""
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]
