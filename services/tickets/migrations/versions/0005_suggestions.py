"""Dispatch suggestions and possible duplicates: read models of registry's pairings, resources and committee units;
tickets indexed by compound, category and time instead of compound alone

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.infra_migrations import read_model_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The new index leads with the compound, so the compound's own index is redundant.
    op.create_index("ix_tickets_compound_category_created", "tickets", ["compound_id", "category", "created_at"])
    op.drop_index("ix_tickets_compound_id", table_name="tickets")

    op.create_table(
        "pairings",
        *read_model_columns(),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_name", sa.String(200), nullable=False),
        sa.Column("compound_id", sa.Uuid(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pairings"),
    )
    op.create_index("ix_pairings_district_id", "pairings", ["district_id"])
    op.create_index("ix_pairings_compound_id", "pairings", ["compound_id"])

    op.create_table(
        "resources",
        *read_model_columns(),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resources"),
    )
    op.create_index("ix_resources_district_id", "resources", ["district_id"])
    op.create_index("ix_resources_organization_id", "resources", ["organization_id"])

    op.create_table(
        "committee_rosters",
        *read_model_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_committee_rosters"),
    )
    op.create_index("ix_committee_rosters_district_id", "committee_rosters", ["district_id"])
    op.create_index("ix_committee_rosters_community_id", "committee_rosters", ["community_id"])

    op.create_table(
        "committee_units",
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("committee_id", "organization_id", name="pk_committee_units"),
    )


def downgrade() -> None:
    op.drop_table("committee_units")
    op.drop_table("committee_rosters")
    op.drop_table("resources")
    op.drop_table("pairings")
    op.create_index("ix_tickets_compound_id", "tickets", ["compound_id"])
    op.drop_index("ix_tickets_compound_category_created", table_name="tickets")
