"""notify's API shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from linli.services.notify import outgoing, rules, webhooks
from linli.services.notify.domain import OUTGOING_CHANNELS, STATES
from linli.services.notify.templates import LOCALES
from linli.shared.http.pagination import PageArgs, page_schema
from linli.shared.http.schemas import EntitySchema, Text
from linli.shared.zones import check_time_zone

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


# --- Outgoing messages: preferences and the delivery log ------------------------------------------------------

_CLOCK_DOC = "a local time of day in the recipient's time zone, HH:MM (24 h)"


def _clock(**kwargs: object) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Regexp(outgoing.CLOCK_PATTERN, error=_CLOCK_DOC),
                            metadata={"description": _CLOCK_DOC, "pattern": outgoing.CLOCK_PATTERN,
                                      "example": "22:00"}, **kwargs)  # type: ignore[arg-type]


def _zone(value: str) -> None:
    try:
        check_time_zone(value)
    except ValueError as exc:
        raise ma.ValidationError(str(exc)) from None


class PreferencesSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True, allow_none=True, metadata={"description": "null: nothing chosen yet"})
    district_id = ma.fields.String(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True, metadata={"description": "0: the defaults, nothing stored"})
    recipient = ma.fields.String(dump_only=True)
    sms = ma.fields.Boolean(metadata={"description": "send SMS to this recipient"})
    email = ma.fields.Boolean(metadata={"description": "send email to this recipient"})
    locale = ma.fields.String(validate=ma.validate.OneOf(outgoing.LOCALES),
                              metadata={"description": "the language messages are worded in"})
    time_zone = ma.fields.String(metadata={"description": "IANA time zone of quiet hours and the digest time"})
    quiet_start = ma.fields.String(allow_none=True, metadata={"description": "quiet hours start (local HH:MM)"})
    quiet_end = ma.fields.String(allow_none=True, metadata={
        "description": "quiet hours end (local HH:MM; before the start: they cross midnight)"})
    digest = ma.fields.Boolean(metadata={"description": "gather non-urgent messages into one a day"})
    digest_time = ma.fields.String(metadata={"description": "when the daily digest is sent (local HH:MM)"})


class PreferencesUpdate(ma.Schema):
    """The whole of a recipient's preferences: what is left out takes its default."""

    sms = ma.fields.Boolean(load_default=True)
    email = ma.fields.Boolean(load_default=True)
    locale = ma.fields.String(load_default=outgoing.DEFAULT_LOCALE, validate=ma.validate.OneOf(outgoing.LOCALES))
    time_zone = ma.fields.String(load_default="Asia/Shanghai", validate=_zone,
                                 metadata={"description": "an IANA time zone, e.g. Asia/Shanghai"})
    quiet_start = _clock(load_default=None, allow_none=True)
    quiet_end = _clock(load_default=None, allow_none=True)
    digest = ma.fields.Boolean(load_default=False)
    digest_time = _clock(load_default="20:00")
    district_id = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=64), ma.validate.Regexp(_NO_SPACE, error="no spaces")],
        metadata={"description": "operators only, when the recipient has no preferences yet: their district",
                  "pattern": _NO_SPACE})

    @ma.validates_schema
    def _quiet_hours(self, data: dict[str, object], **_kwargs: object) -> None:
        if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
            field = "quiet_end" if data.get("quiet_start") is not None else "quiet_start"
            raise ma.ValidationError("quiet hours need both a start and an end, or neither", field)


class MessageAttemptSchema(ma.Schema):
    number = ma.fields.Integer()
    provider = ma.fields.String(metadata={"description": "the gateway, mail server or file sink tried"})
    status = ma.fields.String(validate=ma.validate.OneOf(outgoing.OUTCOMES),
                              metadata={"description": "ok, retryable (tried again or handed on) or permanent"})
    error = ma.fields.String(allow_none=True)
    attempted_at = ma.fields.AwareDateTime()
    duration_ms = ma.fields.Integer()


class MessageDeliverySchema(EntitySchema):
    recipient = ma.fields.String()
    channel = ma.fields.String(validate=ma.validate.OneOf(OUTGOING_CHANNELS))
    address = ma.fields.String(attribute="masked_address",
                               metadata={"description": "the phone number or e-mail address, masked"})
    source_event_id = ma.fields.UUID(metadata={"description": "the event that caused it"})
    event_type = ma.fields.String()
    urgent = ma.fields.Boolean()
    locale = ma.fields.String()
    subject = ma.fields.String()
    body = ma.fields.String(metadata={"description": "the words sent"})
    state = ma.fields.String(validate=ma.validate.OneOf(outgoing.STATES), metadata={
        "description": "pending, held (quiet hours), digest (kept for the daily digest), sent, failed, skipped "
                       "(channel off)"})
    not_before = ma.fields.AwareDateTime(allow_none=True, metadata={
        "description": "when it is sent next: the next attempt, the end of quiet hours, the digest time"})
    provider = ma.fields.String(allow_none=True, metadata={"description": "the provider of the last attempt"})
    error = ma.fields.String(allow_none=True)
    attempt_count = ma.fields.Integer()
    segments = ma.fields.Integer(allow_none=True, metadata={"description": "SMS segments (70 chars, 67 when "
                                                                           "concatenated)"})
    sent_at = ma.fields.AwareDateTime(allow_none=True)
    digest_id = ma.fields.UUID(allow_none=True, metadata={"description": "the digest that carried it"})


class MessageDeliveryDetail(MessageDeliverySchema):
    attempts = ma.fields.List(ma.fields.Nested(MessageAttemptSchema), metadata={"description": "oldest first"})


class MessageDeliveryQuery(PageArgs):
    recipient = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    event = ma.fields.UUID(metadata={"description": "the causing event's id (source_event_id)"})
    event_type = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    channel = ma.fields.String(validate=ma.validate.OneOf(OUTGOING_CHANNELS))
    status = ma.fields.String(validate=ma.validate.OneOf(outgoing.STATES))
    from_ = ma.fields.AwareDateTime(data_key="from", validate=_moment,
                                    metadata={"description": "created at or after this time"})
    to = ma.fields.AwareDateTime(validate=_moment, metadata={"description": "created before this time"})


MessageDeliveryPage = page_schema(MessageDeliverySchema)
