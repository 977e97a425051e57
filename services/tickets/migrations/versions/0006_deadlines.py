"""tickets: stages and their deadlines, reminders, districts' own category deadlines; committees and rotating
chairs read models for escalation

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns, read_model_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _ticket_columns() -> list[sa.Column]:
    # Fresh columns each call: a Column belongs to the one table it was added to.
    return [
        sa.Column("stage", sa.String(10), nullable=True),
        sa.Column("accept_due_at", UTCDateTime(), nullable=True),
        sa.Column("dispatch_due_at", UTCDateTime(), nullable=True),
        sa.Column("resolve_due_at", UTCDateTime(), nullable=True),
        sa.Column("remind_at", UTCDateTime(), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]


def _part_columns() -> list[sa.Column]:
    return [
        sa.Column("remind_at", UTCDateTime(), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]


def upgrade() -> None:
    for column in _ticket_columns():
        op.add_column("tickets", column)
    for column in _part_columns():
        op.add_column("ticket_parts", column)
    # Open tickets raised before stages existed are in the stage of their state; their deadline stays the one they
    # were given (`due_at`), without a reminder, and their timers keep running as they were.
    op.execute("UPDATE tickets SET stage = CASE state WHEN 'submitted' THEN 'accept' "
               "WHEN 'accepted' THEN 'dispatch' WHEN 'escalated' THEN 'dispatch' WHEN 'listed' THEN 'dispatch' "
               "WHEN 'dispatched' THEN 'resolve' WHEN 'in_progress' THEN 'resolve' END")

    op.create_table(
        "category_deadlines",
        *entity_columns(),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("normal_accept_hours", sa.Float(), nullable=False),
        sa.Column("normal_dispatch_hours", sa.Float(), nullable=False),
        sa.Column("normal_resolve_hours", sa.Float(), nullable=False),
        sa.Column("urgent_accept_hours", sa.Float(), nullable=False),
        sa.Column("urgent_dispatch_hours", sa.Float(), nullable=False),
        sa.Column("urgent_resolve_hours", sa.Float(), nullable=False),
        sa.Column("remind_before_percent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_category_deadlines"),
    )
    op.create_index("ix_category_deadlines_district_id", "category_deadlines", ["district_id"])
    op.create_index("uq_category_deadlines_district_code", "category_deadlines", ["district_id", "code"],
                    unique=True)

    op.create_table(
        "committees",
        *read_model_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("convenor_name", sa.String(100), nullable=True),
        sa.Column("convenor_member_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_committees"),
    )
    op.create_index("ix_committees_district_id", "committees", ["district_id"])
    op.create_index("ix_committees_community_id", "committees", ["community_id"])

    op.create_table(
        "chair_terms",
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("term_index", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("organization_name", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("committee_id", "starts_at", name="pk_chair_terms"),
    )


def downgrade() -> None:
    op.drop_table("chair_terms")
    op.drop_table("committees")
    op.drop_table("category_deadlines")
    with op.batch_alter_table("ticket_parts") as batch:
        for column in reversed(_part_columns()):
            batch.drop_column(column.name)
    with op.batch_alter_table("tickets") as batch:
        for column in reversed(_ticket_columns()):
            batch.drop_column(column.name)
