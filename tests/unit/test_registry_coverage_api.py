"""registry's party branches, convenors and coverage reports over HTTP."""

from __future__ import annotations

import uuid

from tests.support.registry_world import yongchuan_over_http


def _setup(sut) -> dict:
    """Yongchuan with 星光小区 (building 1栋) and 月光小区 in 星光社区, and Bishan's 东林小区; callers of each."""
    w = yongchuan_over_http(sut)
    w["second"] = w["area"]({"level": "compound", "name": "月光小区", "kind": "old", "parent_id": w["community"]["id"]})
    w["building"] = w["area"]({"level": "building", "name": "1栋", "parent_id": w["compound"]["id"]})
    far_street = w["area"]({"level": "street", "name": "璧城街道", "parent_id": w["other"]["id"]})
    far_community = w["area"]({"level": "community", "name": "东林社区", "parent_id": far_street["id"]})
    w["far"] = w["area"]({"level": "compound", "name": "东林小区", "kind": "managed", "parent_id": far_community["id"]})
    return w


def _post(sut, path, body, headers) -> dict:
    r = sut.client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def _branch(sut, w, area_id, name="星光小区党支部") -> dict:
    return _post(sut, "/v1/organizations", {"kind": "party_branch", "name": name, "area_id": area_id}, w["clerk"])


def _member(sut, w, compound_id, phone="13812345678", **fields) -> dict:
    return _post(sut, "/v1/members", {"name": "张三", "phone": phone, "compound_id": compound_id, **fields},
                 w["clerk"])


