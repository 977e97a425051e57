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


# --- Bulk import ----------------------------------------------------------------------------------

IMPORT_CSV = """level,name,parent,kind,management_mode,households,units,floors
street,中山路街道,,,,,,
community,星光社区,中山路街道,,,,,
compound,星光小区,中山路街道/星光社区,three_no,red_property,312,,
building,3栋,中山路街道/星光社区/星光小区,,,,2,7
grid,第一网格,中山路街道/星光社区,,,,,
"""


def _import(sut, h, body, *, csv=True, query=""):
    if csv:
        return sut.client.post(f"/v1/areas/import{query}", data=body.encode(),
                               headers={**h, "Content-Type": "text/csv; charset=utf-8"})
    return sut.client.post(f"/v1/areas/import{query}", json=body, headers=h)


def test_a_csv_file_imports_in_one_go_with_its_events(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write registry:read")
    dry = _import(sut, h, IMPORT_CSV, query="?dry_run=true")
    assert dry.status_code == 200 and dry.json["dry_run"] and dry.json["count"] == 5
    assert sut.client.get("/v1/areas?limit=10", headers=h).json["items"] == [
        sut.client.get(f"/v1/areas/{district['id']}", headers=h).json]
    r = _import(sut, h, IMPORT_CSV)
    assert r.status_code == 201, r.json
    assert [(i["line"], i["path"]) for i in r.json["items"]][-2:] == [
        (5, "中山路街道/星光社区/星光小区/3栋"), (6, "中山路街道/星光社区/第一网格")]
    compound = sut.client.get(f"/v1/areas/{r.json['items'][2]['id']}", headers=h).json
    assert (compound["kind"], compound["management_mode"], compound["households"], compound["version"]) == (
        "three_no", "red_property", 312, 1)
    with sut.rt.factory() as s:
        created = s.execute(select(outbox.c.aggregate_id).where(outbox.c.routing_key == "registry.area.created")
                            .order_by(outbox.c.seq)).scalars().all()
    assert created[1:] == [i["id"] for i in r.json["items"]]
    # A second file names parents by path or by id, existing areas or its own earlier rows.
    more = [{"level": "compound", "name": "兴龙湖小区", "parent": r.json["items"][1]["id"], "kind": "managed"},
            {"level": "building", "name": "1栋", "parent": "中山路街道/星光社区/兴龙湖小区", "floors": 18}]
    again = _import(sut, h, more, csv=False)
    assert again.status_code == 201, again.json
    assert again.json["items"][1]["path"] == "中山路街道/星光社区/兴龙湖小区/1栋"


def test_every_bad_row_is_reported_by_line_and_field_and_nothing_is_imported(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write registry:read")
    bad = IMPORT_CSV + "\n".join([
        "compound,错层小区,中山路街道,managed,,,,",          # line 7: a compound under a street
        "compound,星光小区,中山路街道/星光社区,old,,,,",      # line 8: the name is taken by line 4
        "compound,无名,中山路街道/不存在社区,old,,,,",        # line 9: unknown parent
        "compound,无物业,中山路街道/星光社区,three_no,property_company,50,,",  # line 10
        "building,1栋,中山路街道/错层小区,,,,,",              # line 11: its parent's row is bad
        "village,某村,中山路街道,,,,,",                        # line 12: no such level
        "grid,,中山路街道/星光社区,,,,,",                      # line 13: blank name
        "grid,多一列,中山路街道/星光社区,,,,,,,",              # line 14: too many values
    ]) + "\n"
    r = _import(sut, h, bad)
    assert r.status_code == 422, r.json
    assert set(r.json["errors"]) == {"line 7.parent", "line 8.name", "line 9.parent", "line 10.management_mode",
                                     "line 11.parent", "line 12.level", "line 13.name",
                                     "line 14"}
    assert "line 7" in r.json["errors"]["line 11.parent"][0]
    with sut.rt.factory() as s:
        assert s.scalar(select(func.count()).select_from(outbox)) == 1  # the district's own event only
    assert len(sut.client.get("/v1/areas", headers=h).json["items"]) == 1


def test_import_content_types_districts_and_idempotency(make_service):
    sut = make_service("registry")
    district = _district(sut)
    h = sut.as_(district["id"], "registry:write registry:read")
    plain = sut.client.post("/v1/areas/import", data=IMPORT_CSV.encode(), headers={**h, "Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert _import(sut, h, {"level": "street"}, csv=False).status_code == 422
    assert _import(sut, h, "").status_code == 422
    op = sut.as_(*OPERATOR)
    missing = _import(sut, op, IMPORT_CSV)
    assert missing.status_code == 422 and "district_id" in missing.json["errors"]
    foreign = _import(sut, sut.as_(_district(sut, "璧山区")["id"], "registry:write"), IMPORT_CSV,
                      query=f"?district_id={district['id']}")
    assert foreign.status_code == 422 and "district_id" in foreign.json["errors"]
    keyed = {**h, "Idempotency-Key": "street-file"}
    first = _import(sut, keyed, IMPORT_CSV)
    assert first.status_code == 201
    replay = _import(sut, keyed, IMPORT_CSV)
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    other = _import(sut, keyed, IMPORT_CSV.replace("第一网格", "第二网格"))
    assert other.status_code == 422 and other.json["type"] == "/problems/idempotency-key-reused"
    by_operator = _import(sut, op, "level,name,parent\nstreet,红旗街道,\n", query=f"?district_id={district['id']}")
    assert by_operator.status_code == 201 and by_operator.json["items"][0]["path"] == "红旗街道"
