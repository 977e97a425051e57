"""Events notify publishes; its handlers of other services' events are in handlers.py."""

from __future__ import annotations

import json

import marshmallow as ma

from linli.services.notify.models import Notification
from linli.shared.events import declare


class NotificationData(ma.Schema):
    id = ma.fields.UUID(required=True)
    district_id = ma.fields.String(required=True)
    recipient = ma.fields.String(required=True)
    channel = ma.fields.String(required=True)
    template = ma.fields.String(required=True)
    params = ma.fields.Dict(keys=ma.fields.String(), required=True)
    locale = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    source_event_id = ma.fields.UUID(required=True)
    read_at = ma.fields.AwareDateTime(allow_none=True)
    version = ma.fields.Integer(required=True)


NOTIFICATION_DELIVERED = declare(
    "notify.notification.delivered", "A notification reached its recipient's inbox.", NotificationData
)
NOTIFICATION_READ = declare("notify.notification.read", "A notification was read for the first time.",
                            NotificationData)


def notification_data(notification: Notification) -> dict[str, object]:
    return {
        "id": str(notification.id),
        "district_id": notification.district_id,
        "recipient": notification.recipient,
        "channel": notification.channel,
        "template": notification.template,
        "params": json.loads(notification.params),
        "locale": notification.locale,
        "state": notification.state,
        "source_event_id": str(notification.source_event_id),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "version": notification.version,
    }
