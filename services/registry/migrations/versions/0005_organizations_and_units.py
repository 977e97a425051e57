"""organizations, their resources, pairings with compounds, committee units

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        *entity_columns(),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("contact_person", sa.String(100), nullable=True),
        sa.Column("contact_phone", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
    )
    op.create_index("ix_organizations_district_created", "organizations", ["district_id", "created_at", "id"])
    op.create_index("ix_organizations_district_kind", "organizations", ["district_id", "kind"])
    op.create_index("ix_organizations_district_id", "organizations", ["district_id"])

    op.create_table(
        "resources",
        *entity_columns(),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name="fk_resources_organization_id_organizations"),
        sa.PrimaryKeyConstraint("id", name="pk_resources"),
    )
    op.create_index("ix_resources_organization_created", "resources", ["organization_id", "created_at", "id"])
    op.create_index("ix_resources_district_category", "resources", ["district_id", "category", "state"])
    op.create_index("ix_resources_district_id", "resources", ["district_id"])

    op.create_table(
        "pairings",
        *entity_columns(),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("compound_id", sa.Uuid(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name="fk_pairings_organization_id_organizations"),
        sa.ForeignKeyConstraint(["compound_id"], ["areas.id"], name="fk_pairings_compound_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_pairings"),
    )
    op.create_index("ix_pairings_district_created", "pairings", ["district_id", "created_at", "id"])
    op.create_index("ix_pairings_organization_created", "pairings", ["organization_id", "created_at", "id"])
    op.create_index("ix_pairings_compound_created", "pairings", ["compound_id", "created_at", "id"])
    op.create_index("ix_pairings_district_id", "pairings", ["district_id"])

    op.add_column("committees", sa.Column("convenor_name", sa.String(100), nullable=True))
    op.add_column("committees", sa.Column("convenor_member_id", sa.Uuid(), nullable=True))
    op.add_column("committees", sa.Column("unit_count", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "committee_units",
        *entity_columns(),
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("member_name", sa.String(100), nullable=False),
        sa.Column("member_phone", sa.String(20), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["committee_id"], ["committees.id"], name="fk_committee_units_committee_id_committees"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name="fk_committee_units_organization_id_organizations"),
        sa.PrimaryKeyConstraint("id", name="pk_committee_units"),
    )
    op.create_index("ix_committee_units_committee_created", "committee_units", ["committee_id", "created_at", "id"])
    op.create_index("uq_committee_units_current", "committee_units", ["committee_id", "organization_id"],
                    unique=True, sqlite_where=sa.text("left_on IS NULL"), postgresql_where=sa.text("left_on IS NULL"))
    op.create_index("ix_committee_units_district_id", "committee_units", ["district_id"])


def downgrade() -> None:
    op.drop_table("committee_units")
    with op.batch_alter_table("committees") as batch:
        batch.drop_column("unit_count")
        batch.drop_column("convenor_member_id")
        batch.drop_column("convenor_name")
    op.drop_table("pairings")
    op.drop_table("resources")
    op.drop_table("organizations")
