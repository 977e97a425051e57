"""tickets' events as tickets would publish them, for tests of the services that consume them."""

from __future__ import annotations

import uuid
from typing import Any


def closed_ticket(district_id: str, compound_id: str, participants: list[dict[str, Any]], *,
                  closed_at: str = "2025-03-01T17:30:00+00:00", **fields: Any) -> dict[str, Any]:
    """A `tickets.ticket.closed` payload matching tickets' contract, fixed and closed at `closed_at`."""
    return {
        "id": str(uuid.uuid4()), "district_id": district_id, "compound_id": compound_id, "building_id": None,
        "kind": "problem", "urgency": "normal", "source": "resident", "title": "楼道灯坏了",
        "description": "3栋2单元楼道灯一周没亮", "category": "facilities", "address": None, "lat": None, "lon": None,
        "attachments": [], "reporter_name": "王阿姨", "reporter_phone": "138****5678", "state": "closed",
        "due_at": "2025-03-04T02:00:00+00:00", "overdue": False, "created_at": "2025-03-01T02:00:00+00:00",
        "version": 9, "parts": [], "closed_reason": None, "closed_at": closed_at, "participants": participants,
        "move": {"verb": "close", "from_state": "reviewed", "to_state": "closed", "actor": "clerk", "at": closed_at,
                 "reason": None, "note": None, "unit_ids": []},
        **fields,
    }
