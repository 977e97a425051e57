"""The registry on PostgreSQL: bulk area import (rows/s) and member search and list (p50/p99 ms).

Import: a 1,200-row street file like Zhongshan Road (the street, 30 communities, 212 managed, 412
three-no and 11 resettlement compounds and 534 grids). Each run imports it into a fresh registry
database, through the whole HTTP stack in process (auth, guard, CSV parsing, validation, one
transaction, the outbox), and measures, in the same run and on the same server, the baseline: a bare
Core executemany of the same 1,200 rows into a table of the same shape, with no validation and no events.

Members: a fresh registry database seeded by Core bulk inserts (not measured) with a district of
5,000 compounds, their buildings, 300 organizations and 100,000 members with Chinese names, skills
and roles, then ANALYZEd. `GET /v1/members` is asked through the HTTP stack in process (auth, query
parsing, the SQL, the skills and roles loaded for the page, masking, the JSON) with each filter,
with values varied per request, and the same query with no filter is the baseline. The cases take
turns, so a busy moment of the machine falls on all of them alike.

    python -m bench.registry [--only import,members] [--runs 3] [--members 100000] [--compounds 5000]
                             [--repeat 200] [--explain] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing, redirect_stderr
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from bench.inprocess import SECRET, ServiceApi, migrate
from bench.servers import Databases, database_url

COMMUNITIES = 30
KINDS = (("managed", 212), ("three_no", 412), ("resettlement", 11))
GRIDS = 534


def street_rows(street: str = "中山路街道") -> list[dict[str, str]]:
    """The street's 1,200 rows, parents before children, as a CSV file would hold them."""
    rows = [{"level": "street", "name": street, "parent": ""}]
    communities = [f"第{i + 1}社区" for i in range(COMMUNITIES)]
    rows += [{"level": "community", "name": name, "parent": street} for name in communities]
    number = 0
    for kind, count in KINDS:
        for _ in range(count):
            number += 1
            community = communities[number % COMMUNITIES]
            mode = {"managed": "property_company", "three_no": "self_managed", "resettlement": "soe_fallback"}[kind]
            rows.append({"level": "compound", "name": f"{community}{number}号小区", "parent": f"{street}/{community}",
                         "kind": kind, "management_mode": mode, "households": str(100 + number % 900)})
    rows += [{"level": "grid", "name": f"第{i + 1}网格", "parent": f"{street}/{communities[i % COMMUNITIES]}"}
             for i in range(GRIDS)]
    return rows


COLUMNS = ("level", "name", "parent", "kind", "management_mode", "households")


