"""notify's API shapes."""

from __future__ import annotations

import marshmallow as ma

from linli.services.notify.domain import STATES
from linli.services.notify.templates import LOCALES
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema


class NotificationSchema(EntitySchema):
    recipient = ma.fields.String(metadata={"description": "whose inbox, e.g. compound:<compound_id>"})
    channel = ma.fields.String()
    template = ma.fields.String(metadata={"description": "template key, `<entity>.<verb>` of the causing event"})
    params = ma.fields.Dict(keys=ma.fields.String(), metadata={"description": "values the template is filled with"})
    locale = ma.fields.String(validate=ma.validate.OneOf(LOCALES),
                              metadata={"description": "language of title and body, negotiated from Accept-Language"})
    title = ma.fields.String()
    body = ma.fields.String()
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    source_event_id = ma.fields.UUID(metadata={"description": "id of the event that caused the notification"})
    read_at = ma.fields.AwareDateTime(allow_none=True)


class NotificationQuery(PageArgs):
    recipient = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))


NotificationPage = page_schema(NotificationSchema)
