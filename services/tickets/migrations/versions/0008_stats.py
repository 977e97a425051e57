"""tickets: what the rates need (GET /v1/stats): when a ticket was answered, resolved, first overdue, how often
its resident was dissatisfied, its lead unit; registry's districts, streets and communities; indexes. And one read
model of registry's committees instead of two (committee_rosters folded into committees).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import UTCDateTime
from linli.shared.infra_migrations import read_model_columns

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _ticket_columns() -> list[sa.Column]:
    # Fresh columns each call: a Column belongs to the one table it was added to.
    return [
        sa.Column("responded_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("dissatisfied_ratings", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lead_unit_id", sa.Uuid(), nullable=True),
    ]


# Backfilled from the history (ticket_moves), which every move since 0004 wrote. Correlated subqueries in plain
# SQL, understood alike by PostgreSQL and SQLite.
_BACKFILL = (
    # Answered: the first move out of `submitted`.
    "UPDATE tickets SET responded_at = (SELECT min(m.at) FROM ticket_moves m WHERE m.ticket_id = tickets.id "
    "AND m.from_state = 'submitted' AND m.to_state <> 'submitted')",
    # The fix that stands: the last move into `resolved`, unless work was sent back after it.
    "UPDATE tickets SET resolved_at = (SELECT max(m.at) FROM ticket_moves m WHERE m.ticket_id = tickets.id "
    "AND m.to_state = 'resolved' AND m.from_state <> 'resolved') "
    "WHERE state IN ('resolved', 'reviewed', 'closed')",
    "UPDATE tickets SET resolved_at = NULL WHERE resolved_at IS NOT NULL AND EXISTS (SELECT 1 FROM ticket_moves m "
    "WHERE m.ticket_id = tickets.id AND m.seq > (SELECT max(r.seq) FROM ticket_moves r "
    "WHERE r.ticket_id = tickets.id AND r.to_state = 'resolved' AND r.from_state <> 'resolved') "
    "AND m.to_state IN ('dispatched', 'in_progress'))",
    "UPDATE tickets SET dissatisfied_ratings = (SELECT count(*) FROM ticket_moves m WHERE m.ticket_id = tickets.id "
    "AND m.verb = 'rate' AND m.reason = 'dissatisfied')",
    # When it turned overdue was not kept: the deadline it passed is the nearest known instant.
    "UPDATE tickets SET overdue_at = due_at WHERE overdue",
    "UPDATE tickets SET overdue_at = (SELECT min(p.due_at) FROM ticket_parts p WHERE p.ticket_id = tickets.id "
    "AND p.overdue) WHERE overdue_at IS NULL AND EXISTS (SELECT 1 FROM ticket_parts p "
    "WHERE p.ticket_id = tickets.id AND p.overdue)",
    # The lead: the last part named lead (a re-routing names a new one after the old).
    "UPDATE tickets SET lead_unit_id = (SELECT p.unit_id FROM ticket_parts p WHERE p.ticket_id = tickets.id "
    "AND p.lead ORDER BY p.position DESC LIMIT 1)",
)


def upgrade() -> None:
    for column in _ticket_columns():
        op.add_column("tickets", column)
    for statement in _BACKFILL:
        op.execute(statement)
    op.create_index("ix_tickets_lead_unit_created", "tickets", ["lead_unit_id", "created_at"])

    op.create_table(
        "areas",
        *read_model_columns(),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_areas"),
    )
    op.create_index("ix_areas_district_id", "areas", ["district_id"])
    op.create_index("ix_areas_parent_id", "areas", ["parent_id"])

    # committee_rosters (0005, for suggestions) and committees (0006, for escalation) were fed by the same events
    # at the same versions: one table now. A roster kept before 0006 has no committees row: it gets one, unnamed
    # until registry's next event of it.
    op.add_column("committees", sa.Column("time_zone", sa.String(64), nullable=False,
                                          server_default=DEFAULT_TIME_ZONE))
    op.execute("UPDATE committees SET time_zone = (SELECT r.time_zone FROM committee_rosters r "
               "WHERE r.id = committees.id) WHERE EXISTS (SELECT 1 FROM committee_rosters r WHERE r.id = committees.id)")
    op.execute("INSERT INTO committees (id, district_id, version, community_id, name, time_zone) "
               "SELECT r.id, r.district_id, r.version, r.community_id, '', r.time_zone FROM committee_rosters r "
               "WHERE NOT EXISTS (SELECT 1 FROM committees c WHERE c.id = r.id)")
    op.drop_table("committee_rosters")


def downgrade() -> None:
    op.create_table(
        "committee_rosters",
        *read_model_columns(),
        sa.Column("community_id", sa.Uuid(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_committee_rosters"),
    )
    op.create_index("ix_committee_rosters_district_id", "committee_rosters", ["district_id"])
    op.create_index("ix_committee_rosters_community_id", "committee_rosters", ["community_id"])
    op.execute("INSERT INTO committee_rosters (id, district_id, version, community_id, time_zone) "
               "SELECT id, district_id, version, community_id, time_zone FROM committees")
    with op.batch_alter_table("committees") as batch:
        batch.drop_column("time_zone")
    op.drop_table("areas")
    op.drop_index("ix_tickets_lead_unit_created", "tickets")
    with op.batch_alter_table("tickets") as batch:
        for column in reversed(_ticket_columns()):
            batch.drop_column(column.name)
