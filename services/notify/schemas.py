"""notify's API shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from linli.services.notify import webhooks
from linli.services.notify.domain import STATES
from linli.services.notify.templates import LOCALES
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text


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


# --- Webhooks -----------------------------------------------------------------------------------------------

_PATTERNS_DOC = ("event-type patterns over the routing key (the CloudEvent type without `linli.`): dot-separated "
                 "words, `*` for exactly one word, `#` for any number, e.g. `tickets.ticket.*`, `registry.#`")
_URL_DOC = ("where events are POSTed: http or https, and (unless the operator allows it) a host whose every "
            "address is public; loopback, private, link-local and similar addresses are refused with 422")


# No whitespace anywhere: a URL or a district id with a space is a typo, refused here rather than trimmed.
_NO_SPACE = r"^\S+$"


def _url(**kwargs: object) -> ma.fields.String:
    return ma.fields.String(validate=[ma.validate.Length(min=1, max=webhooks.MAX_URL_LENGTH),
                                      ma.validate.Regexp(_NO_SPACE, error="a URL has no spaces")],
                            metadata={"description": _URL_DOC, "pattern": _NO_SPACE}, **kwargs)  # type: ignore[arg-type]


def _patterns(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=200)),
                          validate=ma.validate.Length(min=1, max=webhooks.MAX_PATTERNS),
                          metadata={"description": _PATTERNS_DOC}, **kwargs)  # type: ignore[arg-type]


class WebhookSchema(EntitySchema):
    url = ma.fields.String(metadata={"description": "where events are POSTed"})
    event_types = ma.fields.List(ma.fields.String(), attribute="patterns", metadata={"description": _PATTERNS_DOC})
    description = ma.fields.String(allow_none=True)
    state = ma.fields.String(validate=ma.validate.OneOf(webhooks.STATES))
    disabled_reason = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(webhooks.DISABLED_REASONS),
                                       metadata={"description": "manual, gone (answered 410) or failing (5 days)"})
    disabled_note = ma.fields.String(allow_none=True)
    disabled_at = ma.fields.AwareDateTime(allow_none=True)
    failing_since = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "first failed attempt since the last success; after 5 days of "
                                                  "failures the endpoint is disabled"})
    previous_secret_expires_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "until then the secret before the last rotation signs too"})


class WebhookQuery(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(webhooks.STATES))


class WebhookWithSecret(WebhookSchema):
    secret = ma.fields.String(metadata={"description": "the signing secret (whsec_...): shown only in this answer; "
                                                      "verify `webhook-signature` with it (Standard Webhooks)"})


class WebhookCreate(ma.Schema):
    url = _url(required=True)
    event_types = _patterns(required=True)
    description = Text(load_default=None, allow_none=True, max_length=500)
    district_id = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=64), ma.validate.Regexp(_NO_SPACE, error="no spaces")],
        metadata={"description": "operators only: the district whose events to send, or * for every district",
                  "pattern": _NO_SPACE})


class WebhookUpdate(ma.Schema):
    url = _url()
    event_types = _patterns()
    description = Text(allow_none=True, max_length=500)


class WebhookDisable(ma.Schema):
    note = Text(load_default=None, allow_none=True, max_length=500, metadata={"description": "why, for the log"})


class SecretRotation(ma.Schema):
    overlap_hours = ma.fields.Integer(load_default=24, validate=ma.validate.Range(min=0, max=168), metadata={
        "description": "how long the current secret keeps signing beside the new one (0: stop at once)"})


class AttemptSchema(ma.Schema):
    number = ma.fields.Integer()
    attempted_at = ma.fields.AwareDateTime()
    duration_ms = ma.fields.Integer()
    status_code = ma.fields.Integer(allow_none=True, metadata={"description": "null: no HTTP answer"})
    error = ma.fields.String(allow_none=True)
    response_excerpt = ma.fields.String(allow_none=True, metadata={"description": "the answer's first characters"})


class DeliverySchema(EntitySchema):
    webhook_id = ma.fields.UUID()
    event_id = ma.fields.UUID(metadata={"description": "the CloudEvent's id, sent as `webhook-id`"})
    event_type = ma.fields.String()
    state = ma.fields.String(validate=ma.validate.OneOf(webhooks.DELIVERY_STATES))
    attempt_count = ma.fields.Integer()
    next_attempt_at = ma.fields.AwareDateTime(allow_none=True)
    last_attempt_at = ma.fields.AwareDateTime(allow_none=True)
    last_status_code = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    delivered_at = ma.fields.AwareDateTime(allow_none=True)


class DeliveryDetail(DeliverySchema):
    attempts = ma.fields.List(ma.fields.Nested(AttemptSchema), metadata={"description": "oldest first"})


def _moment(value: datetime) -> None:
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ma.ValidationError("out of range") from exc


class DeliveryQuery(PageArgs):
    state = ma.fields.String(validate=ma.validate.OneOf(webhooks.DELIVERY_STATES))
    event_type = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    from_ = ma.fields.AwareDateTime(data_key="from", validate=_moment,
                                    metadata={"description": "created at or after this time"})
    to = ma.fields.AwareDateTime(validate=_moment, metadata={"description": "created before this time"})


WebhookPage = page_schema(WebhookSchema)
DeliveryPage = page_schema(DeliverySchema)
