"""rotation's HTTP API: views parse the request, call the use case and present its result."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import and_, inspect, or_, select

from linli.services.rotation import domain, usecases
from linli.services.rotation.models import (
    AuditEntry,
    Committee,
    Feed,
    Meeting,
    MeetingRule,
    Override,
    Rotation,
    Swap,
    Term,
    TermReport,
)
from linli.services.rotation.schemas import (
    AgendaSchema,
    Answer,
    AuditPage,
    ChairQuery,
    ChairSchema,
    CommitteePage,
    FairnessQuery,
    FairnessSchema,
    FeedCreate,
    FeedPage,
    FeedQuery,
    FeedRotate,
    FeedSchema,
    FiguresSchema,
    IssuedFeedSchema,
    MeetingCancel,
    MeetingCreate,
    MeetingHold,
    MeetingMove,
    MeetingPage,
    MeetingQuery,
    MeetingRuleSchema,
    MeetingRuleSet,
    MeetingSchema,
    MeetingUpdate,
    OverrideCreate,
    OverridePage,
    OverrideQuery,
    OverrideSchema,
    RotationCreate,
    RotationItemSchema,
    RotationPage,
    RotationQuery,
    RotationSchema,
    RotationUpdate,
    ScheduleQuery,
    SwapCreate,
    SwapPage,
    SwapQuery,
    SwapSchema,
    TermPage,
    TermQuery,
    TermReportCreate,
    TermReportPage,
    TermReportQuery,
    TermReportSchema,
    TermSchema,
)
from linli.shared.db import utcnow
from linli.shared.errors import NotFound
from linli.shared.http.auth import in_district, principal, public, requires, visible_or_404
from linli.shared.http.conditional import check_if_match, etag
from linli.shared.http.operations import secret_answer
from linli.shared.http.pagination import PageArgs, paginate
from linli.shared.http.uow import db

rotations = Blueprint("rotations", __name__, url_prefix="/v1/rotations",
                      description="Rotating chairs (轮值主席) of the committees: their plans, chairs and fairness.")
terms = Blueprint("terms", __name__, url_prefix="/v1/terms",
                  description="The terms of the rotations, each with its chair unit.")
overrides = Blueprint("overrides", __name__, url_prefix="/v1/overrides",
                      description="A substitute for one term, or a unit unavailable for a period.")
swaps = Blueprint("swaps", __name__, url_prefix="/v1/swaps",
                  description="Two units exchanging their terms: asked by one, accepted or declined by the other.")
term_reports = Blueprint("term_reports", __name__, url_prefix="/v1/term-reports",
                         description="The chair units' term reports (任期述职), with the figures of their terms.")
committees = Blueprint("committees", __name__, url_prefix="/v1/committees",
                       description="The committees rotation knows of, as registry announced them.")


def _with_current_term(rotation: Rotation) -> dict[str, Any]:
    """The rotation's fields plus the term running now."""
    fields = {attr.key: getattr(rotation, attr.key) for attr in inspect(Rotation).column_attrs}
    now = utcnow()
    stored = usecases.chair_at(db(), rotation, now)
    fields["current_term"] = stored if stored is not None else domain.term_at(
        rotation.starts_on, rotation.term_months, rotation.time_zone, now)
    return fields


def _rotation(rotation_id: uuid.UUID) -> Rotation:
    return visible_or_404(db().get(Rotation, rotation_id), "rotation")