def as_csv(rows: Sequence[dict[str, str]]) -> str:
    lines = [",".join(COLUMNS)] + [",".join(row.get(column, "") for column in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def import_once(url: str, body: bytes) -> tuple[float, int]:
    """Seconds for one import of `body` into a fresh registry at `url`, and rows imported."""
    from linli.shared.config import BusSettings, Settings
    from linli.shared.http.app import create_app
    from linli.shared.http.auth import issue_token
    from linli.shared.migrations import upgrade
    from linli.suite import runtime

    tag = uuid.uuid4().hex[:8]
    bus = BusSettings(url="memory://", exchange=f"b{tag}.linli.events", private_exchange=f"b{tag}.linli.private",
                      dead_exchange=f"b{tag}.linli.dead", queue_prefix=f"b{tag}.")
    rt = runtime("registry", Settings(service="registry", database_url=url, bus=bus, jwt_secret=SECRET))
    try:
        upgrade(rt)
        client = create_app(rt).test_client()
        admin = issue_token(SECRET, sub="bench", district="*", scopes="registry:admin")
        operator = {"Authorization": f"Bearer {admin}"}
        district = client.post("/v1/areas", json={"level": "district", "name": "永川区"}, headers=operator).json["id"]
        clerk = issue_token(SECRET, sub="bench", district=district, scopes="registry:write")
        started = time.perf_counter()
        response = client.post("/v1/areas/import", data=body,
                               headers={"Authorization": f"Bearer {clerk}", "Content-Type": "text/csv"})
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise SystemExit(f"import answered {response.status_code}: {response.get_data(as_text=True)[:500]}")
        return elapsed, response.json["count"]
    finally:
        rt.dispose()


def baseline_once(url: str, rows: Sequence[dict[str, str]]) -> float:
    """Seconds for a bare Core executemany of the same rows into the areas table (no checks, no events)."""
    from linli.services.registry.models import Area

    engine = create_engine(url)
    try:
        Area.metadata.create_all(engine, tables=[Area.__table__])
        now = datetime.now(UTC)
        district = uuid.uuid4()
        ids = {"": district}
        values = []
        for row in rows:
            ident = uuid.uuid4()
            path = f"{row['parent']}/{row['name']}" if row["parent"] else row["name"]
            ids[path] = ident
            values.append({"id": ident, "district_id": str(district), "parent_id": ids.get(row["parent"]),
                           "level": row["level"], "name": row["name"], "kind": row.get("kind"),
                           "time_zone": "Asia/Shanghai", "created_at": now, "updated_at": now, "version": 1})
        for value in values:  # the street's parent (the district) is not in this table
            value["parent_id"] = None if value["level"] == "street" else value["parent_id"]
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(Area.__table__.insert(), values)
        return time.perf_counter() - started
    finally:
        engine.dispose()



# --- Member search and list -----------------------------------------------------------------------------

# The most common surnames, most common first; a few compound ones are rarer still.
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰文建国志红海小晓春金云凤林德永成福荣新庆祥宇鹏辉"
         "斌浩俊峰亮飞波宁婷雪琳丹萍颖倩慧佳欣怡梅莉燕玲淑珍秋月鑫帅凯东立学兵光亚彬琴蕾瑞晨阳思嘉子梓涵轩博睿泽雨"
         "诗可乐天安一家振宏伦江松健虹")
# Surnames none of the seeded members has: fragments that find nobody.
ABSENT_SURNAMES = "阚甄翟冼濮"
STATUSES = (("in_service", 60), ("retired", 40))
ORGANIZATIONS = 300


def zipf(count: int, exponent: float) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(count)]


def chinese_name(rng: random.Random) -> str:
    if rng.random() < 0.01:
        surname = rng.choice(COMPOUND_SURNAMES)
    else:
        surname = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    given = rng.choices(GIVEN, weights=GIVEN_WEIGHTS, k=1 if rng.random() < 0.25 else 2)
    return surname + "".join(given)


SURNAME_WEIGHTS = zipf(len(SURNAMES), 0.7)
GIVEN_WEIGHTS = zipf(len(GIVEN), 0.6)


@dataclass
class World:
    """What the seeding made, to draw query values from."""

    district: str
    compounds: list[uuid.UUID] = field(default_factory=list)
    buildings: list[uuid.UUID] = field(default_factory=list)
    organizations: list[uuid.UUID] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    keys: list[tuple[datetime, uuid.UUID]] = field(default_factory=list)  # (created_at, id) of every member


