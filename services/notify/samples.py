"""A sample event per ruled event type, as its producer sends it, and a sample world to resolve roles in.

Templates are checked against these at save time (a variable the sample lacks is one the event lacks) and
previews render them; `tests/unit/test_notify_samples.py` holds each sample to its producer's declared schema,
so a sample cannot drift from what the event really carries.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

DISTRICT = "sample-district"
COMMUNITY = "5a1e0000-0000-4000-8000-000000000001"
COMPOUND = "5a1e0000-0000-4000-8000-000000000002"
COMMITTEE = "5a1e0000-0000-4000-8000-000000000003"
TICKET = "5a1e0000-0000-4000-8000-000000000004"
POLICE = "5a1e0000-0000-4000-8000-000000000005"
SCHOOL = "5a1e0000-0000-4000-8000-000000000006"
HOSPITAL = "5a1e0000-0000-4000-8000-000000000007"
MEMBER = "5a1e0000-0000-4000-8000-000000000008"
CONVENOR = "5a1e0000-0000-4000-8000-000000000009"
ROTATION = "5a1e0000-0000-4000-8000-00000000000a"
TERM = "5a1e0000-0000-4000-8000-00000000000b"
PREVIOUS_TERM = "5a1e0000-0000-4000-8000-00000000000c"
CHECK_IN = "5a1e0000-0000-4000-8000-00000000000d"
SWAP = "5a1e0000-0000-4000-8000-00000000000e"
RECORD = "5a1e0000-0000-4000-8000-00000000000f"
COMMENT = "5a1e0000-0000-4000-8000-000000000010"
MEETING = "5a1e0000-0000-4000-8000-000000000011"
REPORT = "5a1e0000-0000-4000-8000-000000000012"

NAMES = {POLICE: "中山路派出所", SCHOOL: "永川中学", HOSPITAL: "区人民医院"}


def _part(unit: str, *, lead: bool, state: str = "dispatched") -> dict[str, Any]:
    return {"unit_id": unit, "unit_name": NAMES[unit], "lead": lead, "state": state,
            "due_at": "2026-03-11T09:30:00+00:00", "overdue": False}


_TICKET: dict[str, Any] = {
    "id": TICKET, "district_id": DISTRICT, "compound_id": COMPOUND, "building_id": None, "kind": "problem",
    "urgency": "normal", "source": "app", "title": "3栋楼道灯不亮", "description": "3栋2单元楼道灯一周没亮",
    "category": "public_facilities", "lat": None, "lon": None, "attachments": [],
    "reporter_name": "王**", "reporter_phone": "138****5678", "state": "submitted",
    "due_at": "2026-03-02T09:30:00+00:00", "overdue": False, "stage": "accept",
    "created_at": "2026-03-01T09:30:00+00:00", "version": 1,
    "community_id": COMMUNITY, "compound_name": "星光小区",
}


def _moved(verb: str, from_state: str, to_state: str, *, parts: list[dict[str, Any]] | None = None,
           unit_ids: list[str] | None = None, member_id: str | None = None, reason: str | None = None,
           **extra: Any) -> dict[str, Any]:
    return {**_TICKET, "state": to_state, "stage": "resolve" if parts else "accept", "version": 3,
            "parts": parts or [], "member_id": member_id, "master_id": None, "rating": None,
            "rating_comment": None,
            "move": {"verb": verb, "from_state": from_state, "to_state": to_state, "actor": "compound-app",
                     "at": "2026-03-01T10:00:00+00:00", "reason": reason, "note": None,
                     "unit_ids": unit_ids or [], "member_id": member_id},
            **extra}


_DISPATCHED = [_part(POLICE, lead=True), _part(SCHOOL, lead=False)]
_TERM_REF = {"id": TERM, "uid": f"{ROTATION}-3@linli", "index": 3, "part": 0, "organization_id": SCHOOL,
             "organization_name": NAMES[SCHOOL], "starts_at": "2026-02-28T16:00:00Z",
             "ends_at": "2026-05-31T16:00:00Z", "starts_on": "2026-03-01", "ends_on": "2026-05-31",
             "state": "running", "reason": "turn"}
_ABOUT_ROTATION = {"rotation_id": ROTATION, "district_id": DISTRICT, "committee_id": COMMITTEE,
                   "committee_name": "星光社区大党委"}
_ESCALATION = {"committee_id": COMMITTEE, "committee_name": "星光社区大党委", "chair_unit_id": HOSPITAL,
               "chair_unit_name": NAMES[HOSPITAL], "chair_term_index": 2,
               "chair_term_ends_at": "2026-05-31T16:00:00Z", "convenor_name": "李书记",
               "convenor_member_id": CONVENOR}
_DUE = {**_TICKET, "state": "dispatched", "stage": "resolve", "stage_due_at": "2026-03-11T09:30:00+00:00",
        "unit_ids": [POLICE], "parts": _DISPATCHED, "version": 5}
_SWAP = {"id": SWAP, "district_id": DISTRICT, "rotation_id": ROTATION, "committee_id": COMMITTEE,
         "committee_name": "星光社区大党委", "state": "requested", "organization_id": POLICE,
         "organization_name": NAMES[POLICE], "with_organization_id": SCHOOL, "with_organization_name": NAMES[SCHOOL],
         "term": {**_TERM_REF, "organization_id": POLICE, "organization_name": NAMES[POLICE], "index": 4,
                  "starts_on": "2026-06-01", "ends_on": "2026-08-31", "starts_at": "2026-05-31T16:00:00Z",
                  "ends_at": "2026-08-31T16:00:00Z", "state": "planned"},
         "with_term": {**_TERM_REF, "index": 5, "starts_on": "2026-09-01", "ends_on": "2026-11-30",
                       "starts_at": "2026-08-31T16:00:00Z", "ends_at": "2026-11-30T16:00:00Z", "state": "planned"},
         "reason": "六月有上级检查", "answer_reason": None, "expires_at": "2026-05-31T16:00:00Z", "version": 1}
_CHECK_IN = {"id": CHECK_IN, "district_id": DISTRICT, "member_id": MEMBER, "compound_id": COMPOUND,
             "building_id": None, "state": "confirmed", "decided_at": "2026-03-01T10:00:00+00:00", "reason": None,
             "ended_at": None, "branch_id": None, "version": 2}
_UNITS = [{"organization_id": org, "organization_name": NAMES[org], "organization_kind": "agency",
           "joined_on": "2025-01-01"} for org in (POLICE, SCHOOL, HOSPITAL)]

_TERM = {**_ABOUT_ROTATION, "term_id": TERM, "uid": _TERM_REF["uid"], "index": 3, "part": 0,
         "organization_id": SCHOOL, "organization_name": NAMES[SCHOOL], "starts_at": "2026-02-28T16:00:00Z",
         "ends_at": "2026-05-31T16:00:00Z", "starts_on": "2026-03-01", "ends_on": "2026-05-31"}
_TERM_NOTICE = {**_TERM, "community_id": COMMUNITY, "time_zone": "Asia/Shanghai",
                "report_due_at": "2026-06-14T16:00:00Z", "report_due_on": "2026-06-15"}
_MEETING = {"id": MEETING, "district_id": DISTRICT, "committee_id": COMMITTEE, "committee_name": "星光社区大党委",
            "community_id": COMMUNITY, "kind": "rule", "title": "第二季度联席会议", "state": "scheduled",
            "local_date": "2026-04-14", "local_time": "14:30", "time_zone": "Asia/Shanghai",
            "starts_at": "2026-04-14T06:30:00Z", "ends_at": "2026-04-14T08:00:00Z", "place": "星光社区党群服务中心",
            "convenor_member_id": CONVENOR, "convenor_name": "李书记", "uid": f"{MEETING}@linli", "reason": None,
            "free_items": ["老旧小区改造进度"], "version": 1}

SAMPLES: dict[str, dict[str, Any]] = {
    "tickets.ticket.submitted": _TICKET,
    "tickets.ticket.accepted": _moved("accept", "submitted", "accepted"),
    "tickets.ticket.rejected": _moved("reject", "submitted", "rejected", reason="不属于物业服务范围"),
    "tickets.ticket.escalated": _moved("escalate", "accepted", "escalated"),
    "tickets.ticket.listed": _moved("list", "escalated", "listed"),
    "tickets.ticket.dispatched": _moved("dispatch", "listed", "dispatched", parts=_DISPATCHED,
                                        unit_ids=[POLICE, SCHOOL]),
    "tickets.ticket.claimed": _moved("claim", "listed", "dispatched", parts=[_part(POLICE, lead=True)],
                                     unit_ids=[POLICE]),
    "tickets.ticket.resolved": _moved("resolve", "in_progress", "resolved",
                                      parts=[_part(POLICE, lead=True, state="resolved")], unit_ids=[POLICE]),
    "tickets.ticket.rerouted": _moved("reroute", "dispatched", "dispatched", parts=[
        _part(POLICE, lead=True, state="withdrawn"), _part(HOSPITAL, lead=True)], unit_ids=[HOSPITAL],
        previous_category="public_facilities", previous_unit_ids=[POLICE]),
    "tickets.ticket.reopened": _moved("reopen", "resolved", "in_progress", parts=[
        _part(POLICE, lead=True, state="in_progress")], reason="居民不满意"),
    "tickets.ticket.closed": _moved("close", "resolved", "closed", parts=[
        _part(POLICE, lead=True, state="resolved")], closed_reason=None, closed_at="2026-03-05T10:00:00+00:00",
        participants=[]),
    "tickets.ticket.merged": _moved("merge", "submitted", "submitted",
                                    master_id="5a1e0000-0000-4000-8000-0000000000ff"),
    "tickets.ticket.commented": {"id": COMMENT, "district_id": DISTRICT, "ticket_id": TICKET, "author": "police-app",
                                 "text": "已派民警到现场查看", "ticket_title": "3栋楼道灯不亮",
                                 "created_at": "2026-03-02T02:00:00+00:00", "version": 4},
    "tickets.ticket.due_soon": {**_DUE, "escalation": None},
    "tickets.ticket.overdue": {**_DUE, "overdue": True, "escalation": _ESCALATION},
    "rotation.term.started": _TERM,
    "rotation.term.ending_soon": {**_TERM_NOTICE, "ending_soon_days": 7},
    "rotation.term.ended": _TERM_NOTICE,
    "rotation.term.report_due": {**_TERM_NOTICE, "report_id": REPORT, "report_state": "missing"},
    "rotation.term.report_submitted": {
        "id": REPORT, "district_id": DISTRICT, "rotation_id": ROTATION, "committee_id": COMMITTEE,
        "committee_name": "星光社区大党委", "community_id": COMMUNITY, "term": {**_TERM_REF, "state": "ended"},
        "organization_id": SCHOOL, "organization_name": NAMES[SCHOOL], "state": "submitted",
        "due_at": "2026-06-14T16:00:00Z", "due_on": "2026-06-15", "submitted_at": "2026-06-10T02:00:00Z",
        "text": "本任期共召开联席会议1次，协调解决诉求12件。",
        "figures": {"tickets_listed": 5, "tickets_dispatched": 12, "tickets_closed": 11, "tickets_overdue": 1,
                    "activities_held": 3, "activities_hosted_by_chair": 2, "attendees": 86},
        "version": 2},
    "rotation.meeting.scheduled": _MEETING,
    "rotation.meeting.moved": {**_MEETING, "local_date": "2026-04-16", "starts_at": "2026-04-16T06:30:00Z",
                               "ends_at": "2026-04-16T08:00:00Z", "reason": "与区里会议冲突",
                               "previous_local_date": "2026-04-14", "previous_local_time": "14:30",
                               "previous_starts_at": "2026-04-14T06:30:00Z", "version": 2},
    "rotation.meeting.cancelled": {**_MEETING, "state": "cancelled", "reason": "防汛值守", "version": 2},
    "rotation.term.handed_over": {
        **_ABOUT_ROTATION, "handed_over_at": "2026-04-14T16:00:00Z", "handed_over_on": "2026-04-15",
        "cause": "chair_left", "reason": "单位撤并",
        "previous": {**_TERM_REF, "id": PREVIOUS_TERM, "organization_id": POLICE,
                     "organization_name": NAMES[POLICE], "ends_at": "2026-04-14T16:00:00Z", "ends_on": "2026-04-14",
                     "state": "ended"},
        "term": {**_TERM_REF, "part": 1, "starts_at": "2026-04-14T16:00:00Z", "starts_on": "2026-04-15",
                 "reason": "handover"}},
    "rotation.swap.requested": _SWAP,
    "rotation.swap.accepted": {**_SWAP, "state": "accepted", "answer_reason": "可以", "version": 2},
    "rotation.swap.declined": {**_SWAP, "state": "declined", "answer_reason": "九月有迎检任务", "version": 2},
    "rotation.schedule.gap_found": {**_ABOUT_ROTATION, "gaps": [{**_TERM_REF, "organization_id": None,
                                                        "organization_name": None, "state": "planned",
                                                        "reason": "gap"}], "version": 7},
    "registry.check_in.confirmed": _CHECK_IN,
    "registry.check_in.rejected": {**_CHECK_IN, "state": "rejected", "reason": "住址与登记不符"},
    "registry.service_record.verified": {
        "id": RECORD, "district_id": DISTRICT, "member_id": MEMBER, "source": "activity", "source_id": None,
        "served_on": "2026-03-01", "minutes": 150, "hours": 2.5, "category": "cleaning", "note": None,
        "state": "verified", "decided_at": "2026-03-02T02:00:00+00:00", "decided_by": "branch-app", "reason": None,
        "version": 2},
    "registry.committee.unit_joined": {
        "id": COMMITTEE, "district_id": DISTRICT, "community_id": COMMUNITY, "name": "星光社区大党委",
        "time_zone": "Asia/Shanghai", "convenor_name": "李书记", "convenor_member_id": CONVENOR, "units": _UNITS,
        "version": 4, "organization_id": HOSPITAL, "organization_name": NAMES[HOSPITAL],
        "organization_kind": "hospital", "joined_on": "2026-03-01", "left_on": None, "left_reason": None},
}


def sample(event_type: str) -> dict[str, Any] | None:
    """A fresh copy of the sample of `event_type` (callers may change it), or None if there is none."""
    found = SAMPLES.get(event_type)
    return None if found is None else copy.deepcopy(found)


class SampleDirectory:
    """The sample world: the committee of the sample community, its chair, convenor and units."""

    def committee_of(self, community_id: str) -> str | None:
        return COMMITTEE if community_id == COMMUNITY else None

    def chair_of(self, committee_id: str) -> str | None:
        return HOSPITAL if committee_id == COMMITTEE else None

    def convenor_of(self, committee_id: str) -> str | None:
        return CONVENOR if committee_id == COMMITTEE else None

    def units_of(self, committee_id: str) -> list[str]:
        return [POLICE, SCHOOL, HOSPITAL] if committee_id == COMMITTEE else []

    def ticket(self, ticket_id: str) -> Mapping[str, Any] | None:
        if ticket_id != TICKET:
            return None
        return {"compound_id": COMPOUND, "community_id": COMMUNITY, "assignees": [f"organization:{POLICE}"]}

    def has_reporter(self, ticket_id: str) -> bool:
        return ticket_id == TICKET
