"""Joint meetings over HTTP: a rule per committee, meetings planned a year ahead, re-planned on a rule edit,
ad hoc, moved, cancelled and held; the convenor from registry's committee."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from linli.services.rotation.models import Meeting
from linli.shared.tables import outbox
from tests.support.ticket_events import moved_ticket

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
READ, WRITE = "rotation:read", "rotation:write rotation:read"
SECRETARY = str(uuid.uuid4())


def committee(sut, district=YONGCHUAN, units=("永川区人民医院", "永川供电公司", "中山路派出所")):
    """registry's committee with its convenor and units, as registry's events tell rotation."""
    data = {"id": str(uuid.uuid4()), "district_id": district, "community_id": str(uuid.uuid4()),
            "name": "星光社区大党委", "time_zone": "Asia/Shanghai", "convenor_name": "张书记",
            "convenor_member_id": SECRETARY, "units": [], "version": 1}
    assert sut.deliver("registry.committee.created", data) == "applied"
    for name in units:
        unit = {"organization_id": str(uuid.uuid4()), "organization_name": name, "organization_kind": "agency",
                "joined_on": "2020-01-01"}
        data = {**data, "units": [*data["units"], unit], "version": data["version"] + 1}
        assert sut.deliver("registry.committee.unit_joined", {**data, **unit, "left_on": None,
                                                              "left_reason": None}) == "applied"
    return data


def events(sut, key):
    with sut.rt.factory() as s:
        rows = s.execute(select(outbox.c.body).where(outbox.c.routing_key == key).order_by(outbox.c.seq))
        return [json.loads(row.body) for row in rows]


def set_rule(sut, data, district=YONGCHUAN, **body):
    body = {"starts_on": (date.today() + timedelta(days=10)).isoformat(), **body}
    return sut.client.put(f"/v1/committees/{data['id']}/meeting-rule", json=body, headers=sut.as_(district, WRITE))


def listed(sut, data, district=YONGCHUAN, **query):
    r = sut.client.get("/v1/meetings", query_string={"committee_id": data["id"], "limit": 200, **query},
                       headers=sut.as_(district, READ))
    assert r.status_code == 200, r.json
    return r.json["items"]


def begin(sut, meeting_id):
    """The meeting's time came: move it into the past, as the calendar would."""
    past = datetime.now(UTC) - timedelta(hours=1)
    with sut.rt.factory() as s:
        s.execute(update(Meeting).where(Meeting.id == uuid.UUID(meeting_id)).values(
            starts_at=past, ends_at=past + timedelta(hours=2)))
        s.commit()


