"""tickets and the compounds read model

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns, read_model_columns, v1_downgrade, v1_upgrade

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    v1_upgrade()
    op.create_table(
        "compounds",
        *read_model_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_compounds"),
    )
    op.create_index("ix_compounds_district_name", "compounds", ["district_id", "name", "id"])
    op.create_index("ix_compounds_district_id", "compounds", ["district_id"])
    op.create_index("ix_compounds_community_id", "compounds", ["community_id"])
    op.create_table(
        "tickets",
        *entity_columns(),
        sa.Column("compound_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("reporter_name", sa.String(100), nullable=False),
        sa.Column("reporter_phone", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
    )
    op.create_index("ix_tickets_district_created", "tickets", ["district_id", "created_at", "id"])
    op.create_index("ix_tickets_district_id", "tickets", ["district_id"])
    op.create_index("ix_tickets_compound_id", "tickets", ["compound_id"])
    op.create_index("ix_tickets_state", "tickets", ["state"])


def downgrade() -> None:
    op.drop_table("tickets")
    op.drop_table("compounds")
    v1_downgrade()
