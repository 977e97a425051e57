"""notify's HTTP API: views parse the request, call the use case and present its result in the caller's language."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from linli.services.notify import templates, usecases
from linli.services.notify.models import Notification
from linli.services.notify.schemas import NotificationPage, NotificationQuery, NotificationSchema
from linli.shared.db import utcnow
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import etag
from linli.shared.http.pagination import paginate
from linli.shared.http.uow import db

notifications = Blueprint("notifications", __name__, url_prefix="/v1/notifications",
                          description="Inbox notifications, worded in the caller's language.")


def _locale() -> str:
    return templates.negotiate(request.headers.get("Accept-Language"))


def _language_headers(locale: str) -> dict[str, str]:
    # The same URL answers in another language for another caller: caches must key on the header.
    return {"Content-Language": locale, "Vary": "Accept-Language"}


def _present(notification: Notification, locale: str) -> dict[str, Any]:
    """The row as the API shows it: its template rendered in the caller's locale."""
    params = json.loads(notification.params)
    title, body = templates.render(notification.template, locale, params)
    return {column.key: getattr(notification, column.key) for column in Notification.__table__.columns} | {
        "params": params, "locale": locale, "title": title, "body": body,
    }


@notifications.route("")
class Notifications(MethodView):
    @requires("notify:read")
    @notifications.arguments(NotificationQuery, location="query")
    @notifications.response(200, NotificationPage)
    def get(self, args: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """List notifications, newest first (filter by recipient, e.g. compound:<id>, and state)"""
        stmt = in_district(select(Notification), Notification.district_id)
        if "recipient" in args:
            stmt = stmt.where(Notification.recipient == args["recipient"])
        if "state" in args:
            stmt = stmt.where(Notification.state == args["state"])
        page = paginate(db(), stmt, Notification, args["limit"], args["cursor"])
        locale = _locale()
        page["items"] = [_present(n, locale) for n in page["items"]]
        return page, 200, _language_headers(locale)


@notifications.route("/<uuid:notification_id>")
class NotificationItem(MethodView):
    @requires("notify:read")
    @notifications.response(200, NotificationSchema)
    def get(self, notification_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """One notification"""
        notification = visible_or_404(db().get(Notification, notification_id), "notification")
        locale = _locale()
        return _present(notification, locale), 200, {"ETag": etag(notification.version), **_language_headers(locale)}


@notifications.route("/<uuid:notification_id>/read")
class NotificationRead(MethodView):
    @requires("notify:write")
    @notifications.response(200, NotificationSchema)
    def post(self, notification_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Mark a notification read (reading it again changes nothing and emits nothing)"""
        notification = usecases.mark_read(db(), principal(), notification_id, utcnow())
        locale = _locale()
        return _present(notification, locale), 200, {"ETag": etag(notification.version), **_language_headers(locale)}
