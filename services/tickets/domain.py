"""Rules of a ticket's life: its states, its deadline and when it turns overdue, and what others may see of it.

A deadline is an instant counted from submission by the category's SLA, so it means the same
whichever process checks it; a ticket turns overdue once, and only while the resident is still
owed an answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Kept importable from here: the masking rule is the suite's, and tickets' code names it as its own rule.
from linli.shared.phones import mask_phone as mask_phone

SUBMITTED = "submitted"
INITIAL_STATE = SUBMITTED
STATES = (SUBMITTED,)
# Open: the resident is still owed an answer, so the deadline runs. The state machine adds the closed
# states (closed, merged, rejected) later; deriving CLOSED_STATES keeps the two sets from disagreeing.
OPEN_STATES = frozenset({SUBMITTED})
CLOSED_STATES = frozenset(STATES) - OPEN_STATES

DEFAULT_CATEGORY = "general"
DEFAULT_SLA_HOURS = 72
# Hours from submission until a ticket of the category is overdue.
SLA_HOURS: dict[str, int] = {
    DEFAULT_CATEGORY: DEFAULT_SLA_HOURS,
    "environment": DEFAULT_SLA_HOURS,  # 环境卫生
    "facilities": DEFAULT_SLA_HOURS,  # 设施维修
    "dispute": DEFAULT_SLA_HOURS,  # 邻里纠纷
    "fast_track": 24,  # 急事急办: straight to a functional department with a short deadline
}
CATEGORIES = tuple(SLA_HOURS)


def due_at_for(category: str, submitted_at: datetime) -> datetime:
    """When a ticket of `category` submitted at `submitted_at` falls overdue."""
    if submitted_at.tzinfo is None:
        # A naive time would be read as local time somewhere and as UTC elsewhere; refuse it here.
        raise ValueError("submitted_at must be timezone-aware")
    return submitted_at + timedelta(hours=SLA_HOURS.get(category, DEFAULT_SLA_HOURS))


def becomes_overdue(state: str, overdue_already: bool) -> bool:
    """Whether a ticket whose deadline passed turns overdue now (once, and only while open)."""
    return state in OPEN_STATES and not overdue_already
