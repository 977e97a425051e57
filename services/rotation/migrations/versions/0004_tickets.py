"""tickets' tickets as rotation reads them (meeting agendas, term reports) and the moments term figures count

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import read_model_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        *read_model_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=True),
        sa.Column("compound_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("urgency", sa.String(20), nullable=False),
        sa.Column("listed_at", UTCDateTime(), nullable=True),
        sa.Column("dispatched_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
    )
    op.create_index("ix_tickets_district_id", "tickets", ["district_id"])
    op.create_index("ix_tickets_community_state_listed", "tickets", ["community_id", "state", "listed_at"])

    op.create_table(
        "ticket_moments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_moments"),
        sa.UniqueConstraint("ticket_id", "kind", "at", name="uq_ticket_moments_ticket_kind_at"),
    )
    op.create_index("ix_ticket_moments_community_kind_at", "ticket_moments", ["community_id", "kind", "at"])


def downgrade() -> None:
    op.drop_table("ticket_moments")
    op.drop_table("tickets")
