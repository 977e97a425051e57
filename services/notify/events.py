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


NOTIFICATION_DELIVERED = declare(
    "notify.notification.delivered", "A notification reached its recipient's inbox.", NotificationData
)
NOTIFICATION_READ = declare("notify.notification.read", "A notification was read for the first time.",
                            NotificationData)
