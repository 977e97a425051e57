"""The rates (GET /v1/stats) on SQLite: the figures of a small world built through the use cases and the clock,
worked out by hand (tests/support/stats_world.py); zero denominators are null; open overdue tickets count against
the on-time rate; a district sees its own; CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linli.services.tickets import rates
from linli.services.tickets.models import Base, Ticket
from linli.services.tickets.stats import ticket_stats
from linli.shared.actors import Actor
from linli.shared.errors import ValidationFailed
from tests.support import stats_world
from tests.support.stats_world import AS_OF, BISHAN, CLERK, EXPECTED, FROM, TO, YONGCHUAN

OPERATOR = Actor("ops", "*", frozenset({"tickets:read"}))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from tests.support.sessions import session_factory

    factory = session_factory(Base.metadata, tmp_path_factory.mktemp("stats") / "stats.db")
    world = stats_world.ids()
    made = stats_world.build(factory, world)
    yield factory, world, made
    factory.kw["bind"].dispose()


def _stats(factory, actor=CLERK, **kwargs):
    with factory() as session:
        period, groups = ticket_stats(session, actor, now=AS_OF, starts=date.fromisoformat(FROM),
                                      ends=date.fromisoformat(TO), **kwargs)
        return period, {group.name: _shown(group) for group in groups}


def _shown(group: rates.GroupFigures) -> dict:
    names = [*rates.COUNT_NAMES, *rates.RATE_NAMES, "median_hours_to_resolve"]
    return {name: getattr(group, name) for name in names}


@pytest.mark.parametrize("by", ["district", "street", "community", "compound", "unit"])
def test_each_grouping_gives_the_figures_worked_out_by_hand(built, by):
    factory, _, _ = built
    _, groups = _stats(factory, by=by)
    assert groups == EXPECTED[by]


def test_the_timestamps_the_rates_read_are_kept_by_the_moves(built):
    factory, world, made = built
    with factory() as session:
        t2, t4, t7 = (session.get(Ticket, made[name]) for name in ("T2", "T4", "T7"))
        assert t2.dissatisfied_ratings == 1 and t2.rating == "basically_satisfied"
        assert t2.responded_at > t2.accept_due_at and t2.overdue_at is not None
        assert (t2.resolved_at - t2.created_at).total_seconds() == 49 * 3600  # the fix that stood, not the first
        assert t4.lead_unit_id == world["police"] and t4.overdue_at is not None and t4.resolved_at is None
        assert t7.lead_unit_id == world["school"] and t7.overdue_at is None


def test_open_overdue_tickets_lower_the_on_time_rate_and_nothing_to_judge_is_null(built):
    factory, _, _ = built
    _, groups = _stats(factory, by="compound")
    # 星光二村: nothing finished, two tickets open past their deadlines: 0, not null; nothing rated: null.
    b = groups["星光二村"]
    assert (b["finished"], b["open_overdue"], b["on_time_rate"]) == (0, 2, 0.0)
    assert b["satisfaction_rate"] is None and b["median_hours_to_resolve"] is None
    district = _stats(factory)[1]["永川区"]
    assert district["on_time_rate"] == 0.5  # 3 ÷ (4 + 2); counting the finished alone would say 0.75


def test_filters_narrow_to_one_area_or_unit(built):
    factory, world, _ = built
    assert _stats(factory, by="compound", community_id=world["c2"])[1] == {"红旗小区": EXPECTED["compound"]["红旗小区"]}
    assert _stats(factory, by="community", street_id=world["street"])[1] == EXPECTED["community"]
    assert _stats(factory, by="district", unit_id=world["school"])[1]["永川区"]["submitted"] == 1
    assert _stats(factory, by="compound", compound_id=world["a"])[1] == {"星光小区": EXPECTED["compound"]["星光小区"]}
    assert _stats(factory, category="general")[1] == {}


def test_a_district_sees_its_own_and_an_operator_any(built):
    factory, world, _ = built
    # 璧山's compound named by 永川's clerk: nothing, as if it did not exist.
    assert _stats(factory, by="compound", compound_id=world["d"])[1] == {}
    assert _stats(factory, district_id=BISHAN)[1] == {}
    everyone = _stats(factory, OPERATOR)[1]
    assert everyone["永川区"] == EXPECTED["district"]["永川区"]
    assert everyone[None]["submitted"] == 1  # 璧山区: registry told of no district area, so it has no name
    assert _stats(factory, OPERATOR, district_id=YONGCHUAN)[1] == EXPECTED["district"]


def test_a_period_is_days_in_the_suite_s_time_zone_and_must_run_forward(built):
    factory, _, _ = built
    period, _ = _stats(factory)
    assert period.starts_at.isoformat() == "2026-03-01T16:00:00+00:00"  # 2026-03-02 began at 08:00 UTC+8
    with factory() as session, pytest.raises(Exception) as caught:
        ticket_stats(session, CLERK, now=AS_OF, starts=date(2026, 4, 1), ends=date(2026, 3, 1))
    assert "from" in str(caught.value.errors)


@pytest.mark.parametrize(("starts", "ends", "field"), [
    (date(1, 1, 1), date(1, 1, 2), "from"),          # year 1's first midnight in UTC+8 is before year 1 in UTC
    (None, date(1, 1, 5), "from"),                   # 30 days before `to`
    (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=8))), None, "from"),
])
def test_a_period_at_the_calendars_start_is_refused_not_a_500(starts, ends, field):
    with pytest.raises(ValidationFailed) as refused:
        rates.period(starts, ends, AS_OF, "Asia/Shanghai")
    assert field in refused.value.errors


def test_a_rate_is_null_when_there_is_nothing_to_judge():
    assert rates.rate(0, 0) is None and rates.rate(0, 3) == 0.0 and rates.rate(2, 3) == 0.6667
    assert rates.median_hours([]) is None and rates.median_hours([3600, 7200, 36000, 10800]) == 2.5


# --- Over HTTP ------------------------------------------------------------------------------------------------------

@pytest.fixture
def served(make_service, monkeypatch):
    from linli.services.tickets import api, usecases

    sut = make_service("tickets")
    world = stats_world.ids()
    stats_world.build(sut.rt.factory, world)
    with sut.rt.factory() as session:
        # A name a spreadsheet would run as a formula.
        usecases.record_compound(session, world["d"], 2, district_id=YONGCHUAN, name="=HYPERLINK(\"x\")",
                                 community_id=world["c2"], kind="old")
        session.commit()
    monkeypatch.setattr(api, "utcnow", lambda: AS_OF)  # the world's "now": open and overdue are judged at it
    return sut, world


def _get(sut, query, district=YONGCHUAN, **headers):
    return sut.client.get(f"/v1/stats?{query}", headers={**sut.as_(district, "tickets:read"), **headers})


def test_the_api_answers_the_figures_of_every_group_in_one_call(served):
    sut, _ = served
    r = _get(sut, f"by=compound&from={FROM}&to={TO}")
    assert r.status_code == 200, r.json
    assert (r.json["by"], r.json["from"], r.json["as_of"]) == ("compound", "2026-03-01T16:00:00+00:00",
                                                               AS_OF.isoformat())
    shown = {item.pop("name"): item for item in r.json["items"]}
    for name, figures in EXPECTED["compound"].items():
        assert {k: shown[name][k] for k in figures} == figures, name
    [bishan] = _get(sut, f"from={FROM}&to={TO}", district=BISHAN).json["items"]
    assert (bishan["id"], bishan["submitted"]) == (BISHAN, 1)  # its own T10 only
    assert _get(sut, f"from={FROM}&to={TO}&district_id={YONGCHUAN}", district=BISHAN).json["items"] == []
    assert _get(sut, "by=floor").status_code == 422
    bad = _get(sut, "from=2026-13-01")
    assert bad.status_code == 422 and "from" in str(bad.json)
    assert _get(sut, "from=2026-03-01T00:00:00").status_code == 422  # a time without its offset


@pytest.mark.parametrize("by", ["district", "street", "community", "compound", "unit"])
def test_the_rows_are_dumped_as_marshmallow_would_and_documented_as_its_nested_list(served, by):
    import marshmallow as ma

    from linli.services.tickets.schemas import StatsRowSchema, StatsSchema
    from linli.shared.actors import Actor

    class Marshmallows(StatsSchema):
        items = ma.fields.List(ma.fields.Nested(StatsRowSchema))

    sut, _ = served
    with sut.rt.factory() as session:
        period, groups = ticket_stats(session, Actor("ops", "*", frozenset({"tickets:read"})), now=AS_OF, by=by,
                                      starts=date.fromisoformat(FROM), ends=date.fromisoformat(TO))
    answer = {"by": by, "starts_at": period.starts_at, "ends_at": period.ends_at, "as_of": AS_OF, "items": groups}
    dumped = StatsSchema().dump(answer)
    assert dumped == Marshmallows().dump(answer) and len(dumped["items"]) > 1
    assert [list(item) for item in dumped["items"]] == [list(StatsRowSchema().dump(g)) for g in groups]  # in order
    # Nulls among them: a rate with nothing to judge, and (by district, as an operator) a district with no name.
    assert any(value is None for item in dumped["items"] for value in item.values())
    spec = sut.client.get("/openapi.json").json
    items = spec["components"]["schemas"]["Stats"]["properties"]["items"]
    assert items == {"type": "array", "items": {"$ref": "#/components/schemas/StatsRow"}}


def test_flat_rows_take_plain_figures_only():
    import marshmallow as ma

    from linli.shared.http.schemas import FlatRows

    class Dated(ma.Schema):
        count = ma.fields.Integer()
        at = ma.fields.AwareDateTime()

    with pytest.raises(TypeError, match="Dated.at is a AwareDateTime"):
        FlatRows(Dated)


def test_csv_in_chinese_or_english_with_a_bom_and_formulas_kept_as_text(served):
    sut, world = served
    r = _get(sut, f"by=compound&from={FROM}&to={TO}", Accept="text/csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.data.startswith("\ufeff".encode()) and r.headers["Content-Language"] == "zh-CN"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["小区", "小区编号", "诉求总数"] and "按时办结率" in rows[0]
    by_name = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_name["星光二村"]["按时办结率"] == "0.0" and by_name["星光二村"]["满意率"] == ""  # null: an empty cell
    assert "'=HYPERLINK(\"x\")" not in by_name  # it has no ticket yet
    sut.client.post("/v1/tickets", json={"compound_id": str(world["d"]), "title": "灯坏了", "description": "没亮",
                                         "reporter_name": "王阿姨", "reporter_phone": "13812345678"},
                    headers=sut.as_(YONGCHUAN, "tickets:write"))
    r = _get(sut, "by=compound&to=2027-01-01&from=2026-01-01", Accept="text/csv", **{"Accept-Language": "en"})
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert r.headers["Content-Language"] == "en" and rows[0][:3] == ["Compound", "Compound ID", "Submitted"]
    assert "'=HYPERLINK(\"x\")" in {row[0] for row in rows[1:]}


def test_the_list_filters_by_category_and_period(served):
    sut, _ = served
    h = sut.as_(YONGCHUAN, "tickets:read")
    period = sut.client.get(f"/v1/tickets?from={FROM}&to={TO}&limit=200", headers=h).json["items"]
    assert len(period) == 9  # T0, ten days earlier, is left out
    assert sut.client.get("/v1/tickets?category=general", headers=h).json["items"] == []
    assert len(sut.client.get("/v1/tickets?category=facilities&limit=200", headers=h).json["items"]) == 10
    for query, field in (("from=0001-01-01", "from"), ("to=0001-01-01", "to")):   # no UTC instant: was a 500
        r = sut.client.get(f"/v1/tickets?{query}", headers=h)
        assert r.status_code == 422 and field in r.json["errors"], r.json


def test_migration_0008_folds_the_committee_rosters_into_the_committees(tmp_path):
    import uuid

    from sqlalchemy import text

    from linli.shared.config import Settings
    from linli.shared.migrations import upgrade
    from linli.shared.service import Runtime
    from linli.suite import spec

    rt = Runtime.build(spec("tickets"), Settings(service="tickets", database_url=f"sqlite:///{tmp_path}/t.db",
                                                 jwt_secret="x" * 40))
    try:
        upgrade(rt, "0007")
        both, roster_only, community = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        with rt.engine.begin() as conn:
            for committee in (both, roster_only):
                conn.execute(text("INSERT INTO committee_rosters (id, district_id, version, community_id, time_zone) "
                                  "VALUES (:id, 'd1', 3, :c, 'Asia/Urumqi')"),
                             {"id": committee.hex, "c": community.hex})
            conn.execute(text("INSERT INTO committees (id, district_id, version, community_id, name) "
                              "VALUES (:id, 'd1', 3, :c, '星光社区大党委')"), {"id": both.hex, "c": community.hex})
        upgrade(rt)
        with rt.engine.connect() as conn:
            rows = {row.id: (row.name, row.time_zone, row.version) for row in conn.execute(
                text("SELECT id, name, time_zone, version FROM committees"))}
            tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        assert rows == {both.hex: ("星光社区大党委", "Asia/Urumqi", 3), roster_only.hex: ("", "Asia/Urumqi", 3)}
        assert "committee_rosters" not in tables and "areas" in tables
    finally:
        rt.dispose()


# --- The daily tallies ------------------------------------------------------------------------------------------------

SHANGHAI = timezone(timedelta(hours=8))
PERIODS = [
    (date(2026, 3, 2), date(2026, 4, 1)),                                   # whole days: all from the tallies
    (datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI), datetime(2026, 3, 20, 17, 0, tzinfo=SHANGHAI)),  # partial ends
    (datetime(2026, 3, 2, 6, 0, tzinfo=UTC), datetime(2026, 3, 2, 20, 0, tzinfo=UTC)),  # across a midnight only
    (date(2026, 2, 1), date(2026, 3, 3)),                                   # February's row and two days
    (datetime(2026, 1, 15, 12, 0, tzinfo=SHANGHAI), date(2026, 5, 20)),     # days, months, days, a partial end
]


def _both(factory, actor, **asked):
    """The figures as the tallies give them and as the tickets alone do, each group with its id."""
    with factory() as session:
        fast = ticket_stats(session, actor, now=AS_OF, **asked)[1]
        slow = ticket_stats(session, actor, now=AS_OF, tallied=False, **asked)[1]
    return [(g.id, _shown(g)) for g in fast], [(g.id, _shown(g)) for g in slow]


@pytest.mark.parametrize("by", ["district", "street", "community"])
@pytest.mark.parametrize(("starts", "ends"), PERIODS)
def test_the_tallies_add_up_to_what_the_tickets_count(built, by, starts, ends):
    factory, world, _ = built
    for actor, filters in ((CLERK, {}), (OPERATOR, {}), (CLERK, {"street_id": world["street"]}),
                           (OPERATOR, {"community_id": world["c1"]})):
        fast, slow = _both(factory, actor, by=by, starts=starts, ends=ends, **filters)
        assert fast == slow, (actor.sub, filters)
        assert sum(figures["submitted"] for _, figures in fast) > 0


# Not the period across a midnight only: it has no whole day to read from the tallies, and no ticket with a unit.
@pytest.mark.parametrize(("starts", "ends"), [period for period in PERIODS if period != PERIODS[2]])
def test_the_tallies_by_unit_add_up_to_what_the_tickets_count(built, starts, ends):
    factory, _, _ = built
    for actor, asked in ((CLERK, {"by": "unit"}), (OPERATOR, {"by": "unit"}),
                         (OPERATOR, {"by": "unit", "district_id": YONGCHUAN})):
        fast, slow = _both(factory, actor, starts=starts, ends=ends, **asked)
        assert fast == slow, (actor.sub, asked)
        assert sum(figures["submitted"] for _, figures in fast) > 0, asked


@pytest.mark.parametrize(("by", "table"), [("street", "ticket_tallies"), ("unit", "ticket_unit_tallies")])
def test_whole_days_are_read_from_the_tallies_and_only_pending_tickets_from_the_table(built, by, table):
    from sqlalchemy import event

    factory, _, _ = built
    engine = factory.kw["bind"]
    seen: list[str] = []

    def capture(conn, cursor, statement, parameters, context, many):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        _stats(factory, by=by)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    counts = [s for s in seen if "count(*)" in s or "sum(" in s]
    assert any(f"FROM {table}" in s for s in counts)
    # Read from tickets: what the time asked adds, among unsettled tickets only (ix_tickets_unsettled).
    assert all("overdue_at IS NULL AND resolved_at IS NULL" in s for s in counts if "FROM tickets" in s)


def _fresh_world(tmp_path):
    from tests.support.sessions import session_factory

    factory = session_factory(Base.metadata, tmp_path / "tallies.db")
    world = stats_world.ids()
    stats_world.build(factory, world)
    return factory, world


def test_tallies_kept_by_random_moves_are_what_the_tickets_count(tmp_path):
    from tests.support.ticket_churn import churn, kept_tallies, rebuilt_tallies

    factory, world = _fresh_world(tmp_path)
    assert churn(factory, world, seed=7, tickets=16, steps=140) > 50
    with factory() as session:
        kept = kept_tallies(session)
        assert kept == rebuilt_tallies(session) and len(kept) > 3
    for by in ("district", "street", "community", "unit"):
        for starts, ends in ((date(2026, 3, 1), date(2026, 5, 1)), (date(2026, 3, 20), date(2026, 5, 9))):
            fast, slow = _both(factory, CLERK, by=by, starts=starts, ends=ends)
            assert fast == slow


def test_a_compound_moved_to_another_community_takes_its_tickets_with_it(tmp_path):
    from linli.services.tickets import usecases

    factory, world = _fresh_world(tmp_path)
    with factory() as session:
        usecases.record_compound(session, world["a"], 2, district_id=YONGCHUAN, name="星光小区",
                                 community_id=world["c2"], kind="old")
        session.commit()
    fast, slow = _both(factory, CLERK, by="community", starts=date.fromisoformat(FROM), ends=date.fromisoformat(TO))
    assert fast == slow
    by_name = {figures["submitted"]: group for group, figures in fast}
    # 星光社区 keeps 星光二村's T4, T5; 红旗社区 has its own T6-T9 and 星光小区's T1-T3.
    assert by_name == {2: world["c1"], 7: world["c2"]}


def test_a_ticket_written_in_a_savepoint_rolled_back_is_not_tallied(tmp_path):
    from linli.services.tickets import usecases
    from tests.support.ticket_churn import kept_tallies

    factory, world = _fresh_world(tmp_path)
    with factory() as session:
        before = kept_tallies(session)
        savepoint = session.begin_nested()
        usecases.submit_ticket(session, CLERK, compound_id=world["a"], title="灯", description="坏了",
                               category="facilities", reporter_name="王阿姨", reporter_phone="13812345678", now=AS_OF)
        savepoint.rollback()
        session.commit()
    with factory() as session:
        assert kept_tallies(session) == before


@pytest.fixture(scope="module")
def every_day_tallied():
    """A table of tallies holding one ticket a day from 2025 to 2027, in its day's, week's and month's rows."""
    from sqlalchemy import create_engine, insert

    from linli.services.tickets.models import NO_COMMUNITY, ticket_tallies
    from linli.services.tickets.tallies import keys_of

    engine = create_engine("sqlite://")
    ticket_tallies.create(engine)
    rows: dict[tuple, int] = {}
    day = date(2025, 1, 1)
    while day < date(2028, 1, 1):
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)
        for key in keys_of(YONGCHUAN, noon, NO_COMMUNITY):
            rows[key] = rows.get(key, 0) + 1
        day += timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(insert(ticket_tallies), [{"district_id": k[0], "span": k[1], "day": k[2], "community_id": k[3],
                                                "submitted": n} for k, n in rows.items()])
    yield engine
    engine.dispose()


