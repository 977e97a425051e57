"""notify's API shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from linli.services.notify import rules, webhooks
from linli.services.notify.domain import STATES
from linli.services.notify.templates import LOCALES
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text

# No whitespace anywhere: a URL, a district id or a recipient with a space is a typo, refused rather than trimmed.
_NO_SPACE = r"^\S+$"


class NotificationSchema(EntitySchema):
    recipient = ma.fields.String(metadata={
        "description": "whose inbox: member:<id>, organization:<id> (a unit), compound:<id>"})
    channel = ma.fields.String()
    event_type = ma.fields.String(metadata={"description": "the suite event it tells of, e.g. tickets.ticket.overdue"})
    role = ma.fields.String(allow_none=True, metadata={"description": "why the recipient is told: a rule's role"})
    template = ma.fields.String(metadata={"description": "template key: the event type"})
    params = ma.fields.Dict(keys=ma.fields.String(), metadata={"description": "values the template is filled with"})
    locale = ma.fields.String(validate=ma.validate.OneOf(LOCALES),
                              metadata={"description": "language of title and body, negotiated from Accept-Language"})
    title = ma.fields.String()
    body = ma.fields.String()
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    source_event_id = ma.fields.UUID(metadata={"description": "id of the event that caused the notification"})
    read_at = ma.fields.AwareDateTime(allow_none=True)


def _recipient(description: str) -> ma.fields.String:
    return ma.fields.String(validate=[ma.validate.Length(min=1, max=200), ma.validate.Regexp(
        _NO_SPACE, error="a recipient has no spaces")], metadata={"description": description, "pattern": _NO_SPACE})


class NotificationQuery(PageArgs):
    recipient = _recipient("one inbox (clerks; a member's or unit's token reads only its own)")
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    event_type = ma.fields.String(validate=ma.validate.Length(min=1, max=200))


class InboxPage(page_schema(NotificationSchema)):  # type: ignore[misc]
    unread_count = ma.fields.Integer(metadata={"description": "unread notifications of the inbox(es) listed"})


class ReadAll(ma.Schema):
    recipient = _recipient("only this inbox (clerks); by default every inbox the caller reads")


class ReadAllResult(ma.Schema):
    marked = ma.fields.Integer(metadata={"description": "notifications marked read by this call (at most 1000: "
                                                        "call again while it is 1000)"})
    unread_count = ma.fields.Integer()




# --- Webhooks -----------------------------------------------------------------------------------------------

_PATTERNS_DOC = ("event-type patterns over the routing key (the CloudEvent type without `linli.`): dot-separated "
                 "words, `*` for exactly one word, `#` for any number, e.g. `tickets.ticket.*`, `registry.#`")
_URL_DOC = ("where events are POSTed: http or https, and (unless the operator allows it) a host whose every "
            "address is public; loopback, private, link-local and similar addresses are refused with 422")




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


# --- Rules and templates --------------------------------------------------------------------------------------

_DISTRICT_DOC = "the district whose rules or templates to read or set: operators name it, others default to theirs"


class DistrictQuery(ma.Schema):
    district_id = ma.fields.String(validate=[ma.validate.Length(min=1, max=64), ma.validate.Regexp(
        _NO_SPACE, error="no spaces")], metadata={"description": _DISTRICT_DOC, "pattern": _NO_SPACE})


class RuleQuery(DistrictQuery):
    event_type = ma.fields.String(validate=ma.validate.Length(min=1, max=200))


class TargetSchema(ma.Schema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(rules.ROLES)), metadata={
        "description": "; ".join(f"`{role}`: {what}" for role, what in rules.ROLES.items())})
    channels = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(rules.CHANNELS)), required=True,
                              validate=ma.validate.Length(max=len(rules.CHANNELS)))


class RuleSchema(ma.Schema):
    event_type = ma.fields.String(dump_only=True)
    district_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "whose rule this is; null for the suite's default"})
    overridden = ma.fields.Boolean(dump_only=True, metadata={"description": "the district set its own rule"})
    recipients = ma.fields.List(ma.fields.Nested(TargetSchema), dump_only=True)
    urgent = ma.fields.Boolean(dump_only=True, metadata={"description": "goes through recipients' quiet hours"})
    version = ma.fields.Integer(dump_only=True, metadata={"description": "0 while the default holds; the ETag"})


class RulePut(ma.Schema):
    recipients = ma.fields.List(ma.fields.Nested(TargetSchema), required=True,
                                validate=ma.validate.Length(max=rules.MAX_TARGETS),
                                metadata={"description": "roles and their channels; empty: nobody is told"})


class RulePreviewQuery(DistrictQuery):
    event_type = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class ToldSchema(ma.Schema):
    recipient = ma.fields.String()
    role = ma.fields.String()
    channel = ma.fields.String()
    subject = ma.fields.String()
    body = ma.fields.String()
    segments = ma.fields.Integer(allow_none=True, metadata={"description": "SMS segments the body is sent as"})


class RulePreview(ma.Schema):
    rule = ma.fields.Nested(RuleSchema)
    sample = ma.fields.Dict(metadata={"description": "the sample event's payload the rule was resolved against"})
    told = ma.fields.List(ma.fields.Nested(ToldSchema))


RulePage = page_schema(RuleSchema)


class TemplateQuery(DistrictQuery):
    event_type = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    channel = ma.fields.String(validate=ma.validate.OneOf(rules.CHANNELS))
    locale = ma.fields.String(validate=ma.validate.OneOf(LOCALES))


_JINJA_DOC = ("Jinja2, rendered in a sandbox: the event's payload fields, `recipient_role`, `unit_names`, and the "
              "filter `local` (an instant in the district's local time); a variable the event does not carry is "
              "refused with 422")


class TemplateSchema(ma.Schema):
    id = ma.fields.String(dump_only=True, metadata={"description": "<event_type>:<channel>:<locale>"})
    event_type = ma.fields.String(dump_only=True)
    channel = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(rules.CHANNELS))
    locale = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(LOCALES))
    district_id = ma.fields.String(dump_only=True, allow_none=True)
    overridden = ma.fields.Boolean(dump_only=True)
    subject = ma.fields.String(dump_only=True, metadata={"description": "inbox title, email subject; empty for SMS"})
    body = ma.fields.String(dump_only=True)
    version = ma.fields.Integer(dump_only=True, metadata={"description": "0 while the default holds; the ETag"})
    segments = ma.fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "after a save: SMS segments of the sample's text"})
    warnings = ma.fields.List(ma.fields.String(), dump_only=True)


class TemplatePut(ma.Schema):
    subject = Text(load_default="", max_length=200, metadata={
        "description": _JINJA_DOC + "; required for inbox and email, left out for SMS"})
    body = Text(required=True, max_length=2000, metadata={"description": _JINJA_DOC})


class TemplatePreviewBody(ma.Schema):
    subject = Text(max_length=200, metadata={"description": "a draft subject to render instead of the saved one"})
    body = Text(max_length=2000, metadata={"description": "a draft body to render instead of the saved one"})
    payload = ma.fields.Dict(keys=ma.fields.String(), metadata={
        "description": "an event payload to render against instead of the sample"})
    role = ma.fields.String(validate=ma.validate.OneOf(tuple(rules.ROLES)), metadata={
        "description": "the recipient role to word it for (`recipient_role`)"})


class TemplatePreview(ma.Schema):
    template = ma.fields.Nested(TemplateSchema)
    subject = ma.fields.String()
    body = ma.fields.String()
    segments = ma.fields.Integer(allow_none=True, metadata={
        "description": "SMS: segments it is sent as (GSM-7: 160, 153 per part; UCS-2, e.g. Chinese: 70, 67)"})
    units = ma.fields.Integer(allow_none=True, metadata={"description": "SMS: length in septets or UTF-16 units"})
    encoding = ma.fields.String(allow_none=True, metadata={"description": "SMS: gsm7 or ucs2"})
    warnings = ma.fields.List(ma.fields.String())


TemplatePage = page_schema(TemplateSchema)
