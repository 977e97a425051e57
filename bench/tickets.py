"""tickets on PostgreSQL: list, filter and the rates (`GET /v1/stats`) at 10k and at 1M tickets (p50/p99 ms).

For each size, a fresh tickets database is migrated to head and seeded by COPY (not measured): the same
geography at both sizes (4 districts, 18 streets, 180 communities, 3,000 compounds, 300 units), and tickets
submitted over two years, stored in that order, with a realistic spread: the first district holds 40% of them,
compounds differ in size (log-normal), five categories (Zipf), 8% urgent; their fates by age (old ones mostly
closed and rated, recent ones at every stage, some overdue), 5% rejected, 3% merged duplicates, 40% dispatched
to a lead unit (a fifth of those with helper units too), ratings with dissatisfied rounds. Then the rates' tallies
are counted from them (tallies.rebuild, as migration 0009 does) and VACUUM ANALYZE.

Then, as a clerk of the first district (`tickets:read`, phones masked), through the Flask app in process (auth,
query parsing, SQL, the page's parts, masking, JSON, the log line rendered into /dev/null), each case `--repeat`
times with values drawn up front (the same draws at both sizes), the cases and the sizes taking turns (both databases
are seeded first, so a busy spell of the machine falls on both sizes alike). Printed: p50 and p99 per
case at each size and the ratio 1M ÷ 10k. The issue's aim: p99 grows less than 1.5×.

    python -m bench.tickets [--sizes 10000,1000000] [--repeat 100] [--explain] [--database-url ...]

The intake-throughput half of bench/tickets is bench/intake.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.inprocess import ServiceApi, migrate
from bench.registry import Case, percentile
from bench.servers import Databases, database_url

DISTRICTS = 4
STREETS = 18
COMMUNITIES = 180
COMPOUNDS = 3000
UNITS = 300
YEARS = 2
CATEGORIES = ("general", "facilities", "environment", "dispute", "fast_track")
DISTRICT_SHARE = (0.4, 0.25, 0.2, 0.15)
HOUR = timedelta(hours=1)
TICKET_COLUMNS = (
    "id", "district_id", "compound_id", "building_id", "kind", "urgency", "source", "title", "description", "category",
    "address", "lat", "lon", "attachments", "reporter_name", "reporter_phone", "state", "due_at", "overdue",
    "member_id", "master_id", "close_reason", "closed_at", "rating", "rating_comment", "stage", "accept_due_at",
    "dispatch_due_at", "resolve_due_at", "remind_at", "reminded", "responded_at", "resolved_at", "overdue_at",
    "dissatisfied_ratings", "lead_unit_id", "created_at", "updated_at", "version",
)
PART_COLUMNS = ("id", "ticket_id", "position", "unit_id", "lead", "state", "due_at", "created_at", "updated_at",
                "remind_at", "reminded", "overdue")


@dataclass
class Geography:
    """The areas and units, the same at every size (seeded once per database from the same random seed)."""

    districts: list[str]
    areas: list[dict[str, Any]]  # districts, streets, communities
    compounds: list[dict[str, Any]]
    units: list[dict[str, Any]]
    compound_weights: list[float]
    streets_of: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    communities_of: dict[str, list[uuid.UUID]] = field(default_factory=dict)


def geography(seed: int = 1) -> Geography:
    rng = random.Random(seed)
    districts = [f"bench-district-{i + 1}" for i in range(DISTRICTS)]
    areas: list[dict[str, Any]] = []
    district_ids = {}
    for i, district in enumerate(districts):
        district_ids[district] = uuid.UUID(int=rng.getrandbits(128))
        areas.append({"id": district_ids[district], "district_id": district, "version": 1, "level": "district",
                      "name": f"第{i + 1}区", "parent_id": None})
    streets = []
    for i in range(STREETS):
        district = districts[i % DISTRICTS]
        streets.append({"id": uuid.UUID(int=rng.getrandbits(128)), "district_id": district, "version": 1,
                        "level": "street", "name": f"第{i + 1}街道", "parent_id": district_ids[district]})
    communities = []
    for i in range(COMMUNITIES):
        street = streets[i % STREETS]
        communities.append({"id": uuid.UUID(int=rng.getrandbits(128)), "district_id": street["district_id"],
                            "version": 1, "level": "community", "name": f"第{i + 1}社区", "parent_id": street["id"]})
    areas += streets + communities
    compounds = []
    for i in range(COMPOUNDS):
        community = communities[i % COMMUNITIES]
        compounds.append({"id": uuid.UUID(int=rng.getrandbits(128)), "district_id": community["district_id"],
                          "version": 1, "name": f"{i + 1}号小区", "community_id": community["id"],
                          "kind": rng.choice(("managed", "three_no", "resettlement", "old"))})
    units = [{"id": uuid.UUID(int=rng.getrandbits(128)), "district_id": districts[i % DISTRICTS], "version": 1,
              "name": f"第{i + 1}单位", "kind": "agency"} for i in range(UNITS)]
    world = Geography(districts, areas, compounds, units, [rng.lognormvariate(0, 0.8) for _ in compounds])
    for row in streets:
        world.streets_of.setdefault(row["district_id"], []).append(row["id"])
    for row in communities:
        world.communities_of.setdefault(row["district_id"], []).append(row["id"])
    return world


def _fate(rng: random.Random, age_days: float) -> str:
    """How far a ticket of this age got: old ones mostly closed, recent ones anywhere along the way."""
    if age_days > 60:
        return rng.choices(("closed", "closed_unfixed", "resolved", "reviewed", "in_progress", "dispatched"),
                           weights=(78, 8, 5, 3, 3, 3))[0]
    if age_days > 14:
        return rng.choices(("closed", "closed_unfixed", "resolved", "reviewed", "in_progress", "dispatched",
                            "listed", "accepted"), weights=(45, 5, 15, 8, 12, 10, 3, 2))[0]
    return rng.choices(("closed", "resolved", "in_progress", "dispatched", "listed", "escalated", "accepted",
                        "submitted"), weights=(10, 10, 20, 20, 8, 7, 10, 15))[0]


def seed_tickets(url: str, world: Geography, count: int, now: datetime, seed: int = 2) -> float:
    """COPY `count` tickets (and their units' parts) into the migrated database at `url`; returns seconds taken."""
    from linli.services.tickets.models import Area, Compound, Organization
    from linli.services.tickets.tallies import rebuild

    started = time.perf_counter()
    rng = random.Random(seed)
    start = now - timedelta(days=365 * YEARS)
    span = (now - start).total_seconds()
    by_district = {d: [c for c in world.compounds if c["district_id"] == d] for d in world.districts}
    weight_of = {c["id"]: w for c, w in zip(world.compounds, world.compound_weights, strict=True)}
    # Cumulative weights: each draw a bisection, not a pass over the district's compounds.
    cumulative = {d: list(itertools.accumulate(weight_of[c["id"]] for c in by_district[d])) for d in world.districts}
    units_of = {d: [u["id"] for u in world.units if u["district_id"] == d] for d in world.districts}
    category_weights = tuple(itertools.accumulate((40, 25, 20, 10, 5)))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(Area.__table__.insert(), world.areas)
            conn.execute(Compound.__table__.insert(), world.compounds)
            conn.execute(Organization.__table__.insert(), world.units)
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            parts_rows: list[list[Any]] = []
            with driver.cursor() as cursor:
                # One COPY at a time on a connection: the tickets, then their parts.
                with cursor.copy(f"COPY tickets ({', '.join(TICKET_COLUMNS)}) FROM STDIN") as tickets_copy:
                    recent: dict[uuid.UUID, uuid.UUID] = {}
                    # Submitted over two years, stored in that order, as a live service's rows are.
                    times = sorted(rng.uniform(0, span) for _ in range(count))
                    districts = rng.choices(world.districts, weights=DISTRICT_SHARE, k=count)
                    for i, (offset, district) in enumerate(zip(times, districts, strict=True)):
                        created = start + timedelta(seconds=offset)
                        compound = rng.choices(by_district[district], cum_weights=cumulative[district])[0]
                        row, parts = _ticket(rng, i, created, now, district, compound, units_of[district],
                                             rng.choices(CATEGORIES, cum_weights=category_weights)[0],
                                             recent.get(compound["id"]))
                        recent[compound["id"]] = row["id"]
                        tickets_copy.write_row([row[name] for name in TICKET_COLUMNS])
                        parts_rows += [[part[name] for name in PART_COLUMNS] for part in parts]
                with cursor.copy(f"COPY ticket_parts ({', '.join(PART_COLUMNS)}) FROM STDIN") as parts_copy:
                    for part_row in parts_rows:
                        parts_copy.write_row(part_row)
            driver.commit()
        finally:
            raw.close()
        # The rates' tallies, as the moves would have kept them (tickets' own rebuild, as migration 0009 does).
        with Session(engine) as session:
            rebuild(session)
            session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _ticket(rng: random.Random, i: int, created: datetime, now: datetime, district: str, compound: dict[str, Any],
            units: list[uuid.UUID], category: str, earlier: uuid.UUID | None
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    urgent = category == "fast_track" or rng.random() < 0.05
    hours = (1, 2, 24) if urgent else (24, 72, 240)
    age_days = (now - created).total_seconds() / 86400
    row: dict[str, Any] = {
        "id": uuid.UUID(int=rng.getrandbits(128)), "district_id": district, "compound_id": compound["id"],
        "building_id": None, "kind": "wish" if rng.random() < 0.05 else "problem",
        "urgency": "urgent" if urgent else "normal", "source": rng.choice(("resident", "grid_patrol", "hotline")),
        "title": f"{compound['name']}楼道灯坏了{i % 97}", "description": "3栋2单元楼道灯一周没亮，晚上出行不便",
        "category": category, "address": None, "lat": None, "lon": None, "attachments": "[]",
        "reporter_name": "王阿姨", "reporter_phone": f"13{i % 10**9:09d}", "overdue": False, "member_id": None,
        "master_id": None, "close_reason": None, "closed_at": None, "rating": None, "rating_comment": None,
        "stage": None, "accept_due_at": created + hours[0] * HOUR, "dispatch_due_at": None, "resolve_due_at": None,
        "remind_at": None, "reminded": False, "responded_at": None, "resolved_at": None, "overdue_at": None,
        "dissatisfied_ratings": 0, "lead_unit_id": None, "created_at": created, "updated_at": created, "version": 1,
    }
    roll = rng.random()
    fate = "rejected" if roll < 0.05 else _fate(rng, age_days)
    if roll > 0.97 and earlier is not None:
        row["master_id"] = earlier  # a duplicate of the compound's previous ticket
    parts: list[dict[str, Any]] = []
    if fate == "submitted":
        row.update(state="submitted", stage="accept", due_at=row["accept_due_at"])
        return _overdue(row, now), parts
    responded = created + rng.uniform(0.2, 1.3) * hours[0] * HOUR
    if responded > now:
        row.update(state="submitted", stage="accept", due_at=row["accept_due_at"])
        return _overdue(row, now), parts
    row.update(responded_at=responded, updated_at=responded)
    if responded > row["accept_due_at"]:
        row["overdue_at"] = row["accept_due_at"]
    if fate == "rejected":
        row.update(state="rejected", due_at=row["accept_due_at"])
        return row, parts
    row["dispatch_due_at"] = responded + hours[1] * HOUR
    if fate in ("accepted", "escalated", "listed"):
        row.update(state=fate, stage="dispatch", due_at=row["dispatch_due_at"])
        return _overdue(row, now), parts
    dispatched = responded + rng.uniform(0.1, 1.2) * hours[1] * HOUR
    if dispatched > row["dispatch_due_at"] and row["overdue_at"] is None:
        row["overdue_at"] = row["dispatch_due_at"]
    row["resolve_due_at"] = min(dispatched, now) + hours[2] * HOUR
    if rng.random() < 0.4 and row["kind"] == "problem":  # through the committee to units
        lead = rng.choice(units)
        row["lead_unit_id"] = lead
        helpers = rng.sample(units, rng.randint(1, 3)) if rng.random() < 0.2 else []
        for position, unit in enumerate([lead, *[u for u in helpers if u != lead]]):
            parts.append({"id": uuid.UUID(int=rng.getrandbits(128)), "ticket_id": row["id"], "position": position,
                          "unit_id": unit, "lead": position == 0, "state": "dispatched",
                          "due_at": row["resolve_due_at"], "created_at": min(dispatched, now),
                          "updated_at": min(dispatched, now), "remind_at": None, "reminded": False, "overdue": False})
    if fate in ("in_progress", "dispatched") or dispatched > now:
        state = "dispatched" if fate == "dispatched" and parts else "in_progress"
        row.update(state=state, stage="resolve", due_at=row["resolve_due_at"])
        for part in parts:
            part["state"] = "in_progress" if state == "in_progress" else "dispatched"
        return _overdue(row, now), parts
    resolved = dispatched + rng.uniform(0.1, 1.3) * hours[2] * HOUR
    if resolved > now:
        row.update(state="in_progress", stage="resolve", due_at=row["resolve_due_at"])
        return _overdue(row, now), parts
    for part in parts:
        part["state"] = "resolved"
    if resolved > row["resolve_due_at"] and row["overdue_at"] is None:
        row["overdue_at"] = row["resolve_due_at"]
    row.update(due_at=row["resolve_due_at"], updated_at=resolved)
    if fate == "closed_unfixed":
        row.update(state="closed", close_reason=rng.choice(("not_responsible", "no_further_action", "referred")),
                   closed_at=resolved)
        return row, parts
    row["resolved_at"] = resolved
    if fate in ("resolved", "reviewed"):
        row["state"] = fate
        return row, parts
    closed = resolved + rng.uniform(12, 120) * HOUR
    if closed > now:
        row["state"] = "reviewed"
        return row, parts
    row.update(state="closed", closed_at=closed, updated_at=closed,
               rating=rng.choices(("satisfied", "basically_satisfied"), weights=(70, 30))[0],
               dissatisfied_ratings=1 if rng.random() < 0.08 else 0)
    return row, parts


def _overdue(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    if row["due_at"] < now:
        row["overdue"] = True
        row["overdue_at"] = row["overdue_at"] or row["due_at"]
    return row


Query = dict[str, str]


def cases(world: Geography, now: datetime, repeat: int, seed: int = 3) -> list[Case]:
    """The requests asked, as (path, query) drawn up front: the same at every size."""
    rng = random.Random(seed)
    district = world.districts[0]
    compounds = [c["id"] for c in world.compounds if c["district_id"] == district]
    units = [u["id"] for u in world.units if u["district_id"] == district]
    span_days = 365 * YEARS - 30

    def drawn(make: Callable[[], Query]) -> Callable[[int], Query]:
        made = [make() for _ in range(repeat)]
        return made.__getitem__

    def month() -> Query:
        starts = (now - timedelta(days=30 + rng.uniform(0, span_days))).date()
        return {"from": starts.isoformat(), "to": (starts + timedelta(days=30)).isoformat()}

    def year() -> Query:
        starts = (now - timedelta(days=365 + rng.uniform(0, 365))).date()
        return {"from": starts.isoformat(), "to": (starts + timedelta(days=365)).isoformat()}

    def listing(label: str, make: Callable[[], Query]) -> Case:
        return Case(f"tickets {label}", drawn(lambda: {"path": "/v1/tickets", **make()}))

    def stats(label: str, make: Callable[[], Query]) -> Case:
        return Case(f"stats {label}", drawn(lambda: {"path": "/v1/stats", **make()}))

    return [
        listing("no filter", dict),
        listing("state=in_progress", lambda: {"state": "in_progress"}),
        listing("state=submitted", lambda: {"state": "submitted"}),
        listing("compound_id=", lambda: {"compound_id": str(rng.choice(compounds))}),
        # The same query with pages about as full at both sizes (the one above has a few rows at 10k, 50 at 1M):
        # what grows with the table, apart from what grows with the answer.
        listing("compound_id= limit=3", lambda: {"compound_id": str(rng.choice(compounds)), "limit": "3"}),
        listing("category=dispute", lambda: {"category": "dispute"}),
        listing("from/to a month", month),
        listing("state= category= compound_id=", lambda: {"state": "closed", "category": "facilities",
                                                          "compound_id": str(rng.choice(compounds))}),
        listing("page 2 (cursor)", lambda: {"page": "2"}),
        listing("page 2 (cursor) state=closed", lambda: {"state": "closed", "page": "2"}),
        stats("by=district, a month", lambda: {"by": "district", **month()}),
        stats("by=street, a month", lambda: {"by": "street", **month()}),
        stats("by=community, a month", lambda: {"by": "community", **month()}),
        stats("by=compound, a month", lambda: {"by": "compound", **month()}),
        stats("by=unit, a month", lambda: {"by": "unit", **month()}),
        stats("by=compound, one community, a month", lambda: {
            "by": "compound", "community_id": str(rng.choice(world.communities_of[district])), **month()}),
        stats("by=street, a year", lambda: {"by": "street", **year()}),
        stats("by=unit, one unit, a year", lambda: {"by": "district", "unit_id": str(rng.choice(units)),
                                                    **year()}),
    ]


class TicketsApi:
    """tickets at `url`, asked as a clerk of `district` through the app in process; a query names its `path`."""

    def __init__(self, url: str, district: str) -> None:
        self.api = ServiceApi("tickets", url, district, "tickets:read")
        self.rt = self.api.rt

    def ask(self, query: Query) -> Any:
        query = dict(query)
        return self.api.ask(query.pop("path"), query)

    def statements(self, query: Query) -> list[tuple[str, Any]]:
        query = dict(query)
        return self.api.statements(query.pop("path"), query)

    def close(self) -> None:
        self.api.close()


def measure(apis: Sequence[TicketsApi], sized_cases: Sequence[Sequence[Case]], repeat: int) -> None:
    """Ask every case `repeat` times at every size, the cases and the sizes taking turns (so a busy spell of the
    machine falls on both sizes alike); fills each case's timings (s) and item counts."""
    asked: list[dict[str, list[Query]]] = []
    for api, all_cases in zip(apis, sized_cases, strict=True):
        queries: dict[str, list[Query]] = {}
        for case in all_cases:
            case.timings.clear()
            case.items.clear()
            drawn = [dict(case.queries(i)) for i in range(repeat)]
            if any([query.pop("page", None) for query in drawn]):  # page 2's cursor comes from page 1, asked here
                drawn = [{**query, "cursor": api.ask(query)["next_cursor"] or ""} for query in drawn]
            queries[case.label] = drawn
            for query in drawn[:5]:  # warm up: the first requests pay for imports, plans and caches
                api.ask(query)
        asked.append(queries)
    for i in range(repeat):
        for position in range(len(sized_cases[0])):
            for api, all_cases, queries in zip(apis, sized_cases, asked, strict=True):
                case = all_cases[position]
                started = time.perf_counter()
                answer = api.ask(queries[case.label][i])
                case.timings.append(time.perf_counter() - started)
                case.items.append(len(answer["items"]))


def explain(api: TicketsApi, all_cases: Sequence[Case], repeat: int) -> None:
    """EXPLAIN ANALYZE of the main statement of each case's slowest request."""
    for case in all_cases:
        slowest = max(range(len(case.timings)), key=case.timings.__getitem__)
        query = dict(case.queries(slowest))
        query.pop("page", None)
        found = [(s, p) for s, p in api.statements(query) if s.lstrip().upper().startswith("SELECT")
                 and ("FROM tickets" in s)]
        if not found:
            continue
        statement, parameters = found[0]
        with api.rt.engine.begin() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).scalars()
            print(f"\n--- {case.label}, the slowest request ({case.timings[slowest] * 1000:.1f} ms): {query}")
            print("\n".join(plan))


@dataclass
class Run:
    size: int
    seeded_seconds: float
    figures: dict[str, tuple[float, float, float]]  # label → p50, p99 (s), mean items


def run_sizes(server: str, sizes: Sequence[int], world: Geography, now: datetime, repeat: int,
              show_plans: bool) -> list[Run]:
    databases = Databases(server, label="bench")
    try:
        seeded = {}
        urls = {}
        for size in sizes:
            urls[size] = databases.fresh("tickets")
            migrate("tickets", urls[size])
            seeded[size] = seed_tickets(urls[size], world, size, now)
            print(f"{size:,} tickets seeded in {seeded[size]:.0f} s (not measured)", flush=True)
        sized_cases = [cases(world, now, repeat) for _ in sizes]  # the same draws at every size
        apis = [TicketsApi(urls[size], world.districts[0]) for size in sizes]
        try:
            with open(os.devnull, "w") as sink, redirect_stderr(sink):
                measure(apis, sized_cases, repeat)
                if show_plans:
                    for api, all_cases in zip(apis, sized_cases, strict=True):
                        explain(api, all_cases, repeat)
        finally:
            for api in apis:
                api.close()
        return [Run(size, seeded[size], {case.label: (statistics.median(case.timings),
                                                      percentile(case.timings, 0.99), statistics.mean(case.items))
                                         for case in all_cases})
                for size, all_cases in zip(sizes, sized_cases, strict=True)]
    finally:
        databases.drop_all()


def report(small: Run, large: Run) -> list[str]:
    head = (f"{'case':40} {'p50 ms':>8} {'p99 ms':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50 ×':>6} {'p99 ×':>6} "
            f"{'rows':>6}")
    lines = [f"{'':40} {f'{small.size:,} tickets':>17} {f'{large.size:,} tickets':>17}", head, "-" * len(head)]
    for label, (p50, p99, _) in small.figures.items():
        big50, big99, rows = large.figures[label]
        lines.append(f"{label:40} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {big50 * 1000:8.1f} {big99 * 1000:8.1f} "
                     f"{big50 / p50:6.2f} {big99 / p99:6.2f} {rows:6.1f}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    from linli.shared.logs import configure_logging

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,1000000", help="two ticket counts, small then large")
    parser.add_argument("--repeat", type=int, default=100, help="requests per case")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each case's slowest SQL")
    parser.add_argument("--database-url", default=database_url())
    args = parser.parse_args(argv)
    configure_logging(fmt="json")
    sizes = [int(size) for size in args.sizes.split(",")]
    world = geography()
    now = datetime.now(UTC)
    runs = run_sizes(args.database_url, sizes, world, now, args.repeat, args.explain)
    load = os.getloadavg()
    print(f"\n{args.repeat} requests per case and size, the cases and the sizes taking turns; clerk of the district "
          f"with 40% of the tickets; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("\n".join(report(runs[0], runs[-1])))


if __name__ == "__main__":
    main()
