"""party branches serve a compound or community; a check-in records the branch it went to

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain nullable columns, no foreign keys: SQLite adds those only by copying the whole table.
    op.add_column("organizations", sa.Column("area_id", sa.Uuid(), nullable=True))
    op.create_index("ix_organizations_area_kind", "organizations", ["area_id", "kind"])
    op.add_column("check_ins", sa.Column("branch_id", sa.Uuid(), nullable=True))
    op.create_index("ix_check_ins_branch_created", "check_ins", ["branch_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_check_ins_branch_created", table_name="check_ins")
    op.drop_column("check_ins", "branch_id")
    op.drop_index("ix_organizations_area_kind", table_name="organizations")
    op.drop_column("organizations", "area_id")
