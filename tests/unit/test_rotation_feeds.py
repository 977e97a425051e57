"""iCalendar feeds of terms and meetings, read back with vobject (a parser independent of the icalendar
package that writes them): secret URL tokens, stable UIDs, cancellations with higher SEQUENCEs, time zones."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import vobject
from sqlalchemy import select

from linli.services.rotation.models import Feed
from tests.unit.test_rotation_meetings_api import BISHAN, READ, WRITE, YONGCHUAN, committee, listed, set_rule


def feed_events(sut, url_or_token):
    token = url_or_token.rsplit("/", 1)[-1].removesuffix(".ics")
    r = sut.client.get(f"/v1/feeds/{token}.ics")  # no Authorization: the token is the key
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "text/calendar"
    calendar = vobject.readOne(r.get_data(as_text=True))
    return calendar, {event.uid.value: event for event in calendar.contents.get("vevent", [])}


def rotation(sut, data, starts_on):
    r = sut.client.post("/v1/rotations", json={"committee_id": data["id"], "term_months": 1,
                                               "starts_on": starts_on}, headers=sut.as_(data["district_id"], WRITE))
    assert r.status_code == 201, r.json
    r = sut.client.get(f"/v1/rotations/{r.json['id']}/schedule", query_string={"limit": 200},
                       headers=sut.as_(data["district_id"], READ))
    return r.json["items"]


def leave(sut, data, unit, left_on):
    remaining = [u for u in data["units"] if u is not unit]
    changed = {**data, "units": remaining, "version": data["version"] + 1}
    assert sut.deliver("registry.committee.unit_left", {**changed, **unit, "left_on": left_on,
                                                        "left_reason": "单位撤并"}) == "applied"
    return changed


def new_feed(sut, district=YONGCHUAN, **body):
    return sut.client.post("/v1/feeds", json=body, headers=sut.as_(district, WRITE))


def test_a_committee_feed_has_its_terms_all_day_and_its_meetings_and_updates_cancellations(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    start = date.today().replace(day=1)
    terms = rotation(sut, data, start.isoformat())
    assert set_rule(sut, data, rrule="FREQ=MONTHLY", place="社区会议室").status_code == 200
    r = new_feed(sut, committee_id=data["id"])
    assert r.status_code == 201, r.json
    assert r.json["kind"] == "committee" and r.json["url"].endswith(f"/v1/feeds/{r.json['token']}.ics")
    calendar, events = feed_events(sut, r.json["url"])
    assert calendar.x_wr_calname.value == "星光社区大党委轮值与联席会议"
    assert calendar.x_wr_timezone.value == "Asia/Shanghai"
    for term in terms:
        event = events[term["uid"]]
        assert event.summary.value == f"轮值主席：{term['organization_name']}"
        assert event.dtstart.value == date.fromisoformat(term["starts_on"])
        assert event.dtend.value == date.fromisoformat(term["ends_on"]) + timedelta(days=1)
        assert event.status.value == "CONFIRMED"
    meetings = listed(sut, data)
    for meeting in meetings:
        event = events[meeting["uid"]]
        assert event.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == ["Asia/Shanghai"]
        assert event.dtstart.value.astimezone(UTC) == datetime.fromisoformat(meeting["starts_at"])
        assert event.location.value == "社区会议室" and "张书记" in event.description.value

    # The chair of the coming terms leaves and a meeting is called off: subscribed calendars see both cancelled,
    # under the UIDs they know, with higher SEQUENCEs; nothing they knew vanishes.
    future = [t for t in terms if date.fromisoformat(t["starts_on"]) > date.today() + timedelta(days=40)]
    leaving = next(u for u in data["units"] if u["organization_id"] == future[0]["organization_id"])
    left_on = date.today() + timedelta(days=35)
    leave(sut, data, leaving, left_on.isoformat())
    off = meetings[2]
    assert sut.client.post(f"/v1/meetings/{off['id']}/cancel", json={"reason": "防汛"},
                           headers=sut.as_(YONGCHUAN, WRITE)).status_code == 200
    _, after = feed_events(sut, r.json["url"])
    assert set(events) <= set(after)
    dropped = [t for t in future if t["organization_id"] == leaving["organization_id"]]
    assert dropped
    for term in dropped:
        assert after[term["uid"]].status.value == "CANCELLED"
        assert int(after[term["uid"]].sequence.value) > int(events[term["uid"]].sequence.value)
    assert after[off["uid"]].status.value == "CANCELLED"
    assert int(after[off["uid"]].sequence.value) > int(events[off["uid"]].sequence.value)
    assert "防汛" in after[off["uid"]].description.value
    # Terms before the unit left are untouched; whatever the re-plan replaced is cancelled, never dropped.
    assert all(after[t["uid"]].status.value == "CONFIRMED" for t in terms
               if date.fromisoformat(t["ends_on"]) < left_on)
    for uid, event in after.items():
        if uid in events and event.status.value != events[uid].status.value:
            assert int(event.sequence.value) > int(events[uid].sequence.value)


def test_meetings_keep_their_local_time_across_dst_with_the_zones_vtimezone(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    ny = {**data, "time_zone": "America/New_York", "version": data["version"] + 1}
    assert sut.deliver("registry.committee.updated", ny) == "applied"
    assert set_rule(sut, ny, rrule="FREQ=WEEKLY", local_time="09:30").status_code == 200
    token = new_feed(sut, committee_id=data["id"]).json["token"]
    calendar, events = feed_events(sut, token)
    assert [tz.tzid.value for tz in calendar.contents["vtimezone"]] == ["America/New_York"]
    assert calendar.x_wr_timezone.value == "America/New_York"
    offsets = set()
    for meeting in listed(sut, ny):
        event = events[meeting["uid"]]
        local = event.dtstart.value
        assert (local.hour, local.minute) == (9, 30)
        assert local.astimezone(UTC) == datetime.fromisoformat(meeting["starts_at"])
        offsets.add(local.utcoffset())
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}


def test_a_unit_feed_has_only_its_terms_and_its_committees_meetings(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    terms = rotation(sut, data, date.today().replace(day=1).isoformat())
    assert set_rule(sut, data).status_code == 200
    unit = data["units"][0]
    r = new_feed(sut, organization_id=unit["organization_id"])
    assert r.status_code == 201 and r.json["kind"] == "unit", r.json
    _, events = feed_events(sut, r.json["token"])
    own = {t["uid"] for t in terms if t["organization_id"] == unit["organization_id"]}
    meetings = listed(sut, data)
    assert own and set(events) == own | {m["uid"] for m in meetings}
    # The unit leaves before the third meeting: from then on the committee's meetings are cancelled in its feed.
    left_on = date.fromisoformat(meetings[2]["local_date"])
    leave(sut, data, unit, left_on.isoformat())
    _, after = feed_events(sut, r.json["token"])
    for meeting in meetings:
        before, now = events[meeting["uid"]], after[meeting["uid"]]
        if date.fromisoformat(meeting["local_date"]) < left_on:
            assert now.status.value == "CONFIRMED" and now.sequence.value == before.sequence.value
        else:
            assert now.status.value == "CANCELLED" and int(now.sequence.value) > int(before.sequence.value)
    # A unit that joins later does not see the meetings before it joined.
    newcomer = {"organization_id": str(uuid.uuid4()), "organization_name": "永川区第二中学",
                "organization_kind": "school", "joined_on": meetings[1]["local_date"]}
    joined = {**data, "units": [*data["units"], newcomer], "version": data["version"] + 5}
    assert sut.deliver("registry.committee.unit_joined", {**joined, **newcomer, "left_on": None,
                                                          "left_reason": None}) == "applied"
    token = new_feed(sut, organization_id=newcomer["organization_id"]).json["token"]
    _, theirs = feed_events(sut, token)
    assert meetings[0]["uid"] not in theirs and meetings[1]["uid"] in theirs


def test_rotating_the_token_closes_the_old_url_and_tokens_are_stored_hashed(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    created = new_feed(sut, committee_id=data["id"], name="星光大党委日历").json
    feed_events(sut, created["token"])
    r = sut.client.post(f"/v1/feeds/{created['id']}/rotate-token", json={}, headers=sut.as_(YONGCHUAN, WRITE))
    assert r.status_code == 200, r.json
    assert r.json["token"] != created["token"] and r.json["rotated_at"]
    assert r.headers["Cache-Control"] == "no-store"
    old = sut.client.get(f"/v1/feeds/{created['token']}.ics")
    assert old.status_code == 404 and old.mimetype == "application/problem+json"
    feed_events(sut, r.json["token"])
    with sut.rt.factory() as s:
        stored = s.scalars(select(Feed.token_hash)).all()
    assert stored and r.json["token"] not in stored and created["token"] not in stored
    listed_feeds = sut.client.get("/v1/feeds", headers=sut.as_(YONGCHUAN, READ)).json["items"]
    assert [f["name"] for f in listed_feeds] == ["星光大党委日历"] and "token" not in listed_feeds[0]
    assert sut.client.get(f"/v1/feeds/{uuid.uuid4().hex}.ics").status_code == 404


def test_feeds_of_another_district_are_out_of_reach(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    created = new_feed(sut, committee_id=data["id"]).json
    other = sut.as_(BISHAN, WRITE)
    assert sut.client.get(f"/v1/feeds/{created['id']}", headers=other).status_code == 404
    assert sut.client.post(f"/v1/feeds/{created['id']}/rotate-token", json={}, headers=other).status_code == 404
    assert sut.client.get("/v1/feeds", headers=other).json["items"] == []
    r = new_feed(sut, BISHAN, committee_id=data["id"])
    assert r.status_code == 422 and "committee_id" in r.json["errors"]
    r = new_feed(sut, BISHAN, organization_id=data["units"][0]["organization_id"])
    assert r.status_code == 422 and "organization_id" in r.json["errors"]
    r = new_feed(sut, committee_id=data["id"], organization_id=data["units"][0]["organization_id"])
    assert r.status_code == 422 and "committee_id" in r.json["errors"]


def test_a_retried_feed_request_does_not_keep_or_repeat_the_token(make_service):
    sut = make_service("rotation")
    data = committee(sut)
    headers = {**sut.as_(YONGCHUAN, WRITE), "Idempotency-Key": "feed-1"}
    first = sut.client.post("/v1/feeds", json={"committee_id": data["id"]}, headers=headers)
    assert first.status_code == 201, first.json
    retried = sut.client.post("/v1/feeds", json={"committee_id": data["id"]}, headers=headers)
    assert retried.status_code == 409 and first.json["token"] not in retried.get_data(as_text=True)
    assert retried.headers["Location"] == f"/v1/feeds/{first.json['id']}"
    assert len(sut.client.get("/v1/feeds", headers=sut.as_(YONGCHUAN, READ)).json["items"]) == 1
