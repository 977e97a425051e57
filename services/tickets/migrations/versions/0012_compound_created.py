"""tickets: a compound's tickets indexed newest first (compound, created_at, id), in place of the index by compound,
category and creation: the list by compound reads its page from it instead of filtering the district's tickets, and
intake's possible duplicates (a compound's tickets of a category over the last days) are read from it as well.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_compound_created", "tickets", ["compound_id", "created_at", "id"])
    op.drop_index("ix_tickets_compound_category_created", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_compound_category_created", "tickets", ["compound_id", "category", "created_at"])
    op.drop_index("ix_tickets_compound_created", table_name="tickets")
