"""tickets: the rates' tallies by lead unit (ticket_unit_tallies), counted from the tickets there are; the median
index holds each resolved ticket's lead unit too, so the medians by unit read the index alone.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from linli.services.tickets.models import RESOLVED

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COUNTS = ("submitted", "duplicates", "rejected", "open", "response_due", "responded_in_time", "taken_on", "resolved",
           "ratings", "satisfied", "finished", "finished_on_time", "open_overdue",
           *(f"resolved_in_{k:02d}" for k in range(48)))


def _bucket_index(include: list[str]) -> None:
    bounds = ", ".join(str(round(600 * 1.3 ** k)) for k in range(47))
    op.execute("DROP INDEX IF EXISTS ix_tickets_resolve_bucket")
    op.create_index("ix_tickets_resolve_bucket", "tickets", [
        sa.text("district_id"),
        sa.text(f"width_bucket(EXTRACT(epoch FROM resolved_at - created_at), ARRAY[{bounds}]::numeric[])"),
        sa.text("created_at")], postgresql_include=include, postgresql_where=RESOLVED)


def upgrade() -> None:
    op.create_table(
        "ticket_unit_tallies",
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("span", sa.String(5), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in _COUNTS),
        sa.PrimaryKeyConstraint("district_id", "span", "day", "unit_id", name="pk_ticket_unit_tallies"),
    )
    if op.get_context().dialect.name == "postgresql":
        _bucket_index(["compound_id", "lead_unit_id", "resolved_at"])
    # Counted by the service's own code, as 0009 counts the tallies by community.
    from linli.services.tickets.tallies import UNITS, rebuild

    rebuild(Session(bind=op.get_bind()), ledgers=(UNITS,))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _bucket_index(["compound_id", "resolved_at"])
    op.drop_table("ticket_unit_tallies")
