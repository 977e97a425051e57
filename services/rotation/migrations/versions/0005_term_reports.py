"""term reports, the activities read model, and what the clock needs for a term's later events

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns, read_model_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rotations") as batch:
        batch.add_column(sa.Column("ending_soon_days", sa.Integer(), nullable=False, server_default="7"))
        batch.add_column(sa.Column("report_due_days", sa.Integer(), nullable=False, server_default="14"))
    with op.batch_alter_table("terms") as batch:
        batch.add_column(sa.Column("ending_soon_told_at", UTCDateTime(), nullable=True))

    op.create_table(
        "term_reports",
        *entity_columns(),
        sa.Column("rotation_id", sa.Uuid(), nullable=False),
        sa.Column("term_id", sa.Uuid(), nullable=False),
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("organization_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=True),
        sa.Column("due_told_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["rotation_id"], ["rotations.id"], name="fk_term_reports_rotation_id_rotations"),
        sa.ForeignKeyConstraint(["term_id"], ["terms.id"], name="fk_term_reports_term_id_terms"),
        sa.PrimaryKeyConstraint("id", name="pk_term_reports"),
        sa.UniqueConstraint("term_id", name="uq_term_reports_term_id"),
    )
    op.create_index("ix_term_reports_district_id", "term_reports", ["district_id"])
    op.create_index("ix_term_reports_district_created", "term_reports", ["district_id", "created_at", "id"])
    op.create_index("ix_term_reports_state_due", "term_reports", ["state", "due_at"])
    op.create_index("ix_term_reports_rotation_created", "term_reports", ["rotation_id", "created_at", "id"])

    op.create_table(
        "activities",
        *read_model_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("host_organization_id", sa.Uuid(), nullable=False),
        sa.Column("host_organization_name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=True),
        sa.Column("attendee_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
    )
    op.create_index("ix_activities_district_id", "activities", ["district_id"])
    op.create_index("ix_activities_community_held", "activities", ["community_id", "held_at"])


def downgrade() -> None:
    op.drop_table("activities")
    op.drop_table("term_reports")
    with op.batch_alter_table("terms") as batch:
        batch.drop_column("ending_soon_told_at")
    with op.batch_alter_table("rotations") as batch:
        batch.drop_column("report_due_days")
        batch.drop_column("ending_soon_days")
