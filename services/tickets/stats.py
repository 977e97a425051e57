"""The rates (GET /v1/stats) over the tickets submitted in a period, grouped by district, street, community, compound
or lead unit: added from the daily tallies (tallies.py) where they serve, else one SQL aggregate over the tickets.
The definitions are in docs/tickets-stats.md, the arithmetic in rates.py.

A use case like those of usecases.py (session and actor first, no Flask), in a module of its own for its size.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Table, and_, any_, bindparam, case, cast, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from linli.services.tickets import domain, rates
from linli.services.tickets.models import (
    DAY,
    FRESH,
    MONTH,
    NO_COMMUNITY,
    RESOLVE_BUCKET,
    RESOLVED,
    UNSETTLED,
    WEEK,
    Area,
    Compound,
    Organization,
    Ticket,
)
from linli.services.tickets.tallies import COMMUNITIES, UNITS, Ledger
from linli.shared.actors import Actor
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import is_postgres
from linli.shared.logs import get_logger

log = get_logger(__name__)
_t = Ticket.__table__
_compounds = Compound.__table__
_communities = Area.__table__.alias("communities")
_areas = Area.__table__
_OPEN = tuple(sorted(domain.OPEN_STATES))
_CONTENT = (domain.SATISFIED, domain.BASICALLY_SATISFIED)


def _settled(among: ColumnElement[bool] | None = None) -> list[ColumnElement[Any]]:
    """rates.settled over many rows (of those `among`, if given): each a count of the group's tickets
    (docs/tickets-stats.md)."""
    def n(condition: ColumnElement[bool] | None = None) -> ColumnElement[int]:
        # `count(*) FILTER (WHERE …)`, which SQLite has too (since 3.30), cheaper for PostgreSQL than summed CASEs.
        both = [c for c in (among, condition) if c is not None]
        return func.count().filter(and_(*both)) if both else func.count()

    counted = _t.c.master_id.is_(None)  # a duplicate is counted with its master
    taken_on = and_(counted, _t.c.state != domain.REJECTED)
    resolved = _t.c.resolved_at.is_not(None)
    finished = and_(taken_on, or_(resolved, _t.c.state == domain.CLOSED))
    # The deadline of the stage it finished in: the last one set, as stages only move on.
    deadline = func.coalesce(_t.c.resolve_due_at, _t.c.dispatch_due_at, _t.c.accept_due_at)
    open_ = and_(taken_on, _t.c.state.in_(_OPEN), _t.c.resolved_at.is_(None))
    ratings = func.sum(case((_t.c.rating.is_not(None), 1), else_=0) + _t.c.dissatisfied_ratings)
    return [
        n().label("submitted"),
        n(_t.c.master_id.is_not(None)).label("duplicates"),
        n(and_(counted, _t.c.state == domain.REJECTED)).label("rejected"),
        n(open_).label("open"),
        n(and_(counted, or_(_t.c.responded_at.is_not(None), _t.c.overdue_at.is_not(None)))).label("response_due"),
        n(and_(counted, _t.c.responded_at <= _t.c.accept_due_at)).label("responded_in_time"),
        n(taken_on).label("taken_on"),
        n(and_(taken_on, resolved)).label("resolved"),
        func.coalesce(ratings if among is None else ratings.filter(among), 0).label("ratings"),
        n(_t.c.rating.in_(_CONTENT)).label("satisfied"),
        n(finished).label("finished"),
        n(and_(finished, _t.c.overdue_at.is_(None),
               func.coalesce(_t.c.resolved_at, _t.c.closed_at) <= deadline)).label("finished_on_time"),
        n(and_(open_, _t.c.overdue_at.is_not(None))).label("open_overdue"),
    ]


def _pending(now: datetime) -> list[ColumnElement[Any]]:
    """What the time asked adds (rates.with_pending): only tickets of UNSETTLED can add anything."""
    open_ = and_(_t.c.state.in_(_OPEN), _t.c.stage.is_not(None))
    return [
        func.count().filter(and_(UNSETTLED, _t.c.responded_at.is_(None), _t.c.accept_due_at <= now))
        .label("late_unanswered"),
        func.count().filter(and_(UNSETTLED, open_, _t.c.due_at < now)).label("open_past_due"),
    ]


def _group_key(by: str) -> ColumnElement[Any]:
    return {
        "district": _t.c.district_id,
        "street": _communities.c.parent_id,
        "community": _compounds.c.community_id,
        "compound": _t.c.compound_id,
        "unit": _t.c.lead_unit_id,
    }[by]


# The rates by district, street or community, with no filter but an area, are added from the tallies by community;
# by unit, with no filter but a district, from the tallies by unit. One unit's tickets are few enough that the
# aggregate over them (read from ix_tickets_lead_unit_figures alone) is faster than the tallies' several reads, at 10k
# tickets as at 1M (bench/README.md).
_AREA_FILTERS = frozenset({"district_id", "street_id", "community_id"})


def _ledger(by: str, filters: dict[str, Any]) -> Ledger | None:
    """The tallies that hold the rates asked, if any do."""
    if by in ("district", "street", "community") and filters.keys() <= _AREA_FILTERS:
        return COMMUNITIES
    if by == "unit" and filters.keys() <= {"district_id"}:
        return UNITS
    return None


def _base(actor: Actor, by: str, filters: dict[str, Any]) -> Any:
    """FROM and WHERE but the period: the tickets the caller may see and asked for."""
    needs_compound = by in ("street", "community") or {"street_id", "community_id"} & filters.keys()
    source = _t
    if needs_compound:
        source = source.outerjoin(_compounds, _compounds.c.id == _t.c.compound_id)
    if by == "street" or "street_id" in filters:
        source = source.outerjoin(_communities, _communities.c.id == _compounds.c.community_id)
    conditions = []
    if not actor.is_operator:
        conditions.append(_t.c.district_id == actor.district)
    columns = {"district_id": _t.c.district_id, "compound_id": _t.c.compound_id, "unit_id": _t.c.lead_unit_id,
               "category": _t.c.category, "kind": _t.c.kind, "urgency": _t.c.urgency}
    for name, value in filters.items():
        if name == "street_id":
            conditions.append(_communities.c.parent_id == value)
        elif name == "community_id":
            conditions.append(_compounds.c.community_id == value)
        else:
            conditions.append(columns[name] == value)
    if by == "unit":
        conditions.append(_t.c.lead_unit_id.is_not(None))  # tickets no unit took on are no unit's
    return source, conditions


def _submitted(starts_at: datetime, ends_at: datetime) -> list[ColumnElement[bool]]:
    return [_t.c.created_at >= starts_at, _t.c.created_at < ends_at]


def ticket_stats(session: Session, actor: Actor, *, now: datetime, by: str = "district",
                 starts: date | datetime | None = None, ends: date | datetime | None = None,
                 tallied: bool = True, **filters: Any) -> tuple[rates.Period, list[rates.GroupFigures]]:
    """Each group's counts and rates over the tickets submitted in the period, and its median time to resolve.

    By district, street or community, filtered by area at most, and by unit, filtered by district at most, the
    whole days of the period are added from the tallies (tallies.py; `tallied=False` never does, for comparing):
    their counts, and on PostgreSQL their times to resolve by bucket, which name the one bucket a group's median
    is read from. The period's partial days and the pending part (rates.with_pending) come from the tickets.
    Otherwise the counts are one aggregate over the tickets, and the medians a second query (percentile_cont on
    PostgreSQL; on SQLite, in Python)."""
    period = rates.period(starts, ends, now, DEFAULT_TIME_ZONE)
    filters = {name: value for name, value in filters.items() if value is not None}
    key = _group_key(by).label("key")
    source, conditions = _base(actor, by, filters)
    postgres = is_postgres(session)
    if postgres:
        _tune(session, period)
    resolved = [*conditions, *_submitted(period.starts_at, period.ends_at), RESOLVED]
    days = _whole_days(period)
    ledger = _ledger(by, filters) if tallied else None
    if ledger is not None and days is not None:
        tallies = _from_tallies(session, actor, ledger, by, filters, days)
        counts = {group: rates.counts_of(figures) for group, figures in tallies.items()}
        # The partial days at the period's ends, both in one query.
        edges = _edges(period, days)
        at_edges = or_(*(and_(*_submitted(*edge)) for edge in edges)) if edges else None
        if at_edges is not None:
            _add(counts, _from_tickets(session, key, source, [*conditions, at_edges], now))
        # The unsettled tickets of the whole days: what the time asked adds, and the fresh ones' counts (not tallied
        # yet: rates.tally).
        unsettled = [*conditions, *_submitted(_midnight(days[0]), _midnight(days[1])), UNSETTLED]
        _add(counts, _from_tickets(session, key, source, unsettled, now, among=FRESH))
        if postgres:
            histograms = {group: list(figures[len(rates.COUNT_NAMES):]) for group, figures in tallies.items()}
            if at_edges is not None:
                for group, seconds in session.execute(select(key, _SECONDS).select_from(source)
                                                      .where(*conditions, at_edges, RESOLVED)):
                    histograms.setdefault(group, [0] * len(rates.HOURS_NAMES))[rates.resolve_bucket(seconds)] += 1
            medians = _medians_by_bucket(session, key, source, resolved, histograms)
        else:
            medians = _medians(session, source, resolved, key)
    elif postgres and by == "district" and not actor.is_operator:
        # One district is one group: its counts and its median in one pass over its rows, not two (~1 ms of 12 for
        # a unit's year at 1M when its rows were read from the table, bench/README.md).
        counts, medians = _from_tickets_with_median(
            session, key, source, [*conditions, *_submitted(period.starts_at, period.ends_at)], now)
    else:
        counts = _from_tickets(session, key, source, [*conditions, *_submitted(period.starts_at, period.ends_at)],
                               now)
        medians = _percentiles(session, key, source, resolved) if postgres else _medians(session, source, resolved,
                                                                                          key)
    names = _names(session, by, [group for group in counts if group is not None], postgres)
    return period, rates.figures(counts, names, medians)


_SECONDS = func.extract("epoch", _t.c.resolved_at - _t.c.created_at).label("seconds")
_PENDING_AT = 1 + len(rates.COUNT_NAMES)  # the key, the settled counts in Counts' order, then the pending two


def _from_tickets(session: Session, key: Any, source: Any, conditions: list[Any], now: datetime,
                  among: ColumnElement[bool] | None = None) -> dict[Any, rates.Counts]:
    """The counts of the tickets `conditions` pick (the settled ones of those `among` only, if given), with what
    the time asked adds."""
    return {row.key: _counts_in(row) for row in session.execute(
        select(key, *_settled(among), *_pending(now)).select_from(source).where(*conditions).group_by(key))}


def _counts_in(row: Any) -> rates.Counts:
    """A group's counts in a row of `_settled` then `_pending` columns, after its key."""
    counts = rates.Counts(*(int(n or 0) for n in row[1:_PENDING_AT]))
    return rates.with_pending(counts, *row[_PENDING_AT:_PENDING_AT + 2])


