"""notify's HTTP API: views parse the request, call the use case and present its result (notifications in the
caller's language): the inbox, rules, templates and webhooks."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from linli.services.notify import domain, outgoing, samples, sending, templates, usecases
from linli.services.notify.models import (
    Delivery,
    Notification,
    Preference,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from linli.services.notify.schemas import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryQuery,
    DeliverySchema,
    DistrictQuery,
    InboxPage,
    MessageDeliveryDetail,
    MessageDeliveryPage,
    MessageDeliveryQuery,
    NotificationQuery,
    NotificationSchema,
    PreferencesSchema,
    PreferencesUpdate,
    ReadAll,
    ReadAllResult,
    RulePage,
    RulePreview,
    RulePreviewQuery,
    RulePut,
    RuleQuery,
    RuleSchema,
    SecretRotation,
    TemplatePage,
    TemplatePreview,
    TemplatePreviewBody,
    TemplatePut,
    TemplateQuery,
    TemplateSchema,
    WebhookCreate,
    WebhookDisable,
    WebhookPage,
    WebhookQuery,
    WebhookSchema,
    WebhookUpdate,
    WebhookWithSecret,
)
from linli.shared.db import utcnow
from linli.shared.errors import NotFound
from linli.shared.http.auth import in_district, principal, requires, visible_or_404
from linli.shared.http.conditional import check_if_match, etag
from linli.shared.http.pagination import paginate
from linli.shared.http.uow import db

inbox = Blueprint("inbox", __name__, url_prefix="/v1/inbox",
                  description="Inboxes: what the suite told each member, unit and compound, worded in the reader's "
                              "language. A token whose sub is member:<id> or organization:<id> reads that inbox "
                              "only; a district's clerks read every inbox of their district.")


def _locale() -> str:
    return templates.negotiate(request.headers.get("Accept-Language"))


def _language_headers(locale: str) -> dict[str, str]:
    # The same URL answers in another language for another caller: caches must key on the header.
    return {"Content-Language": locale, "Vary": "Accept-Language"}


@inbox.route("")
class Inbox(MethodView):
    @requires("notify:read")
    @inbox.arguments(NotificationQuery, location="query")
    @inbox.response(200, InboxPage)
    def get(self, args: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """The caller's inbox (or, for clerks, their district's inboxes), newest first, with the unread count

        Filter by `recipient` (clerks), `state` and `event_type`.
        """
        who = principal()
        stmt = usecases.inbox_query(who, args.get("recipient"))
        if "state" in args:
            stmt = stmt.where(Notification.state == args["state"])
        if "event_type" in args:
            stmt = stmt.where(Notification.event_type == args["event_type"])
        page = paginate(db(), stmt, Notification, args["limit"], args["cursor"])
        locale = _locale()
        cache: usecases.WordingCache = {}
        page["items"] = [usecases.present(db(), n, locale, cache) for n in page["items"]]
        page["unread_count"] = usecases.unread_count(db(), who, args.get("recipient"))
        return page, 200, _language_headers(locale)


@inbox.route("/read-all")
class InboxReadAll(MethodView):
    @requires("notify:write")
    @inbox.arguments(ReadAll)
    @inbox.response(200, ReadAllResult)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Mark every unread notification of the caller's inbox (or the `recipient` named) read; emits
        `notify.notification.read` for each"""
        who = principal()
        marked = usecases.mark_all_read(db(), who, utcnow(), recipient=body.get("recipient"))
        return {"marked": marked, "unread_count": usecases.unread_count(db(), who, body.get("recipient"))}


