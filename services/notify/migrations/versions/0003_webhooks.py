"""webhooks: endpoints, the events sent to them, deliveries and the log of their attempts

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        *entity_columns(),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("disabled_reason", sa.String(20), nullable=True),
        sa.Column("disabled_note", sa.String(500), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100), nullable=True),
        sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
    )
    op.create_index("ix_webhooks_district_id", "webhooks", ["district_id"])
    op.create_index("ix_webhooks_district_created", "webhooks", ["district_id", "created_at", "id"])

    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_messages"),
    )
    op.create_index("ix_webhook_messages_created_at", "webhook_messages", ["created_at"])

    op.create_table(
        "webhook_deliveries",
        *entity_columns(),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("schedule_step", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], name="fk_webhook_deliveries_webhook_id_webhooks"),
        sa.ForeignKeyConstraint(["event_id"], ["webhook_messages.id"],
                                name="fk_webhook_deliveries_event_id_webhook_messages"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_district_id", "webhook_deliveries", ["district_id"])
    op.create_index("uq_webhook_deliveries_webhook_event", "webhook_deliveries", ["webhook_id", "event_id"],
                    unique=True)
    op.create_index("ix_webhook_deliveries_webhook_created", "webhook_deliveries", ["webhook_id", "created_at", "id"])
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("response_excerpt", sa.String(1000), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"],
                                name="fk_webhook_attempts_delivery_id_webhook_deliveries"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_delivery_number", "webhook_attempts", ["delivery_id", "number"],
                    unique=True)


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_messages", "webhooks"):
        op.drop_table(table)
