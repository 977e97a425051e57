"""stored terms, the committees' units, overrides, swaps and the audit of every change to a plan

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rotations") as batch:
        batch.add_column(sa.Column("order_policy", sa.String(20), nullable=False, server_default="join_order"))
        batch.add_column(sa.Column("unit_order", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("order_since", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("planned_at", UTCDateTime(), nullable=True))

    op.create_table(
        "terms",
        *entity_columns(),
        sa.Column("rotation_id", sa.Uuid(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("organization_name", sa.String(200), nullable=True),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("uid", sa.String(120), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["rotation_id"], ["rotations.id"], name="fk_terms_rotation_id_rotations"),
        sa.PrimaryKeyConstraint("id", name="pk_terms"),
        sa.UniqueConstraint("uid", name="uq_terms_uid"),
    )
    op.create_index("ix_terms_rotation_starts", "terms", ["rotation_id", "starts_at"])
    op.create_index("ix_terms_organization_starts", "terms", ["organization_id", "starts_at"])
    op.create_index("ix_terms_district_created", "terms", ["district_id", "created_at", "id"])
    op.create_index("ix_terms_district_id", "terms", ["district_id"])

    op.create_table(
        "overrides",
        *entity_columns(),
        sa.Column("rotation_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_name", sa.String(200), nullable=False),
        sa.Column("term_id", sa.Uuid(), nullable=True),
        sa.Column("term_index", sa.Integer(), nullable=True),
        sa.Column("from_on", sa.Date(), nullable=True),
        sa.Column("to_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(200), nullable=True),
        sa.Column("cancel_reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["rotation_id"], ["rotations.id"], name="fk_overrides_rotation_id_rotations"),
        sa.PrimaryKeyConstraint("id", name="pk_overrides"),
    )
    op.create_index("ix_overrides_rotation_created", "overrides", ["rotation_id", "created_at", "id"])
    op.create_index("ix_overrides_district_created", "overrides", ["district_id", "created_at", "id"])
    op.create_index("ix_overrides_district_id", "overrides", ["district_id"])

    op.create_table(
        "swaps",
        *entity_columns(),
        sa.Column("rotation_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("term_id", sa.Uuid(), nullable=False),
        sa.Column("with_term_id", sa.Uuid(), nullable=False),
        sa.Column("term_index", sa.Integer(), nullable=False),
        sa.Column("with_term_index", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_name", sa.String(200), nullable=False),
        sa.Column("with_organization_id", sa.Uuid(), nullable=False),
        sa.Column("with_organization_name", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.String(200), nullable=True),
        sa.Column("answer_reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["rotation_id"], ["rotations.id"], name="fk_swaps_rotation_id_rotations"),
        sa.PrimaryKeyConstraint("id", name="pk_swaps"),
    )
    op.create_index("ix_swaps_rotation_created", "swaps", ["rotation_id", "created_at", "id"])
    op.create_index("ix_swaps_district_created", "swaps", ["district_id", "created_at", "id"])
    op.create_index("ix_swaps_district_id", "swaps", ["district_id"])

    op.create_table(
        "rotation_audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("rotation_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("why", sa.String(500), nullable=True),
        sa.Column("what", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["rotation_id"], ["rotations.id"], name="fk_rotation_audit_rotation_id_rotations"),
        sa.PrimaryKeyConstraint("id", name="pk_rotation_audit"),
    )
    op.create_index("ix_rotation_audit_rotation_at", "rotation_audit", ["rotation_id", "at", "id"])

    op.create_table(
        "committee_units",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_name", sa.String(200), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_reason", sa.String(500), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_committee_units"),
        sa.UniqueConstraint("committee_id", "organization_id", "joined_on", name="uq_committee_units_stint"),
    )
    op.create_index("ix_committee_units_district_id", "committee_units", ["district_id"])


def downgrade() -> None:
    op.drop_table("committee_units")
    op.drop_table("rotation_audit")
    op.drop_table("swaps")
    op.drop_table("overrides")
    op.drop_table("terms")
    with op.batch_alter_table("rotations") as batch:
        batch.drop_column("planned_at")
        batch.drop_column("order_since")
        batch.drop_column("unit_order")
        batch.drop_column("order_policy")
