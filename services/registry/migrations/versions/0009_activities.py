"""activities hosted for residents, members' sign-ups and who attended

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import entity_columns

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities",
        *entity_columns(),
        sa.Column("host_organization_id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=True),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("place", sa.String(300), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("sign_up_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=True),
        sa.Column("attendee_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["host_organization_id"], ["organizations.id"],
                                name="fk_activities_host_organization_id_organizations"),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name="fk_activities_area_id_areas"),
        sa.ForeignKeyConstraint(["community_id"], ["areas.id"], name="fk_activities_community_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
    )
    op.create_index("ix_activities_district_created", "activities", ["district_id", "created_at", "id"])
    op.create_index("ix_activities_community_created", "activities", ["community_id", "created_at", "id"])
    op.create_index("ix_activities_area_created", "activities", ["area_id", "created_at", "id"])
    op.create_index("ix_activities_host_created", "activities", ["host_organization_id", "created_at", "id"])
    op.create_index("ix_activities_district_id", "activities", ["district_id"])

    op.create_table(
        "activity_sign_ups",
        *entity_columns(),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("signed_up_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"], name="fk_activity_sign_ups_activity_id_activities"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_activity_sign_ups_member_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_activity_sign_ups"),
    )
    op.create_index("uq_activity_sign_ups_member", "activity_sign_ups", ["activity_id", "member_id"], unique=True)
    op.create_index("ix_activity_sign_ups_activity_created", "activity_sign_ups", ["activity_id", "created_at", "id"])
    op.create_index("ix_activity_sign_ups_member", "activity_sign_ups", ["member_id"])
    op.create_index("ix_activity_sign_ups_district_id", "activity_sign_ups", ["district_id"])

    op.create_table(
        "activity_attendees",
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"], name="fk_activity_attendees_activity_id_activities"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_activity_attendees_member_id_members"),
        sa.PrimaryKeyConstraint("activity_id", "member_id", name="pk_activity_attendees"),
    )
    op.create_index("ix_activity_attendees_member_id", "activity_attendees", ["member_id"])


def downgrade() -> None:
    op.drop_table("activity_attendees")
    op.drop_table("activity_sign_ups")
    op.drop_table("activities")
