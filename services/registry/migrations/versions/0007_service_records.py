"""service records: hours a member gave, logged by hand or credited by an activity or a ticket

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_records",
        *entity_columns(),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("served_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_service_records_member_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_service_records"),
    )
    op.create_index("ix_service_records_district_id", "service_records", ["district_id"])
    op.create_index("ix_service_records_district_created", "service_records", ["district_id", "created_at", "id"])
    op.create_index("ix_service_records_member_served", "service_records", ["member_id", "served_on"])
    op.create_index("uq_service_records_source", "service_records", ["member_id", "source", "source_id"],
                    unique=True, sqlite_where=sa.text("source_id IS NOT NULL"),
                    postgresql_where=sa.text("source_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_table("service_records")
