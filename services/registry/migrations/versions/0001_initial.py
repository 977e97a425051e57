"""areas and committees

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.infra_migrations import entity_columns, v1_downgrade, v1_upgrade

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    v1_upgrade()
    op.create_table(
        "areas",
        *entity_columns(),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["areas.id"], name="fk_areas_parent_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_areas"),
    )
    op.create_index("ix_areas_district_created", "areas", ["district_id", "created_at", "id"])
    op.create_index("ix_areas_district_id", "areas", ["district_id"])
    op.create_index("ix_areas_parent_id", "areas", ["parent_id"])
    op.create_table(
        "committees",
        *entity_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["areas.id"], name="fk_committees_community_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_committees"),
        sa.UniqueConstraint("community_id", name="uq_committees_community_id"),
    )
    op.create_index("ix_committees_district_created", "committees", ["district_id", "created_at", "id"])
    op.create_index("ix_committees_district_id", "committees", ["district_id"])


def downgrade() -> None:
    op.drop_table("committees")
    op.drop_table("areas")
    v1_downgrade()
