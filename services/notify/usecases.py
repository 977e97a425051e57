"""notify's actions: one function per action, whatever triggers it (an HTTP call or another service's event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli.services.notify import domain, outgoing, webhooks
from linli.services.notify.events import (
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    NOTIFICATION_READ,
    PREFERENCES_UPDATED,
    WEBHOOK_CREATED,
    WEBHOOK_DISABLED,
    WEBHOOK_ENABLED,
    WEBHOOK_SECRET_ROTATED,
    WEBHOOK_TEST,
    WEBHOOK_UPDATED,
)
from linli.services.notify.models import (
    Delivery,
    DeliveryAttempt,
    Notification,
    Preference,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookMessage,
)
from linli.services.notify.templates import DEFAULT_LOCALE
from linli.shared.actors import OPERATOR, Actor
from linli.shared.changes import edits, record
from linli.shared.db import is_postgres
from linli.shared.errors import NotFound, ValidationFailed
from linli.shared.events import encode, is_private
from linli.shared.visibility import visible

VersionCheck = Callable[[int], None]


def notify_of_ticket(session: Session, *, district_id: str, template: str, ticket: Mapping[str, Any],
                     source_event_id: uuid.UUID) -> list[Notification]:
    """Put news of a ticket in the inbox of each of its recipients, worded later by `template`."""
    params = json.dumps(domain.ticket_params(ticket), ensure_ascii=False)
    delivered = []
    for recipient in domain.ticket_recipients(ticket):
        notification = Notification(district_id=district_id, recipient=recipient, channel=domain.INBOX,
                                    template=template, params=params, locale=DEFAULT_LOCALE,
                                    state=domain.UNREAD, source_event_id=source_event_id)
        session.add(notification)
        session.flush()
        # The inbox tells of its notifications with the schema of every delivery (`DeliveryData`).
        record(session, NOTIFICATION_DELIVERED, notification, payload_of=_inbox_payload(notification, template))
        delivered.append(notification)
    return delivered


def _inbox_payload(notification: Notification, template: str) -> dict[str, Any]:
    fields = {column.key: getattr(notification, column.key) for column in Notification.__table__.columns}
    return fields | {"event_type": f"tickets.{template}", "provider": None, "error": None}


def mark_read(session: Session, actor: Actor, notification_id: uuid.UUID, now: datetime) -> Notification:
    """Mark a notification read; reading it again changes nothing and records nothing."""
    notification = visible(session, actor, Notification, notification_id, what="notification", for_update=True)
    state, changed = domain.read(notification.state)
    if changed:
        notification.state = state
        notification.read_at = now
        record(session, NOTIFICATION_READ, notification)
    return notification


# --- Webhooks ---------------------------------------------------------------------------------------------------

EDITABLE_WEBHOOK_FIELDS = ("url", "event_types", "description")


def _webhook_district(actor: Actor, asked: str | None) -> str:
    """The caller's own district, or the one an operator names (`*`: every district's events)."""
    if actor.is_operator:
        if not asked:
            raise ValidationFailed.field("district_id", "an operator names the district whose events it wants, "
                                                        "or * for every district")
        return asked
    if asked is not None and asked != actor.district:
        raise ValidationFailed.field("district_id", "not your district")
    return actor.district


def create_webhook(session: Session, actor: Actor, *, url: str, event_types: Sequence[str],
                   description: str | None = None, district_id: str | None = None,
                   resolve: webhooks.Resolve, allow_private: bool = False) -> Webhook:
    """Register an endpoint for the events of a district matching `event_types`; its secret is new."""
    district = _webhook_district(actor, district_id)
    patterns = webhooks.normalise_patterns(event_types)
    webhooks.check_url(url, resolve, allow_private=allow_private)
    webhook = Webhook(district_id=district, url=url, event_types=json.dumps(patterns),
                      description=description, state=webhooks.ENABLED, secret=webhooks.new_secret())
    session.add(webhook)
    record(session, WEBHOOK_CREATED, webhook)
    return webhook


def _visible_webhook(session: Session, actor: Actor, webhook_id: uuid.UUID,
                     check_version: VersionCheck | None = None) -> Webhook:
    webhook = visible(session, actor, Webhook, webhook_id, what="webhook", for_update=True)
    if check_version is not None:
        check_version(webhook.version)
    return webhook


def edit_webhook(session: Session, actor: Actor, webhook_id: uuid.UUID, changes: Mapping[str, Any], *,
                 resolve: webhooks.Resolve, allow_private: bool = False,
                 check_version: VersionCheck | None = None) -> Webhook:
    """Change an endpoint's URL, patterns or description; an edit that changes nothing records nothing."""
    webhook = _visible_webhook(session, actor, webhook_id, check_version)
    wanted = dict(changes)
    if "event_types" in wanted:
        wanted["event_types"] = json.dumps(webhooks.normalise_patterns(wanted["event_types"]))
    changed = edits(webhook, wanted, EDITABLE_WEBHOOK_FIELDS)
    if "url" in changed:
        webhooks.check_url(changed["url"], resolve, allow_private=allow_private)
    if changed:
        for name, value in changed.items():
            setattr(webhook, name, value)
        record(session, WEBHOOK_UPDATED, webhook)
    return webhook


