"""rotation's plan over HTTP: the roster from registry's events, schedules, chairs, fairness, overrides, swaps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from linli.shared.tables import outbox

YONGCHUAN, BISHAN = str(uuid.uuid4()), str(uuid.uuid4())
READ, WRITE = "rotation:read", "rotation:write rotation:read"
UNITS = {"A": "永川区人民医院", "B": "永川供电公司", "C": "中山路派出所"}


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class Committee:
    """registry's side: a committee and its units, sending the events registry would."""

    def __init__(self, sut, district=YONGCHUAN, name="星光社区大党委"):
        self.sut, self.version = sut, 1
        self.data = {"id": str(uuid.uuid4()), "district_id": district, "community_id": str(uuid.uuid4()),
                     "name": name, "time_zone": "Asia/Shanghai", "convenor_name": None, "convenor_member_id": None,
                     "units": [], "version": 1}
        self.ids = {letter: str(uuid.uuid4()) for letter in UNITS}
        assert sut.deliver("registry.committee.created", self.data) == "applied"

    def join(self, letter, joined_on="2020-01-01"):
        unit = {"organization_id": self.ids[letter], "organization_name": UNITS[letter],
                "organization_kind": "hospital", "joined_on": joined_on}
        self.data["units"].append(unit)
        return self._send("registry.committee.unit_joined", unit, left_on=None, left_reason=None)

    def leave(self, letter, left_on, reason="单位撤并"):
        unit = next(u for u in self.data["units"] if u["organization_id"] == self.ids[letter])
        self.data["units"].remove(unit)
        return self._send("registry.committee.unit_left", unit, left_on=left_on, left_reason=reason)

    def _send(self, key, unit, **extra):
        self.version += 1
        payload = {**self.data, "version": self.version, **unit, **extra}
        return self.sut.deliver(key, payload, event_id=uuid.uuid4())

    def letter(self, organization_id):
        return next((k for k, v in self.ids.items() if v == organization_id), None)


def _world(sut, district=YONGCHUAN, starts_on="2024-01-01", **extra):
    committee = Committee(sut, district)
    for letter in "ABC":
        committee.join(letter)
    r = sut.client.post("/v1/rotations", json={"committee_id": committee.data["id"], "term_months": 1,
                                               "starts_on": starts_on, **extra}, headers=sut.as_(district, WRITE))
    assert r.status_code == 201, r.json
    return committee, r.json


def _schedule(sut, rotation, district=YONGCHUAN, **query):
    r = sut.client.get(f"/v1/rotations/{rotation['id']}/schedule", query_string={"limit": 200, **query},
                       headers=sut.as_(district, READ))
    assert r.status_code == 200, r.json
    return r.json["items"]


def _events(sut, key):
    with sut.rt.factory() as s:
        rows = s.execute(select(outbox.c.body).where(outbox.c.routing_key == key).order_by(outbox.c.seq))
        return [json.loads(row.body) for row in rows]


def test_registry_unit_events_feed_the_plan_and_a_duplicate_changes_nothing(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, starts_on="2150-01-01")
    assert [committee.letter(t["organization_id"]) for t in _schedule(sut, rotation)[:6]] == list("ABCABC")
    event_id = uuid.uuid4()
    unit = {"organization_id": str(uuid.uuid4()), "organization_name": "永川区第二中学", "organization_kind": "school",
            "joined_on": "2030-01-01"}
    payload = {**committee.data, "version": 9, **unit, "units": [*committee.data["units"], unit]}
    assert sut.deliver("registry.committee.unit_joined", payload, event_id=event_id) == "applied"
    assert sut.deliver("registry.committee.unit_joined", payload, event_id=event_id) == "duplicate"
    names = [t["organization_name"] for t in _schedule(sut, rotation)[:4]]
    assert names == ["永川区人民医院", "永川供电公司", "中山路派出所", "永川区第二中学"]
    changes = [e["data"]["cause"] for e in _events(sut, "rotation.schedule.changed")]
    assert changes == ["rotation_created", "unit_joined"]
    committee.leave("B", "2030-01-01")
    assert "永川供电公司" not in {t["organization_name"] for t in _schedule(sut, rotation)}


