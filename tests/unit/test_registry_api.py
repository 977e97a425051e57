from __future__ import annotations

from sqlalchemy import func, select

from linli.shared.tables import idempotency_keys, outbox

OPERATOR = ("*", "registry:admin")


def _district(sut, name="永川区"):
    r = sut.client.post("/v1/areas", json={"level": "district", "name": name}, headers=sut.as_(*OPERATOR))
    assert r.status_code == 201, r.json
    return r.json


def test_area_tree_emits_events_in_the_same_transaction(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write registry:read")
    street = sut.client.post("/v1/areas", json={"level": "street", "name": "中山路街道", "parent_id": district["id"]},
                             headers=h).json
    community = sut.client.post("/v1/areas", json={"level": "community", "name": "星光社区",
                                                   "parent_id": street["id"]}, headers=h).json
    r = sut.client.post("/v1/areas", json={"level": "compound", "name": "星光小区", "kind": "three_no",
                                           "parent_id": community["id"]}, headers=h)
    assert r.status_code == 201
    assert r.json["district_id"] == district["id"]
    with sut.rt.factory() as s:
        keys = [row.routing_key for row in s.execute(select(outbox.c.routing_key).order_by(outbox.c.seq))]
    assert keys == ["registry.area.created"] * 4


def test_placement_rules_name_the_field(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write")
    r = sut.client.post("/v1/areas", json={"level": "compound", "name": "x", "kind": "managed",
                                           "parent_id": district["id"]}, headers=h)
    assert r.status_code == 422
    assert r.content_type == "application/problem+json"
    assert "parent_id" in r.json["errors"]


def test_foreign_district_is_404_and_lists_are_scoped(make_service):
    sut = make_service("registry")
    yongchuan, bishan = _district(sut), _district(sut, "璧山区")
    r = sut.client.get(f"/v1/areas/{yongchuan['id']}", headers=sut.as_(bishan["id"], "registry:read"))
    assert r.status_code == 404
    listed = sut.client.get("/v1/areas", headers=sut.as_(bishan["id"], "registry:read")).json["items"]
    assert [a["id"] for a in listed] == [bishan["id"]]


def test_scope_is_required(make_service):
    sut = make_service("registry")
    district = _district(sut)
    r = sut.client.post("/v1/areas", json={"level": "street", "name": "x", "parent_id": district["id"]},
                        headers=sut.as_(district["id"], "registry:read"))
    assert r.status_code == 403
    assert r.json["type"] == "/problems/insufficient-scope"


def test_idempotency_key_returns_first_result_and_creates_nothing_new(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = {**sut.as_(district["id"], "registry:write"), "Idempotency-Key": "abc"}
    body = {"level": "street", "name": "中山路街道", "parent_id": district["id"]}
    first = sut.client.post("/v1/areas", json=body, headers=h)
    again = sut.client.post("/v1/areas", json=body, headers=h)
    assert again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    other = sut.client.post("/v1/areas", json={**body, "name": "别的"}, headers=h)
    assert other.status_code == 422 and other.json["type"] == "/problems/idempotency-key-reused"
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(outbox)) == 2
        assert s.scalar(select(func.count()).select_from(idempotency_keys)) == 1


def test_if_match_protects_concurrent_edits(make_service):
    sut = make_service("registry")
    district = _district(sut)
    url = f"/v1/areas/{district['id']}"
    h = sut.as_(*OPERATOR)
    ok = sut.client.patch(url, json={"name": "永川"}, headers={**h, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = sut.client.patch(url, json={"name": "永川区"}, headers={**h, "If-Match": '"1"'})
    assert stale.status_code == 412


def test_cursor_pagination_walks_every_row_once(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write registry:read")
    for i in range(7):
        sut.client.post("/v1/areas", json={"level": "street", "name": f"街道{i}", "parent_id": district["id"]},
                        headers=h)
    seen, cursor = [], None
    while True:
        url = "/v1/areas?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = sut.client.get(url, headers=h).json
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 8


def _street_community(sut, h, district):
    street = sut.client.post("/v1/areas", json={"level": "street", "name": "中山路街道", "parent_id": district["id"]},
                             headers=h).json
    community = sut.client.post("/v1/areas", json={"level": "community", "name": "星光社区",
                                                   "parent_id": street["id"]}, headers=h).json
    return street, community


def test_a_compound_s_details_are_created_read_and_patched_with_if_match(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write registry:read")
    _, community = _street_community(sut, h, district)
    r = sut.client.post("/v1/areas", json={"level": "compound", "name": "兴龙湖小区", "kind": "managed",
                                           "parent_id": community["id"], "management_mode": "property_company",
                                           "households": 860, "residents": 2400, "year_built": 2008}, headers=h)
    assert r.status_code == 201, r.json
    url = f"/v1/areas/{r.json['id']}"
    changed = sut.client.patch(url, json={"households": 900, "management_mode": "red_property"},
                               headers={**h, "If-Match": r.headers["ETag"]})
    assert changed.status_code == 200, changed.json
    assert (changed.json["households"], changed.json["management_mode"], changed.json["residents"]) == (
        900, "red_property", 2400)
    stale = sut.client.patch(url, json={"households": 1}, headers={**h, "If-Match": r.headers["ETag"]})
    assert stale.status_code == 412
    three_no = sut.client.patch(url, json={"kind": "three_no", "management_mode": "property_company"}, headers=h)
    assert three_no.status_code == 422 and "management_mode" in three_no.json["errors"]
    negative = sut.client.patch(url, json={"households": -3}, headers=h)
    assert negative.status_code == 422 and "households" in negative.json["errors"]
    floors = sut.client.patch(url, json={"floors": 3}, headers=h)
    assert floors.status_code == 422 and floors.json["errors"] == {"floors": ["only buildings have this"]}


def test_move_children_path_tree_and_coverage_over_http(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write registry:read")
    street, community = _street_community(sut, h, district)
    other = sut.client.post("/v1/areas", json={"level": "community", "name": "唐城社区", "parent_id": street["id"]},
                            headers=h).json
    compound = sut.client.post("/v1/areas", json={"level": "compound", "name": "星光小区", "kind": "old",
                                                  "parent_id": community["id"]}, headers=h).json
    grid = sut.client.post("/v1/areas", json={"level": "grid", "name": "第一网格", "parent_id": community["id"]},
                           headers=h).json
    children = sut.client.get(f"/v1/areas/{community['id']}/children?limit=1", headers=h).json
    assert [c["name"] for c in children["items"]] == ["星光小区"] and children["next_cursor"]
    rest = sut.client.get(f"/v1/areas/{community['id']}/children?cursor={children['next_cursor']}", headers=h).json
    assert [c["name"] for c in rest["items"]] == ["第一网格"]

    coverage = sut.client.put(f"/v1/areas/{grid['id']}/coverage", json={"area_ids": [compound["id"]]},
                              headers={**h, "If-Match": '"1"'})
    assert coverage.status_code == 200 and coverage.json["area_ids"] == [compound["id"]]
    assert coverage.headers["ETag"] == '"2"'
    assert sut.client.get(f"/v1/areas/{grid['id']}/coverage", headers=h).json["area_ids"] == [compound["id"]]
    wrong = sut.client.put(f"/v1/areas/{grid['id']}/coverage", json={"area_ids": [other["id"]]}, headers=h)
    assert wrong.status_code == 422 and list(wrong.json["errors"]) == ["area_ids.0"]
    blocked = sut.client.post(f"/v1/areas/{compound['id']}/move", json={"parent_id": other["id"]}, headers=h)
    assert blocked.status_code == 409
    sut.client.put(f"/v1/areas/{grid['id']}/coverage", json={"area_ids": []}, headers=h)
    moved = sut.client.post(f"/v1/areas/{compound['id']}/move", json={"parent_id": other["id"]}, headers=h)
    assert moved.status_code == 200 and moved.json["parent_id"] == other["id"] and moved.headers["ETag"] == '"2"'
    cycle = sut.client.post(f"/v1/areas/{street['id']}/move", json={"parent_id": other["id"]}, headers=h)
    assert cycle.status_code == 409 and "parent_id" in cycle.json["errors"]
    unknown = sut.client.post(f"/v1/areas/{street['id']}/move", json={"parent_id": grid["id"][:-4] + "0000"},
                              headers=h)
    assert unknown.status_code == 422 and "parent_id" in unknown.json["errors"]

    path = sut.client.get(f"/v1/areas/{compound['id']}/path", headers=h).json["items"]
    assert [a["name"] for a in path] == ["永川区", "中山路街道", "唐城社区", "星光小区"]
    tree = sut.client.get(f"/v1/areas/{district['id']}/tree?depth=2", headers=h).json
    assert (tree["nodes"], tree["truncated"]) == (4, True)
    assert [c["name"] for c in tree["root"]["children"][0]["children"]] == ["唐城社区", "星光社区"]
    stranger = sut.as_(_district(sut, "璧山区")["id"], "registry:read")
    for suffix in ("path", "tree", "children", "coverage"):
        assert sut.client.get(f"/v1/areas/{compound['id']}/{suffix}", headers=stranger).status_code == 404
