"""Party members on real PostgreSQL and RabbitMQ: the contact stays private, names are found by trigrams."""

from __future__ import annotations

from sqlalchemy import text

from linli.shared.bus import private_exchange
from tests.support.collector import Collector
from tests.support.plans import plan_of, statements_sent
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
    assert found("阳晓") == {"欧阳晓明"} and found("李晓") == {"李晓明"} and found("g x") == {"Zhang Xiaoming"}
    with registry.rt.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == 1
        assert conn.scalar(text("SELECT attstattarget FROM pg_attribute WHERE attrelid = 'members'::regclass "
                                "AND attname = 'name'")) == 1000
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.scalars(text("EXPLAIN SELECT id FROM members WHERE name ILIKE '%李晓明%'")))
    assert "ix_members_name_trgm" in plan, plan
    # Two characters: with a district of some size, not a walk through all of it (see bench/registry.py).
    with registry.rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(FILLER), {"compound": compound})
        # As autovacuum would: statistics, and the trigram index's pending entries merged.
        conn.execute(text("VACUUM ANALYZE members"))
    two = _plan_of(registry, "/v1/members", {"q": "晓明"}, clerk)
    assert "ix_members_name_trgm" in two and "ix_members_name_length" in two, two


# 5,000 three-character names of rare characters (U+4E00-U+55CF), none holding 晓 or 明.
FILLER = """
INSERT INTO members (id, district_id, created_at, updated_at, version, name, phone, compound_id, status, membership)
SELECT gen_random_uuid(), a.district_id, now(), now(), 1, '钱' || chr(19968 + i % 2000) || chr(19968 + i / 3 % 2000),
       '137' || lpad(i::text, 8, '0'), a.id, 'in_service', 'active'
FROM areas a, generate_series(1, 5000) i WHERE a.id = :compound
"""


def _plan_of(registry, path: str, query: dict[str, str], headers: dict[str, str], *discouraged: str) -> str:
    """PostgreSQL's plan of the members SELECT the request runs, sequential scans discouraged (few rows here)."""
    with statements_sent(registry.rt.engine) as seen:
        assert registry.client.get(path, query_string=query, headers=headers).status_code == 200
    statement, parameters = next((s, p) for s, p in seen if s.lstrip().startswith("SELECT members."))
    return plan_of(registry.rt.engine, statement, parameters, "enable_seqscan", *discouraged)


def test_a_page_after_a_cursor_starts_reading_at_the_cursor(live, bus):
    registry = live("registry", bus)
    clerk, compound = _district(registry)
    for i in range(5):
        r = registry.client.post("/v1/members", json={"name": f"赵{i}", "phone": f"1390000{i:04d}",
                                                      "compound_id": compound}, headers=clerk)
        assert r.status_code == 201, r.json
    first = registry.client.get("/v1/members", query_string={"limit": 2}, headers=clerk).json
    plan = _plan_of(registry, "/v1/members", {"limit": 2, "cursor": first["next_cursor"]}, clerk)
    # The cursor bounds the index range rather than filtering every newer row out one by one.
    condition = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "created_at <=" in condition, plan


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