def test_create_takes_a_zone_and_an_explicit_order_and_names_bad_fields(make_service):
    sut = make_service("rotation")
    committee = Committee(sut)
    for letter in "ABC":
        committee.join(letter)
    h = sut.as_(YONGCHUAN, WRITE)
    body = {"committee_id": committee.data["id"], "term_months": 6, "starts_on": "2150-01-01"}
    for extra, field in (({"time_zone": "Nowhere/Land"}, "time_zone"), ({"order_policy": "random"}, "order_policy"),
                         ({"order_policy": "explicit", "order": [str(uuid.uuid4())]}, "order"),
                         ({"order": ["not-a-uuid"]}, "order")):
        r = sut.client.post("/v1/rotations", json={**body, **extra}, headers=h)
        assert r.status_code == 422 and [name.split(".")[0] for name in r.json["errors"]] == [field], (extra, r.json)
    order = [committee.ids["C"], committee.ids["A"]]
    r = sut.client.post("/v1/rotations", json={**body, "time_zone": "Europe/Berlin", "order_policy": "explicit",
                                               "order": order}, headers=h)
    assert r.status_code == 201, r.json
    assert (r.json["time_zone"], r.json["order_policy"], r.json["order"], r.json["term_months"]) == (
        "Europe/Berlin", "explicit", order, 6)
    terms = _schedule(sut, r.json)
    assert [committee.letter(t["organization_id"]) for t in terms[:3]] == list("CAB")
    assert terms[0]["starts_at"] == "2149-12-31T23:00:00+00:00" and terms[0]["ends_on"] == "2150-06-30"


def test_patch_reorders_the_future_with_if_match(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, starts_on="2150-01-01")
    url, h = f"/v1/rotations/{rotation['id']}", sut.as_(YONGCHUAN, WRITE)
    order = [committee.ids[k] for k in "CBA"]
    stale = sut.client.patch(url, json={"order_policy": "explicit", "order": order},
                             headers={**h, "If-Match": '"9"'})
    assert stale.status_code == 412
    bad = sut.client.patch(url, json={"order_policy": "explicit", "order": [order[0], order[0]]}, headers=h)
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["order"]
    r = sut.client.patch(url, json={"order_policy": "explicit", "order": order, "reason": "党委会决定"},
                         headers={**h, "If-Match": f'"{rotation["version"]}"'})
    assert r.status_code == 200, r.json
    assert r.headers["ETag"] == f'"{r.json["version"]}"' and r.json["order"] == order
    assert [committee.letter(t["organization_id"]) for t in _schedule(sut, rotation)[:3]] == list("CBA")
    [updated] = _events(sut, "rotation.rotation.updated")
    assert updated["data"]["order"] == order
    history = sut.client.get(f"{url}/history", headers=sut.as_(YONGCHUAN, READ)).json["items"]
    assert {e["action"] for e in history} == {"rotation.created", "schedule.replanned", "rotation.updated"}
    assert any(e["action"] == "rotation.updated" and e["why"] == "党委会决定" and e["actor"] == "test-client"
               for e in history)


def test_chair_schedule_terms_and_fairness_queries(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, starts_on="2024-01-01")
    h = sut.as_(YONGCHUAN, READ)
    chair = sut.client.get(f"/v1/rotations/{rotation['id']}/chair?at=2024-02-10T00:00:00Z", headers=h).json
    assert chair["term"]["organization_name"] == "永川供电公司" and chair["term"]["starts_on"] == "2024-02-01"
    before = sut.client.get(f"/v1/rotations/{rotation['id']}/chair?at=2023-01-01T00:00:00Z", headers=h).json
    assert before["term"] is None
    now = sut.client.get(f"/v1/rotations/{rotation['id']}/chair", headers=h).json
    assert datetime.fromisoformat(now["term"]["starts_at"]) <= datetime.now(UTC) < datetime.fromisoformat(
        now["term"]["ends_at"])
    window = _schedule(sut, rotation, **{"from": "2024-03-01T00:00:00Z", "to": "2024-06-01T00:00:00Z"})
    assert [t["starts_on"] for t in window] == ["2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01"]
    upcoming = sut.client.get("/v1/terms", query_string={"organization_id": committee.ids["A"]}, headers=h).json
    assert upcoming["items"] and {t["organization_id"] for t in upcoming["items"]} == {committee.ids["A"]}
    assert all(datetime.fromisoformat(t["ends_at"]) > datetime.now(UTC) for t in upcoming["items"])
    one = sut.client.get(f"/v1/terms/{upcoming['items'][0]['id']}", headers=h)
    assert one.status_code == 200 and one.headers["ETag"] == '"1"'
    fair = sut.client.get(f"/v1/rotations/{rotation['id']}/fairness?from=2023-12-31T16:00:00Z"
                          "&to=2024-12-31T16:00:00Z", headers=h).json
    assert fair["balance"] == 1.0 and fair["gaps"] == []
    assert sorted(u["served"] + u["scheduled"] for u in fair["units"]) == [4, 4, 4]
    assert {u["organization_name"] for u in fair["units"]} == set(UNITS.values())
    bad = sut.client.get(f"/v1/rotations/{rotation['id']}/fairness?from=2024-03-01T00:00:00Z"
                         "&to=2024-02-01T00:00:00Z", headers=h)
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["to"]


