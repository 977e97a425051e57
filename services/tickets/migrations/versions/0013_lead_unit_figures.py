"""tickets: a unit's tickets indexed with what the rates read of them (lead unit, created_at, then the figures'
columns included), only the tickets with a lead, in place of the index by lead unit and creation over every ticket:
one unit's rates over a year read some twenty index pages instead of a thousand of the table's, and intake writes
to it no more (a ticket just submitted has no lead).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# As the index was made (models.LEAD_UNIT_FIGURES may change after).
_FIGURES = ["district_id", "master_id", "state", "stage", "due_at", "responded_at", "accept_due_at", "dispatch_due_at",
            "resolve_due_at", "resolved_at", "closed_at", "overdue_at", "rating", "dissatisfied_ratings"]
_LED = sa.text("lead_unit_id IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_tickets_lead_unit_figures", "tickets", ["lead_unit_id", "created_at"],
                    postgresql_include=_FIGURES, postgresql_where=_LED, sqlite_where=_LED)
    op.drop_index("ix_tickets_lead_unit_created", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_lead_unit_created", "tickets", ["lead_unit_id", "created_at"])
    op.drop_index("ix_tickets_lead_unit_figures", table_name="tickets")