def _from_tickets_with_median(session: Session, key: Any, source: Any, conditions: list[Any], now: datetime,
                              ) -> tuple[dict[Any, rates.Counts], dict[Any, float | None]]:
    """`_from_tickets` and `_percentiles` in one statement: for one group only, as the ordered-set aggregate makes
    PostgreSQL sort the rows by group (a hash of many groups is cheaper, `_percentiles`)."""
    median = func.percentile_cont(0.5).within_group(_SECONDS).filter(RESOLVED).label("median_seconds")
    counts, medians = {}, {}
    for row in session.execute(select(key, *_settled(), *_pending(now), median).select_from(source)
                               .where(*conditions).group_by(key)):
        counts[row.key] = _counts_in(row)
        medians[row.key] = rates.hours(row.median_seconds)
    return counts, medians


def _add(counts: dict[Any, rates.Counts], more: dict[Any, rates.Counts]) -> None:
    for group, figures in more.items():
        counts[group] = rates.added(counts.get(group, rates.ZERO), figures)


def _from_tallies(session: Session, actor: Actor, ledger: Ledger, by: str, filters: dict[str, Any],
                  days: tuple[date, date]) -> dict[Any, rates.Tally]:
    """The tallies of the whole days `days` (first, after last) added up by group."""
    tallies = ledger.table
    source: Any = tallies
    if by == "street" or "street_id" in filters:
        source = source.outerjoin(_communities, _communities.c.id == tallies.c.community_id)
    # By the filters' names: `by` names its group's id (community_id, unit_id…).
    columns = {"district_id": tallies.c.district_id, "street_id": _communities.c.parent_id,
               ledger.group: tallies.c[ledger.group]}
    key = columns[f"{by}_id"].label("key")
    conditions = [_spans(tallies, *days)]
    if not actor.is_operator:
        conditions.append(tallies.c.district_id == actor.district)
    conditions += [columns[name] == value for name, value in filters.items()]
    sums = [func.sum(tallies.c[name]) for name in rates.TALLY_NAMES]
    found = {}
    for row in session.execute(select(key, *sums).select_from(source).where(*conditions).group_by(key)):
        group = None if row.key == NO_COMMUNITY else row.key
        found[group] = tuple(int(n or 0) for n in row[1:])
    return found


