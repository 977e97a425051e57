"""Party members on real PostgreSQL and RabbitMQ: the contact stays private, names are found by trigrams."""

from __future__ import annotations

from sqlalchemy import text

from linli.shared.bus import private_exchange
from tests.support.collector import Collector
from tests.support.registry_world import yongchuan_over_http
from tests.support.waiting import wait_for

PHONE = "13812345678"


def _district(registry) -> tuple[dict[str, str], str]:
    world = yongchuan_over_http(registry)
    return world["clerk"], world["compound"]["id"]


def test_a_member_s_contact_goes_to_the_private_exchange_only(live, bus, run_threads):
    registry = live("registry", bus)
    public = Collector(bus, binding="registry.member.#")
    private = Collector(bus, binding="#", name="test.dupes", exchange=private_exchange(bus))
    run_threads(registry.rt.relay().run)
    clerk, compound = _district(registry)
    r = registry.client.post("/v1/members", json={"name": "张三", "phone": PHONE, "compound_id": compound},
                             headers=clerk)
    assert r.status_code == 201, r.json
    wait_for(lambda: private.of_type("registry.member.contact"), timeout=30, message="the contact, privately")
    wait_for(lambda: public.of_type("registry.member.registered"), timeout=30, message="the public event")
    [contact] = private.of_type("registry.member.contact")
    assert (contact["subject"], contact["data"]["phone"], contact["data"]["name"]) == (r.json["id"], PHONE, "张三")
    assert public.of_type("registry.member.contact") == []
    assert all(PHONE not in str(event) for event in public.events)
    assert private.of_type("registry.member.registered") == []
    public.close()
    private.close()


def test_members_are_found_by_a_chinese_name_fragment_through_the_trigram_index(live, bus):
    registry = live("registry", bus)
    clerk, compound = _district(registry)
    names = ["李晓明", "王晓红", "张明", "欧阳晓明", "Zhang Xiaoming"] + [f"赵{i}号" for i in range(40)]
    ids = {}
    for i, name in enumerate(names):
        r = registry.client.post("/v1/members", json={"name": name, "phone": f"1390000{i:04d}",
                                                      "compound_id": compound}, headers=clerk)
        assert r.status_code == 201, r.json
        ids[r.json["id"]] = name

    def found(fragment: str) -> set[str]:
        r = registry.client.get("/v1/members", query_string={"q": fragment, "limit": 200}, headers=clerk)
        assert r.status_code == 200, r.json
        return {ids[m["id"]] for m in r.json["items"]}

    assert found("晓明") == {"李晓明", "欧阳晓明"}
    assert found("李晓明") == {"李晓明"}
    assert found("晓") == {"李晓明", "王晓红", "欧阳晓明"}
    assert found("xiaoming") == {"Zhang Xiaoming"}  # case does not matter
    assert found("%") == set()
    with registry.rt.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == 1
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.scalars(text("EXPLAIN SELECT id FROM members WHERE name ILIKE '%李晓明%'")))
    assert "ix_members_name_trgm" in plan, plan


def test_a_move_s_check_in_events_and_the_member_s_move_arrive_in_order(live, bus, run_threads):
    registry = live("registry", bus)
    public = Collector(bus, binding="registry.#")
    run_threads(registry.rt.relay().run)
    clerk, compound = _district(registry)
    community = registry.client.get(f"/v1/areas/{compound}", headers=clerk).json["parent_id"]
    second = registry.client.post("/v1/areas", json={"level": "compound", "name": "月光小区", "kind": "old",
                                                     "parent_id": community}, headers=clerk).json["id"]
    member = registry.client.post("/v1/members", json={"name": "张三", "phone": PHONE, "compound_id": compound},
                                  headers=clerk).json["id"]
    ids = []
    for target in (compound, second):
        r = registry.client.post("/v1/check-ins", json={"member_id": member, "compound_id": target}, headers=clerk)
        assert r.status_code == 201, r.json
        ids.append(r.json["id"])
        # On PostgreSQL the unique "one in force per member" index checks each row at once: the old
        # check-in must end before the new one is confirmed.
        confirmed = registry.client.post(f"/v1/check-ins/{r.json['id']}/confirm", headers=clerk)
        assert confirmed.status_code == 200, confirmed.json
    left = registry.client.post(f"/v1/members/{member}/leave", json={"left_on": "2026-06-01"}, headers=clerk)
    assert left.status_code == 200, left.json
    wait_for(lambda: public.of_type("registry.member.left"), timeout=30, message="the member's leaving")
    steps = [(e["type"].removeprefix("linli.registry."), e["subject"]) for e in public.events
             if "check_in" in e["type"] or e["type"].endswith(("moved", "left"))]
    assert steps == [("check_in.submitted", ids[0]), ("check_in.confirmed", ids[0]),
                     ("check_in.submitted", ids[1]), ("check_in.ended", ids[0]), ("check_in.confirmed", ids[1]),
                     ("member.moved", member), ("check_in.ended", ids[1]), ("member.left", member)]
    [moved] = public.of_type("registry.member.moved")
    assert (moved["data"]["previous_compound_id"], moved["data"]["compound_id"]) == (compound, second)
    assert all(PHONE not in str(event) for event in public.events)
    public.close()
