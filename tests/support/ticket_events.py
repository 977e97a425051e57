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
        "description": "3栋2单元楼道灯一周没亮", "category": "facilities", "lat": None, "lon": None,
        "attachments": [], "reporter_name": "王**", "reporter_phone": "138****5678", "state": "closed",
        "due_at": "2025-03-04T02:00:00+00:00", "overdue": False, "created_at": "2025-03-01T02:00:00+00:00",
        "version": 9, "parts": [], "closed_reason": None, "closed_at": closed_at, "participants": participants,
        "move": {"verb": "close", "from_state": "reviewed", "to_state": "closed", "actor": "clerk", "at": closed_at,
                 "reason": None, "note": None, "unit_ids": []},
        **fields,
    }


def moved_ticket(verb: str, state: str, *, ticket_id: str, district_id: str, compound_id: str,
                 community_id: str | None, version: int, at: str, **fields: Any) -> dict[str, Any]:
    """A payload of tickets' lifecycle event `tickets.ticket.<verb>` (matching its contract): the ticket in `state`
    after the move at `at`. On `overdue`, `at` is the deadline that passed (`stage_due_at`)."""
    payload: dict[str, Any] = {
        "id": ticket_id, "district_id": district_id, "compound_id": compound_id, "building_id": None,
        "kind": "problem", "urgency": "normal", "source": "resident", "title": "小区路灯不亮",
        "description": "5栋门口路灯坏了两周", "category": "facilities", "lat": None, "lon": None,
        "attachments": [], "reporter_name": "李**", "reporter_phone": "139****1234", "state": state,
        "due_at": at, "overdue": verb == "overdue", "stage": None, "created_at": at, "version": version,
    }
    if verb == "submitted":
        return {**payload, **fields}
    payload.update({"community_id": community_id, "compound_name": "星光小区", "parts": []})
    if verb in ("overdue", "due_soon"):
        payload.update({"stage": "resolve", "stage_due_at": at, "unit_ids": [], "escalation": None})
    else:
        payload.update({"member_id": None, "master_id": None, "rating": None, "rating_comment": None})
        payload["move"] = {"verb": verb, "from_state": "escalated", "to_state": state, "actor": "clerk", "at": at,
                           "reason": None, "note": None, "unit_ids": [], "member_id": None}
    if verb == "closed":
        payload.update({"closed_reason": None, "closed_at": at, "participants": []})
    return {**payload, **fields}
