"""members: an index of name lengths per district, so a two-character fragment is found without a scan

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
    op.create_index("ix_members_name_length", "members", ["district_id", sa.text("length(name)")])


def downgrade() -> None:
    op.drop_index("ix_members_name_length", table_name="members")