def enable_webhook(session: Session, actor: Actor, webhook_id: uuid.UUID, *,
                   check_version: VersionCheck | None = None) -> Webhook:
    """Send to the endpoint again; what was pending resumes, its failures so far are forgiven."""
    webhook = _visible_webhook(session, actor, webhook_id, check_version)
    if webhooks.enable(webhook.state):
        webhook.state, webhook.disabled_reason, webhook.disabled_note, webhook.disabled_at = (
            webhooks.ENABLED, None, None, None)
        webhook.failing_since = None
        record(session, WEBHOOK_ENABLED, webhook)
    return webhook


def disable_webhook(session: Session, actor: Actor, webhook_id: uuid.UUID, now: datetime, *,
                    note: str | None = None, check_version: VersionCheck | None = None) -> Webhook:
    """Stop sending to the endpoint; its pending deliveries wait until it is enabled (or are replayed)."""
    webhook = _visible_webhook(session, actor, webhook_id, check_version)
    if webhooks.disable(webhook.state):
        _disable(session, webhook, webhooks.MANUAL, now, note)
    return webhook


def _disable(session: Session, webhook: Webhook, reason: str, now: datetime, note: str | None = None) -> None:
    webhook.state, webhook.disabled_reason, webhook.disabled_note, webhook.disabled_at = (
        webhooks.DISABLED, reason, note, now)
    record(session, WEBHOOK_DISABLED, webhook)


def rotate_webhook_secret(session: Session, actor: Actor, webhook_id: uuid.UUID, now: datetime, *,
                          overlap_hours: int = 24, check_version: VersionCheck | None = None) -> Webhook:
    """A new signing secret; the current one signs beside it for `overlap_hours`."""
    webhook = _visible_webhook(session, actor, webhook_id, check_version)
    rotation = webhooks.rotate(webhook.secret, now, timedelta(hours=overlap_hours))
    webhook.secret = rotation.secret
    webhook.previous_secret = rotation.previous_secret
    webhook.previous_secret_expires_at = rotation.previous_secret_expires_at
    record(session, WEBHOOK_SECRET_ROTATED, webhook)
    return webhook


def send_test(session: Session, actor: Actor, webhook_id: uuid.UUID, now: datetime) -> WebhookDelivery:
    """Send a `notify.webhook.test` event to this endpoint now (and to no other endpoint)."""
    webhook = _visible_webhook(session, actor, webhook_id)
    webhooks.check_enabled(webhook.state, "be tested")
    cloud_event = record(session, WEBHOOK_TEST, webhook)
    message = _message(session, cloud_event)
    delivery = WebhookDelivery(district_id=webhook.district_id, webhook_id=webhook.id, event_id=message.id,
                               event_type=WEBHOOK_TEST.key, state=webhooks.PENDING, next_attempt_at=now)
    session.add(delivery)
    session.flush()
    return delivery


