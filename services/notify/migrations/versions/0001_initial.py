"""notifications

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import linli.shared.db
from linli.shared.infra_migrations import entity_columns, v1_downgrade, v1_upgrade

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    v1_upgrade()
    op.create_table(
        "notifications",
        *entity_columns(),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("read_at", linli.shared.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("source_event_id", name="uq_notifications_source_event_id"),
    )
    op.create_index("ix_notifications_district_created", "notifications", ["district_id", "created_at", "id"])
    op.create_index("ix_notifications_district_id", "notifications", ["district_id"])
    op.create_index("ix_notifications_recipient_created", "notifications", ["recipient", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("notifications")
    v1_downgrade()
