"""tickets: the rates' tallies by week too (a week's row holds its Monday's date), added up from the day rows already
there, in both tables of tallies; a month-long period then reads about a third of the rows it read.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_COUNTS = ("submitted", "duplicates", "rejected", "open", "response_due", "responded_in_time", "taken_on", "resolved",
           "ratings", "satisfied", "finished", "finished_on_time", "open_overdue",
           *(f"resolved_in_{k:02d}" for k in range(48)))
_TABLES = (("ticket_tallies", "community_id"), ("ticket_unit_tallies", "unit_id"))


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        monday = "day - (EXTRACT(ISODOW FROM day)::int - 1)"
    else:
        monday = "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')"
    counts = ", ".join(_COUNTS)
    for table, group in _TABLES:
        # 0009 and 0010 count with the service's code of the day, which may have written week rows already.
        op.execute(f"DELETE FROM {table} WHERE span = 'week'")
        op.execute(f"INSERT INTO {table} (district_id, span, day, {group}, {counts}) "
                   f"SELECT district_id, 'week', {monday}, {group}, {', '.join(f'sum({c})' for c in _COUNTS)} "
                   f"FROM {table} WHERE span = 'day' GROUP BY district_id, {monday}, {group}")


def downgrade() -> None:
    for table, _ in _TABLES:
        op.execute(f"DELETE FROM {table} WHERE span = 'week'")