def replay_delivery(session: Session, actor: Actor, webhook_id: uuid.UUID, delivery_id: uuid.UUID,
                    now: datetime) -> WebhookDelivery:
    """Send a delivery again now, whatever became of it, with a fresh retry schedule."""
    webhook = _visible_webhook(session, actor, webhook_id)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound("delivery not found")
    webhooks.check_enabled(webhook.state, "be sent a replay")
    delivery.state, delivery.schedule_step, delivery.next_attempt_at = webhooks.PENDING, 0, now
    session.flush()
    return delivery


def _message(session: Session, cloud_event: Mapping[str, Any]) -> WebhookMessage:
    event_id = uuid.UUID(str(cloud_event["id"]))
    message = session.get(WebhookMessage, event_id)
    if message is None:
        message = WebhookMessage(id=event_id, event_type=str(cloud_event["type"]).removeprefix("linli."),
                                 body=encode(dict(cloud_event)))
        session.add(message)
        session.flush()
    return message


def deliver_to_webhooks(session: Session, cloud_event: Mapping[str, Any], *, key: str, district: str | None,
                        now: datetime) -> list[WebhookDelivery]:
    """Queue an event for every enabled endpoint of its district whose patterns match it, once per endpoint.

    Events carrying personal data never reach a webhook, whatever queue they came by. A test event goes to
    the endpoint it names only.
    """
    if is_private(key):
        return []
    districts = [OPERATOR] + ([district] if district else [])
    query = select(Webhook).where(Webhook.state == webhooks.ENABLED, Webhook.district_id.in_(districts))
    if key == WEBHOOK_TEST.key:
        targets = [w for w in session.scalars(query.where(Webhook.id == _uuid(cloud_event.get("subject"))))]
    else:
        targets = [w for w in session.scalars(query) if webhooks.matches_any(w.patterns, key)]
    if not targets:
        return []
    event_id = uuid.UUID(str(cloud_event["id"]))
    done = set(session.scalars(select(WebhookDelivery.webhook_id).where(
        WebhookDelivery.event_id == event_id, WebhookDelivery.webhook_id.in_([w.id for w in targets]))))
    fresh = [w for w in targets if w.id not in done]
    if not fresh:
        return []
    message = _message(session, cloud_event)
    created = [WebhookDelivery(district_id=w.district_id, webhook_id=w.id, event_id=message.id, event_type=key,
                               state=webhooks.PENDING, next_attempt_at=now) for w in fresh]
    session.add_all(created)
    session.flush()
    return created


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with what sending it needs, read in the claiming transaction."""

    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    body: bytes
    secrets: tuple[str, ...]


def claim_due_deliveries(session: Session, now: datetime, *, limit: int, per_endpoint: int,
                         in_flight: Mapping[uuid.UUID, int], lease: timedelta) -> list[Job]:
    """Take up to `limit` due deliveries, at most `per_endpoint` in flight per endpoint counting `in_flight`.

    A taken delivery's next attempt moves `lease` ahead: if this process dies while sending, another takes
    it over then. Endpoints are taken oldest-due first, so one endpoint's backlog cannot starve the others;
    rows another dispatcher is taking are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL).
    """
    full = [webhook_id for webhook_id, count in in_flight.items() if count >= per_endpoint]
    due = (select(WebhookDelivery.webhook_id, func.min(WebhookDelivery.next_attempt_at).label("first_due"))
           .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
           .where(WebhookDelivery.state == webhooks.PENDING, WebhookDelivery.next_attempt_at <= now,
                  Webhook.state == webhooks.ENABLED)
           .group_by(WebhookDelivery.webhook_id).order_by("first_due").limit(limit))
    if full:
        due = due.where(WebhookDelivery.webhook_id.not_in(full))
    jobs: list[Job] = []
    for webhook_id in list(session.scalars(due)):
        room = min(per_endpoint - in_flight.get(webhook_id, 0), limit - len(jobs))
        if room <= 0:
            break
        query = (select(WebhookDelivery)
                 .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == webhooks.PENDING,
                        WebhookDelivery.next_attempt_at <= now)
                 .order_by(WebhookDelivery.next_attempt_at).limit(room))
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        deliveries = list(session.scalars(query))
        if not deliveries:
            continue
        webhook = session.get_one(Webhook, webhook_id)
        signing = tuple(webhooks.signing_secrets(webhook.secret, webhook.previous_secret,
                                                 webhook.previous_secret_expires_at, now))
        for delivery in deliveries:
            delivery.next_attempt_at = now + lease
            message = session.get_one(WebhookMessage, delivery.event_id)
            jobs.append(Job(delivery.id, webhook_id, delivery.event_id, webhook.url, message.body, signing))
    session.flush()
    return jobs


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to: the receiver's status (None: no answer), and why it failed if it did."""

    attempted_at: datetime
    duration_ms: int
    status: int | None
    error: str | None = None
    retry_after: str | None = None
    excerpt: str | None = None


