"""party members with their skills, roles, pledges and check-ins; pg_trgm for searching names

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
    if op.get_bind().dialect.name == "postgresql":
        # Trigram indexes find a fragment anywhere in a name, Chinese included; pg_trgm is a trusted extension.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "members",
        *entity_columns(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("employer_id", sa.Uuid(), nullable=True),
        sa.Column("compound_id", sa.Uuid(), nullable=False),
        sa.Column("building_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("membership", sa.String(20), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["employer_id"], ["organizations.id"], name="fk_members_employer_id_organizations"),
        sa.ForeignKeyConstraint(["compound_id"], ["areas.id"], name="fk_members_compound_id_areas"),
        sa.ForeignKeyConstraint(["building_id"], ["areas.id"], name="fk_members_building_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
    )
    op.create_index("ix_members_district_created", "members", ["district_id", "created_at", "id"])
    op.create_index("uq_members_district_phone", "members", ["district_id", "phone"], unique=True)
    op.create_index("ix_members_compound_created", "members", ["compound_id", "created_at", "id"])
    op.create_index("ix_members_building", "members", ["building_id"])
    op.create_index("ix_members_employer", "members", ["employer_id"])
    op.create_index("ix_members_name_trgm", "members", ["name"], postgresql_using="gin",
                    postgresql_ops={"name": "gin_trgm_ops"})
    op.create_index("ix_members_district_id", "members", ["district_id"])

    op.create_table(
        "member_skills",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("skill", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_member_skills_member_id_members"),
        sa.PrimaryKeyConstraint("member_id", "skill", name="pk_member_skills"),
    )
    op.create_index("ix_member_skills_skill", "member_skills", ["skill", "member_id"])
    op.create_table(
        "member_roles",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_member_roles_member_id_members"),
        sa.PrimaryKeyConstraint("member_id", "role", name="pk_member_roles"),
    )
    op.create_index("ix_member_roles_role", "member_roles", ["role", "member_id"])

    op.create_table(
        "pledges",
        *entity_columns(),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fulfilled_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_pledges_member_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_pledges"),
    )
    op.create_index("ix_pledges_member_created", "pledges", ["member_id", "created_at", "id"])
    op.create_index("ix_pledges_district_id", "pledges", ["district_id"])

    op.create_table(
        "check_ins",
        *entity_columns(),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("compound_id", sa.Uuid(), nullable=False),
        sa.Column("building_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_check_ins_member_id_members"),
        sa.ForeignKeyConstraint(["compound_id"], ["areas.id"], name="fk_check_ins_compound_id_areas"),
        sa.ForeignKeyConstraint(["building_id"], ["areas.id"], name="fk_check_ins_building_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_check_ins"),
    )
    op.create_index("ix_check_ins_district_created", "check_ins", ["district_id", "created_at", "id"])
    op.create_index("ix_check_ins_member_created", "check_ins", ["member_id", "created_at", "id"])
    op.create_index("ix_check_ins_compound_created", "check_ins", ["compound_id", "created_at", "id"])
    for state in ("submitted", "confirmed"):
        op.create_index(f"uq_check_ins_{state}", "check_ins", ["member_id"], unique=True,
                        sqlite_where=sa.text(f"state = '{state}'"), postgresql_where=sa.text(f"state = '{state}'"))
    op.create_index("ix_check_ins_district_id", "check_ins", ["district_id"])


def downgrade() -> None:
    op.drop_table("check_ins")
    op.drop_table("pledges")
    op.drop_table("member_roles")
    op.drop_table("member_skills")
    op.drop_table("members")
