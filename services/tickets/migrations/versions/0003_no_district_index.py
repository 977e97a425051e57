"""tickets: drop ix_tickets_district_id, a leading prefix of ix_tickets_district_created

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tickets_district_id", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_district_id", "tickets", ["district_id"])