def record_attempt(session: Session, delivery_id: uuid.UUID, result: AttemptResult, now: datetime, *,
                   scale: float = 1.0) -> WebhookDelivery | None:
    """Log an attempt and decide what becomes of the delivery and its endpoint.

    2xx: delivered, and the endpoint's failing streak ends. 410 Gone: the delivery is gone and the endpoint
    disabled. Otherwise the next attempt follows the schedule (later if Retry-After asks), or the delivery
    failed; an endpoint whose every attempt failed for 5 days is disabled.
    """
    webhook_id = session.scalar(select(WebhookDelivery.webhook_id).where(WebhookDelivery.id == delivery_id))
    if webhook_id is None:
        return None
    # The endpoint first, then the delivery: the order a replay takes them in, so the two never deadlock.
    webhook = session.get_one(Webhook, webhook_id, with_for_update=True)
    delivery = session.get_one(WebhookDelivery, delivery_id, with_for_update=True, populate_existing=True)
    delivery.attempt_count += 1
    session.add(WebhookAttempt(delivery_id=delivery.id, number=delivery.attempt_count,
                               attempted_at=result.attempted_at, duration_ms=result.duration_ms,
                               status_code=result.status, error=_clip(result.error),
                               response_excerpt=_clip(result.excerpt)))
    delivery.last_attempt_at, delivery.last_status_code, delivery.last_error = (
        result.attempted_at, result.status, _clip(result.error))
    if delivery.state == webhooks.PENDING:
        decision = webhooks.after_attempt(delivery.schedule_step, result.status, now, scale=scale,
                                          retry_after=webhooks.parse_retry_after(result.retry_after, now))
        delivery.state, delivery.next_attempt_at = decision.state, decision.next_attempt_at
        delivery.schedule_step += 1
        if decision.state == webhooks.DELIVERED:
            delivery.delivered_at = now
    _judge_endpoint(session, webhook, result.status, now)
    session.flush()
    return delivery


def _judge_endpoint(session: Session, webhook: Webhook, status: int | None, now: datetime) -> None:
    failing_since = webhooks.failing_since_after(webhook.failing_since, status, now)
    if failing_since != webhook.failing_since:
        webhook.failing_since = failing_since
    if webhook.state != webhooks.ENABLED:
        return
    if status == 410:
        _disable(session, webhook, webhooks.GONE_REASON, now)
    elif webhooks.failing_too_long(webhook.failing_since, now):
        _disable(session, webhook, webhooks.FAILING, now)


def _clip(text: str | None, limit: int = 1000) -> str | None:
    return None if text is None else text[:limit]


# --- Outgoing messages (SMS, email): preferences, delivery, the sender's claims and attempts ----------------------

def preferences_of(session: Session, recipient: str) -> outgoing.Preferences:
    """The recipient's choices, or the defaults for one who chose nothing."""
    row = session.scalar(select(Preference).where(Preference.recipient == recipient))
    if row is None:
        return outgoing.Preferences()
    return _preferences(row)


def _preferences(row: Preference) -> outgoing.Preferences:
    return outgoing.Preferences(
        sms=row.sms, email=row.email, locale=row.locale, time_zone=row.time_zone,
        quiet_start=outgoing.parse_clock_time(row.quiet_start) if row.quiet_start else None,
        quiet_end=outgoing.parse_clock_time(row.quiet_end) if row.quiet_end else None,
        digest=row.digest, digest_time=outgoing.parse_clock_time(row.digest_time))