def test_a_branch_names_its_area_is_listed_by_it_and_changes_it_with_if_match(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    branch = _branch(sut, w, w["compound"]["id"])
    assert branch["area_id"] == w["compound"]["id"] and branch["kind"] == "party_branch"
    school = _post(sut, "/v1/organizations", {"kind": "school", "name": "星光小学"}, w["clerk"])
    assert school["area_id"] is None
    listed = sut.client.get("/v1/organizations", query_string={"area_id": w["compound"]["id"]}, headers=w["clerk"])
    assert [o["id"] for o in listed.json["items"]] == [branch["id"]]
    url = f"/v1/organizations/{branch['id']}"
    moved = sut.client.patch(url, json={"area_id": w["community"]["id"]}, headers={**w["clerk"], "If-Match": '"1"'})
    assert moved.status_code == 200 and moved.json["area_id"] == w["community"]["id"], moved.json
    assert moved.headers["ETag"] == '"2"'
    stale = sut.client.patch(url, json={"area_id": None}, headers={**w["clerk"], "If-Match": '"1"'})
    assert stale.status_code == 412
    assert sut.client.get(url, headers=w["clerk"]).json["area_id"] == w["community"]["id"]


def test_a_bad_area_is_422_naming_area_id(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    for headers, kind, area_id in ((w["clerk"], "party_branch", w["building"]["id"]),
                                   (w["clerk"], "party_branch", w["district"]["id"]),
                                   (w["clerk"], "party_branch", w["far"]["id"]),
                                   (w["stranger"], "party_branch", w["compound"]["id"]),
                                   (w["clerk"], "party_branch", str(uuid.uuid4())),
                                   (w["clerk"], "hospital", w["compound"]["id"])):
        r = sut.client.post("/v1/organizations", json={"kind": kind, "name": "支部", "area_id": area_id},
                            headers=headers)
        assert r.status_code == 422 and list(r.json["errors"]) == ["area_id"], r.json
    branch = _branch(sut, w, w["compound"]["id"])
    r = sut.client.patch(f"/v1/organizations/{branch['id']}", json={"kind": "school"},
                         headers={**w["clerk"], "If-Match": '"1"'})
    assert r.status_code == 422 and list(r.json["errors"]) == ["area_id"], r.json
    assert sut.client.get("/v1/organizations", headers=w["clerk"]).json["items"] == [branch]


def test_a_check_in_names_the_branch_it_went_to_and_check_ins_are_listed_by_branch(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    community_branch = _branch(sut, w, w["community"]["id"], "星光社区党委")
    compound_branch = _branch(sut, w, w["compound"]["id"])
    here = _member(sut, w, w["compound"]["id"])
    there = _member(sut, w, w["second"]["id"], phone="13812345679")
    first = _post(sut, "/v1/check-ins", {"member_id": here["id"]}, w["clerk"])
    second = _post(sut, "/v1/check-ins", {"member_id": there["id"]}, w["clerk"])
    assert (first["branch_id"], second["branch_id"]) == (compound_branch["id"], community_branch["id"])
    confirmed = sut.client.post(f"/v1/check-ins/{first['id']}/confirm", headers=w["clerk"])
    assert confirmed.status_code == 200 and confirmed.json["branch_id"] == compound_branch["id"]
    listed = sut.client.get("/v1/check-ins", query_string={"branch_id": community_branch["id"]}, headers=w["clerk"])
    assert [c["id"] for c in listed.json["items"]] == [second["id"]]


def test_a_convenor_from_outside_the_community_is_422_on_set_up_and_patch(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    tangcheng = w["area"]({"level": "community", "name": "唐城社区", "parent_id": w["community"]["parent_id"]})
    third = w["area"]({"level": "compound", "name": "唐城小区", "kind": "old", "parent_id": tangcheng["id"]})
    outsider = _member(sut, w, third["id"], phone="13812345670")
    local = _member(sut, w, w["second"]["id"])
    body = {"community_id": w["community"]["id"], "name": "星光社区大党委"}
    for member_id in (outsider["id"], str(uuid.uuid4())):
        r = sut.client.post("/v1/committees", json={**body, "convenor_member_id": member_id}, headers=w["clerk"])
        assert r.status_code == 422 and list(r.json["errors"]) == ["convenor_member_id"], r.json
    committee = _post(sut, "/v1/committees", {**body, "convenor_member_id": local["id"]}, w["clerk"])
    assert committee["convenor_member_id"] == local["id"]
    url = f"/v1/committees/{committee['id']}"
    r = sut.client.patch(url, json={"convenor_member_id": outsider["id"]}, headers={**w["clerk"], "If-Match": '"1"'})
    assert r.status_code == 422 and list(r.json["errors"]) == ["convenor_member_id"], r.json
    left = sut.client.post(f"/v1/members/{local['id']}/leave", json={"left_on": "2026-01-01"}, headers=w["clerk"])
    assert left.status_code == 200
    r = sut.client.patch(url, json={"convenor_name": "李书记", "convenor_member_id": local["id"]},
                         headers={**w["clerk"], "If-Match": '"1"'})
    assert r.status_code == 200, r.json  # unchanged, so not judged again


def test_coverage_of_a_community_answers_the_documented_shape(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    _branch(sut, w, w["second"]["id"], "月光小区党支部")
    leader = _member(sut, w, w["compound"]["id"], building_id=w["building"]["id"], roles=["party_group_leader"])
    _member(sut, w, w["compound"]["id"], phone="13812345679", status="retired")
    check_in = _post(sut, "/v1/check-ins", {"member_id": leader["id"]}, w["clerk"])
    assert sut.client.post(f"/v1/check-ins/{check_in['id']}/confirm", headers=w["clerk"]).status_code == 200
    school = _post(sut, "/v1/organizations", {"kind": "school", "name": "星光小学"}, w["clerk"])
    _post(sut, "/v1/pairings", {"organization_id": school["id"], "compound_id": w["compound"]["id"],
                                "starts_on": "2020-01-01"}, w["clerk"])
    r = sut.client.get("/v1/coverage", query_string={"area_id": w["community"]["id"]}, headers=w["clerk"])
    assert r.status_code == 200, r.json
    report = r.json
    assert report["area"] == {"id": w["community"]["id"], "name": "星光社区", "level": "community"}
    lines = {line["name"]: line for line in report["compounds"]}
    xingguang, yueguang = lines["星光小区"], lines["月光小区"]
    assert {k: xingguang[k] for k in ("members", "in_service", "checked_in", "has_branch", "has_pairing")} == {
        "members": 2, "in_service": 1, "checked_in": 1, "has_branch": False, "has_pairing": True}
    assert xingguang["roles"]["party_group_leader"] == 1 and xingguang["roles"]["building_leader"] == 0
    assert xingguang["buildings_without_group_leader"] == [] and yueguang["has_branch"] is True
    assert report["compounds_without_branch"] == [{"id": w["compound"]["id"], "name": "星光小区"}]
    assert report["compounds_without_pairing"] == [{"id": w["second"]["id"], "name": "月光小区"}]
    assert report["totals"]["members"] == 2 and report["totals"]["compounds"] == 2
    assert len(report["on"]) == 10


def test_coverage_keeps_to_the_caller_s_district_and_to_compounds_communities_and_streets(make_service):
    sut = make_service("registry")
    w = _setup(sut)

    def get(area_id, headers):
        return sut.client.get("/v1/coverage", query_string={"area_id": area_id}, headers=headers)

    assert get(w["compound"]["id"], w["stranger"]).status_code == 404
    assert get(w["far"]["id"], w["clerk"]).status_code == 404
    assert get(str(uuid.uuid4()), w["clerk"]).status_code == 404
    for area in ("district", "building"):
        r = get(w[area]["id"], w["clerk"])
        assert r.status_code == 422 and list(r.json["errors"]) == ["area_id"], r.json
    missing = sut.client.get("/v1/coverage", headers=w["clerk"])
    assert missing.status_code == 422 and "area_id" in missing.json["errors"]
    assert get(w["compound"]["id"], sut.as_(w["district"]["id"], "tickets:read")).status_code == 403
    operator = get(w["far"]["id"], sut.as_("*", "registry:read"))
    assert operator.status_code == 200 and operator.json["totals"]["compounds"] == 1