def test_overrides_substitute_unavailable_cancel_and_their_refusals(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, starts_on="2150-01-01")
    h = sut.as_(YONGCHUAN, WRITE)
    terms = _schedule(sut, rotation)
    r = sut.client.post("/v1/overrides", json={"term_id": terms[1]["id"], "organization_id": committee.ids["C"],
                                               "reason": "B单位迎检"}, headers=h)
    assert r.status_code == 201, r.json
    substitute = r.json
    assert (substitute["kind"], substitute["state"], substitute["term_index"]) == ("substitute", "active", 1)
    assert [committee.letter(t["organization_id"]) for t in _schedule(sut, rotation)[:4]] == list("ACBA")
    away = sut.client.post("/v1/overrides", json={"organization_id": committee.ids["A"], "from": "2150-01-01",
                                                  "to": "2150-02-01", "reason": "整改"}, headers=h)
    assert away.status_code == 201 and away.json["kind"] == "unavailable", away.json
    terms = _schedule(sut, rotation)
    assert committee.letter(terms[0]["organization_id"]) != "A"
    for body, field in (({"organization_id": committee.ids["A"], "reason": "r"}, "from"),
                        ({"term_id": terms[2]["id"], "organization_id": committee.ids["A"], "from": "2150-01-01",
                          "reason": "r"}, "from"),
                        ({"organization_id": committee.ids["A"], "from": "2150-03-01", "to": "2150-03-01",
                          "reason": "r"}, "to"),
                        ({"term_id": str(uuid.uuid4()), "organization_id": committee.ids["A"], "reason": "r"},
                         "term_id"),
                        ({"term_id": terms[3]["id"], "organization_id": str(uuid.uuid4()), "reason": "r"},
                         "organization_id"),
                        ({"term_id": terms[3]["id"], "organization_id": committee.ids["B"], "reason": " "},
                         "reason")):
        bad = sut.client.post("/v1/overrides", json=body, headers=h)
        assert bad.status_code == 422 and field in bad.json["errors"], (body, bad.json)
    cancel = sut.client.post(f"/v1/overrides/{substitute['id']}/cancel", json={"reason": "不必了"}, headers=h)
    assert cancel.status_code == 200 and cancel.json["state"] == "cancelled"
    again = sut.client.post(f"/v1/overrides/{substitute['id']}/cancel", json={}, headers=h)
    assert again.status_code == 409 and again.json["type"] == "/problems/invalid-transition"
    listed = sut.client.get(f"/v1/overrides?rotation_id={rotation['id']}&state=active",
                            headers=sut.as_(YONGCHUAN, READ)).json["items"]
    assert [o["id"] for o in listed] == [away.json["id"]]
    assert [len(_events(sut, f"rotation.override.{v}")) for v in ("created", "cancelled")] == [2, 1]
    foreign = sut.client.get(f"/v1/overrides/{substitute['id']}", headers=sut.as_(BISHAN, READ))
    assert foreign.status_code == 404


def test_a_begun_term_cannot_be_substituted_or_swapped(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, starts_on="2024-01-01")
    h = sut.as_(YONGCHUAN, WRITE)
    past, running = _schedule(sut, rotation)[0], sut.client.get(
        f"/v1/rotations/{rotation['id']}/chair", headers=h).json["term"]
    future = [t for t in _schedule(sut, rotation) if datetime.fromisoformat(t["starts_at"]) > datetime.now(UTC)]
    other = next(t for t in future if t["organization_id"] != running["organization_id"])
    for term in (past, running):
        spare = next(u for u in committee.ids.values() if u != term["organization_id"])
        r = sut.client.post("/v1/overrides", json={"term_id": term["id"], "organization_id": spare, "reason": "r"},
                            headers=h)
        assert r.status_code == 409 and list(r.json["errors"]) == ["term_id"], r.json
    r = sut.client.post("/v1/swaps", json={"term_id": running["id"], "with_term_id": other["id"], "reason": "r"},
                        headers=h)
    assert r.status_code == 409 and list(r.json["errors"]) == ["term_id"]


