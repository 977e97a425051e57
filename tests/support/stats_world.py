"""A small world for the rates (GET /v1/stats), built through tickets' use cases and clock at chosen instants, with
the figures worked out by hand from docs/tickets-stats.md (not from the code under test). Used on SQLite
(tests/unit) and PostgreSQL (tests/integration).

永川区 › 中山路街道 › 星光社区 (compounds A 星光小区, B 星光二村) and 红旗社区 (compound C 红旗小区);
units 派出所, 永川中学.
A facilities ticket is to be accepted in 24 h, dispatched in 72 h and resolved in 240 h. Times are hours after T0.

- T1 (A) t0: accepted 2, started 3, resolved 27, reviewed 28, rated satisfied 29: closed, on time, 27 h.
- T2 (A) t1: accepted 30 (late: due 25, told overdue), started 31, resolved 41, reviewed 42, rated dissatisfied 43
  (reopened), resolved 50, reviewed 51, rated basically_satisfied 52: closed, late, 49 h; two ratings.
- T3 (A) t2: rejected 3.
- T4 (B) t0: accepted 1, escalated 2, listed 3, dispatched 4 to 派出所 (lead, due 244): open, overdue.
- T5 (B) t5: never answered (due 29): open, overdue.
- T6 (C) at AS_OF − 2 h: submitted, not yet due.
- T7 (C) t0: accepted 1, escalated 2, listed 3, claimed by 永川中学 3, resolved 100: resolved on time, 100 h.
- T8 (C) t0: merged into T7 at 1: a duplicate, in no rate.
- T9 (C) t0: closed not_responsible 10: finished (unfixed) on time.
- T0 (A) ten days before the period, and T10 in 璧山区 (accepted 1): never counted for 永川区 in the period.

The clock ticks before every move and at AS_OF (t480), as it would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from linli.services.tickets import usecases
from linli.services.tickets.clock import TIMERS
from linli.services.tickets.usecases import Assignment
from linli.shared.actors import Actor
from linli.shared.clock import Clock

YONGCHUAN, BISHAN = "yongchuan-stats", "bishan-stats"
CLERK = Actor("clerk", YONGCHUAN, frozenset({"tickets:read", "tickets:write"}))
BISHAN_CLERK = Actor("clerk-b", BISHAN, frozenset({"tickets:read", "tickets:write"}))
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
AS_OF = T0 + 480 * HOUR
FROM, TO = "2026-03-02", "2026-04-01"  # days in Asia/Shanghai: from 2026-03-01T16:00Z


def ids() -> dict[str, Any]:
    names = ("district", "street", "c1", "c2", "a", "b", "c", "d", "police", "school")
    return {name: uuid.uuid4() for name in names}


def build(factory: Any, world: dict[str, Any]) -> dict[str, uuid.UUID]:
    """The tickets above, in time order; returns their ids by name."""
    w = world
    with factory() as session:
        usecases.record_area(session, w["district"], 1, district_id=YONGCHUAN, level="district", name="永川区",
                             parent_id=None)
        usecases.record_area(session, w["street"], 1, district_id=YONGCHUAN, level="street", name="中山路街道",
                             parent_id=w["district"])
        for key, name in (("c1", "星光社区"), ("c2", "红旗社区")):
            usecases.record_area(session, w[key], 1, district_id=YONGCHUAN, level="community", name=name,
                                 parent_id=w["street"])
        for key, name, community in (("a", "星光小区", "c1"), ("b", "星光二村", "c1"), ("c", "红旗小区", "c2")):
            usecases.record_compound(session, w[key], 1, district_id=YONGCHUAN, name=name,
                                     community_id=w[community], kind="old")
        usecases.record_compound(session, w["d"], 1, district_id=BISHAN, name="璧山小区", community_id=None,
                                 kind="old")
        for key, name in (("police", "中山路派出所"), ("school", "永川中学")):
            usecases.record_organization(session, w[key], 1, district_id=YONGCHUAN, name=name, kind="agency")
        session.commit()

    made: dict[str, uuid.UUID] = {}

    def submit(name: str, compound: str, actor: Actor = CLERK) -> Callable[[Any, datetime], None]:
        def step(session: Any, now: datetime) -> None:
            made[name] = usecases.submit_ticket(
                session, actor, compound_id=w[compound], title=f"楼道灯坏了 {name}", description=f"{name} 一周没亮",
                category="facilities", reporter_name="王阿姨", reporter_phone="13812345678", now=now).id
        return step

    def move(verb: str, name: str, actor: Actor = CLERK, **kwargs: Any) -> Callable[[Any, datetime], None]:
        def step(session: Any, now: datetime) -> None:
            if verb == "merge":
                kwargs["master_id"] = made[kwargs.pop("master")]
            getattr(usecases, verb)(session, actor, made[name], now, **kwargs)
        return step

    lead = {"units": [Assignment(w["police"], lead=True)]}
    steps: list[tuple[float, Callable[[Any, datetime], None]]] = [
        (-240, submit("T0", "a")),
        (0, submit("T1", "a")), (0, submit("T4", "b")), (0, submit("T7", "c")), (0, submit("T8", "c")),
        (0, submit("T9", "c")), (0, submit("T10", "d", BISHAN_CLERK)),
        (1, submit("T2", "a")), (1, move("accept", "T4")), (1, move("accept", "T7")),
        (1, move("merge", "T8", master="T7")), (1, move("accept", "T10", BISHAN_CLERK)),
        (2, submit("T3", "a")), (2, move("accept", "T1")), (2, move("escalate", "T4")), (2, move("escalate", "T7")),
        (3, move("start", "T1")), (3, move("reject", "T3", reason="不属于本小区")), (3, move("list_for_meeting", "T4")),
        (3, move("list_for_meeting", "T7")), (3, move("claim", "T7", unit_id=w["school"])),
        (4, move("dispatch", "T4", **lead)),
        (5, submit("T5", "b")),
        (10, move("close", "T9", reason="not_responsible")),
        (27, move("resolve", "T1")), (28, move("review", "T1", passed=True)),
        (29, move("rate", "T1", rating="satisfied")),
        (30, move("accept", "T2")), (31, move("start", "T2")), (41, move("resolve", "T2")),
        (42, move("review", "T2", passed=True)), (43, move("rate", "T2", rating="dissatisfied")),
        (50, move("resolve", "T2")), (51, move("review", "T2", passed=True)),
        (52, move("rate", "T2", rating="basically_satisfied")),
        (100, move("resolve", "T7", unit_id=w["school"])),
        (478, submit("T6", "c")),
    ]
    for hours, step in steps:
        now = T0 + hours * HOUR
        Clock("tickets", factory, TIMERS, now=lambda now=now: now).tick()
        with factory() as session:
            step(session, now)
            session.commit()
    Clock("tickets", factory, TIMERS, now=lambda: AS_OF).tick()
    return made


def _figures(submitted: int, duplicates: int, rejected: int, open_: int, response: tuple[int, int],
             resolution: tuple[int, int], satisfaction: tuple[int, int], finished: int, on_time: int,
             open_overdue: int, median: float | None) -> dict[str, Any]:
    def rate(n: int, d: int) -> float | None:
        return None if d == 0 else round(n / d, 4)

    return {"submitted": submitted, "duplicates": duplicates, "rejected": rejected, "open": open_,
            "responded_in_time": response[0], "response_due": response[1], "response_rate": rate(*response),
            "resolved": resolution[0], "taken_on": resolution[1], "resolution_rate": rate(*resolution),
            "satisfied": satisfaction[0], "ratings": satisfaction[1], "satisfaction_rate": rate(*satisfaction),
            "finished": finished, "finished_on_time": on_time, "open_overdue": open_overdue,
            "on_time_rate": rate(on_time, finished + open_overdue), "median_hours_to_resolve": median}


# Worked out from the story above. On time: 3 of 4 finished (T2 late) and 2 open overdue (T4, T5) → 3/6, where
# leaving T4 and T5 out would read 3/4. Medians: 27, 49, 100 → 49; A: 27, 49 → 38.
EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    "district": {"永川区": _figures(9, 1, 1, 3, (5, 7), (3, 7), (2, 3), 4, 3, 2, 49.0)},
    "street": {"中山路街道": _figures(9, 1, 1, 3, (5, 7), (3, 7), (2, 3), 4, 3, 2, 49.0)},
    "community": {"星光社区": _figures(5, 0, 1, 2, (3, 5), (2, 4), (2, 3), 2, 1, 2, 38.0),
                  "红旗社区": _figures(4, 1, 0, 1, (2, 2), (1, 3), (0, 0), 2, 2, 0, 100.0)},
    "compound": {"星光小区": _figures(3, 0, 1, 0, (2, 3), (2, 2), (2, 3), 2, 1, 0, 38.0),
                 "星光二村": _figures(2, 0, 0, 2, (1, 2), (0, 2), (0, 0), 0, 0, 2, None),
                 "红旗小区": _figures(4, 1, 0, 1, (2, 2), (1, 3), (0, 0), 2, 2, 0, 100.0)},
    "unit": {"中山路派出所": _figures(1, 0, 0, 1, (1, 1), (0, 1), (0, 0), 0, 0, 1, None),
             "永川中学": _figures(1, 0, 0, 0, (1, 1), (1, 1), (0, 0), 1, 1, 0, 100.0)},
}
