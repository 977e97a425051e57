"""tickets: Open311 GeoReport v2 clients' api_keys, kept hashed

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open311_keys",
        *entity_columns(),
        sa.Column("client_name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoked_reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_open311_keys"),
    )
    op.create_index("uq_open311_keys_key_hash", "open311_keys", ["key_hash"], unique=True)
    op.create_index("ix_open311_keys_district_id", "open311_keys", ["district_id"])


def downgrade() -> None:
    op.drop_table("open311_keys")