def deliver(session: Session, message: domain.Message, *, now: datetime) -> Delivery | None:
    """Log and schedule one outgoing message; None (nothing sent) when this (event_id, recipient, channel) was
    already delivered or planned — at most once, whatever redelivery or replay.

    The recipient's preferences decide: channel off → `skipped`; urgent → `pending` now; daily digest → `digest`
    until the digest time; in quiet hours → `held` until they end; otherwise `pending` now. The words are
    rendered here, in the recipient's locale.
    """
    if message.channel not in domain.OUTGOING_CHANNELS:
        raise ValueError(f"not an outgoing channel: {message.channel!r}")
    key = (Delivery.source_event_id == message.event_id, Delivery.recipient == message.recipient,
           Delivery.channel == message.channel)
    if session.scalar(select(Delivery.id).where(*key)) is not None:
        return None
    prefs = preferences_of(session, message.recipient)
    plan = outgoing.plan(prefs, message.channel, urgent=message.urgent, now=now)
    subject, body = message.render(prefs.locale)
    delivery = Delivery(
        district_id=message.district_id, recipient=message.recipient, channel=message.channel,
        address=message.address, source_event_id=message.event_id, event_type=message.event_type,
        urgent=message.urgent, locale=prefs.locale, subject=_clip(subject, 500) or "", body=body,
        state=plan.state, not_before=plan.not_before, provider_index=0, provider_tries=0, attempt_count=0,
        segments=outgoing.sms_segments(body) if message.channel == domain.SMS else None)
    try:
        # A concurrent consumer of the same event may have planned it between the look and the insert.
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:
        return None
    return delivery


@dataclass(frozen=True)
class MessageJob:
    """A claimed delivery with what its provider needs, read in the claiming transaction."""

    delivery_id: uuid.UUID
    channel: str
    provider_index: int
    address: str
    subject: str
    body: str
    segments: int | None

    @property
    def lane(self) -> tuple[str, int]:
        """The provider it goes to: in-flight sends are counted per lane."""
        return self.channel, self.provider_index


def claim_due_messages(session: Session, now: datetime, *, limit: int, per_provider: int,
                       in_flight: Mapping[tuple[str, int], int], lease: timedelta) -> list[MessageJob]:
    """Take up to `limit` due deliveries (pending or held past `not_before`), at most `per_provider` in flight to
    one provider counting `in_flight`; a claim pushes `not_before` a `lease` ahead (taken over if the sender dies).

    Providers are served oldest-due first, so a slow provider's backlog never holds up another's messages; rows
    another sender is taking are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL).
    """
    due_states = (outgoing.PENDING, outgoing.HELD)
    lanes = (select(Delivery.channel, Delivery.provider_index, func.min(Delivery.not_before).label("first_due"))
             .where(Delivery.state.in_(due_states), Delivery.not_before <= now)
             .group_by(Delivery.channel, Delivery.provider_index).order_by("first_due"))
    jobs: list[MessageJob] = []
    for channel, index, _first in session.execute(lanes).all():
        room = min(per_provider - in_flight.get((channel, index), 0), limit - len(jobs))
        if len(jobs) >= limit:
            break
        if room <= 0:
            continue
        query = (select(Delivery)
                 .where(Delivery.state.in_(due_states), Delivery.not_before <= now, Delivery.channel == channel,
                        Delivery.provider_index == index)
                 .order_by(Delivery.not_before).limit(room))
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        for delivery in session.scalars(query):
            delivery.not_before = now + lease
            jobs.append(MessageJob(delivery.id, delivery.channel, delivery.provider_index, delivery.address,
                                   delivery.subject, delivery.body, delivery.segments))
    session.flush()
    return jobs


@dataclass(frozen=True)
class MessageAttempt:
    """What one attempt came to, as the sender saw it."""

    provider: str
    outcome: outgoing.Outcome
    attempted_at: datetime
    duration_ms: int