@rotations.route("")
class Rotations(MethodView):
    @requires("rotation:read")
    @rotations.arguments(RotationQuery, location="query")
    @rotations.response(200, RotationPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List rotations, newest first"""
        stmt = in_district(select(Rotation), Rotation.district_id)
        if "committee_id" in args:
            stmt = stmt.where(Rotation.committee_id == args["committee_id"])
        return paginate(db(), stmt, Rotation, args["limit"], args["cursor"])

    @requires("rotation:write")
    @rotations.arguments(RotationCreate)
    @rotations.response(201, RotationSchema)
    def post(self, body: dict[str, Any]) -> tuple[Rotation, int, dict[str, str]]:
        """Set up a committee's rotating chair (one per committee) and plan its terms; term 0 starts at midnight
        of starts_on"""
        rotation = usecases.set_up_rotation(db(), principal(), **body, now=utcnow())
        return rotation, 201, {"Location": f"/v1/rotations/{rotation.id}", "ETag": etag(rotation.version)}


@rotations.route("/<uuid:rotation_id>")
class RotationItem(MethodView):
    @requires("rotation:read")
    @rotations.response(200, RotationItemSchema)
    def get(self, rotation_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """One rotation, with the term running now"""
        rotation = _rotation(rotation_id)
        return _with_current_term(rotation), 200, {"ETag": etag(rotation.version)}

    @requires("rotation:write")
    @rotations.arguments(RotationUpdate)
    @rotations.response(200, RotationSchema)
    def patch(self, body: dict[str, Any], rotation_id: uuid.UUID) -> tuple[Rotation, int, dict[str, str]]:
        """Change the order policy or the explicit order (the future is planned again), or the days of a term's
        reminder and report (send If-Match)"""
        rotation = usecases.update_rotation(db(), principal(), rotation_id, **body, now=utcnow(),
                                            check_version=check_if_match)
        return rotation, 200, {"ETag": etag(rotation.version)}


@rotations.route("/<uuid:rotation_id>/chair")
class RotationChair(MethodView):
    @requires("rotation:read")
    @rotations.arguments(ChairQuery, location="query")
    @rotations.response(200, ChairSchema)
    def get(self, args: dict[str, Any], rotation_id: uuid.UUID) -> dict[str, Any]:
        """The chair at an instant (now by default): the term running then"""
        rotation = _rotation(rotation_id)
        at = args.get("at") or utcnow()
        return {"at": at, "term": usecases.chair_at(db(), rotation, at)}


@rotations.route("/<uuid:rotation_id>/schedule")
class RotationSchedule(MethodView):
    @requires("rotation:read")
    @rotations.arguments(ScheduleQuery, location="query")
    @rotations.response(200, TermPage)
    def get(self, args: dict[str, Any], rotation_id: uuid.UUID) -> dict[str, Any]:
        """The terms running in [from, to), in order (cancelled ones left out)"""
        rotation = _rotation(rotation_id)
        stmt = select(Term).where(Term.rotation_id == rotation.id, Term.state != usecases.CANCELLED)
        if args.get("from_") is not None:
            stmt = stmt.where(Term.ends_at > args["from_"])
        if args.get("to") is not None:
            stmt = stmt.where(Term.starts_at < args["to"])
        return paginate(db(), stmt, Term, args["limit"], args["cursor"], keys=[Term.starts_at, Term.id],
                        descending=False)


@rotations.route("/<uuid:rotation_id>/fairness")
class RotationFairness(MethodView):
    @requires("rotation:read")
    @rotations.arguments(FairnessQuery, location="query")
    @rotations.response(200, FairnessSchema)
    def get(self, args: dict[str, Any], rotation_id: uuid.UUID) -> dict[str, Any]:
        """Terms served and scheduled per unit in [from, to), the balance between units, and the gaps"""
        rotation = _rotation(rotation_id)
        plan = usecases.terms_between(db(), rotation, None, None)
        start = args.get("from_") or domain.local_midnight(rotation.starts_on, rotation.time_zone)
        end = args.get("to") or (plan[-1].ends_at if plan else start)
        report = usecases.fairness_report(db(), rotation, start, end, utcnow())
        return {
            "rotation_id": rotation.id, "from_": start, "to": end, "balance": report.result.balance,
            "units": [{"organization_id": share.unit, "organization_name": report.names.get(share.unit),
                       "served": share.served, "scheduled": share.scheduled,
                       "compared": share.unit in report.compared} for share in report.result.shares],
            "gaps": [t for t in usecases.terms_between(db(), rotation, start, end)
                     if t.organization_id is None and start <= t.starts_at],
        }


@rotations.route("/<uuid:rotation_id>/history")
class RotationHistory(MethodView):
    @requires("rotation:read")
    @rotations.arguments(PageArgs, location="query")
    @rotations.response(200, AuditPage)
    def get(self, args: dict[str, Any], rotation_id: uuid.UUID) -> dict[str, Any]:
        """Every change to the rotation and its plan, oldest first: who, when, why and what"""
        rotation = _rotation(rotation_id)
        stmt = select(AuditEntry).where(AuditEntry.rotation_id == rotation.id)
        return paginate(db(), stmt, AuditEntry, args["limit"], args["cursor"], keys=[AuditEntry.at, AuditEntry.id],
                        descending=False)


# --- Terms --------------------------------------------------------------------------------------------------

@terms.route("")
class Terms(MethodView):
    @requires("rotation:read")
    @terms.arguments(TermQuery, location="query")
    @terms.response(200, TermPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Terms still running at or after `from` (now by default), soonest first: a unit's upcoming terms"""
        stmt = in_district(select(Term), Term.district_id).where(Term.ends_at > (args.get("from_") or utcnow()))
        if "organization_id" in args:
            stmt = stmt.where(Term.organization_id == args["organization_id"])
        if "rotation_id" in args:
            stmt = stmt.where(Term.rotation_id == args["rotation_id"])
        stmt = stmt.where(Term.state == args["state"]) if "state" in args else stmt.where(
            Term.state != usecases.CANCELLED)
        return paginate(db(), stmt, Term, args["limit"], args["cursor"], keys=[Term.starts_at, Term.id],
                        descending=False)


@terms.route("/<uuid:term_id>")
class TermItem(MethodView):
    @requires("rotation:read")
    @terms.response(200, TermSchema)
    def get(self, term_id: uuid.UUID) -> tuple[Term, int, dict[str, str]]:
        """One term"""
        term = visible_or_404(db().get(Term, term_id), "term")
        return term, 200, {"ETag": etag(term.version)}


@terms.route("/<uuid:term_id>/figures")
class TermFigures(MethodView):
    @requires("rotation:read")
    @terms.response(200, FiguresSchema)
    def get(self, term_id: uuid.UUID) -> dict[str, Any]:
        """The term's figures as they stand (so far, for a running term): what its report will carry"""
        term = visible_or_404(db().get(Term, term_id), "term")
        figures = usecases.term_figures(db(), term)
        return {**figures.counts(), "term_id": term.id, "community_id": figures.community_id,
                "from_": figures.start, "to": figures.end, "activities": figures.activities}


# --- Term reports -------------------------------------------------------------------------------------------

def _report(row: TermReport) -> TermReport | dict[str, Any]:
    """A pending report past due shows as missing even before the clock records it."""
    state = usecases.report_state(row, utcnow())
    if state != row.state:
        return {**{attr.key: getattr(row, attr.key) for attr in inspect(TermReport).column_attrs}, "state": state}
    return row


@term_reports.route("")
class TermReports(MethodView):
    @requires("rotation:read")
    @term_reports.arguments(TermReportQuery, location="query")
    @term_reports.response(200, TermReportPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List term reports, newest first: `state=missing` those due and not given, `late` those given after"""
        stmt = in_district(select(TermReport), TermReport.district_id)
        for name in ("rotation_id", "organization_id", "term_id"):
            if name in args:
                stmt = stmt.where(getattr(TermReport, name) == args[name])
        now = utcnow()
        state = args.get("state")
        if state == usecases.PENDING:
            stmt = stmt.where(TermReport.state == usecases.PENDING, TermReport.due_at > now)
        elif state == usecases.MISSING:
            stmt = stmt.where(or_(TermReport.state == usecases.MISSING,
                                  and_(TermReport.state == usecases.PENDING, TermReport.due_at <= now)))
        elif state is not None:
            stmt = stmt.where(TermReport.state == state)
        page = paginate(db(), stmt, TermReport, args["limit"], args["cursor"])
        return {**page, "items": [_report(row) for row in page["items"]]}

    @requires("rotation:write")
    @term_reports.arguments(TermReportCreate)
    @term_reports.response(201, TermReportSchema)
    def post(self, body: dict[str, Any]) -> tuple[TermReport, int, dict[str, str]]:
        """The chair unit of an ended term gives its report; the term's figures are gathered with it (once: a
        second is a 409; a unit that did not chair the term is a 403)"""
        report = usecases.submit_report(db(), principal(), **body, now=utcnow())
        return report, 201, {"Location": f"/v1/term-reports/{report.id}", "ETag": etag(report.version)}


@term_reports.route("/<uuid:report_id>")
class TermReportItem(MethodView):
    @requires("rotation:read")
    @term_reports.response(200, TermReportSchema)
    def get(self, report_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """One term report"""
        report = visible_or_404(db().get(TermReport, report_id), "term report")
        return _report(report), 200, {"ETag": etag(report.version)}


# --- Overrides ----------------------------------------------------------------------------------------------

@overrides.route("")
class Overrides(MethodView):
    @requires("rotation:read")
    @overrides.arguments(OverrideQuery, location="query")
    @overrides.response(200, OverridePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List overrides, newest first"""
        stmt = in_district(select(Override), Override.district_id)
        for name in ("rotation_id", "organization_id", "kind", "state"):
            if name in args:
                stmt = stmt.where(getattr(Override, name) == args[name])
        return paginate(db(), stmt, Override, args["limit"], args["cursor"])

    @requires("rotation:write")
    @overrides.arguments(OverrideCreate)
    @overrides.response(201, OverrideSchema)
    def post(self, body: dict[str, Any]) -> tuple[Override, int, dict[str, str]]:
        """A substitute for one planned term (term_id), or a unit unavailable on [from, to); the future is
        planned again"""
        if body["kind"] == usecases.SUBSTITUTE:
            override = usecases.substitute(db(), principal(), term_id=body["term_id"],
                                           organization_id=body["organization_id"], reason=body["reason"],
                                           now=utcnow())
        else:
            override = usecases.mark_unavailable(db(), principal(), rotation_id=body.get("rotation_id"),
                                                 organization_id=body["organization_id"], from_on=body["from_"],
                                                 to_on=body["to"], reason=body["reason"], now=utcnow())
        return override, 201, {"Location": f"/v1/overrides/{override.id}", "ETag": etag(override.version)}


@overrides.route("/<uuid:override_id>")
class OverrideItem(MethodView):
    @requires("rotation:read")
    @overrides.response(200, OverrideSchema)
    def get(self, override_id: uuid.UUID) -> tuple[Override, int, dict[str, str]]:
        """One override"""
        override = visible_or_404(db().get(Override, override_id), "override")
        return override, 200, {"ETag": etag(override.version)}


@overrides.route("/<uuid:override_id>/cancel")
class OverrideCancel(MethodView):
    @requires("rotation:write")
    @overrides.arguments(Answer)
    @overrides.response(200, OverrideSchema)
    def post(self, body: dict[str, Any], override_id: uuid.UUID) -> tuple[Override, int, dict[str, str]]:
        """Withdraw an override; the future is planned by the turns again (a begun term stays)"""
        override = usecases.cancel_override(db(), principal(), override_id, reason=body["reason"], now=utcnow(),
                                            check_version=check_if_match)
        return override, 200, {"ETag": etag(override.version)}


# --- Swaps --------------------------------------------------------------------------------------------------

def _swap(row: Swap) -> Swap | dict[str, Any]:
    """A request whose time ran out shows as expired even before the clock records it."""
    if row.state == usecases.REQUESTED and row.expires_at <= utcnow():
        return {**{attr.key: getattr(row, attr.key) for attr in inspect(Swap).column_attrs},
                "state": usecases.EXPIRED}
    return row


@swaps.route("")
class Swaps(MethodView):
    @requires("rotation:read")
    @swaps.arguments(SwapQuery, location="query")
    @swaps.response(200, SwapPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List swaps, newest first"""
        stmt = in_district(select(Swap), Swap.district_id)
        if "rotation_id" in args:
            stmt = stmt.where(Swap.rotation_id == args["rotation_id"])
        if "organization_id" in args:
            stmt = stmt.where(or_(Swap.organization_id == args["organization_id"],
                                  Swap.with_organization_id == args["organization_id"]))
        if "state" in args:
            stmt = stmt.where(Swap.state == args["state"])
        page = paginate(db(), stmt, Swap, args["limit"], args["cursor"])
        return {**page, "items": [_swap(row) for row in page["items"]]}

    @requires("rotation:write")
    @swaps.arguments(SwapCreate)
    @swaps.response(201, SwapSchema)
    def post(self, body: dict[str, Any]) -> tuple[Swap, int, dict[str, str]]:
        """The chair of term_id asks the chair of with_term_id to exchange terms"""
        swap = usecases.request_swap(db(), principal(), **body, now=utcnow())
        return swap, 201, {"Location": f"/v1/swaps/{swap.id}", "ETag": etag(swap.version)}


@swaps.route("/<uuid:swap_id>")
class SwapItem(MethodView):
    @requires("rotation:read")
    @swaps.response(200, SwapSchema)
    def get(self, swap_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """One swap"""
        swap = visible_or_404(db().get(Swap, swap_id), "swap")
        return _swap(swap), 200, {"ETag": etag(swap.version)}


@swaps.route("/<uuid:swap_id>/accept")
class SwapAccept(MethodView):
    @requires("rotation:write")
    @swaps.arguments(Answer)
    @swaps.response(200, SwapSchema)
    def post(self, body: dict[str, Any], swap_id: uuid.UUID) -> tuple[Swap, int, dict[str, str]]:
        """The asked unit agrees: the two terms change chairs and keep them through later re-plans"""
        swap = usecases.accept_swap(db(), principal(), swap_id, reason=body["reason"], now=utcnow(),
                                    check_version=check_if_match)
        return swap, 200, {"ETag": etag(swap.version)}


@swaps.route("/<uuid:swap_id>/decline")
class SwapDecline(MethodView):
    @requires("rotation:write")
    @swaps.arguments(Answer)
    @swaps.response(200, SwapSchema)
    def post(self, body: dict[str, Any], swap_id: uuid.UUID) -> tuple[Swap, int, dict[str, str]]:
        """The asked unit declines; the plan stays as it is"""
        swap = usecases.decline_swap(db(), principal(), swap_id, reason=body["reason"], now=utcnow(),
                                     check_version=check_if_match)
        return swap, 200, {"ETag": etag(swap.version)}


# --- Committees ---------------------------------------------------------------------------------------------

@committees.route("")
class Committees(MethodView):
    @requires("rotation:read")
    @committees.arguments(PageArgs, location="query")
    @committees.response(200, CommitteePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the committees rotation has heard of, by name"""
        stmt = in_district(select(Committee), Committee.district_id)
        return paginate(db(), stmt, Committee, args["limit"], args["cursor"], keys=[Committee.name, Committee.id],
                        descending=False)



# --- Joint meetings -----------------------------------------------------------------------------------------

meetings_blueprint = Blueprint(
    "meetings", __name__, url_prefix="/v1/meetings",
    description="Joint meetings (联席会议) of the committees: by each committee's rule or ad hoc; agenda, "
                "attendance, minutes and decisions.")
feeds = Blueprint("feeds", __name__, url_prefix="/v1/feeds",
                  description="iCalendar feeds of a committee's or a unit's terms and meetings, reached by a secret "
                              "URL token so phones subscribe without a token header.")


@committees.route("/<uuid:committee_id>/meeting-rule")
class CommitteeMeetingRule(MethodView):
    @requires("rotation:read")
    @committees.response(200, MeetingRuleSchema)
    def get(self, committee_id: uuid.UUID) -> tuple[MeetingRule, int, dict[str, str]]:
        """The rule the committee's joint meetings recur by"""
        visible_or_404(db().get(Committee, committee_id), "committee")
        rule = db().scalar(select(MeetingRule).where(MeetingRule.committee_id == committee_id))
        if rule is None:
            raise NotFound("the committee has no meeting rule yet")
        return rule, 200, {"ETag": etag(rule.version)}

    @requires("rotation:write")
    @committees.arguments(MeetingRuleSet)
    @committees.response(200, MeetingRuleSchema)
    def put(self, body: dict[str, Any], committee_id: uuid.UUID) -> tuple[MeetingRule, int, dict[str, str]]:
        """Set the rule (an RFC 5545 RRULE, quarterly by default); the future meetings are planned again a year
        ahead, held and begun ones stay (send If-Match to replace one)"""
        rule = usecases.set_meeting_rule(db(), principal(), committee_id, **body, now=utcnow(),
                                         check_version=check_if_match)
        return rule, 200, {"ETag": etag(rule.version)}


def _meeting(meeting_id: uuid.UUID) -> Meeting:
    return visible_or_404(db().get(Meeting, meeting_id), "meeting")


@meetings_blueprint.route("")
class Meetings(MethodView):
    @requires("rotation:read")
    @meetings_blueprint.arguments(MeetingQuery, location="query")
    @meetings_blueprint.response(200, MeetingPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List meetings by start, soonest first"""
        stmt = in_district(select(Meeting), Meeting.district_id)
        for name in ("committee_id", "community_id", "state", "kind"):
            if name in args:
                stmt = stmt.where(getattr(Meeting, name) == args[name])
        if args.get("from_") is not None:
            stmt = stmt.where(Meeting.starts_at >= args["from_"])
        if args.get("to") is not None:
            stmt = stmt.where(Meeting.starts_at < args["to"])
        return paginate(db(), stmt, Meeting, args["limit"], args["cursor"], keys=[Meeting.starts_at, Meeting.id],
                        descending=False)

    @requires("rotation:write")
    @meetings_blueprint.arguments(MeetingCreate)
    @meetings_blueprint.response(201, MeetingSchema)
    def post(self, body: dict[str, Any]) -> tuple[Meeting, int, dict[str, str]]:
        """Call a meeting ad hoc, at a local day and time in the committee's zone"""
        meeting = usecases.schedule_meeting(db(), principal(), committee_id=body["committee_id"],
                                            local_date=body["date"], local_time=body["time"],
                                            duration_minutes=body["duration_minutes"], place=body["place"],
                                            title=body["title"], free_items=body["free_items"], now=utcnow())
        return meeting, 201, {"Location": f"/v1/meetings/{meeting.id}", "ETag": etag(meeting.version)}


@meetings_blueprint.route("/<uuid:meeting_id>")
class MeetingItem(MethodView):
    @requires("rotation:read")
    @meetings_blueprint.response(200, MeetingSchema)
    def get(self, meeting_id: uuid.UUID) -> tuple[Meeting, int, dict[str, str]]:
        """One meeting"""
        meeting = _meeting(meeting_id)
        return meeting, 200, {"ETag": etag(meeting.version)}

    @requires("rotation:write")
    @meetings_blueprint.arguments(MeetingUpdate)
    @meetings_blueprint.response(200, MeetingSchema)
    def patch(self, body: dict[str, Any], meeting_id: uuid.UUID) -> tuple[Meeting, int, dict[str, str]]:
        """Retitle a scheduled meeting or set its free agenda items (send If-Match)"""
        meeting = usecases.edit_meeting(db(), principal(), meeting_id, changes=body, check_version=check_if_match)
        return meeting, 200, {"ETag": etag(meeting.version)}


@meetings_blueprint.route("/<uuid:meeting_id>/agenda")
class MeetingAgenda(MethodView):
    @requires("rotation:read")
    @meetings_blueprint.response(200, AgendaSchema)
    def get(self, meeting_id: uuid.UUID) -> dict[str, Any]:
        """The agenda: the community's tickets listed (挂单) now (or when it was held), then the free items"""
        meeting = _meeting(meeting_id)
        return {"meeting_id": meeting.id, "items": usecases.agenda(db(), meeting)}


@meetings_blueprint.route("/<uuid:meeting_id>/move")
class MeetingMoveView(MethodView):
    @requires("rotation:write")
    @meetings_blueprint.arguments(MeetingMove)
    @meetings_blueprint.response(200, MeetingSchema)
    def post(self, body: dict[str, Any], meeting_id: uuid.UUID) -> tuple[Meeting, int, dict[str, str]]:
        """Move a scheduled meeting to another local day and time (and place)"""
        meeting = usecases.move_meeting(db(), principal(), meeting_id, local_date=body["date"],
                                        local_time=body["time"], duration_minutes=body["duration_minutes"],
                                        place=body["place"], reason=body["reason"], now=utcnow(),
                                        check_version=check_if_match)
        return meeting, 200, {"ETag": etag(meeting.version)}


@meetings_blueprint.route("/<uuid:meeting_id>/cancel")
class MeetingCancelView(MethodView):
    @requires("rotation:write")
    @meetings_blueprint.arguments(MeetingCancel)
    @meetings_blueprint.response(200, MeetingSchema)
    def post(self, body: dict[str, Any], meeting_id: uuid.UUID) -> tuple[Meeting, int, dict[str, str]]:
        """Call a scheduled meeting off, with the reason"""
        meeting = usecases.cancel_meeting(db(), principal(), meeting_id, reason=body["reason"], now=utcnow(),
                                          check_version=check_if_match)
        return meeting, 200, {"ETag": etag(meeting.version)}


@meetings_blueprint.route("/<uuid:meeting_id>/hold")
class MeetingHoldView(MethodView):
    @requires("rotation:write")
    @meetings_blueprint.arguments(MeetingHold)
    @meetings_blueprint.response(200, MeetingSchema)
    def post(self, body: dict[str, Any], meeting_id: uuid.UUID) -> tuple[Meeting, int, dict[str, str]]:
        """Record a meeting held: attendance of the committee's units, minutes, and its decisions to list or
        dispatch tickets (recorded only)"""
        meeting = usecases.hold_meeting(
            db(), principal(), meeting_id,
            attendance=[usecases.AttendanceIn(a["organization_id"], a["status"]) for a in body["attendance"]],
            minutes=body["minutes"],
            decisions=[usecases.DecisionIn(d["ticket_id"], d["kind"], tuple(d["unit_ids"]), d["note"])
                       for d in body["decisions"]],
            now=utcnow(), check_version=check_if_match)
        return meeting, 200, {"ETag": etag(meeting.version)}


# --- Calendar feeds -----------------------------------------------------------------------------------------

def _issued(issued: usecases.IssuedFeed) -> dict[str, Any]:
    fields = {attr.key: getattr(issued.feed, attr.key) for attr in inspect(Feed).column_attrs}
    return {**fields, "token": issued.token, "url": f"{request.url_root}v1/feeds/{issued.token}.ics"}


@feeds.route("")
class Feeds(MethodView):
    @requires("rotation:read")
    @feeds.arguments(FeedQuery, location="query")
    @feeds.response(200, FeedPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List feeds, newest first (their tokens are never shown again)"""
        stmt = in_district(select(Feed), Feed.district_id)
        for name in ("committee_id", "organization_id"):
            if name in args:
                stmt = stmt.where(getattr(Feed, name) == args[name])
        return paginate(db(), stmt, Feed, args["limit"], args["cursor"])

    @requires("rotation:write")
    @secret_answer
    @feeds.arguments(FeedCreate)
    @feeds.response(201, IssuedFeedSchema)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A feed of a committee (committee_id) or a unit (organization_id); its secret URL is told only now

        Only the token's hash is kept. A retry with the same Idempotency-Key answers 409 with the feed's
        Location, not the token again.
        """
        issued = usecases.create_feed(db(), principal(), **body)
        return _issued(issued), 201, {"Location": f"/v1/feeds/{issued.feed.id}", "ETag": etag(issued.feed.version),
                                      "Cache-Control": "no-store"}


@feeds.route("/<uuid:feed_id>")
class FeedItem(MethodView):
    @requires("rotation:read")
    @feeds.response(200, FeedSchema)
    def get(self, feed_id: uuid.UUID) -> tuple[Feed, int, dict[str, str]]:
        """One feed (without its token)"""
        feed = visible_or_404(db().get(Feed, feed_id), "feed")
        return feed, 200, {"ETag": etag(feed.version)}


@feeds.route("/<uuid:feed_id>/rotate-token")
class FeedRotateToken(MethodView):
    @requires("rotation:write")
    @secret_answer
    @feeds.arguments(FeedRotate)
    @feeds.response(200, IssuedFeedSchema)
    def post(self, body: dict[str, Any], feed_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A new secret URL for the feed; the old one answers 404 from now on"""
        issued = usecases.rotate_feed_token(db(), principal(), feed_id, now=utcnow(), check_version=check_if_match)
        return _issued(issued), 200, {"ETag": etag(issued.feed.version), "Cache-Control": "no-store"}


ICS = "text/calendar"
TOKEN = {"in": "path", "name": "token", "required": True, "schema": {"type": "string", "maxLength": 200},
         "description": "the feed's secret"}


@feeds.route("/<token>.ics", parameters=[TOKEN])
class FeedCalendar(MethodView):
    @public
    @feeds.doc(responses={200: {"description": "the iCalendar (RFC 5545) document",
                                "content": {ICS: {"schema": {"type": "string"}}}}})
    def get(self, token: str) -> Response:
        """The feed as iCalendar, for calendar apps to subscribe to: no JWT, the secret in the URL is the key"""
        body = usecases.feed_calendar(db(), token, utcnow())
        return Response(body, status=200, content_type=f"{ICS}; charset=utf-8",
                        headers={"Cache-Control": "private, max-age=300"})
