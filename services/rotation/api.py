"""rotation's HTTP API: thin views over the domain rules, the outbox and the clock."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import inspect, select

from linli.services.rotation import domain
from linli.services.rotation.clock import schedule_term_start
from linli.services.rotation.events import ROTATION_CREATED, rotation_data
from linli.services.rotation.models import Committee, Rotation
from linli.services.rotation.schemas import (
    CommitteePage,
    RotationCreate,
    RotationItemSchema,
    RotationPage,
    RotationQuery,
    RotationSchema,
)
from linli.shared.db import utcnow
from linli.shared.errors import NotYetKnown, ValidationFailed
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import etag
from linli.shared.http.pagination import PageArgs, paginate
from linli.shared.http.problems import ProblemError
from linli.shared.http.uow import db
from linli.shared.outbox import emit

rotations = Blueprint("rotations", __name__, url_prefix="/v1/rotations",
                      description="Rotating chairs (轮值主席) of the committees and their terms.")
committees = Blueprint("committees", __name__, url_prefix="/v1/committees",
                       description="The committees rotation knows of, as registry announced them.")



def _with_current_term(rotation: Rotation) -> dict[str, Any]:
    """The rotation's fields plus the term running now, which is computed, never stored."""
    fields = {attr.key: getattr(rotation, attr.key) for attr in inspect(Rotation).column_attrs}
    fields["current_term"] = domain.term_at(rotation.starts_on, rotation.term_months, rotation.time_zone, utcnow())
    return fields


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
        """Set up a committee's rotating chair (one per committee); term 0 starts at midnight of starts_on"""
        session = db()
        committee = session.get(Committee, body["committee_id"])
        if committee is None:
            raise NotYetKnown.field("committee_id", "committee")
        if not principal().sees(committee.district_id):
            raise ValidationFailed.field("committee_id", "no such committee")
        if session.scalar(select(Rotation.id).where(Rotation.committee_id == committee.id)):
            raise ProblemError(409, "this committee already has a rotation", slug="conflict")
        rotation = Rotation(district_id=committee.district_id, committee_id=committee.id,
                            term_months=body["term_months"], starts_on=body["starts_on"],
                            time_zone=committee.time_zone, state=domain.ACTIVE, version=1)
        session.add(rotation)
        session.flush()
        schedule_term_start(session, rotation, 0)
        emit(session, ROTATION_CREATED, subject=rotation.id, data=rotation_data(rotation),
             district=rotation.district_id)
        return rotation, 201, {"Location": f"/v1/rotations/{rotation.id}", "ETag": etag(rotation.version)}


@rotations.route("/<uuid:rotation_id>")
class RotationItem(MethodView):
    @requires("rotation:read")
    @rotations.response(200, RotationItemSchema)
    def get(self, rotation_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """One rotation, with the term running now"""
        rotation = visible_or_404(db().get(Rotation, rotation_id), "rotation")
        return _with_current_term(rotation), 200, {"ETag": etag(rotation.version)}


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