def record_message_attempt(session: Session, delivery_id: uuid.UUID, attempt: MessageAttempt, now: datetime, *,
                           providers: int, retries: outgoing.Retries = outgoing.Retries()) -> Delivery | None:
    """Log an attempt and decide (`outgoing.after_attempt`): sent, retried, handed on to the next provider, or
    failed; `notification.delivered` / `notification.failed` when it comes to an end. A digest's end is also the
    end of every message it carried."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None or delivery.state not in (outgoing.PENDING, outgoing.HELD):
        return delivery
    delivery.attempt_count += 1
    session.add(DeliveryAttempt(delivery_id=delivery.id, number=delivery.attempt_count, provider=attempt.provider,
                                status=attempt.outcome.kind, error=_clip(attempt.outcome.error),
                                attempted_at=attempt.attempted_at, duration_ms=attempt.duration_ms))
    tries = delivery.provider_tries + 1
    decision = outgoing.after_attempt(attempt.outcome, provider_index=delivery.provider_index,
                                      provider_tries=tries, providers=providers, now=now, retries=retries)
    delivery.provider = attempt.provider
    delivery.error = _clip(attempt.outcome.error)
    delivery.state, delivery.provider_index, delivery.provider_tries, delivery.not_before = (
        decision.state, decision.provider_index, decision.provider_tries, decision.not_before)
    if decision.state == outgoing.SENT:
        delivery.sent_at = now
        record(session, NOTIFICATION_DELIVERED, delivery)
    elif decision.state == outgoing.FAILED:
        record(session, NOTIFICATION_FAILED, delivery)
    else:
        session.flush()
    if delivery.event_type == outgoing.DIGEST_EVENT_TYPE and decision.state in (outgoing.SENT, outgoing.FAILED):
        _end_digested(session, delivery, now)
    return delivery


def _end_digested(session: Session, digest: Delivery, now: datetime) -> None:
    carried = session.scalars(select(Delivery).where(Delivery.digest_id == digest.id,
                                                     Delivery.state == outgoing.DIGEST).order_by(Delivery.created_at))
    for delivery in carried:
        delivery.state, delivery.provider, delivery.not_before = digest.state, digest.provider, None
        if digest.state == outgoing.SENT:
            delivery.sent_at = now
            delivery.error = None
            record(session, NOTIFICATION_DELIVERED, delivery)
        else:
            delivery.error = _clip(f"the digest failed: {digest.error}")
            record(session, NOTIFICATION_FAILED, delivery)


def compose_digests(session: Session, now: datetime, *, limit: int = 100) -> list[Delivery]:
    """Gather each recipient's messages kept for the digest whose time came into one message per channel, pending
    at once; once per recipient, channel and local day (a second composition of that day finds its key taken)."""
    query = (select(Delivery).where(Delivery.state == outgoing.DIGEST, Delivery.digest_id.is_(None),
                                    Delivery.not_before <= now)
             .order_by(Delivery.recipient, Delivery.channel, Delivery.created_at).limit(limit * 20))
    if is_postgres(session):
        # Another sender composing at the same moment takes the rows this one does not.
        query = query.with_for_update(skip_locked=True)
    waiting = list(session.scalars(query))
    groups: dict[tuple[str, str, str], list[Delivery]] = {}
    for delivery in waiting:
        groups.setdefault((delivery.district_id, delivery.recipient, delivery.channel), []).append(delivery)
    composed = []
    for (district, recipient, channel), items in list(groups.items())[:limit]:
        prefs = preferences_of(session, recipient)
        day = outgoing.digest_day(prefs, min(item.not_before or now for item in items))
        subject, body = outgoing.digest_text(prefs.locale, day, [(item.subject, item.body) for item in items])
        key = uuid.uuid5(outgoing.DIGEST_NAMESPACE, f"{recipient}|{channel}|{day.isoformat()}")
        digest = session.scalar(select(Delivery).where(Delivery.source_event_id == key,
                                                       Delivery.recipient == recipient,
                                                       Delivery.channel == channel))
        if digest is not None:
            # Today's digest is already out (or going): these came after it; they wait for tomorrow's.
            tomorrow = outgoing.next_digest_at(prefs, now)
            for item in items:
                item.not_before = tomorrow
            continue
        digest = Delivery(district_id=district, recipient=recipient, channel=channel, address=items[-1].address,
                          source_event_id=key, event_type=outgoing.DIGEST_EVENT_TYPE, urgent=False,
                          locale=prefs.locale, subject=_clip(subject, 500) or "", body=body, state=outgoing.PENDING,
                          not_before=now, provider_index=0, provider_tries=0, attempt_count=0,
                          segments=outgoing.sms_segments(body) if channel == domain.SMS else None)
        session.add(digest)
        session.flush()
        for item in items:
            item.digest_id, item.not_before = digest.id, None
        composed.append(digest)
    session.flush()
    return composed


PREFERENCE_FIELDS = ("sms", "email", "locale", "time_zone", "quiet_start", "quiet_end", "digest", "digest_time")


def _may_touch_preferences(actor: Actor, recipient: str, district_id: str | None) -> bool:
    """The recipient themselves (a token whose `sub` is the recipient), or a caller of the recipient's district."""
    return actor.sub == recipient or (district_id is not None and actor.sees(district_id))


