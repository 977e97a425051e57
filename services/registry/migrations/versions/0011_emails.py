"""members and organizations: an optional e-mail address, for notify's e-mail channel

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("members", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("organizations", sa.Column("contact_email", sa.String(254), nullable=True))


def downgrade() -> None:
    op.drop_column("organizations", "contact_email")
    op.drop_column("members", "email")
