"""registry's party members over HTTP."""

from __future__ import annotations

from tests.support.registry_world import yongchuan_over_http
from tests.support.sessions import committed_events

PHONE = "13812345678"


def _setup(sut) -> dict:
    """Two districts; in Yongchuan a community with two compounds, a building, a hospital; callers of each."""
    w = yongchuan_over_http(sut)
    w["second"] = w["area"]({"level": "compound", "name": "月光小区", "kind": "old", "parent_id": w["community"]["id"]})
    w["building"] = w["area"]({"level": "building", "name": "1栋", "parent_id": w["compound"]["id"]})
    hospital = sut.client.post("/v1/organizations", json={"kind": "hospital", "name": "永川区人民医院"},
                               headers=w["clerk"])
    w["hospital"] = hospital.json
    return w


def _member(sut, w, headers=None, **fields) -> dict:
    body = {"name": "张三", "phone": PHONE, "compound_id": w["compound"]["id"], "building_id": w["building"]["id"],
            "employer_id": w["hospital"]["id"], "skills": ["medical"], "roles": ["building_leader"], **fields}
    r = sut.client.post("/v1/members", json=body, headers=headers or w["clerk"])
    assert r.status_code == 201, r.json
    return r.json


def test_the_phone_is_masked_in_every_response_unless_the_caller_holds_registry_pii(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    created = _member(sut, w)
    assert created["phone"] == "138****5678" and created["status"] == "in_service"
    assert created["membership"] == "active" and created["skills"] == ["medical"]
    url = f"/v1/members/{created['id']}"
    assert sut.client.get(url, headers=w["clerk"]).json["phone"] == "138****5678"
    assert sut.client.get(url, headers=w["pii"]).json["phone"] == PHONE
    assert sut.client.get("/v1/members", headers=w["clerk"]).json["items"][0]["phone"] == "138****5678"
    assert sut.client.get("/v1/members", headers=w["pii"]).json["items"][0]["phone"] == PHONE
    patched = sut.client.patch(url, json={"status": "retired"}, headers={**w["clerk"], "If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json["phone"] == "138****5678"
    assert sut.client.get(url, headers=w["pii"]).json["phone"] == PHONE  # the mask was never stored


def test_an_email_is_optional_masked_like_the_phone_and_told_only_privately(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    created = _member(sut, w, email="zhang.san@example.org")
    assert created["email"] == "z***@example.org"
    url = f"/v1/members/{created['id']}"
    assert sut.client.get(url, headers=w["pii"]).json["email"] == "zhang.san@example.org"
    bad = sut.client.patch(url, json={"email": "not an address"}, headers={**w["clerk"], "If-Match": '"1"'})
    assert bad.status_code == 422 and "email" in bad.json["errors"]
    changed = sut.client.patch(url, json={"email": "zs@example.cn"}, headers={**w["clerk"], "If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json["email"] == "z***@example.cn"
    contacts = committed_events(sut.rt.factory, "registry.member.contact")
    assert [e["data"]["email"] for e in contacts] == ["zhang.san@example.org", "zs@example.cn"]
    # An e-mail change alone is nobody's business on the public exchange.
    assert len(committed_events(sut.rt.factory, "registry.member.updated")) == 0
    assert all("example" not in str(e["data"]) for e in committed_events(sut.rt.factory)
               if e["type"] != "linli.registry.member.contact")
    unit = sut.client.post("/v1/organizations", json={"kind": "school", "name": "萱花中学",
                                                      "contact_email": "office@xh.example.cn"}, headers=w["clerk"])
    assert unit.status_code == 201 and unit.json["contact_email"] == "o***@xh.example.cn"
    [told] = [e for e in committed_events(sut.rt.factory, "registry.organization.contact")
              if e["data"]["id"] == unit.json["id"]]
    assert told["data"]["contact_email"] == "office@xh.example.cn"


def test_a_second_member_with_the_same_phone_in_the_district_is_409_but_another_district_may(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    _member(sut, w)
    again = sut.client.post("/v1/members", json={"name": "李四", "phone": PHONE, "compound_id": w["compound"]["id"]},
                            headers=w["clerk"])
    assert again.status_code == 409 and again.json["errors"] == {"phone": ["already registered"]}


def test_unknown_references_are_422_naming_the_field_and_another_district_s_member_is_404(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    base = {"name": "张三", "phone": PHONE, "compound_id": w["compound"]["id"]}
    for field, value in (("employer_id", w["compound"]["id"]), ("compound_id", w["building"]["id"]),
                         ("building_id", w["second"]["id"])):
        r = sut.client.post("/v1/members", json={**base, field: value}, headers=w["clerk"])
        assert r.status_code == 422 and field in r.json["errors"], r.json
    bad = sut.client.post("/v1/members", json={**base, "skills": ["juggling"], "roles": ["mayor"]},
                          headers=w["clerk"])
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"skills.0", "roles.0"}, bad.json
    member = _member(sut, w)
    assert sut.client.get(f"/v1/members/{member['id']}", headers=w["stranger"]).status_code == 404
    assert sut.client.get("/v1/members", headers=w["stranger"]).json["items"] == []


def test_patch_honours_if_match(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    url = f"/v1/members/{_member(sut, w)['id']}"
    ok = sut.client.patch(url, json={"skills": ["noise", "medical"]}, headers={**w["clerk"], "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json["skills"] == ["medical", "noise"] and ok.headers["ETag"] == '"2"'
    stale = sut.client.patch(url, json={"name": "李四"}, headers={**w["clerk"], "If-Match": '"1"'})
    assert stale.status_code == 412


def test_members_are_searched_by_name_fragment_and_every_filter_with_keyset_pages(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    zhang = _member(sut, w)
    li = _member(sut, w, name="李晓红", phone="13900000001", building_id=None, employer_id=None, roles=[],
                 skills=["legal_aid"], status="retired", compound_id=w["second"]["id"])
    wang = _member(sut, w, name="王晓明", phone="13900000002", roles=["party_group_leader"], skills=[])
    percent = _member(sut, w, name="百分之100%", phone="13900000003", roles=[], skills=[])

    def ids(query: str) -> list[str]:
        r = sut.client.get(f"/v1/members{query}", headers=w["clerk"])
        assert r.status_code == 200, r.json
        return [m["id"] for m in r.json["items"]]

    assert ids("?q=晓") == [wang["id"], li["id"]]
    assert ids("?q=%25") == [percent["id"]]  # a literal %, not a wildcard
    # Two characters are found at a short name's start or end and anywhere in a long one.
    assert ids("?q=王晓") == [wang["id"]] and ids("?q=晓红") == [li["id"]]
    assert ids("?q=分之") == [percent["id"]] and ids("?q=0%25") == [percent["id"]]
    assert ids("?q=晓_") == [] and ids("?q=_晓") == []  # nor is _ a wildcard
    assert ids(f"?compound_id={w['second']['id']}") == [li["id"]]
    assert ids(f"?building_id={w['building']['id']}") == [percent["id"], wang["id"], zhang["id"]]
    assert ids("?skill=medical") == [zhang["id"]]
    assert ids("?role=party_group_leader") == [wang["id"]]
    assert ids(f"?employer_id={w['hospital']['id']}") == [percent["id"], wang["id"], zhang["id"]]
    assert ids("?status=retired") == [li["id"]]
    assert ids("?membership=left") == []
    first = sut.client.get("/v1/members?limit=3", headers=w["clerk"]).json
    rest = sut.client.get(f"/v1/members?limit=3&cursor={first['next_cursor']}", headers=w["clerk"]).json
    assert [m["id"] for m in first["items"] + rest["items"]] == [percent["id"], wang["id"], li["id"], zhang["id"]]
    assert rest["next_cursor"] is None
    latin = _member(sut, w, name="Zhang Xiaoming", phone="13900000004", roles=[], skills=[])
    assert ids("?q=XIAO") == ids("?q=zh") == ids("?q=nG") == [latin["id"]]  # Latin letters in any case


# --- Pledges -----------------------------------------------------------------------------------------------

def test_pledges_are_listed_added_and_fulfilled_once(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    member = _member(sut, w)
    url = f"/v1/members/{member['id']}/pledges"
    first = sut.client.post(url, json={"text": " 每周为楼栋老人量一次血压 "}, headers=w["clerk"])
    assert first.status_code == 201 and first.json["text"] == "每周为楼栋老人量一次血压", first.json
    assert first.json["status"] == "open" and first.headers["Location"] == f"{url}/{first.json['id']}"
    second = sut.client.post(url, json={"text": "调解邻里纠纷"}, headers=w["clerk"]).json
    done = sut.client.post(f"{url}/{first.json['id']}/fulfil", headers=w["clerk"])
    assert done.status_code == 200 and done.json["status"] == "fulfilled" and done.json["fulfilled_at"]
    again = sut.client.post(f"{url}/{first.json['id']}/fulfil", headers=w["clerk"])
    assert again.status_code == 409
    listed = sut.client.get(url, headers=w["clerk"]).json["items"]
    assert [p["id"] for p in listed] == [second["id"], first.json["id"]]
    assert [p["id"] for p in sut.client.get(f"{url}?status=open", headers=w["clerk"]).json["items"]] == [
        second["id"]]
    assert sut.client.get(f"{url}/{second['id']}", headers=w["clerk"]).headers["ETag"] == '"1"'
    assert sut.client.post(url, json={"text": "  "}, headers=w["clerk"]).status_code == 422
    assert sut.client.get(url, headers=w["stranger"]).status_code == 404
    assert sut.client.post(f"{url}/{second['id']}/fulfil", headers=w["stranger"]).status_code == 404
    other = _member(sut, w, name="李四", phone="13900000009", roles=[])
    assert sut.client.get(f"/v1/members/{other['id']}/pledges/{second['id']}", headers=w["clerk"]).status_code == 404


# --- Check-ins and leaving ------------------------------------------------------------------------------------

def test_a_check_in_is_submitted_confirmed_and_a_move_ends_it(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    member = _member(sut, w)
    first = sut.client.post("/v1/check-ins", json={"member_id": member["id"]}, headers=w["clerk"])
    assert first.status_code == 201 and first.json["state"] == "submitted", first.json
    assert first.json["compound_id"] == w["compound"]["id"]
    url = f"/v1/check-ins/{first.json['id']}"
    assert sut.client.post(f"{url}/confirm", headers={**w["clerk"], "If-Match": '"7"'}).status_code == 412
    confirmed = sut.client.post(f"{url}/confirm", headers={**w["clerk"], "If-Match": '"1"'})
    assert confirmed.status_code == 200 and confirmed.json["state"] == "confirmed", confirmed.json
    twice = sut.client.post(f"{url}/confirm", headers=w["clerk"])
    assert twice.status_code == 409 and "confirmed" in twice.json["detail"], twice.json
    move = sut.client.post("/v1/check-ins", json={"member_id": member["id"], "compound_id": w["second"]["id"]},
                           headers=w["clerk"]).json
    assert sut.client.post(f"/v1/check-ins/{move['id']}/confirm", headers=w["clerk"]).status_code == 200
    assert sut.client.get(url, headers=w["clerk"]).json["state"] == "ended"
    moved = sut.client.get(f"/v1/members/{member['id']}", headers=w["clerk"]).json
    assert (moved["compound_id"], moved["building_id"], moved["roles"]) == (w["second"]["id"], None, [])
    states = {c["id"]: c["state"] for c in sut.client.get(f"/v1/check-ins?member_id={member['id']}",
                                                          headers=w["clerk"]).json["items"]}
    assert states == {first.json["id"]: "ended", move["id"]: "confirmed"}
    assert [c["id"] for c in sut.client.get("/v1/check-ins?state=confirmed", headers=w["clerk"]).json["items"]] == [
        move["id"]]
    assert sut.client.get(url, headers=w["stranger"]).status_code == 404
    assert sut.client.get("/v1/check-ins", headers=w["stranger"]).json["items"] == []


def test_a_rejection_needs_a_reason_and_bad_references_are_422(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    member = _member(sut, w)
    unknown = sut.client.post("/v1/check-ins", json={"member_id": w["compound"]["id"]}, headers=w["clerk"])
    assert unknown.status_code == 422 and "member_id" in unknown.json["errors"]
    foreign = sut.client.post("/v1/check-ins", json={"member_id": member["id"]}, headers=w["stranger"])
    assert foreign.status_code == 422 and "member_id" in foreign.json["errors"]
    check_in = sut.client.post("/v1/check-ins", json={"member_id": member["id"]}, headers=w["clerk"]).json
    url = f"/v1/check-ins/{check_in['id']}/reject"
    blank = sut.client.post(url, json={"reason": " "}, headers=w["clerk"])
    assert blank.status_code == 422 and "reason" in blank.json["errors"]
    rejected = sut.client.post(url, json={"reason": "不是本小区住户"}, headers=w["clerk"])
    assert rejected.status_code == 200 and rejected.json["reason"] == "不是本小区住户"
    assert sut.client.post(url, json={"reason": "again"}, headers=w["clerk"]).status_code == 409


def test_leaving_ends_the_membership_and_its_check_ins(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    member = _member(sut, w)
    check_in = sut.client.post("/v1/check-ins", json={"member_id": member["id"]}, headers=w["clerk"]).json
    url = f"/v1/members/{member['id']}/leave"
    left = sut.client.post(url, json={"left_on": "2026-06-01", "reason": "迁往外地"}, headers=w["pii"])
    assert left.status_code == 200 and left.json["membership"] == "left", left.json
    assert (left.json["left_on"], left.json["phone"]) == ("2026-06-01", PHONE)
    assert sut.client.get(f"/v1/check-ins/{check_in['id']}", headers=w["clerk"]).json["state"] == "ended"
    assert sut.client.post(url, json={"left_on": "2026-06-02"}, headers=w["clerk"]).status_code == 409
    again = sut.client.post("/v1/check-ins", json={"member_id": member["id"]}, headers=w["clerk"])
    assert again.status_code == 409
    listed = sut.client.get("/v1/members?membership=left", headers=w["clerk"]).json["items"]
    assert [m["id"] for m in listed] == [member["id"]]