def _medians_by_bucket(session: Session, key: Any, source: Any, resolved: list[Any],
                       histograms: dict[Any, list[int]]) -> dict[Any, float | None]:
    """Each group's exact median: the tallies' buckets say at which rank of which bucket it lies, and PostgreSQL
    ranks the times of those buckets only (read from ix_tickets_resolve_bucket) and answers just those ranks."""
    wanted = {group: rates.median_ranks(histogram) for group, histogram in histograms.items()}
    buckets = sorted({bucket for ranks in wanted.values() for bucket, _ in ranks})
    if not buckets:
        return {}
    # The rows read are each group's times in any bucket asked, ranked by time within the group (ranking within
    # a bucket too would have PostgreSQL compute every row's bucket again to sort by it); a bucket's rank r is then
    # r plus the group's times in the buckets asked below it, which its histogram tells.
    # Each group's last rank, and the one after, are asked too: the times read must be as many as the group's
    # tallies count in those buckets (the last there, the next not), or a rank read may not be the middle one.
    pairs, asked, last = set(), {}, {}
    for g, ranks in wanted.items():
        if not ranks:  # nothing resolved: no median
            continue
        named = NO_COMMUNITY if g is None else g
        for bucket, rank in ranks:
            below = sum(histograms[g][lower] for lower in buckets if lower < bucket)
            pairs.add((named, below + rank))
            asked[(g, below + rank)] = (bucket, rank)
        last[g] = sum(histograms[g][bucket] for bucket in buckets)
        pairs |= {(named, last[g]), (named, last[g] + 1)}
    # A NULL key (tickets of no known community) would match no pair: it stands as NO_COMMUNITY there.
    group = key if key.type.python_type is str else func.coalesce(key, NO_COMMUNITY)
    seconds = cast(_SECONDS, Float)
    in_buckets = any_(bindparam("buckets", buckets, type_=postgresql.ARRAY(Integer))) == RESOLVE_BUCKET
    ranked = (select(group.label("key"), seconds.label("seconds"),
                     func.row_number().over(partition_by=group, order_by=seconds).label("rank"))
              .select_from(source).where(*resolved, in_buckets).subquery())
    # The pairs as two arrays, two parameters: as an IN list of pairs each request's statement was a new one, with
    # hundreds of placeholders to render and parse.
    ordered = sorted(pairs, key=lambda pair: (str(pair[0]), pair[1]))
    wanted_pairs = func.unnest(bindparam("pair_keys", [g for g, _ in ordered], type_=postgresql.ARRAY(group.type)),
                               bindparam("pair_ranks", [r for _, r in ordered], type_=postgresql.ARRAY(Integer))
                               ).table_valued("key", "rank").render_derived(name="pairs")
    found: dict[Any, dict[tuple[int, int], float]] = defaultdict(dict)
    counted: dict[Any, set[int]] = defaultdict(set)  # of each group's last rank and the next, those read
    for row in session.execute(select(ranked.c.key, ranked.c.rank, ranked.c.seconds)
                               .join(wanted_pairs, and_(wanted_pairs.c.key == ranked.c.key,
                                                        wanted_pairs.c.rank == ranked.c.rank))):
        g = None if row.key == NO_COMMUNITY else row.key
        if (g, row.rank) in asked:
            found[g][asked[(g, row.rank)]] = row.seconds
        if row.rank >= last[g]:
            counted[g].add(row.rank)
    if any(counted[g] != {last[g]} for g in last) or any(len(found[g]) != len(ranks) for g, ranks in wanted.items()):
        # The tallies disagree with the tickets (they should not: tests/unit/test_tickets_stats.py): the medians
        # read every time instead, slower but right. A count drifted in a bucket not read goes unseen here
        # (tallies.check, `linli tallies --check`, finds it).
        log.warning("ticket_tallies_disagree", groups=len(histograms))
        return _percentiles(session, key, source, resolved)
    return {g: rates.median_of([found[g][place] for place in ranks]) for g, ranks in wanted.items()}


