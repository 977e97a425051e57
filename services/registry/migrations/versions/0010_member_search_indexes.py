"""members: an index of name lengths per district and finer statistics of names, for short name fragments

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_members_name_length", "members", ["district_id", sa.text("length(name)")])
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL estimates how many names a LIKE pattern matches by trying it on the column's histogram.
        # With the default 100 buckets one hit reads as 1% of the district, and for a two-character
        # fragment that really matches 0.01% it would walk the whole district's newest-first index
        # instead of using the trigram index; 1,000 buckets keep such estimates near the truth.
        op.execute("ALTER TABLE members ALTER COLUMN name SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE members ALTER COLUMN name SET STATISTICS -1")
    op.drop_index("ix_members_name_length", table_name="members")
