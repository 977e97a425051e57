"""Bulk area import on PostgreSQL: rows/s of a 1,200-row street file through `POST /v1/areas/import`.

The file is a street like Zhongshan Road: the street, 30 communities, 212 managed, 412 three-no and
11 resettlement compounds and 534 grids. Each run imports it into a fresh registry database, through
the whole HTTP stack in process (auth, guard, CSV parsing, validation, one transaction, the outbox),
and measures, in the same run and on the same server, the baseline: a bare Core executemany of the
same 1,200 rows into a table of the same shape, with no validation and no events.

    python -m bench.registry [--runs 3] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import create_engine

from bench.servers import Databases, database_url

COMMUNITIES = 30
KINDS = (("managed", 212), ("three_no", 412), ("resettlement", 11))
GRIDS = 534
SECRET = "bench-secret-not-for-production-0123456789"


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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=database_url())
    args = parser.parse_args(argv)
    rows = street_rows()
    body = as_csv(rows).encode()
    databases = Databases(args.database_url, label="bench")
    imports, baselines = [], []
    try:
        for _ in range(args.runs):
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


if __name__ == "__main__":
    main()
