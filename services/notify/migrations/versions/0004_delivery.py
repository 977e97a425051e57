"""delivery: recipients' preferences, SMS and email deliveries and the log of their attempts

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preferences",
        *entity_columns(),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("digest_time", sa.String(5), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_preferences"),
        sa.UniqueConstraint("recipient", name="uq_preferences_recipient"),
    )
    op.create_index("ix_preferences_district_id", "preferences", ["district_id"])

    op.create_table(
        "deliveries",
        *entity_columns(),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=True),
        sa.Column("provider_index", sa.Integer(), nullable=False),
        sa.Column("provider_tries", sa.Integer(), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(200), nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("digest_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_district_id", "deliveries", ["district_id"])
    op.create_index("uq_deliveries_event_recipient_channel", "deliveries",
                    ["source_event_id", "recipient", "channel"], unique=True)
    op.create_index("ix_deliveries_district_created", "deliveries", ["district_id", "created_at", "id"])
    op.create_index("ix_deliveries_recipient_created", "deliveries", ["recipient", "created_at", "id"])
    op.create_index("ix_deliveries_due", "deliveries", ["state", "not_before"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name="fk_delivery_attempts_delivery_id_deliveries"),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
    )
    op.create_index("ix_delivery_attempts_delivery_number", "delivery_attempts", ["delivery_id", "number"],
                    unique=True)


def downgrade() -> None:
    for table in ("delivery_attempts", "deliveries", "preferences"):
        op.drop_table(table)