def seed_members(url: str, *, members: int, compounds: int, seed: int = 1) -> World:
    """Fill a migrated registry database at `url` by Core bulk inserts, then ANALYZE it."""
    from linli.services.registry.domain import BUILDING_ROLES, MEMBER_ROLES, ORGANIZATION_KINDS, RESOURCE_CATEGORIES
    from linli.services.registry.models import Area, Member, MemberRole, MemberSkill, Organization

    rng = random.Random(seed)
    now = datetime.now(UTC)
    district = uuid.uuid4()
    world = World(district=str(district))

    def entity(created_at: datetime, **values: Any) -> dict[str, Any]:
        return {"id": uuid.uuid4(), "district_id": world.district, "created_at": created_at,
                "updated_at": created_at, "version": 1, **values}

    area_columns = {"parent_id": None, "kind": None, "time_zone": "Asia/Shanghai", "management_mode": None,
                    "households": None, "floors": None}
    areas = [{**entity(now - timedelta(days=1200), level="district", name=f"永川区{district.hex[:6]}",
                       **area_columns), "id": district}]
    streets = [entity(now - timedelta(days=1100), level="street", name=f"第{i + 1}街道",
                      **{**area_columns, "parent_id": district}) for i in range(max(1, compounds // 1250))]
    communities = [entity(now - timedelta(days=1000), level="community", name=f"第{i + 1}社区",
                          **{**area_columns, "parent_id": streets[i % len(streets)]["id"]})
                   for i in range(max(1, compounds // 50))]
    areas += streets + communities
    buildings_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    for i in range(compounds):
        compound = entity(now - timedelta(days=900 - i % 100), level="compound", name=f"{i + 1}号小区",
                          **{**area_columns, "parent_id": communities[i % len(communities)]["id"],
                             "kind": rng.choice(("managed", "three_no", "resettlement", "old")),
                             "management_mode": "property_company", "households": rng.randint(50, 2000)})
        areas.append(compound)
        buildings_of[compound["id"]] = []
        world.compounds.append(compound["id"])
        # Most compounds have their buildings registered, a few to a dozen of them.
        for b in range(rng.randint(1, 12) if rng.random() < 0.7 else 0):
            building = entity(compound["created_at"], level="building", name=f"{b + 1}栋",
                              **{**area_columns, "parent_id": compound["id"], "floors": rng.randint(2, 33)})
            areas.append(building)
            buildings_of[compound["id"]].append(building["id"])
            world.buildings.append(building["id"])

    organizations = [entity(now - timedelta(days=1000), kind=rng.choice(ORGANIZATION_KINDS), name=f"第{i + 1}单位",
                            address=None, contact_person=None, contact_phone=None) for i in range(ORGANIZATIONS)]
    world.organizations = [row["id"] for row in organizations]

    # Compounds differ in size: a few big ones hold many members.
    compound_weights = [rng.lognormvariate(0, 0.8) for _ in world.compounds]
    employer_weights = zipf(len(organizations), 0.8)
    skills, skill_weights = list(RESOURCE_CATEGORIES), zipf(len(RESOURCE_CATEGORIES), 0.5)
    span = timedelta(days=3 * 365).total_seconds()
    start = now - timedelta(days=3 * 365)
    # Registered over three years, stored in that order, as a live registry's rows are.
    times = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(members))
    member_rows, skill_rows, role_rows = [], [], []
    homes = rng.choices(world.compounds, weights=compound_weights, k=members)
    for i, (created_at, compound) in enumerate(zip(times, homes, strict=True)):
        buildings = buildings_of[compound]
        building = rng.choice(buildings) if buildings and rng.random() < 0.85 else None
        left = rng.random() < 0.03
        employer = rng.choices(world.organizations, weights=employer_weights)[0] if rng.random() < 0.55 else None
        row = entity(created_at, name=chinese_name(rng), phone=f"13{i:09d}", employer_id=employer,
                     compound_id=compound, building_id=building,
                     status=rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0],
                     membership="left" if left else "active", left_on=date(2026, 1, 1) if left else None,
                     left_reason="迁出" if left else None)
        member_rows.append(row)
        world.names.append(row["name"])
        world.keys.append((created_at, row["id"]))
        count = rng.choices((0, 1, 2, 3), weights=(40, 35, 17, 8))[0]
        for skill in set(rng.choices(skills, weights=skill_weights, k=count)):
            skill_rows.append({"member_id": row["id"], "skill": skill})
        if rng.random() < 0.15:
            allowed = MEMBER_ROLES if building else tuple(r for r in MEMBER_ROLES if r not in BUILDING_ROLES)
            for role in set(rng.choices(allowed, k=1 if rng.random() < 0.85 else 2)):
                role_rows.append({"member_id": row["id"], "role": role})

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(Area.__table__.insert(), areas)
            conn.execute(Organization.__table__.insert(), organizations)
            for table, rows in ((Member.__table__, member_rows), (MemberSkill.__table__, skill_rows),
                                (MemberRole.__table__, role_rows)):
                for offset in range(0, len(rows), 10_000):
                    conn.execute(table.insert(), rows[offset:offset + 10_000])
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    finally:
        engine.dispose()
    return world


Query = dict[str, str]


@dataclass
class Case:
    label: str
    queries: Callable[[int], Query]  # the i-th request's query string
    timings: list[float] = field(default_factory=list)
    items: list[int] = field(default_factory=list)


def fragment(rng: random.Random, names: Sequence[str], length: int) -> str:
    """A `length`-character piece of a member's name, drawn as people are: common names more often."""
    while True:
        name = rng.choice(names)
        if len(name) >= length:
            at = rng.randrange(len(name) - length + 1)
            return name[at:at + length]


def member_cases(world: World, repeat: int, seed: int = 2) -> list[Case]:
    """The searches measured, each with `repeat` query strings drawn up front (the first is the baseline)."""
    from linli.services.registry.domain import MEMBER_ROLES, RESOURCE_CATEGORIES
    from linli.shared.http.pagination import encode_cursor

    rng = random.Random(seed)
    skills = list(RESOURCE_CATEGORIES)

    def drawn(draw: Callable[[], Query]) -> Callable[[int], Query]:
        values = [draw() for _ in range(repeat)]
        return values.__getitem__

    def absent(length: int) -> str:
        return rng.choice(ABSENT_SURNAMES) + "".join(rng.choices(GIVEN, k=length - 1))

    def deep_cursor() -> Query:
        created_at, ident = rng.choice(world.keys)
        return {"cursor": encode_cursor([created_at, ident])}

    status = [s for s, _ in STATUSES]
    return [
        Case("no filter (baseline)", lambda _: {}),
        Case("q= 2 chars", drawn(lambda: {"q": fragment(rng, world.names, 2)})),
        Case("q= 3 chars", drawn(lambda: {"q": fragment(rng, world.names, 3)})),
        Case("q= 2 chars, nobody", drawn(lambda: {"q": absent(2)})),
        Case("q= 3 chars, nobody", drawn(lambda: {"q": absent(3)})),
        Case("q= 1 char (surname)", drawn(lambda: {"q": fragment(rng, world.names, 1)})),
        Case("compound_id=", drawn(lambda: {"compound_id": str(rng.choice(world.compounds))})),
        Case("building_id=", drawn(lambda: {"building_id": str(rng.choice(world.buildings))})),
        Case("skill=", drawn(lambda: {"skill": rng.choice(skills)})),
        Case("role=", drawn(lambda: {"role": rng.choice(MEMBER_ROLES)})),
        Case("employer_id=", drawn(lambda: {"employer_id": str(rng.choice(world.organizations))})),
        Case("status=", drawn(lambda: {"status": rng.choice(status)})),
        Case("membership=left", lambda _: {"membership": "left"}),
        Case("status= skill= compound_id=", drawn(lambda: {"status": rng.choice(status), "skill": rng.choice(skills),
                                                           "compound_id": str(rng.choice(world.compounds))})),
        Case("q= 2 chars status= skill=", drawn(lambda: {"q": fragment(rng, world.names, 2),
                                                         "status": rng.choice(status), "skill": rng.choice(skills)})),
        Case("page 2 (cursor), no filter", lambda _: {}),  # its cursor is filled in once page 1 is known
        Case("page at a random cursor", drawn(deep_cursor)),
        Case("page 2 (cursor), skill=", drawn(lambda: {"skill": rng.choice(skills)})),
    ]


class MemberApi:
    """`GET /v1/members` of the registry at `url`, asked as a clerk of `district` through the app in process."""

    PATH = "/v1/members"

    def __init__(self, url: str, district: str) -> None:
        self.api = ServiceApi("registry", url, district, "registry:read")
        self.rt = self.api.rt

    def ask(self, query: Query) -> Any:
        return self.api.ask(self.PATH, query)

    def statements(self, query: Query) -> list[tuple[str, Any]]:
        return self.api.statements(self.PATH, query)

    def close(self) -> None:
        self.api.close()


def measure_members(api: MemberApi, cases: Sequence[Case], repeat: int) -> None:
    """Ask every case `repeat` times, the cases taking turns; fills each case's timings (s) and page sizes."""
    for case in cases:
        if case.label.startswith("page 2"):  # page 2's cursors come from page 1, asked once here
            seconds = []
            for i in range(repeat):
                query = case.queries(i)
                seconds.append({**query, "cursor": api.ask(query)["next_cursor"]})
            if any(query["cursor"] is None for query in seconds):
                raise SystemExit(f"{case.label}: page 1 had no next page; seed more members")
            case.queries = seconds.__getitem__
    for case in cases:  # warm up: the first requests pay for imports, plans and caches
        for i in range(min(5, repeat)):
            api.ask(case.queries(i))
    for i in range(repeat):
        for case in cases:
            query = case.queries(i)
            started = time.perf_counter()
            page = api.ask(query)
            case.timings.append(time.perf_counter() - started)
            case.items.append(len(page["items"]))


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def explain_members(api: MemberApi, cases: Sequence[Case]) -> None:
    """Print PostgreSQL's EXPLAIN ANALYZE of the members SELECT of each case's slowest request."""
    for case in cases:
        slowest = max(range(len(case.timings)), key=case.timings.__getitem__)
        query = case.queries(slowest)
        statement, parameters = next((s, p) for s, p in api.statements(query)
                                     if s.lstrip().startswith("SELECT members."))
        with api.rt.engine.begin() as conn:
            if "q" in query:  # as the view plans it
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).scalars()
            print(f"\n--- {case.label}, the slowest request ({case.timings[slowest] * 1000:.1f} ms): {query}")
            print("\n".join(plan))


def member_report(cases: Sequence[Case]) -> list[str]:
    base = cases[0]
    base_p50, base_p99 = statistics.median(base.timings), percentile(base.timings, 0.99)
    lines = [f"{'GET /v1/members':34} {'p50 ms':>7} {'p99 ms':>7} {'p50 ×':>6} {'p99 ×':>6} {'items/page':>10}",
             "-" * 75]
    for case in cases:
        p50, p99 = statistics.median(case.timings), percentile(case.timings, 0.99)
        lines.append(f"{case.label:34} {p50 * 1000:7.1f} {p99 * 1000:7.1f} {p50 / base_p50:6.2f} {p99 / base_p99:6.2f} "
                     f"{statistics.mean(case.items):10.1f}")
    return lines


def run_members(url: str, *, members: int, compounds: int, repeat: int, explain: bool = False) -> list[Case]:
    """Migrate and seed the registry at `url`, then measure every case; prints the table."""
    migrate("registry", url)
    started = time.perf_counter()
    world = seed_members(url, members=members, compounds=compounds)
    seeded = time.perf_counter() - started
    cases = member_cases(world, repeat)
    with closing(MemberApi(url, world.district)) as api, open(os.devnull, "w") as sink, redirect_stderr(sink):
        # Each request still renders its JSON log line, as in production, into nowhere.
        measure_members(api, cases, repeat)
        if explain:
            explain_members(api, cases)
    print(f"\nmembers: {members:,} in {compounds:,} compounds ({len(world.buildings):,} buildings, "
          f"{len(world.organizations)} organizations), seeded in {seeded:.0f} s (not measured); "
          f"{repeat} requests per case, limit 50, the cases taking turns")
    print("\n".join(member_report(cases)))
    return cases


def run_import(url: str, runs: int) -> None:
    rows = street_rows()
    body = as_csv(rows).encode()
    databases = Databases(url, label="bench")
    imports, baselines = [], []
    try:
        for _ in range(runs):
            seconds, count = import_once(databases.fresh("registry"), body)
            imports.append(count / seconds)
            baselines.append(len(rows) / baseline_once(databases.fresh("bare"), rows))
    finally:
        databases.drop_all()
    ratio = statistics.median(baselines) / statistics.median(imports)
    print(f"rows per file:          {len(rows)} ({len(body)} bytes of CSV)")
    print(f"import via HTTP:        median {statistics.median(imports):8.0f} rows/s "
          f"(runs: {', '.join(f'{r:.0f}' for r in imports)})")
    print(f"bare Core executemany:  median {statistics.median(baselines):8.0f} rows/s "
          f"(runs: {', '.join(f'{r:.0f}' for r in baselines)})")
    print(f"the import takes {ratio:.1f}x the bare insert's time "
          f"({len(rows) / statistics.median(imports):.2f} s for the file)")


def main(argv: Sequence[str] | None = None) -> None:
    from linli.shared.logs import configure_logging

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="import,members", help="comma-separated: import, members")
    parser.add_argument("--runs", type=int, default=3, help="imports of the street file")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--compounds", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=200, help="requests per member search case")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each case's slowest SQL")
    parser.add_argument("--database-url", default=database_url())
    args = parser.parse_args(argv)
    configure_logging(fmt="json")
    only = set(args.only.split(","))
    if "import" in only:
        run_import(args.database_url, args.runs)
    if "members" in only:
        databases = Databases(args.database_url, label="bench")
        try:
            run_members(databases.fresh("members"), members=args.members, compounds=args.compounds,
                        repeat=args.repeat, explain=args.explain)
        finally:
            databases.drop_all()


if __name__ == "__main__":
    main()