@given(first=st.dates(date(2025, 1, 1), date(2027, 12, 31)), days=st.integers(1, 400))
@settings(max_examples=200, deadline=None)
def test_the_rows_read_for_whole_days_hold_each_day_once(every_day_tallied, first, days):
    from sqlalchemy import func, select

    from linli.services.tickets.models import ticket_tallies
    from linli.services.tickets.stats import _spans

    after = min(first + timedelta(days=days), date(2028, 1, 1))
    with every_day_tallied.connect() as conn:
        found = conn.execute(select(ticket_tallies.c.span, func.count(), func.sum(ticket_tallies.c.submitted))
                             .where(_spans(ticket_tallies, first, after)).group_by(ticket_tallies.c.span)).all()
    rows = {span: count for span, count, _ in found}
    n = (after - first).days
    assert sum(days for _, _, days in found) == n
    # Whole months and whole weeks are a row each; days' rows only at the ends of what months leave.
    assert rows.get("month", 0) <= n // 28 and rows.get("week", 0) <= n // 7 and rows.get("day", 0) <= 2 * 12


def test_migrations_0009_to_0011_count_the_tallies_of_the_tickets_there_are(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from linli.shared.config import Settings
    from linli.shared.migrations import alembic_config, upgrade
    from linli.shared.service import Runtime
    from linli.suite import spec
    from tests.support.ticket_churn import kept_tallies

    rt = Runtime.build(spec("tickets"), Settings(service="tickets", database_url=f"sqlite:///{tmp_path}/t.db",
                                                 jwt_secret="x" * 40))
    try:
        upgrade(rt)
        stats_world.build(rt.factory, stats_world.ids())
        with rt.factory() as session:
            kept = kept_tallies(session)
        command.downgrade(alembic_config(rt), "0008")
        with rt.engine.connect() as conn:
            assert "ticket_tallies" not in set(conn.execute(text("SELECT name FROM sqlite_master")).scalars())
        upgrade(rt)
        with rt.factory() as session:
            assert kept_tallies(session) == kept
            # Each ticket once, but T6: just submitted, it is counted from the table until answered or overdue.
            days = {table: sum(row[0] for key, row in kept.items() if key[0] == table and key[2] == "day")
                    for table in ("ticket_tallies", "ticket_unit_tallies")}
            assert days == {"ticket_tallies": 10, "ticket_unit_tallies": 2}  # T4 and T7 have a lead unit
        # 0011 alone: the week rows added up from the day rows.
        command.downgrade(alembic_config(rt), "0010")
        with rt.factory() as session:
            assert {key[2] for key in kept_tallies(session)} == {"day", "month"}
        upgrade(rt)
        with rt.factory() as session:
            assert kept_tallies(session) == kept and {key[2] for key in kept} == {"day", "week", "month"}
    finally:
        rt.dispose()


@given(st.lists(st.floats(min_value=0, max_value=2e8, allow_nan=False), max_size=80))
@settings(max_examples=300, deadline=None)
def test_the_median_read_from_the_buckets_holding_its_ranks_is_the_median(times):
    histogram = [0] * len(rates.HOURS_NAMES)
    by_bucket: dict[int, list[float]] = {}
    for seconds in times:
        histogram[rates.resolve_bucket(seconds)] += 1
        by_bucket.setdefault(rates.resolve_bucket(seconds), []).append(seconds)
    ranks = rates.median_ranks(histogram)
    assert len(ranks) == (0 if not times else 2 - len(times) % 2)
    middle = [sorted(by_bucket[bucket])[rank - 1] for bucket, rank in ranks]
    assert rates.median_of(middle) == rates.median_hours(times)


def test_a_bucket_holds_the_times_its_bounds_say():
    # Bucket k runs from RESOLVE_BOUNDS[k - 1] (inclusive) to RESOLVE_BOUNDS[k] (exclusive); 0 and the last are open.
    bounds = rates.RESOLVE_BOUNDS
    assert len(rates.HOURS_NAMES) == len(bounds) + 1 == 48 and bounds[0] == 600
    for bucket in range(1, len(bounds) + 1):
        starts = bounds[bucket - 1]
        assert rates.resolve_bucket(starts) == bucket and rates.resolve_bucket(starts - 0.001) == bucket - 1
        if bucket < len(bounds):
            assert rates.resolve_bucket(bounds[bucket] - 0.001) == bucket
    assert rates.resolve_bucket(0) == 0 and rates.resolve_bucket(10 ** 12) == len(bounds)


def test_intake_writes_no_tally_yet_the_new_ticket_is_counted_at_once(tmp_path):
    from linli.services.tickets import usecases
    from tests.support.ticket_churn import kept_tallies

    factory, world = _fresh_world(tmp_path)
    with factory() as session:
        before = kept_tallies(session)
    asked = {"by": "community", "starts": date(2026, 3, 22), "ends": date(2026, 3, 23)}
    counted = {group: figures["submitted"] for group, figures in _both(factory, CLERK, **asked)[0]}
    with factory() as session:
        usecases.submit_ticket(session, CLERK, compound_id=world["a"], title="灯", description="坏了",
                               category="facilities", reporter_name="王阿姨", reporter_phone="13812345678",
                               now=AS_OF - timedelta(hours=1))
        session.commit()
    with factory() as session:
        assert kept_tallies(session) == before
    fast, slow = _both(factory, CLERK, **asked)
    assert fast == slow
    assert {group: figures["submitted"] for group, figures in fast} == {**counted, world["c1"]: 1}
    assert dict(fast)[world["c1"]]["open"] == 1
