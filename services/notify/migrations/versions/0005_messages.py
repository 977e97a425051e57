"""messages: notifications per (event, recipient, channel) with their event type and role; read models of
contacts, tickets, committees and chairs; the districts' rules and templates

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
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("event_type", sa.String(200), nullable=True))
        batch.add_column(sa.Column("role", sa.String(40), nullable=True))
        batch.alter_column("template", type_=sa.String(200), existing_type=sa.String(100), existing_nullable=False)
        batch.drop_constraint("uq_notifications_source_event_id", type_="unique")
    # Notifications so far told of tickets, their template named `<entity>.<verb>`.
    op.execute("UPDATE notifications SET event_type = 'tickets.' || template, template = 'tickets.' || template")
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("event_type", existing_type=sa.String(200), nullable=False)
        batch.create_index("uq_notifications_event_recipient_channel", ["source_event_id", "recipient", "channel"],
                           unique=True)
        batch.create_index("ix_notifications_recipient_state", ["recipient", "state"])

    op.create_table(
        "contacts",
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("person", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("recipient", name="pk_contacts"),
    )
    op.create_index("ix_contacts_district_id", "contacts", ["district_id"])

    op.create_table(
        "ticket_views",
        *read_model_columns(),
        sa.Column("compound_id", sa.Uuid(), nullable=True),
        sa.Column("community_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("assignees", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_views"),
    )
    op.create_index("ix_ticket_views_district_id", "ticket_views", ["district_id"])

    op.create_table(
        "committee_views",
        *read_model_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("convenor_member_id", sa.Uuid(), nullable=True),
        sa.Column("convenor_name", sa.String(200), nullable=True),
        sa.Column("units", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_committee_views"),
    )
    op.create_index("ix_committee_views_district_id", "committee_views", ["district_id"])
    op.create_index("ix_committee_views_community_id", "committee_views", ["community_id"])

    op.create_table(
        "chairs",
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("organization_name", sa.String(200), nullable=True),
        sa.Column("term_index", sa.Integer(), nullable=False),
        sa.Column("term_part", sa.Integer(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("committee_id", name="pk_chairs"),
    )
    op.create_index("ix_chairs_district_id", "chairs", ["district_id"])

    op.create_table(
        "rule_overrides",
        *entity_columns(),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rule_overrides"),
    )
    op.create_index("ix_rule_overrides_district_id", "rule_overrides", ["district_id"])
    op.create_index("uq_rule_overrides_district_event", "rule_overrides", ["district_id", "event_type"], unique=True)

    op.create_table(
        "template_overrides",
        *entity_columns(),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_template_overrides"),
    )
    op.create_index("ix_template_overrides_district_id", "template_overrides", ["district_id"])
    op.create_index("uq_template_overrides_key", "template_overrides",
                    ["district_id", "event_type", "channel", "locale"], unique=True)


def downgrade() -> None:
    for table in ("template_overrides", "rule_overrides", "chairs", "committee_views", "ticket_views", "contacts"):
        op.drop_table(table)
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_recipient_state")
        batch.drop_index("uq_notifications_event_recipient_channel")
        batch.drop_column("role")
        batch.drop_column("event_type")
        batch.create_unique_constraint("uq_notifications_source_event_id", ["source_event_id"])