@inbox.route("/<uuid:notification_id>")
class InboxItem(MethodView):
    @requires("notify:read")
    @inbox.response(200, NotificationSchema)
    def get(self, notification_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """One notification"""
        notification = usecases.get_notification(db(), principal(), notification_id)
        locale = _locale()
        return (usecases.present(db(), notification, locale), 200,
                {"ETag": etag(notification.version), **_language_headers(locale)})


@inbox.route("/<uuid:notification_id>/read")
class InboxItemRead(MethodView):
    @requires("notify:write")
    @inbox.response(200, NotificationSchema)
    def post(self, notification_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Mark a notification read (reading it again changes nothing and emits nothing)"""
        notification = usecases.mark_read(db(), principal(), notification_id, utcnow())
        locale = _locale()
        return (usecases.present(db(), notification, locale), 200,
                {"ETag": etag(notification.version), **_language_headers(locale)})


# --- Rules: who is told of which event -----------------------------------------------------------------------------

rule_endpoints = Blueprint(
    "rules", __name__, url_prefix="/v1/rules",
    description="Who is told of which event, on which channels (inbox, sms, email): the suite's default per event "
                "type, and a district's own rules.")


def _rule(view: usecases.RuleView) -> tuple[usecases.RuleView, int, dict[str, str]]:
    return view, 200, {"ETag": etag(view.version)}


@rule_endpoints.route("")
class Rules(MethodView):
    @requires("notify:read")
    @rule_endpoints.arguments(RuleQuery, location="query")
    @rule_endpoints.response(200, RulePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every ruled event type with the rule in effect in your district (an operator names `district_id`, or
        sees the defaults) — one page: the list is short"""
        return {"items": usecases.list_rules(db(), principal(), **args), "next_cursor": None}


@rule_endpoints.route("/preview")
class RulesPreview(MethodView):
    @requires("notify:read")
    @rule_endpoints.arguments(RulePreviewQuery, location="query")
    @rule_endpoints.response(200, RulePreview)
    def get(self, args: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Who would be told of a sample event of `event_type`: recipients by role, channel, and the words they
        would read (in the Accept-Language locale), with SMS segment counts"""
        locale = _locale()
        view, told = usecases.preview_rule(db(), principal(), args["event_type"], locale=locale,
                                           district_id=args.get("district_id"))
        return ({"rule": view, "sample": samples.sample(view.event_type), "told": told}, 200,
                _language_headers(locale))


@rule_endpoints.route("/<event_type>")
class RuleItem(MethodView):
    @requires("notify:read")
    @rule_endpoints.arguments(DistrictQuery, location="query")
    @rule_endpoints.response(200, RuleSchema)
    def get(self, args: dict[str, Any], event_type: str) -> tuple[usecases.RuleView, int, dict[str, str]]:
        """The rule in effect for an event type in your district"""
        return _rule(usecases.get_rule(db(), principal(), event_type, **args))

    @requires("notify:admin")
    @rule_endpoints.arguments(DistrictQuery, location="query")
    @rule_endpoints.arguments(RulePut())
    @rule_endpoints.response(200, RuleSchema)
    def put(self, args: dict[str, Any], body: dict[str, Any], event_type: str) -> tuple[usecases.RuleView, int,
                                                                                         dict[str, str]]:
        """Set your district's rule for an event type: the roles told and their channels

        Roles must be ones the event type knows (422 names the one that is not). Send If-Match with the ETag
        you read (`"0"` while the default holds).
        """
        return _rule(usecases.set_rule(db(), principal(), event_type, **args, **body, check_version=check_if_match))

    @requires("notify:admin")
    @rule_endpoints.arguments(DistrictQuery, location="query")
    @rule_endpoints.response(200, RuleSchema)
    def delete(self, args: dict[str, Any], event_type: str) -> tuple[usecases.RuleView, int, dict[str, str]]:
        """Drop your district's rule for an event type: the default applies again (answers the default)"""
        return _rule(usecases.reset_rule(db(), principal(), event_type, **args, check_version=check_if_match))


# --- Templates: what they are told --------------------------------------------------------------------------------

template_endpoints = Blueprint(
    "templates", __name__, url_prefix="/v1/templates",
    description="The wording of each event type per channel and locale (zh-CN, en): Jinja2 in a sandbox, the "
                "suite's defaults and a district's own; a template is checked against a sample event when saved.")


def _template(view: usecases.TemplateView) -> tuple[usecases.TemplateView, int, dict[str, str]]:
    return view, 200, {"ETag": etag(view.version)}


@template_endpoints.route("")
class Templates(MethodView):
    @requires("notify:read")
    @template_endpoints.arguments(TemplateQuery, location="query")
    @template_endpoints.response(200, TemplatePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The templates in effect in your district (filter by event_type, channel, locale) — one page"""
        return {"items": usecases.list_templates(db(), principal(), **args), "next_cursor": None}


# A template's id is `<event_type>:<channel>:<locale>`, each part a path parameter of its own.
_TEMPLATE = "/<event_type>:<channel>:<locale>"


@template_endpoints.route(_TEMPLATE)
class TemplateItem(MethodView):
    @requires("notify:read")
    @template_endpoints.arguments(DistrictQuery, location="query")
    @template_endpoints.response(200, TemplateSchema)
    def get(self, args: dict[str, Any], **part: str) -> tuple[usecases.TemplateView, int, dict[str, str]]:
        """One template in effect (id `<event_type>:<channel>:<locale>`)"""
        return _template(usecases.get_template(db(), principal(), templates.template_id(**part), **args))

    @requires("notify:admin")
    @template_endpoints.arguments(DistrictQuery, location="query")
    @template_endpoints.arguments(TemplatePut())
    @template_endpoints.response(200, TemplateSchema)
    def put(self, args: dict[str, Any], body: dict[str, Any], **part: str) -> tuple[usecases.TemplateView, int,
                                                                                     dict[str, str]]:
        """Create or replace your district's wording: rendered against the event type's sample first

        A variable the event does not carry, a syntax error or anything the sandbox forbids is refused with 422
        naming `subject` or `body`; an SMS whose sample runs past 3 segments is refused, past 1 saved with a
        warning. Send If-Match with the ETag you read (`"0"` while the default holds).
        """
        return _template(usecases.set_template(db(), principal(), templates.template_id(**part), **args, **body,
                                               check_version=check_if_match))

    @requires("notify:admin")
    @template_endpoints.arguments(DistrictQuery, location="query")
    @template_endpoints.response(200, TemplateSchema)
    def delete(self, args: dict[str, Any], **part: str) -> tuple[usecases.TemplateView, int, dict[str, str]]:
        """Drop your district's wording: the default applies again (answers the default)"""
        return _template(usecases.reset_template(db(), principal(), templates.template_id(**part), **args,
                                                 check_version=check_if_match))


@template_endpoints.route(f"{_TEMPLATE}/preview")
class TemplatePreviewItem(MethodView):
    @requires("notify:read")
    @template_endpoints.arguments(DistrictQuery, location="query")
    @template_endpoints.arguments(TemplatePreviewBody())
    @template_endpoints.response(200, TemplatePreview)
    def post(self, args: dict[str, Any], body: dict[str, Any], **part: str) -> usecases.Preview:
        """Render the template (or a draft `subject`/`body`) against the event type's sample, or a `payload`
        given; SMS show their segment count. Changes nothing."""
        return usecases.preview_template(db(), principal(), templates.template_id(**part), **args, **body)


webhook_endpoints = Blueprint(
    "webhooks", __name__, url_prefix="/v1/webhooks",
    description="Endpoints of other applications, sent the suite's public events as signed CloudEvents "
                "(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).")


def _resolve(host: str, port: int) -> list[str]:
    # Through the module, looked up per call: tests stand in for DNS there.
    return sending.resolve(host, port)


def _tagged(webhook: Webhook, status: int = 200) -> tuple[Webhook, int, dict[str, str]]:
    return webhook, status, {"ETag": etag(webhook.version)}


@webhook_endpoints.route("")
class Webhooks(MethodView):
    @requires("notify:read")
    @webhook_endpoints.arguments(WebhookQuery, location="query")
    @webhook_endpoints.response(200, WebhookPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the webhook endpoints of your district, newest first (secrets are never shown again)"""
        stmt = in_district(select(Webhook), Webhook.district_id)
        if "state" in args:
            stmt = stmt.where(Webhook.state == args["state"])
        return paginate(db(), stmt, Webhook, args["limit"], args["cursor"])

    @requires("notify:write")
    @webhook_endpoints.arguments(WebhookCreate)
    @webhook_endpoints.response(201, WebhookWithSecret)
    def post(self, body: dict[str, Any]) -> tuple[Webhook, int, dict[str, str]]:
        """Register an endpoint for the events matching `event_types`; the answer shows its signing secret, once

        Each matching public event of the district is POSTed as a structured CloudEvent
        (`application/cloudevents+json`), signed per Standard Webhooks. Failed deliveries are retried after
        5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, later if the receiver's Retry-After asks; 410 Gone disables
        the endpoint, as do 5 days of failures (`notify.webhook.disabled`). Emits `notify.webhook.created`.
        """
        webhook = usecases.create_webhook(db(), principal(), url=body["url"], event_types=body["event_types"],
                                          description=body["description"], district_id=body.get("district_id"),
                                          resolve=_resolve, allow_private=sending.private_allowed())
        return webhook, 201, {"Location": f"/v1/webhooks/{webhook.id}", "ETag": etag(webhook.version)}


@webhook_endpoints.route("/<uuid:webhook_id>")
class WebhookItem(MethodView):
    @requires("notify:read")
    @webhook_endpoints.response(200, WebhookSchema)
    def get(self, webhook_id: uuid.UUID) -> tuple[Webhook, int, dict[str, str]]:
        """One webhook endpoint"""
        return _tagged(visible_or_404(db().get(Webhook, webhook_id), "webhook"))

    @requires("notify:write")
    @webhook_endpoints.arguments(WebhookUpdate)
    @webhook_endpoints.response(200, WebhookSchema)
    def patch(self, body: dict[str, Any], webhook_id: uuid.UUID) -> tuple[Webhook, int, dict[str, str]]:
        """Change the URL, event types or description (send If-Match with the ETag you read)

        Emits `notify.webhook.updated` when something changed.
        """
        webhook = usecases.edit_webhook(db(), principal(), webhook_id, body, resolve=_resolve,
                                        allow_private=sending.private_allowed(), check_version=check_if_match)
        return _tagged(webhook)


@webhook_endpoints.route("/<uuid:webhook_id>/rotate-secret")
class WebhookSecretRotation(MethodView):
    @requires("notify:write")
    @webhook_endpoints.arguments(SecretRotation)
    @webhook_endpoints.response(200, WebhookWithSecret)
    def post(self, body: dict[str, Any], webhook_id: uuid.UUID) -> tuple[Webhook, int, dict[str, str]]:
        """Give the endpoint a new signing secret, shown in this answer only; honours If-Match

        Until `overlap_hours` pass (default 24) the old secret signs too: `webhook-signature` then carries two
        signatures, and a receiver holding either secret verifies. Emits `notify.webhook.secret_rotated`.
        """
        webhook = usecases.rotate_webhook_secret(db(), principal(), webhook_id, utcnow(),
                                                 overlap_hours=body["overlap_hours"], check_version=check_if_match)
        return _tagged(webhook)


@webhook_endpoints.route("/<uuid:webhook_id>/enable")
class WebhookEnabling(MethodView):
    @requires("notify:write")
    @webhook_endpoints.response(200, WebhookSchema)
    def post(self, webhook_id: uuid.UUID) -> tuple[Webhook, int, dict[str, str]]:
        """Send to the endpoint again (its pending deliveries resume); honours If-Match

        Emits `notify.webhook.enabled` if it was disabled; enabling an enabled endpoint changes nothing.
        """
        return _tagged(usecases.enable_webhook(db(), principal(), webhook_id, check_version=check_if_match))


@webhook_endpoints.route("/<uuid:webhook_id>/disable")
class WebhookDisabling(MethodView):
    @requires("notify:write")
    @webhook_endpoints.arguments(WebhookDisable)
    @webhook_endpoints.response(200, WebhookSchema)
    def post(self, body: dict[str, Any], webhook_id: uuid.UUID) -> tuple[Webhook, int, dict[str, str]]:
        """Stop sending to the endpoint until it is enabled; honours If-Match

        Emits `notify.webhook.disabled` (reason `manual`) if it was enabled.
        """
        webhook = usecases.disable_webhook(db(), principal(), webhook_id, utcnow(), note=body["note"],
                                           check_version=check_if_match)
        return _tagged(webhook)


@webhook_endpoints.route("/<uuid:webhook_id>/test")
class WebhookTest(MethodView):
    @requires("notify:write")
    @webhook_endpoints.response(202, DeliverySchema)
    def post(self, webhook_id: uuid.UUID) -> tuple[WebhookDelivery, int, dict[str, str]]:
        """Send a `notify.webhook.test` event to this endpoint now (409 if it is disabled)

        Answers the delivery; follow it at its Location.
        """
        delivery = usecases.send_test(db(), principal(), webhook_id, utcnow())
        return delivery, 202, {"Location": f"/v1/webhooks/{webhook_id}/deliveries/{delivery.id}"}


def _webhook_or_404(webhook_id: uuid.UUID) -> Webhook:
    webhook: Webhook = visible_or_404(db().get(Webhook, webhook_id), "webhook")
    return webhook


@webhook_endpoints.route("/<uuid:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @requires("notify:read")
    @webhook_endpoints.arguments(DeliveryQuery, location="query")
    @webhook_endpoints.response(200, DeliveryPage)
    def get(self, args: dict[str, Any], webhook_id: uuid.UUID) -> dict[str, Any]:
        """The endpoint's deliveries, newest first (filter by state, event_type, and from/to on created_at)"""
        webhook = _webhook_or_404(webhook_id)
        stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
        if "state" in args:
            stmt = stmt.where(WebhookDelivery.state == args["state"])
        if "event_type" in args:
            stmt = stmt.where(WebhookDelivery.event_type == args["event_type"].removeprefix("linli."))
        if "from_" in args:
            stmt = stmt.where(WebhookDelivery.created_at >= args["from_"])
        if "to" in args:
            stmt = stmt.where(WebhookDelivery.created_at < args["to"])
        return paginate(db(), stmt, WebhookDelivery, args["limit"], args["cursor"])


class _WithAttempts:
    """A delivery as its item shows it: the row, and its attempts beside it (not set on the row itself)."""

    def __init__(self, delivery: WebhookDelivery | Delivery, attempts: list[Any]) -> None:
        self._delivery = delivery
        self.attempts = attempts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._delivery, name)


def _delivery_or_404(webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    webhook = _webhook_or_404(webhook_id)
    delivery = db().get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound("delivery not found")
    return delivery


@webhook_endpoints.route("/<uuid:webhook_id>/deliveries/<uuid:delivery_id>")
class WebhookDeliveryItem(MethodView):
    @requires("notify:read")
    @webhook_endpoints.response(200, DeliveryDetail)
    def get(self, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> tuple[_WithAttempts, int, dict[str, str]]:
        """One delivery with the log of its attempts"""
        delivery = _delivery_or_404(webhook_id, delivery_id)
        attempts = db().scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                .order_by(WebhookAttempt.number))
        return _WithAttempts(delivery, list(attempts)), 200, {"ETag": etag(delivery.version)}


@webhook_endpoints.route("/<uuid:webhook_id>/deliveries/<uuid:delivery_id>/replay")
class WebhookDeliveryReplay(MethodView):
    @requires("notify:write")
    @webhook_endpoints.response(202, DeliverySchema)
    def post(self, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> tuple[WebhookDelivery, int, dict[str, str]]:
        """Send a delivery again now, with a fresh retry schedule, whatever became of it (409 if disabled)"""
        delivery = usecases.replay_delivery(db(), principal(), webhook_id, delivery_id, utcnow())
        return delivery, 202, {"Location": f"/v1/webhooks/{webhook_id}/deliveries/{delivery.id}"}


# --- Outgoing messages: recipients' preferences and the delivery log ---------------------------------------------

preference_endpoints = Blueprint(
    "preferences", __name__, url_prefix="/v1/preferences",
    description="What each recipient chose: SMS and email on or off, language, time zone, quiet hours (non-urgent "
                "messages are held until they end) and a daily digest. The recipient themselves (a token whose "
                "`sub` is the recipient) or callers of the recipient's district read and change them.")


def _preferences_view(recipient: str, row: Preference | None) -> tuple[dict[str, Any], int, dict[str, str]]:
    if row is None:
        defaults = outgoing.Preferences()
        view: dict[str, Any] = {
            "id": None, "district_id": None, "created_at": None, "updated_at": None, "version": 0,
            "recipient": recipient, "sms": defaults.sms, "email": defaults.email, "locale": defaults.locale,
            "time_zone": defaults.time_zone, "quiet_start": None, "quiet_end": None, "digest": defaults.digest,
            "digest_time": defaults.digest_time.strftime("%H:%M")}
        return view, 200, {"ETag": etag(0)}
    view = {column.key: getattr(row, column.key) for column in Preference.__table__.columns}
    return view, 200, {"ETag": etag(row.version)}


@preference_endpoints.route("/<string:recipient>")
class Preferences(MethodView):
    @requires("notify:read")
    @preference_endpoints.response(200, PreferencesSchema)
    def get(self, recipient: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A recipient's preferences (version 0 and the defaults when they chose nothing)"""
        return _preferences_view(recipient, usecases.get_preferences(db(), principal(), recipient))

    @requires("notify:write")
    @preference_endpoints.arguments(PreferencesUpdate)
    @preference_endpoints.response(200, PreferencesSchema)
    def put(self, body: dict[str, Any], recipient: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Set a recipient's preferences, all of them (what is left out takes its default); honours If-Match

        Quiet hours are local times in `time_zone` and may cross midnight (22:00 to 07:00); non-urgent messages
        arriving in them are held and sent when they end, urgent ones go at once. With `digest` on, non-urgent
        messages are gathered into one message a day at `digest_time`. Messages already held or gathered keep
        their time.
        """
        district = body.pop("district_id", None)
        row = usecases.set_preferences(db(), principal(), recipient, body, district_id=district,
                                       check_version=check_if_match)
        return _preferences_view(recipient, row)


delivery_log = Blueprint(
    "deliveries", __name__, url_prefix="/v1/deliveries",
    description="The log of SMS and email deliveries, each with every attempt (provider, outcome, error); "
                "addresses masked. Inbox notifications are logged at /v1/notifications, webhook deliveries under "
                "each webhook.")


@delivery_log.route("")
class Deliveries(MethodView):
    @requires("notify:read")
    @delivery_log.arguments(MessageDeliveryQuery, location="query")
    @delivery_log.response(200, MessageDeliveryPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The district's SMS and email deliveries, newest first (filter by recipient, event, event_type, channel,
        status, and from/to on created_at)"""
        stmt = in_district(select(Delivery), Delivery.district_id)
        owner = domain.inbox_owner(principal().sub)
        if owner is not None:   # a member's or unit's token: its own messages only, as its inbox
            stmt = stmt.where(Delivery.recipient == owner)
        filters = {"recipient": Delivery.recipient, "event": Delivery.source_event_id,
                   "event_type": Delivery.event_type, "channel": Delivery.channel, "status": Delivery.state}
        for name, column in filters.items():
            if name in args:
                stmt = stmt.where(column == args[name])
        if "from_" in args:
            stmt = stmt.where(Delivery.created_at >= args["from_"])
        if "to" in args:
            stmt = stmt.where(Delivery.created_at < args["to"])
        return paginate(db(), stmt, Delivery, args["limit"], args["cursor"])


@delivery_log.route("/<uuid:delivery_id>")
class DeliveryItem(MethodView):
    @requires("notify:read")
    @delivery_log.response(200, MessageDeliveryDetail)
    def get(self, delivery_id: uuid.UUID) -> tuple[_WithAttempts, int, dict[str, str]]:
        """One delivery with the log of its attempts"""
        delivery: Delivery = visible_or_404(db().get(Delivery, delivery_id), "delivery")
        owner = domain.inbox_owner(principal().sub)
        if owner is not None and delivery.recipient != owner:
            raise NotFound("delivery not found")
        return (_WithAttempts(delivery, usecases.delivery_attempts(db(), delivery.id)), 200,
                {"ETag": etag(delivery.version)})