def _percentiles(session: Session, key: Any, source: Any, resolved: list[Any]) -> dict[Any, float | None]:
    # A query of its own: an ordered-set aggregate makes PostgreSQL sort every row by group rather than hash them;
    # here only the resolved tickets' durations are sorted, read from ix_tickets_resolved alone.
    return {row.key: rates.hours(row.median_seconds) for row in session.execute(
        select(key, func.percentile_cont(0.5).within_group(_SECONDS).label("median_seconds"))
        .select_from(source).where(*resolved).group_by(key))}


def _spans(tallies: Table, first: date, after: date) -> ColumnElement[bool]:
    """The tallies' rows of the days from `first` to before `after`: whole months' rows, whole weeks' rows for the
    rest, and days' rows for what is left (a year is 12 to 30 rows a group, not 365; 30 days at most 12, not 30)."""
    day, tallied = tallies.c.day, tallies.c.span
    ranges: dict[str, list[ColumnElement[bool]]] = {MONTH: [], WEEK: [], DAY: []}

    def read(span: str, starts: date, ends: date) -> None:
        if starts < ends:
            ranges[span].append(and_(day >= starts, day < ends))

    months_from = first if first.day == 1 else _next_month(first)
    months_to = after.replace(day=1)
    rest = [(first, after)]
    if months_from < months_to:
        read(MONTH, months_from, months_to)
        rest = [(first, months_from), (months_to, after)]
    for starts, ends in rest:
        weeks_from = starts + timedelta(days=-starts.weekday() % 7)  # the first Monday on or after
        weeks_to = ends - timedelta(days=ends.weekday())  # the last Monday on or before
        if weeks_from < weeks_to:
            read(WEEK, weeks_from, weeks_to)
            read(DAY, starts, weeks_from)
            read(DAY, weeks_to, ends)
        else:
            read(DAY, starts, ends)
    return or_(*(and_(tallied == span, or_(*spans)) for span, spans in ranges.items() if spans))


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _midnight(day: date) -> datetime:
    return rates.instant(day, DEFAULT_TIME_ZONE)


