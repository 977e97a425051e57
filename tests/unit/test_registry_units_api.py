"""registry's organizations, resources, pairings and committee units over HTTP."""

from __future__ import annotations

from sqlalchemy import select

from linli.shared.tables import outbox
from tests.support.registry_world import yongchuan_over_http

PHONE = "13812345678"


def _setup(sut) -> dict:
    """Two districts; in Yongchuan a community with a compound; callers of each district."""
    return yongchuan_over_http(sut)


def _organization(sut, headers, **fields) -> dict:
    body = {"kind": "hospital", "name": "永川区人民医院", "contact_person": "李医生", "contact_phone": PHONE,
            "address": "人民大道1号", **fields}
    r = sut.client.post("/v1/organizations", json=body, headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def _routing_keys(sut) -> list[str]:
    with sut.rt.factory() as s:
        return list(s.scalars(select(outbox.c.routing_key).order_by(outbox.c.seq)))


# --- Organizations -------------------------------------------------------------------------------------

def test_the_contact_phone_is_masked_unless_the_caller_holds_registry_pii(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    created = _organization(sut, w["clerk"])
    assert created["contact_phone"] == "138****5678"
    url = f"/v1/organizations/{created['id']}"
    assert sut.client.get(url, headers=w["clerk"]).json["contact_phone"] == "138****5678"
    assert sut.client.get(url, headers=w["pii"]).json["contact_phone"] == PHONE
    listed = sut.client.get("/v1/organizations", headers=w["clerk"]).json["items"]
    assert [o["contact_phone"] for o in listed] == ["138****5678"]
    assert sut.client.get("/v1/organizations", headers=w["pii"]).json["items"][0]["contact_phone"] == PHONE
    # The masked view was never written back over the stored number.
    assert sut.client.get(url, headers=w["pii"]).json["contact_phone"] == PHONE


def test_organizations_filter_by_kind_and_name_fragment_within_the_district(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    hospital = _organization(sut, w["clerk"])
    school = _organization(sut, w["clerk"], kind="school", name="星光小学", contact_phone=None)
    _organization(sut, w["stranger"], kind="school", name="璧山小学")
    percent = _organization(sut, w["clerk"], kind="enterprise", name="百分之100%物业")

    def ids(query: str) -> list[str]:
        r = sut.client.get(f"/v1/organizations{query}", headers=w["clerk"])
        assert r.status_code == 200, r.json
        return [o["id"] for o in r.json["items"]]

    assert ids("?kind=school") == [school["id"]]
    assert ids("?q=医院") == [hospital["id"]]
    assert ids("?q=%25") == [percent["id"]]  # a literal %, not a wildcard
    assert set(ids("")) == {hospital["id"], school["id"], percent["id"]}
    r = sut.client.get("/v1/organizations?kind=bank", headers=w["clerk"])
    assert r.status_code in (400, 422) and "kind" in str(r.json)


def test_an_operator_names_the_district_and_a_foreign_organization_is_404(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    op = sut.as_("*", "registry:admin")
    r = sut.client.post("/v1/organizations", json={"kind": "soe", "name": "国企"}, headers=op)
    assert r.status_code == 422 and "district_id" in r.json["errors"]
    made = _organization(sut, op, district_id=w["district"]["id"])
    assert made["district_id"] == w["district"]["id"]
    assert sut.client.get(f"/v1/organizations/{made['id']}", headers=w["stranger"]).status_code == 404
    r = sut.client.patch(f"/v1/organizations/{made['id']}", json={"name": "x"}, headers=w["stranger"])
    assert r.status_code == 404


def test_patch_honours_if_match_and_sends_the_events_of_what_changed(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    made = _organization(sut, w["clerk"])
    url = f"/v1/organizations/{made['id']}"
    ok = sut.client.patch(url, json={"name": "永川医院", "contact_phone": "13900001111"},
                          headers={**w["clerk"], "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"' and ok.json["contact_phone"] == "139****1111"
    stale = sut.client.patch(url, json={"name": "again"}, headers={**w["clerk"], "If-Match": '"1"'})
    assert stale.status_code == 412
    bad = sut.client.patch(url, json={"contact_phone": "call me"}, headers=w["clerk"])
    assert bad.status_code == 422 and "contact_phone" in bad.json["errors"]
    assert _routing_keys(sut)[-4:] == ["registry.organization.created", "registry.organization.contact",
                                       "registry.organization.updated", "registry.organization.contact"]


# --- Resources -----------------------------------------------------------------------------------------

def test_the_resource_categories_are_one_listed_vocabulary(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    r = sut.client.get("/v1/resource-categories", headers=w["clerk"])
    assert r.status_code == 200 and r.json["next_cursor"] is None
    medical = next(c for c in r.json["items"] if c["code"] == "medical")
    assert medical == {"code": "medical", "zh": "医疗卫生", "en": "Medical care"}


def test_resources_are_added_listed_and_removed(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    org = _organization(sut, w["clerk"])
    url = f"/v1/organizations/{org['id']}/resources"
    clinic = sut.client.post(url, json={"kind": "staff", "category": "medical", "description": "义诊医生",
                                        "quantity": 2}, headers=w["clerk"])
    assert clinic.status_code == 201 and clinic.json["state"] == "available" and clinic.json["quantity"] == 2
    hall = sut.client.post(url, json={"kind": "venue", "category": "venue", "description": "礼堂"},
                           headers=w["clerk"]).json
    assert hall["quantity"] == 1
    removed = sut.client.post(f"{url}/{clinic.json['id']}/remove", headers=w["clerk"])
    assert removed.status_code == 200 and removed.json["state"] == "removed" and removed.json["removed_at"]
    again = sut.client.post(f"{url}/{clinic.json['id']}/remove", headers=w["clerk"])
    assert again.status_code == 409 and again.json["type"] == "/problems/invalid-transition"
    listed = sut.client.get(url, headers=w["clerk"]).json["items"]
    assert [r["id"] for r in listed] == [hall["id"]]
    everything = sut.client.get(f"{url}?include_removed=true", headers=w["clerk"]).json["items"]
    assert {r["id"] for r in everything} == {hall["id"], clinic.json["id"]}
    assert sut.client.get(f"{url}?category=venue&include_removed=true", headers=w["clerk"]).json["items"] == [hall]
    assert sut.client.get(f"{url}/{hall['id']}", headers=w["clerk"]).json == hall
    assert _routing_keys(sut)[-3:] == ["registry.resource.added", "registry.resource.added",
                                       "registry.resource.removed"]


def test_resources_of_a_foreign_or_missing_organization_are_404_and_bad_codes_name_the_field(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    org = _organization(sut, w["clerk"])
    url = f"/v1/organizations/{org['id']}/resources"
    body = {"kind": "staff", "category": "medical", "description": "x"}
    assert sut.client.get(url, headers=w["stranger"]).status_code == 404
    assert sut.client.post(url, json=body, headers=w["stranger"]).status_code == 404
    other = _organization(sut, w["clerk"], name="别的单位")
    hall = sut.client.post(url, json=body, headers=w["clerk"]).json
    wrong = f"/v1/organizations/{other['id']}/resources/{hall['id']}"
    assert sut.client.get(wrong, headers=w["clerk"]).status_code == 404
    assert sut.client.post(f"{wrong}/remove", headers=w["clerk"]).status_code == 404
    r = sut.client.post(url, json={**body, "category": "astrology"}, headers=w["clerk"])
    assert r.status_code == 422 and "category" in r.json["errors"]


# --- Pairings ------------------------------------------------------------------------------------------

def test_pairings_are_created_filtered_and_removed(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    org = _organization(sut, w["clerk"])
    compound = w["compound"]["id"]
    r = sut.client.post("/v1/pairings", json={"organization_id": org["id"], "compound_id": compound,
                                              "starts_on": "2025-01-01", "ends_on": "2025-12-31"},
                        headers=w["clerk"])
    assert r.status_code == 201 and r.json["state"] == "active", r.json
    pairing = r.json
    twice = sut.client.post("/v1/pairings", json={"organization_id": org["id"], "compound_id": compound,
                                                  "starts_on": "2025-06-01"}, headers=w["clerk"])
    assert twice.status_code == 409

    def ids(query: str) -> list[str]:
        r = sut.client.get(f"/v1/pairings{query}", headers=w["clerk"])
        assert r.status_code == 200, r.json
        return [p["id"] for p in r.json["items"]]

    assert ids(f"?compound_id={compound}&active_on=2025-03-01") == [pairing["id"]]
    assert ids(f"?organization_id={org['id']}&active_on=2026-01-01") == []
    assert ids("?active_on=2024-12-31") == []
    removed = sut.client.post(f"/v1/pairings/{pairing['id']}/remove", json={"ends_on": "2025-03-31",
                                                                           "reason": "单位搬迁"}, headers=w["clerk"])
    assert removed.status_code == 200 and removed.json["state"] == "removed" and removed.json["ends_on"] == "2025-03-31"
    assert ids("?active_on=2025-04-01") == [] and ids("?state=removed") == [pairing["id"]]
    again = sut.client.post(f"/v1/pairings/{pairing['id']}/remove", json={"ends_on": "2025-03-31"},
                            headers=w["clerk"])
    assert again.status_code == 409
    assert sut.client.get(f"/v1/pairings/{pairing['id']}", headers=w["stranger"]).status_code == 404
    assert sut.client.get("/v1/pairings", headers=w["stranger"]).json["items"] == []
    assert _routing_keys(sut)[-2:] == ["registry.pairing.created", "registry.pairing.removed"]


def test_a_pairing_with_an_unknown_organization_or_a_non_compound_is_422_naming_the_field(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    org = _organization(sut, w["clerk"])
    for body, field in (({"organization_id": w["compound"]["id"]}, "organization_id"),
                        ({"compound_id": w["community"]["id"]}, "compound_id"),
                        ({"ends_on": "2024-01-01"}, "ends_on")):
        r = sut.client.post("/v1/pairings", json={"organization_id": org["id"], "compound_id": w["compound"]["id"],
                                                  "starts_on": "2025-01-01", **body}, headers=w["clerk"])
        assert r.status_code == 422 and field in r.json["errors"], r.json


# --- Committees: convenor and units --------------------------------------------------------------------

def test_units_join_leave_and_their_history_is_listable(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    r = sut.client.post("/v1/committees", json={"community_id": w["community"]["id"], "name": "星光社区大党委",
                                                "convenor_name": "张书记"}, headers=w["clerk"])
    assert r.status_code == 201 and r.json["convenor_name"] == "张书记" and r.json["unit_count"] == 0
    committee = r.json
    org = _organization(sut, w["clerk"])
    url = f"/v1/committees/{committee['id']}/units"
    joined = sut.client.post(url, json={"organization_id": org["id"], "joined_on": "2025-01-01",
                                        "member_name": "李医生", "member_phone": PHONE}, headers=w["clerk"])
    assert joined.status_code == 201, joined.json
    assert joined.json["member_phone"] == "138****5678" and joined.json["organization_name"] == "永川区人民医院"
    assert joined.json["state"] == "member"
    twice = sut.client.post(url, json={"organization_id": org["id"], "joined_on": "2025-02-01",
                                       "member_name": "李医生"}, headers=w["clerk"])
    assert twice.status_code == 409 and twice.json["type"] == "/problems/invalid-transition"
    assert sut.client.get(url, headers=w["pii"]).json["items"][0]["member_phone"] == PHONE
    left = sut.client.post(f"{url}/{org['id']}/leave", json={"left_on": "2025-06-30", "reason": "单位撤并"},
                           headers=w["clerk"])
    assert left.status_code == 200 and left.json["state"] == "left" and left.json["left_reason"] == "单位撤并"
    again = sut.client.post(f"{url}/{org['id']}/leave", json={"left_on": "2025-07-01", "reason": "x"},
                            headers=w["clerk"])
    assert again.status_code == 409
    assert sut.client.get(url, headers=w["clerk"]).json["items"] == []
    history = sut.client.get(f"{url}?include_left=true", headers=w["clerk"]).json["items"]
    assert [u["id"] for u in history] == [joined.json["id"]]
    now = sut.client.get(f"/v1/committees/{committee['id']}", headers=w["clerk"])
    assert now.json["unit_count"] == 0 and now.headers["ETag"] == '"3"'
    assert sut.client.get(url, headers=w["stranger"]).status_code == 404
    assert [k for k in _routing_keys(sut) if k.startswith("registry.committee")] == [
        "registry.committee.created", "registry.committee.unit_joined", "registry.committee_unit.contact",
        "registry.committee.unit_left"]


def test_the_convenor_is_edited_with_if_match(make_service):
    sut = make_service("registry")
    w = _setup(sut)
    committee = sut.client.post("/v1/committees", json={"community_id": w["community"]["id"], "name": "大党委"},
                                headers=w["clerk"]).json
    url = f"/v1/committees/{committee['id']}"
    ok = sut.client.patch(url, json={"convenor_name": "刘书记"}, headers={**w["clerk"], "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json["convenor_name"] == "刘书记" and ok.headers["ETag"] == '"2"'
    stale = sut.client.patch(url, json={"name": "x"}, headers={**w["clerk"], "If-Match": '"1"'})
    assert stale.status_code == 412
    assert sut.client.patch(url, json={"name": "x"}, headers=w["stranger"]).status_code == 404
    assert sut.client.get(url, headers=w["clerk"]).json["convenor_name"] == "刘书记"