def test_a_quarterly_rule_by_default_plans_a_year_of_meetings_convened_by_the_party_secretary(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    r = set_rule(sut, data, place="社区会议室")
    assert r.status_code == 200, r.json
    assert r.json["rrule"] == "FREQ=MONTHLY;INTERVAL=3" and r.json["local_time"] == "09:30"
    planned = listed(sut, data)
    assert len(planned) in (4, 5)
    first = planned[0]
    assert first["local_time"] == "09:30" and first["place"] == "社区会议室" and first["state"] == "scheduled"
    assert first["convenor_member_id"] == SECRETARY and first["convenor_name"] == "张书记"
    # 09:30 in Shanghai is 01:30 UTC.
    assert first["starts_at"].endswith("01:30:00+00:00")
    days = [date.fromisoformat(m["local_date"]) for m in planned]
    assert all((b.year * 12 + b.month) - (a.year * 12 + a.month) == 3 for a, b in zip(days, days[1:], strict=False))
    sent = events(sut, "rotation.meeting.scheduled")
    assert len(sent) == len(planned)
    payload = sent[0]["data"]
    assert payload["committee_name"] == "星光社区大党委" and payload["community_id"] == data["community_id"]
    assert payload["local_time"] == "09:30" and payload["place"] == "社区会议室"
    assert payload["convenor_name"] == "张书记" and payload["local_date"] == first["local_date"]


def test_the_second_tuesday_of_each_quarters_first_month(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    r = set_rule(sut, data, rrule="FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=2TU", local_time="14:00",
                 duration_minutes=90)
    assert r.status_code == 200, r.json
    planned = listed(sut, data)
    assert len(planned) == 4
    for meeting in planned:
        day = date.fromisoformat(meeting["local_date"])
        assert day.month in (1, 4, 7, 10) and day.weekday() == 1 and 8 <= day.day <= 14
        assert meeting["duration_minutes"] == 90 and meeting["local_time"] == "14:00"


def test_bad_rules_are_refused_naming_the_field_and_change_nothing(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    for rrule in ("FREQ=HOURLY", "FREQ=MINUTELY;INTERVAL=5", "FREQ=DAILY;BYHOUR=9,15", "FREQ=SOMETIMES", "nonsense",
                  "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", "DTSTART:20260101T000000\nRRULE:FREQ=DAILY",
                  "FREQ=WEEKLY;BYDAY=XX", "FREQ=MONTHLY;COUNT=2;UNTIL=20300101"):
        r = set_rule(sut, data, rrule=rrule)
        assert r.status_code == 422, (rrule, r.json)
        assert "rrule" in r.json["errors"], (rrule, r.json)
    assert set_rule(sut, data, local_time="25:00").status_code == 422
    assert set_rule(sut, data, duration_minutes=0).json["errors"].keys() == {"duration_minutes"}
    assert listed(sut, data) == [] and events(sut, "rotation.meeting.scheduled") == []


def test_editing_the_rule_replans_only_future_scheduled_meetings(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    op = sut.as_(YONGCHUAN, WRITE)
    assert set_rule(sut, data, rrule="FREQ=MONTHLY").status_code == 200
    planned = listed(sut, data)
    held, called_off = planned[0], planned[1]
    begin(sut, held["id"])
    assert sut.client.post(f"/v1/meetings/{held['id']}/hold", json={"attendance": []}, headers=op).status_code == 200
    assert sut.client.post(f"/v1/meetings/{called_off['id']}/cancel", json={"reason": "防汛"},
                           headers=op).status_code == 200
    # Same days, another hour: the meetings kept move (same UID); the held and the cancelled stay.
    r = set_rule(sut, data, rrule="FREQ=MONTHLY", local_time="15:00", reason="改为下午")
    assert r.status_code == 200, r.json
    after = {m["id"]: m for m in listed(sut, data)}
    assert after[held["id"]]["state"] == "held" and after[held["id"]]["local_time"] == "09:30"
    assert after[called_off["id"]]["state"] == "cancelled" and after[called_off["id"]]["reason"] == "防汛"
    future = [m for m in after.values() if m["state"] == "scheduled"]
    assert future and all(m["local_time"] == "15:00" for m in future)
    assert {m["uid"] for m in planned} == {m["uid"] for m in after.values()}
    moved = events(sut, "rotation.meeting.moved")
    assert len(moved) == len(future) and moved[0]["data"]["previous_local_time"] == "09:30"
    assert moved[0]["data"]["reason"] == "改为下午"
    # Every other month instead: the dropped months are cancelled, nothing is added twice.
    assert set_rule(sut, data, rrule="FREQ=MONTHLY;INTERVAL=2", local_time="15:00").status_code == 200
    final = listed(sut, data)
    scheduled = [m for m in final if m["state"] == "scheduled"]
    dropped = [m for m in final if m["state"] == "cancelled" and m["id"] != called_off["id"]]
    assert dropped and all(m["reason"] for m in dropped)
    assert len({m["rule_day"] for m in final}) == len(final)
    days = sorted(date.fromisoformat(m["local_date"]) for m in scheduled)
    assert all((b.year * 12 + b.month) - (a.year * 12 + a.month) == 2 for a, b in zip(days, days[1:], strict=False))
    assert len(events(sut, "rotation.meeting.cancelled")) == 1 + len(dropped)


def test_an_ad_hoc_meeting_is_moved_and_cancelled_with_reasons(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    op = sut.as_(YONGCHUAN, WRITE)
    day = (date.today() + timedelta(days=20)).isoformat()
    body = {"committee_id": data["id"], "date": day, "time": "19:00", "place": "星光小区活动室",
            "free_items": ["加装电梯意见征集"]}
    r = sut.client.post("/v1/meetings", json=body, headers=op)
    assert r.status_code == 201, r.json
    meeting = r.json
    assert meeting["kind"] == "ad_hoc" and meeting["title"] == "星光社区大党委联席会议"
    assert meeting["free_items"] == ["加装电梯意见征集"] and meeting["convenor_name"] == "张书记"
    later = (date.today() + timedelta(days=21)).isoformat()
    r = sut.client.post(f"/v1/meetings/{meeting['id']}/move", json={"date": later, "time": "09:00",
                                                                     "reason": "书记出差"},
                        headers={**op, "If-Match": f'"{meeting["version"]}"'})
    assert r.status_code == 200, r.json
    assert r.json["local_date"] == later and r.json["moved"] and r.json["reason"] == "书记出差"
    assert r.json["uid"] == meeting["uid"]
    assert events(sut, "rotation.meeting.moved")[0]["data"]["previous_local_date"] == day
    r = sut.client.post(f"/v1/meetings/{meeting['id']}/cancel", json={"reason": "疫情防控"}, headers=op)
    assert r.status_code == 200 and r.json["state"] == "cancelled" and r.json["reason"] == "疫情防控"
    assert events(sut, "rotation.meeting.cancelled")[0]["data"]["reason"] == "疫情防控"
    # Cancelled is final.
    for verb, body in (("cancel", {"reason": "x"}), ("move", {"date": later, "time": "10:00", "reason": "x"}),
                       ("hold", {"attendance": []})):
        assert sut.client.post(f"/v1/meetings/{meeting['id']}/{verb}", json=body, headers=op).status_code == 409
    # A meeting in the past cannot be called.
    r = sut.client.post("/v1/meetings", json={"committee_id": data["id"], "date": "2020-01-01", "time": "09:00"},
                        headers=op)
    assert r.status_code == 422 and "date" in r.json["errors"]


def test_holding_records_attendance_of_the_units_minutes_and_decisions(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    op = sut.as_(YONGCHUAN, WRITE)
    units = [u["organization_id"] for u in data["units"]]
    day = (date.today() + timedelta(days=3)).isoformat()
    meeting = sut.client.post("/v1/meetings", json={"committee_id": data["id"], "date": day, "time": "09:00",
                                                    "free_items": ["老旧小区改造"]}, headers=op).json
    hold = {"attendance": [{"organization_id": units[0], "status": "present"},
                           {"organization_id": units[1], "status": "excused"}],
            "minutes": "会议研究了楼道灯维修和老旧小区改造。",
            "decisions": [{"ticket_id": str(uuid.uuid4()), "kind": "dispatch", "unit_ids": [units[2]],
                           "note": "派单至派出所"},
                          {"ticket_id": str(uuid.uuid4()), "kind": "list"}]}
    # Not yet begun: nothing to record.
    assert sut.client.post(f"/v1/meetings/{meeting['id']}/hold", json=hold, headers=op).status_code == 409
    begin(sut, meeting["id"])
    stranger = {**hold, "attendance": [{"organization_id": str(uuid.uuid4()), "status": "present"}]}
    r = sut.client.post(f"/v1/meetings/{meeting['id']}/hold", json=stranger, headers=op)
    assert r.status_code == 422 and "attendance.0.organization_id" in r.json["errors"]
    no_units = {**hold, "decisions": [{"ticket_id": str(uuid.uuid4()), "kind": "dispatch", "unit_ids": []}]}
    r = sut.client.post(f"/v1/meetings/{meeting['id']}/hold", json=no_units, headers=op)
    assert r.status_code == 422 and "decisions.0.unit_ids" in r.json["errors"]
    r = sut.client.post(f"/v1/meetings/{meeting['id']}/hold", json=hold, headers=op)
    assert r.status_code == 200, r.json
    assert r.json["state"] == "held" and r.json["minutes"].startswith("会议研究")
    assert [a["status"] for a in r.json["attendance"]] == ["present", "excused", "absent"]
    assert r.json["decisions"][0]["unit_ids"] == [units[2]] and r.json["decisions"][1]["unit_ids"] == []
    sent = events(sut, "rotation.meeting.held")
    assert len(sent) == 1
    held = sent[0]["data"]
    assert held["attendance"][2] == {"organization_id": units[2], "organization_name": "中山路派出所",
                                     "status": "absent"}
    assert held["decisions"][0]["kind"] == "dispatch" and held["convenor_member_id"] == SECRETARY
    assert held["agenda"] == [{"kind": "free", "text": "老旧小区改造", "ticket_id": None}]
    assert sut.client.post(f"/v1/meetings/{meeting['id']}/hold", json=hold, headers=op).status_code == 409


def test_another_districts_meetings_and_rules_answer_404(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    assert set_rule(sut, data).status_code == 200
    meeting = listed(sut, data)[0]
    other = sut.as_(BISHAN, WRITE)
    assert sut.client.get(f"/v1/meetings/{meeting['id']}", headers=other).status_code == 404
    assert sut.client.get(f"/v1/meetings/{meeting['id']}/agenda", headers=other).status_code == 404
    assert sut.client.post(f"/v1/meetings/{meeting['id']}/cancel", json={"reason": "x"},
                           headers=other).status_code == 404
    assert sut.client.get(f"/v1/committees/{data['id']}/meeting-rule", headers=other).status_code == 404
    assert set_rule(sut, data, district=BISHAN).status_code == 404
    assert listed(sut, data, district=BISHAN) == []
    r = sut.client.post("/v1/meetings", json={"committee_id": data["id"], "date": "2099-01-01", "time": "09:00"},
                        headers=other)
    assert r.status_code == 422 and "committee_id" in r.json["errors"]


def test_a_new_party_secretary_convenes_the_meetings_scheduled_after(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    newer = {**data, "convenor_name": "李书记", "convenor_member_id": str(uuid.uuid4()),
             "version": data["version"] + 1}
    assert sut.deliver("registry.committee.updated", newer) == "applied"
    assert set_rule(sut, data).status_code == 200
    assert {m["convenor_name"] for m in listed(sut, data)} == {"李书记"}


def list_ticket(sut, data, title, state="listed", verb="listed", version=4, ticket_id=None, community=None):
    """tickets' event for a ticket of the committee's community, listed for the joint meeting (挂单)."""
    ticket_id = ticket_id or str(uuid.uuid4())
    payload = moved_ticket(verb, state, ticket_id=ticket_id, district_id=data["district_id"],
                           compound_id=str(uuid.uuid4()), community_id=community or data["community_id"],
                           version=version, at=datetime.now(UTC).isoformat(), title=title)
    assert sut.deliver(f"tickets.ticket.{verb}", payload) == "applied"
    return ticket_id


def test_the_agenda_is_the_communitys_listed_tickets_then_free_items_and_is_kept_as_held(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    op = sut.as_(YONGCHUAN, WRITE)
    lamp = list_ticket(sut, data, "小区路灯不亮")
    lift = list_ticket(sut, data, "加装电梯")
    list_ticket(sut, data, "别的社区的事", community=str(uuid.uuid4()))
    meeting = sut.client.post("/v1/meetings", json={
        "committee_id": data["id"], "date": (date.today() + timedelta(days=2)).isoformat(), "time": "09:00",
        "free_items": ["老旧小区改造"]}, headers=op).json
    r = sut.client.get(f"/v1/meetings/{meeting['id']}/agenda", headers=sut.as_(YONGCHUAN, READ))
    assert r.status_code == 200, r.json
    assert [(i["kind"], i["text"]) for i in r.json["items"]] == [
        ("ticket", "小区路灯不亮"), ("ticket", "加装电梯"), ("free", "老旧小区改造")]
    assert r.json["items"][0]["ticket_id"] == lamp
    # The lift ticket is dispatched elsewhere before the meeting: it leaves the agenda.
    list_ticket(sut, data, "加装电梯", state="dispatched", verb="dispatched", version=5, ticket_id=lift)
    r = sut.client.patch(f"/v1/meetings/{meeting['id']}", json={"free_items": ["老旧小区改造", "垃圾分类"]},
                         headers=op)
    assert r.status_code == 200 and r.json["free_items"] == ["老旧小区改造", "垃圾分类"]
    assert events(sut, "rotation.meeting.updated")[0]["data"]["free_items"] == ["老旧小区改造", "垃圾分类"]
    begin(sut, meeting["id"])
    unit = data["units"][2]["organization_id"]
    r = sut.client.post(f"/v1/meetings/{meeting['id']}/hold", json={
        "attendance": [{"organization_id": unit, "status": "present"}],
        "decisions": [{"ticket_id": lamp, "kind": "dispatch", "unit_ids": [unit], "note": "派出所牵头"}]}, headers=op)
    assert r.status_code == 200, r.json
    held = events(sut, "rotation.meeting.held")[0]["data"]
    assert [i["text"] for i in held["agenda"]] == ["小区路灯不亮", "老旧小区改造", "垃圾分类"]
    # Later ticket events do not rewrite the agenda of a meeting already held.
    list_ticket(sut, data, "新挂的单")
    r = sut.client.get(f"/v1/meetings/{meeting['id']}/agenda", headers=sut.as_(YONGCHUAN, READ))
    assert [i["text"] for i in r.json["items"]] == ["小区路灯不亮", "老旧小区改造", "垃圾分类"]


def test_a_decision_on_a_ticket_of_another_community_is_refused(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    op = sut.as_(YONGCHUAN, WRITE)
    foreign = list_ticket(sut, data, "别的社区的事", community=str(uuid.uuid4()))
    meeting = sut.client.post("/v1/meetings", json={
        "committee_id": data["id"], "date": (date.today() + timedelta(days=2)).isoformat(), "time": "09:00"},
        headers=op).json
    begin(sut, meeting["id"])
    r = sut.client.post(f"/v1/meetings/{meeting['id']}/hold", json={
        "attendance": [], "decisions": [{"ticket_id": foreign, "kind": "list"}]}, headers=op)
    assert r.status_code == 422 and "decisions.0.ticket_id" in r.json["errors"]
    assert sut.client.get(f"/v1/meetings/{meeting['id']}", headers=op).json["state"] == "scheduled"


def test_the_clock_keeps_a_year_of_meetings_ahead_as_time_passes(make_service):
    from linli.services.rotation import clock, usecases
    from linli.services.rotation.models import MeetingRule
    from linli.shared.clock import Timer
    from linli.shared.tables import timers

    sut = make_service("rotation")
    data = committee(sut)
    assert set_rule(sut, data, rrule="FREQ=MONTHLY").status_code == 200
    before = listed(sut, data)
    with sut.rt.factory() as s:
        rule = s.scalars(select(MeetingRule)).one()
        [due] = s.execute(select(timers).where(timers.c.kind == usecases.MEETING_RULE_EXTEND)).all()
        assert due.subject_id == str(rule.id) and due.due_at > datetime.now(UTC) + timedelta(days=6)
        later = datetime.now(UTC) + timedelta(days=95)
        timer = Timer(id=due.id, kind=due.kind, subject_id=due.subject_id, district_id=due.district_id,
                      due_at=due.due_at, payload={})
        clock.TIMERS[usecases.MEETING_RULE_EXTEND](s, timer, later)
        s.commit()
        assert s.get_one(MeetingRule, rule.id).planned_until == later + timedelta(days=366)
    after = listed(sut, data)
    assert [m["id"] for m in after[:len(before)]] == [m["id"] for m in before]
    assert len(after) - len(before) == 3  # three more months came within the year ahead
    assert datetime.fromisoformat(after[-1]["starts_at"]) <= later + timedelta(days=366)


def test_a_meeting_moved_past_its_rule_day_survives_the_clocks_next_step(make_service):
    from linli.services.rotation import usecases
    from linli.services.rotation.models import MeetingRule

    sut = make_service("rotation")
    data = committee(sut)
    assert set_rule(sut, data, rrule="FREQ=MONTHLY").status_code == 200
    first = listed(sut, data)[0]
    rule_day = date.fromisoformat(first["rule_day"])
    later = (rule_day + timedelta(days=5)).isoformat()
    move = {"date": later, "time": "10:00", "reason": "避开节假日"}
    r = sut.client.post(f"/v1/meetings/{first['id']}/move", json=move, headers=sut.as_(YONGCHUAN, WRITE))
    assert r.status_code == 200, r.json
    # Two days after the rule day, before the moved meeting: the clock re-plans, the moved meeting stays.
    with sut.rt.factory() as s:
        rule = s.scalars(select(MeetingRule)).one()
        usecases.extend_meetings(s, rule.id, datetime.combine(rule_day + timedelta(days=2), datetime.min.time(), UTC))
        s.commit()
    again = sut.client.get(f"/v1/meetings/{first['id']}", headers=sut.as_(YONGCHUAN, READ)).json
    assert (again["state"], again["local_date"], again["local_time"]) == ("scheduled", later, "10:00")