def _whole_days(period: rates.Period) -> tuple[date, date] | None:
    """The first whole day of the period and the day after its last, in the suite's time zone; None if it has
    none (a period shorter than a day, or across a midnight)."""
    first = rates.local_day(period.starts_at, DEFAULT_TIME_ZONE)
    if _midnight(first) < period.starts_at:
        first += timedelta(days=1)
    after = rates.local_day(period.ends_at, DEFAULT_TIME_ZONE)
    return (first, after) if first < after else None


def _edges(period: rates.Period, days: tuple[date, date]) -> list[tuple[datetime, datetime]]:
    """The parts of the period before its first whole day and after its last."""
    edges = [(period.starts_at, _midnight(days[0])), (_midnight(days[1]), period.ends_at)]
    return [(starts_at, ends_at) for starts_at, ends_at in edges if starts_at < ends_at]


def _tune(session: Session, period: rates.Period) -> None:
    """For this transaction only: no JIT (compiling the aggregate's expressions cost ~240 ms, more than running
    them over a year of a district's tickets), and room to sort a year's durations in memory. A long period's
    statements are planned for their own parameters: the driver prepares a statement run often, and PostgreSQL's
    generic plan of the medians made a year by street ~13 ms slower (56 against 43 ms at 1M tickets), while a
    month's planned afresh were ~1 ms slower than with it."""
    settings = [func.set_config("jit", "off", True), func.set_config("work_mem", "32MB", True)]
    if period.ends_at - period.starts_at > _LONG_PERIOD:
        settings.append(func.set_config("plan_cache_mode", "force_custom_plan", True))
    session.execute(select(*settings))


_LONG_PERIOD = timedelta(days=62)


def _medians(session: Session, source: Any, conditions: list[Any], key: Any) -> dict[Any, float | None]:
    """SQLite's fallback: the durations fetched and their medians taken here (correct, not fast)."""
    found: dict[Any, list[float]] = defaultdict(list)
    for group, created_at, resolved_at in session.execute(
            select(key, _t.c.created_at, _t.c.resolved_at).select_from(source).where(*conditions)):
        found[group].append((resolved_at - created_at).total_seconds())
    return {group: rates.median_hours(durations) for group, durations in found.items()}


def _names(session: Session, by: str, keys: list[Any], postgres: bool) -> dict[Any, str]:
    if not keys:
        return {}
    if by == "district":
        query = select(_areas.c.district_id, _areas.c.name).where(_areas.c.level == "district",
                                                                  _one_of(_areas.c.district_id, keys, postgres))
    elif by in ("street", "community"):
        query = select(_areas.c.id, _areas.c.name).where(_one_of(_areas.c.id, keys, postgres))
    elif by == "compound":
        query = select(_compounds.c.id, _compounds.c.name).where(_one_of(_compounds.c.id, keys, postgres))
    else:
        organizations = Organization.__table__
        query = select(organizations.c.id, organizations.c.name).where(_one_of(organizations.c.id, keys, postgres))
    return {row[0]: row[1] for row in session.execute(query)}


def _one_of(column: Any, keys: list[Any], postgres: bool) -> ColumnElement[bool]:
    """`column IN (…)`; on PostgreSQL `= ANY(array)`, one parameter: the driver parsed a district's 800 compounds'
    placeholders afresh on every call (~35 ms a request)."""
    if not postgres:
        return column.in_(keys)
    return column == any_(bindparam("keys", keys, type_=postgresql.ARRAY(column.type)))
