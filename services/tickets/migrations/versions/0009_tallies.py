"""tickets: the rates' tallies by day and month (ticket_tallies), counted from the tickets there are; partial indexes
for the rates' pending part and for their medians (on PostgreSQL, by bucket of time to resolve too).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from linli.services.tickets.models import RESOLVED, UNSETTLED

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COUNTS = ("submitted", "duplicates", "rejected", "open", "response_due", "responded_in_time", "taken_on", "resolved",
           "ratings", "satisfied", "finished", "finished_on_time", "open_overdue",
           *(f"resolved_in_{k:02d}" for k in range(48)))


def upgrade() -> None:
    op.create_table(
        "ticket_tallies",
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("span", sa.String(5), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in _COUNTS),
        sa.PrimaryKeyConstraint("district_id", "span", "day", "community_id", name="pk_ticket_tallies"),
    )
    op.create_index("ix_tickets_unsettled", "tickets", ["district_id", "created_at"],
                    postgresql_where=UNSETTLED, sqlite_where=UNSETTLED)
    op.create_index("ix_tickets_resolved", "tickets", ["district_id", "created_at"],
                    postgresql_include=["compound_id", "resolved_at"],
                    postgresql_where=RESOLVED, sqlite_where=RESOLVED)
    if op.get_context().dialect.name == "postgresql":
        bounds = ", ".join(str(round(600 * 1.3 ** k)) for k in range(47))
        op.create_index("ix_tickets_resolve_bucket", "tickets", [
            sa.text("district_id"),
            sa.text(f"width_bucket(EXTRACT(epoch FROM resolved_at - created_at), ARRAY[{bounds}]::numeric[])"),
            sa.text("created_at")], postgresql_include=["compound_id", "resolved_at"], postgresql_where=RESOLVED)
    # Counted by the service's own code, so the tallies start as its moves will keep them (one definition of what a
    # ticket counts for, rates.settled). A million tickets take about a minute.
    from linli.services.tickets.tallies import COMMUNITIES, rebuild

    rebuild(Session(bind=op.get_bind()), ledgers=(COMMUNITIES,))


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_tickets_resolve_bucket")
    op.drop_index("ix_tickets_resolved", table_name="tickets")
    op.drop_index("ix_tickets_unsettled", table_name="tickets")
    op.drop_table("ticket_tallies")