def get_preferences(session: Session, actor: Actor, recipient: str) -> Preference | None:
    """The recipient's stored preferences; None when they chose nothing (the defaults apply). Another district's
    recipient is not found."""
    row = session.scalar(select(Preference).where(Preference.recipient == recipient))
    if row is not None and not _may_touch_preferences(actor, recipient, row.district_id):
        raise NotFound("preferences not found")
    return row


def set_preferences(session: Session, actor: Actor, recipient: str, wanted: Mapping[str, Any], *,
                    district_id: str | None = None, check_version: VersionCheck | None = None) -> Preference:
    """Replace the recipient's preferences with `wanted` (what it leaves out takes its default); emits
    `notify.preferences.updated` (private) when something changed.

    Checked here as well as by the schema, since the rules bind whoever calls: an IANA time zone, quiet hours with
    both ends or none, a known locale. What is already held or kept for the digest keeps its time.
    """
    if not outgoing.is_recipient(recipient):
        raise ValidationFailed.field("recipient", "a recipient is <kind>:<id>, e.g. member:<uuid>")
    row = session.scalar(select(Preference).where(Preference.recipient == recipient).with_for_update())
    if row is not None and not _may_touch_preferences(actor, recipient, row.district_id):
        raise NotFound("preferences not found")
    if check_version is not None:
        check_version(row.version if row is not None else 0)
    values = _checked_preferences(wanted)
    if row is None:
        district = _webhook_district(actor, district_id)
        if district == OPERATOR:
            raise ValidationFailed.field("district_id", "preferences belong to one district")
        row = Preference(district_id=district, recipient=recipient, **values)
        session.add(row)
        record(session, PREFERENCES_UPDATED, row)
        return row
    if district_id is not None and district_id != row.district_id:
        raise ValidationFailed.field("district_id", "the recipient's preferences belong to another district")
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(row, name, value)
        record(session, PREFERENCES_UPDATED, row)
    return row


def _checked_preferences(wanted: Mapping[str, Any]) -> dict[str, Any]:
    defaults = outgoing.Preferences()
    unknown = set(wanted) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"not preferences: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {
        "sms": bool(wanted.get("sms", defaults.sms)), "email": bool(wanted.get("email", defaults.email)),
        "locale": wanted.get("locale") or defaults.locale, "time_zone": wanted.get("time_zone") or defaults.time_zone,
        "digest": bool(wanted.get("digest", defaults.digest)),
        "digest_time": wanted.get("digest_time") or defaults.digest_time.strftime("%H:%M"),
        "quiet_start": wanted.get("quiet_start"), "quiet_end": wanted.get("quiet_end"),
    }
    if values["locale"] not in outgoing.LOCALES:
        raise ValidationFailed.field("locale", f"one of {', '.join(outgoing.LOCALES)}")
    try:
        outgoing.check_time_zone(values["time_zone"])
    except ValueError as exc:
        raise ValidationFailed.field("time_zone", str(exc)) from None
    times = {}
    for name in ("quiet_start", "quiet_end", "digest_time"):
        try:
            times[name] = outgoing.parse_clock_time(values[name]) if values[name] is not None else None
        except ValueError as exc:
            raise ValidationFailed.field(name, str(exc)) from None
    try:
        outgoing.check_quiet_hours(times["quiet_start"], times["quiet_end"])
    except ValueError as exc:
        raise ValidationFailed.field("quiet_end" if times["quiet_start"] else "quiet_start", str(exc)) from None
    return values


def delivery_attempts(session: Session, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                                .order_by(DeliveryAttempt.number)))