def test_swaps_requested_accepted_declined_and_shown_expired(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, starts_on="2150-01-01")
    h, reader = sut.as_(YONGCHUAN, WRITE), sut.as_(YONGCHUAN, READ)
    terms = _schedule(sut, rotation)
    r = sut.client.post("/v1/swaps", json={"term_id": terms[0]["id"], "with_term_id": terms[2]["id"],
                                           "reason": "A单位一月搬迁"}, headers=h)
    assert r.status_code == 201, r.json
    swap = r.json
    assert (swap["state"], swap["organization_id"], swap["with_organization_id"]) == (
        "requested", committee.ids["A"], committee.ids["C"])
    accepted = sut.client.post(f"/v1/swaps/{swap['id']}/accept", json={"reason": "同意"},
                               headers={**h, "If-Match": f'"{swap["version"]}"'})
    assert accepted.status_code == 200 and accepted.json["state"] == "accepted", accepted.json
    assert [committee.letter(t["organization_id"]) for t in _schedule(sut, rotation)[:3]] == list("CBA")
    twice = sut.client.post(f"/v1/swaps/{swap['id']}/decline", json={}, headers=h)
    assert twice.status_code == 409
    terms = _schedule(sut, rotation)
    declined = sut.client.post("/v1/swaps", json={"term_id": terms[4]["id"], "with_term_id": terms[5]["id"],
                                                  "reason": "r"}, headers=h).json
    r = sut.client.post(f"/v1/swaps/{declined['id']}/decline", json={"reason": "不便"}, headers=h)
    assert r.status_code == 200 and r.json["state"] == "declined"
    assert {declined["organization_id"], declined["with_organization_id"]} == {committee.ids["A"], committee.ids["B"]}
    mine = sut.client.get(f"/v1/swaps?organization_id={committee.ids['C']}", headers=reader).json["items"]
    assert [s["id"] for s in mine] == [swap["id"]]
    for body, field in (({"term_id": terms[4]["id"], "with_term_id": terms[4]["id"], "reason": "r"},
                         "with_term_id"),
                        ({"term_id": str(uuid.uuid4()), "with_term_id": terms[4]["id"], "reason": "r"}, "term_id")):
        bad = sut.client.post("/v1/swaps", json=body, headers=h)
        assert bad.status_code == 422 and list(bad.json["errors"]) == [field], bad.json
    assert sut.client.get(f"/v1/swaps/{swap['id']}", headers=sut.as_(BISHAN, READ)).status_code == 404
    assert [len(_events(sut, f"rotation.swap.{v}")) for v in ("requested", "accepted", "declined")] == [2, 1, 1]


def test_an_unanswered_swap_reads_as_expired_once_its_term_began_and_the_clock_records_it(make_service):
    sut = make_service("rotation")
    committee, rotation = _world(sut, starts_on="2150-01-01")
    terms = _schedule(sut, rotation)
    swap = sut.client.post("/v1/swaps", json={"term_id": terms[0]["id"], "with_term_id": terms[1]["id"],
                                              "reason": "r"}, headers=sut.as_(YONGCHUAN, WRITE)).json
    assert sut.rt.clock(now=lambda: utc(2149, 12, 31, 15)).tick() == 0
    assert sut.rt.clock(now=lambda: utc(2149, 12, 31, 16)).tick() >= 1
    [expired] = _events(sut, "rotation.swap.expired")
    assert expired["subject"] == swap["id"] and expired["data"]["term"]["starts_on"] == "2150-01-01"
    r = sut.client.get(f"/v1/swaps/{swap['id']}", headers=sut.as_(YONGCHUAN, READ))
    assert r.json["state"] == "expired"


def test_another_districts_rotation_and_its_terms_are_404_and_left_out_of_lists(make_service):
    sut = make_service("rotation")
    _, theirs = _world(sut, district=BISHAN, starts_on="2150-01-01")
    mine_committee, mine = _world(sut, starts_on="2150-01-01")
    h, w = sut.as_(YONGCHUAN, READ), sut.as_(YONGCHUAN, WRITE)
    base = f"/v1/rotations/{theirs['id']}"
    for path in ("", "/chair", "/schedule", "/fairness", "/history"):
        assert sut.client.get(base + path, headers=h).status_code == 404, path
    assert sut.client.patch(base, json={"order_policy": "join_order"}, headers=w).status_code == 404
    their_term = _schedule(sut, theirs, district=BISHAN)[0]
    assert sut.client.get(f"/v1/terms/{their_term['id']}", headers=h).status_code == 404
    listed = sut.client.get("/v1/terms?limit=200", headers=h).json["items"]
    assert listed and {t["rotation_id"] for t in listed} == {mine["id"]}
    # Naming their term in a write is a 422 on the field, as for a term that does not exist.
    r = sut.client.post("/v1/overrides", json={"term_id": their_term["id"],
                                               "organization_id": mine_committee.ids["A"], "reason": "r"}, headers=w)
    assert r.status_code == 422 and list(r.json["errors"]) == ["term_id"]
    everyone = sut.client.get("/v1/terms?limit=200", headers=sut.as_("*", READ)).json["items"]
    assert {t["rotation_id"] for t in everyone} == {mine["id"], theirs["id"]}
