"""Events notify publishes; each payload is its schema dumping the notification (`shared.changes.record`)."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma

from linli.shared.events import declare


class Params(ma.fields.Dict):
    """A notification's template parameters: JSON text in its row, an object in events."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(json.loads(value) if isinstance(value, str) else value, attr, obj, **kwargs)


class NotificationData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    recipient = ma.fields.String(required=True)
    channel = ma.fields.String(required=True)
    template = ma.fields.String(required=True)
    params = Params(keys=ma.fields.String(), required=True)
    locale = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    source_event_id = ma.fields.UUID(required=True)
    read_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer(required=True)


NOTIFICATION_READ = declare("notify.notification.read", "A notification was read for the first time.",
                            NotificationData)


class WebhookData(ma.Schema):
    """A webhook endpoint as events tell of it: never its secrets, nor its URL (which may carry a token)."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    event_types = ma.fields.List(ma.fields.String(), attribute="patterns", data_key="event_types", required=True)
    state = ma.fields.String(required=True)
    disabled_reason = ma.fields.String(allow_none=True)
    disabled_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer(required=True)


WEBHOOK_CREATED = declare("notify.webhook.created", "An application registered a webhook endpoint.", WebhookData)
WEBHOOK_UPDATED = declare("notify.webhook.updated", "A webhook endpoint's URL, event types or description changed.",
                          WebhookData)
WEBHOOK_ENABLED = declare("notify.webhook.enabled", "A disabled webhook endpoint was enabled again.", WebhookData)
WEBHOOK_DISABLED = declare(
    "notify.webhook.disabled",
    "A webhook endpoint was disabled: by hand (`manual`), because it answered 410 Gone (`gone`), or because "
    "every attempt to it failed for 5 days (`failing`); nothing is sent to it until it is enabled.", WebhookData)
WEBHOOK_SECRET_ROTATED = declare(
    "notify.webhook.secret_rotated",
    "A webhook endpoint got a new signing secret (the old one signs too until the overlap ends).", WebhookData)
WEBHOOK_TEST = declare(
    "notify.webhook.test",
    "A test event asked for on a webhook endpoint; it is sent to that endpoint only.", WebhookData)


# --- Outgoing messages: delivered or failed (the inbox tells of its notifications with the same schema) ----------


class DeliveryData(ma.Schema):
    """A message that reached (or could not reach) its recipient, on any channel: never its address."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    recipient = ma.fields.String(required=True)
    channel = ma.fields.String(required=True)
    source_event_id = ma.fields.UUID(required=True)
    event_type = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    # The provider that took it (`sms:1`, `smtp`), and why it failed; null for the inbox.
    provider = ma.fields.String(allow_none=True, dump_default=None)
    error = ma.fields.String(allow_none=True, dump_default=None)
    version = ma.fields.Integer(required=True)


NOTIFICATION_DELIVERED = declare(
    "notify.notification.delivered",
    "A notification reached its recipient: put in an inbox, or accepted by an SMS provider or mail server "
    "(directly or in the recipient's daily digest).", DeliveryData)
NOTIFICATION_FAILED = declare(
    "notify.notification.failed",
    "A notification could not reach its recipient: refused for good, or every provider gave up; `error` says why.",
    DeliveryData)


class PreferencesData(ma.Schema):
    """A recipient's preferences: their daily routine (time zone, quiet hours), so told on the private exchange."""

    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    recipient = ma.fields.String(required=True)
    sms = ma.fields.Boolean(required=True)
    email = ma.fields.Boolean(required=True)
    locale = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    quiet_start = ma.fields.String(allow_none=True)
    quiet_end = ma.fields.String(allow_none=True)
    digest = ma.fields.Boolean(required=True)
    digest_time = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)


PREFERENCES_UPDATED = declare(
    "notify.preferences.updated",
    "A recipient's preferences were set or changed (channels, language, time zone, quiet hours, digest).",
    PreferencesData, private=True)
