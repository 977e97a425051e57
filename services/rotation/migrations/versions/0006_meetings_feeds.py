"""joint meetings (their rules and the meetings), calendar feeds, and the committees' convenor

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("committees") as batch:
        batch.add_column(sa.Column("convenor_member_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("convenor_name", sa.String(100), nullable=True))

    op.create_table(
        "meeting_rules",
        *entity_columns(),
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("rrule", sa.String(500), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(200), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("planned_until", UTCDateTime(), nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meeting_rules"),
        sa.UniqueConstraint("committee_id", name="uq_meeting_rules_committee_id"),
    )
    op.create_index("ix_meeting_rules_district_id", "meeting_rules", ["district_id"])

    op.create_table(
        "meetings",
        *entity_columns(),
        sa.Column("committee_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("rule_day", sa.Date(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("place", sa.String(200), nullable=True),
        sa.Column("convenor_member_id", sa.Uuid(), nullable=True),
        sa.Column("convenor_name", sa.String(100), nullable=True),
        sa.Column("moved", sa.Boolean(), nullable=False),
        sa.Column("free_items", sa.Text(), nullable=False),
        sa.Column("agenda", sa.Text(), nullable=True),
        sa.Column("attendance", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("uid", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["meeting_rules.id"], name="fk_meetings_rule_id_meeting_rules"),
        sa.PrimaryKeyConstraint("id", name="pk_meetings"),
        sa.UniqueConstraint("rule_id", "rule_day", name="uq_meetings_rule_day"),
        sa.UniqueConstraint("uid", name="uq_meetings_uid"),
    )
    op.create_index("ix_meetings_committee_starts", "meetings", ["committee_id", "starts_at"])
    op.create_index("ix_meetings_district_created", "meetings", ["district_id", "created_at", "id"])
    op.create_index("ix_meetings_district_id", "meetings", ["district_id"])

    op.create_table(
        "feeds",
        *entity_columns(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("committee_id", sa.Uuid(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.UniqueConstraint("token_hash", name="uq_feeds_token_hash"),
    )
    op.create_index("ix_feeds_district_created", "feeds", ["district_id", "created_at", "id"])
    op.create_index("ix_feeds_district_id", "feeds", ["district_id"])


def downgrade() -> None:
    for table in ("feeds", "meetings", "meeting_rules"):
        op.drop_table(table)
    with op.batch_alter_table("committees") as batch:
        batch.drop_column("convenor_name")
        batch.drop_column("convenor_member_id")
