"""sibling areas have distinct names

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_areas_parent_id_name", "areas", ["parent_id", "name"], unique=True)
    op.create_index("uq_areas_district_name", "areas", ["name"], unique=True,
                    sqlite_where=sa.text("parent_id IS NULL"), postgresql_where=sa.text("parent_id IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_areas_district_name", table_name="areas")
    op.drop_index("uq_areas_parent_id_name", table_name="areas")
