"""tickets' lifecycle: kind, urgency, source, location and attachments on a ticket; units' parts, the history
of moves, comments, participants; the organizations read model

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns, read_model_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ticket_columns() -> list[sa.Column]:
    # Fresh columns each call: a Column belongs to the one table it was added to, and a process may migrate
    # several databases. Tickets raised before this revision were all residents' problems of normal urgency.
    return [
        sa.Column("building_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False, server_default="problem"),
        sa.Column("urgency", sa.String(10), nullable=False, server_default="normal"),
        sa.Column("source", sa.String(20), nullable=False, server_default="resident"),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("master_id", sa.Uuid(), nullable=True),
        sa.Column("close_reason", sa.String(30), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("rating", sa.String(30), nullable=True),
        sa.Column("rating_comment", sa.String(1000), nullable=True),
    ]


def upgrade() -> None:
    for column in _ticket_columns():
        op.add_column("tickets", column)
    op.create_index("ix_tickets_master_id", "tickets", ["master_id"])

    op.create_table(
        "ticket_parts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_parts_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_parts"),
    )
    op.create_index("uq_ticket_parts_ticket_position", "ticket_parts", ["ticket_id", "position"], unique=True)
    op.create_index("ix_ticket_parts_unit_id", "ticket_parts", ["unit_id"])

    op.create_table(
        "ticket_moves",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("verb", sa.String(20), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=False),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_moves_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("seq", name="pk_ticket_moves"),
    )
    op.create_index("ix_ticket_moves_ticket_seq", "ticket_moves", ["ticket_id", "seq"])

    op.create_table(
        "ticket_comments",
        *entity_columns(),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_comments_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_comments"),
    )
    op.create_index("ix_ticket_comments_ticket_created", "ticket_comments", ["ticket_id", "created_at", "id"])
    op.create_index("ix_ticket_comments_district_id", "ticket_comments", ["district_id"])

    op.create_table(
        "ticket_participants",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_participants_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("ticket_id", "member_id", name="pk_ticket_participants"),
    )

    op.create_table(
        "organizations",
        *read_model_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
    )
    op.create_index("ix_organizations_district_id", "organizations", ["district_id"])


def downgrade() -> None:
    op.drop_table("organizations")
    op.drop_table("ticket_participants")
    op.drop_table("ticket_comments")
    op.drop_table("ticket_moves")
    op.drop_table("ticket_parts")
    op.drop_index("ix_tickets_master_id", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for column in reversed(_ticket_columns()):
            batch.drop_column(column.name)
