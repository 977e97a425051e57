"""area details: compounds' management and size, buildings' units and floors; grids' coverage

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_DETAILS = (
    ("management_mode", sa.String(20)),
    ("households", sa.Integer()),
    ("residents", sa.Integer()),
    ("year_built", sa.Integer()),
    ("property_company_id", sa.Uuid()),
    ("owners_committee_id", sa.Uuid()),
    ("units", sa.Integer()),
    ("floors", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("areas") as batch:
        for name, type_ in _DETAILS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "grid_coverage",
        sa.Column("grid_id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["areas.id"], name="fk_grid_coverage_grid_id_areas"),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name="fk_grid_coverage_area_id_areas"),
        sa.PrimaryKeyConstraint("grid_id", "area_id", name="pk_grid_coverage"),
    )
    op.create_index("ix_grid_coverage_area_id", "grid_coverage", ["area_id"])


def downgrade() -> None:
    op.drop_table("grid_coverage")
    with op.batch_alter_table("areas") as batch:
        for name, _ in reversed(_DETAILS):
            batch.drop_column(name)
