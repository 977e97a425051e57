"""rotations and the committees read model

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.infra_migrations import entity_columns, read_model_columns, v1_downgrade, v1_upgrade

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    v1_upgrade()
    op.create_table(
        "rotations",
        *entity_columns(),
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rotations"),
        sa.UniqueConstraint("committee_id", name="uq_rotations_committee_id"),
    )
    op.create_index("ix_rotations_district_created", "rotations", ["district_id", "created_at", "id"])
    op.create_index("ix_rotations_district_id", "rotations", ["district_id"])
    op.create_table(
        "committees",
        *read_model_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_committees"),
    )
    op.create_index("ix_committees_district_id", "committees", ["district_id"])


def downgrade() -> None:
    op.drop_table("committees")
    op.drop_table("rotations")
    v1_downgrade()
