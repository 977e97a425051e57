"""notify's actions: one function per action, whatever triggers it (an HTTP call or another service's event).

Each takes the session (and the acting caller where one acts), applies the domain rules,
and records the change with its event; committing is the caller's unit of work.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli.services.notify import domain, outgoing, rules, samples, sms, templates, webhooks, wording
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
    Chair,
    CommitteeView,
    Contact,
    Delivery,
    DeliveryAttempt,
    Notification,
    Preference,
    RuleOverride,
    TemplateOverride,
    TicketView,
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
from linli.shared.logs import get_logger
from linli.shared.readmodel import apply_versioned
from linli.shared.visibility import visible
from linli.shared.zones import check_time_zone

VersionCheck = Callable[[int], None]


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


P = ParamSpec("P")
R = TypeVar("R")


# --- What one transaction has looked up ------------------------------------------------------------------------------

_LOOKUPS = "notify.lookups"


def lookups(session: Session) -> dict[str, Any]:
    """What this transaction has looked up already: a district's rules and templates, recipients' preferences,
    read-model rows kept alive. The worker applies a burst of events in one transaction, and they ask the same
    things; a new transaction starts afresh (so another process's change is seen by the next burst), and a
    change made through this session forgets them (`_changes_lookups`)."""
    if session.get_transaction() is None:
        session.connection()  # begins the transaction the lookups belong to, as the first query would
    root = session.get_transaction()
    held = session.info.get(_LOOKUPS)
    if held is None or held[0] is not root:
        held = (root, {})
        session.info[_LOOKUPS] = held
    return held[1]


def forget_lookups(session: Session) -> None:
    session.info.pop(_LOOKUPS, None)


def _changes_lookups(fn: Callable[P, R]) -> Callable[P, R]:
    """A use case changing rules, templates or preferences: what the transaction looked up is forgotten before
    and after, so nothing in it reads the old ones."""
    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        session = args[0]
        assert isinstance(session, Session)
        forget_lookups(session)
        try:
            return fn(*args, **kwargs)
        finally:
            forget_lookups(session)

    return call


# --- Outgoing messages (SMS, email): preferences, delivery, the sender's claims and attempts ----------------------

def preferences_of(session: Session, recipient: str, district_id: str | None = None) -> outgoing.Preferences:
    """The recipient's choices, or the defaults for one who chose nothing (looked up once per transaction: a
    burst of events tells the same units again and again). Given the district a message is sent in,
    preferences another district set are not the recipient's and are ignored (so no district can silence
    another's recipients)."""
    known = lookups(session).setdefault("preferences", {})
    if recipient not in known:
        known[recipient] = session.scalar(select(Preference).where(Preference.recipient == recipient))
    row = known[recipient]
    if row is None or (district_id is not None and row.district_id != district_id):
        return outgoing.Preferences()
    return _preferences(row)


def _preferences(row: Preference) -> outgoing.Preferences:
    return outgoing.Preferences(
        sms=row.sms, email=row.email, locale=row.locale, time_zone=row.time_zone,
        quiet_start=outgoing.parse_clock_time(row.quiet_start) if row.quiet_start else None,
        quiet_end=outgoing.parse_clock_time(row.quiet_end) if row.quiet_end else None,
        digest=row.digest, digest_time=outgoing.parse_clock_time(row.digest_time))


def deliver(session: Session, message: domain.Message, *, now: datetime, looked: bool = False) -> Delivery | None:
    """Log and schedule one outgoing message; None (nothing sent) when this (event_id, recipient, channel) was
    already delivered or planned — at most once, whatever redelivery or replay.

    The recipient's preferences decide: channel off → `skipped`; urgent → `pending` now; daily digest → `digest`
    until the digest time; in quiet hours → `held` until they end; otherwise `pending` now. The words are
    rendered here, in the recipient's locale. `looked`: the caller has just seen no such delivery (`told_before`).
    """
    if message.channel not in domain.OUTGOING_CHANNELS:
        raise ValueError(f"not an outgoing channel: {message.channel!r}")
    key = (Delivery.source_event_id == message.event_id, Delivery.recipient == message.recipient,
           Delivery.channel == message.channel)
    if not looked and session.scalar(select(Delivery.id).where(*key)) is not None:
        return None
    prefs = preferences_of(session, message.recipient, message.district_id)
    plan = outgoing.plan(prefs, message.channel, urgent=message.urgent, now=now)
    subject, body = message.render(prefs.locale)
    values = dict(
        district_id=message.district_id, recipient=message.recipient, channel=message.channel,
        address=message.address, source_event_id=message.event_id, event_type=message.event_type,
        urgent=message.urgent, locale=prefs.locale, subject=_clip(subject, 500) or "", body=body,
        state=plan.state, not_before=plan.not_before, provider_index=0, provider_tries=0, attempt_count=0,
        segments=sms.segments(body) if message.channel == domain.SMS else None)
    if is_postgres(session) or sqlite3.sqlite_version_info >= (3, 35):
        # A concurrent consumer of the same event may have planned it between the look and the insert: its row
        # wins, and this one is not written. One statement, where a savepoint around the insert took three.
        insert = pg_insert if is_postgres(session) else sqlite_insert
        return session.scalars(insert(Delivery).values(**values).on_conflict_do_nothing()
                               .returning(Delivery)).first()
    delivery = Delivery(**values)
    try:
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
    # Masked before it is clipped, so no tail of the address is left behind.
    error = _clip(outgoing.without_address(attempt.outcome.error, delivery.address, delivery.masked_address))
    session.add(DeliveryAttempt(delivery_id=delivery.id, number=delivery.attempt_count, provider=attempt.provider,
                                status=attempt.outcome.kind, error=error,
                                attempted_at=attempt.attempted_at, duration_ms=attempt.duration_ms))
    tries = delivery.provider_tries + 1
    decision = outgoing.after_attempt(attempt.outcome, provider_index=delivery.provider_index,
                                      provider_tries=tries, providers=providers, now=now, retries=retries)
    delivery.provider = attempt.provider
    delivery.error = error
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
        prefs = preferences_of(session, recipient, district)
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
                          segments=sms.segments(body) if channel == domain.SMS else None)
        session.add(digest)
        session.flush()
        for item in items:
            item.digest_id, item.not_before = digest.id, None
        composed.append(digest)
    session.flush()
    return composed


PREFERENCE_FIELDS = ("sms", "email", "locale", "time_zone", "quiet_start", "quiet_end", "digest", "digest_time")


def _may_touch_preferences(actor: Actor, recipient: str, district_id: str | None) -> bool:
    """The recipient themselves (a token whose `sub` is the recipient), or a caller of the recipient's district (any
    district's while notify knows none: the preferences then take the caller's) —
    not another member's or unit's token of that district, which reach their own inbox and preferences only."""
    owner = domain.inbox_owner(actor.sub)
    if owner is not None:
        return owner == recipient
    return actor.sub == recipient or district_id is None or actor.sees(district_id)


def _recipient_district(session: Session, recipient: str, row: Preference | None) -> str | None:
    """Whose recipient this is: the district of the contact registry or tickets told of, when notify knows it —
    whoever wrote preferences first does not decide that — else the district its preferences were set in."""
    known = session.scalar(select(Contact.district_id).where(Contact.recipient == recipient))
    if known is not None:
        return known
    return row.district_id if row is not None else None


def get_preferences(session: Session, actor: Actor, recipient: str) -> Preference | None:
    """The recipient's stored preferences; None when they chose nothing (the defaults apply). Another district's
    recipient is not found."""
    row = session.scalar(select(Preference).where(Preference.recipient == recipient))
    owner = _recipient_district(session, recipient, row)
    if not _may_touch_preferences(actor, recipient, owner):
        raise NotFound("preferences not found")
    if row is not None and row.district_id != owner:
        return None   # set by a district the recipient is not of: not theirs (and ignored when sending)
    return row


@_changes_lookups
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
    owner = _recipient_district(session, recipient, row)
    if not _may_touch_preferences(actor, recipient, owner):
        raise NotFound("preferences not found")
    if row is not None and row.district_id != owner:
        # Written by another district before notify knew whose recipient this is: the owner's district takes
        # them over, starting again from the defaults.
        session.delete(row)
        session.flush()
        row = None
    if check_version is not None:
        check_version(row.version if row is not None else 0)
    values = _checked_preferences(wanted)
    if row is None:
        if owner is not None and district_id is not None and district_id != owner:
            raise ValidationFailed.field("district_id", "the recipient belongs to another district")
        district = owner if owner is not None else _webhook_district(actor, district_id)
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
        check_time_zone(values["time_zone"])
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


# --- Messages: read models, rules, templates, and telling the people an event concerns ------------------------------

log = get_logger(__name__)


def record_contact(session: Session, recipient: str, version: int, *, district_id: str, name: str | None,
                   person: str | None = None, phone: str | None = None, email: str | None = None) -> bool:
    """Keep how to reach `recipient` (from a private contact event); False when a newer contact is kept."""
    row = session.get(Contact, recipient, with_for_update=True)
    if row is None:
        session.add(Contact(recipient=recipient, district_id=district_id, name=name, person=person, phone=phone,
                            email=email, version=version))
        return True
    # `>`, not `>=`: an entity's public and private events of one change share its version.
    if row.version > version:
        return False
    row.district_id, row.name, row.person, row.phone, row.email, row.version = (
        district_id, name, person, phone, email, version)
    return True


def record_ticket(session: Session, ticket_id: uuid.UUID, version: int, *, district_id: str, title: str,
                  compound_id: uuid.UUID | None, community_id: uuid.UUID | None,
                  assignees: Sequence[str] | None) -> bool:
    """Keep where a ticket is and who works on it; `assignees` None keeps those already known."""
    # apply_versioned's own locked read, inlined: the row is read (and locked) once per ticket event.
    row = session.get(TicketView, ticket_id, with_for_update=True)
    kept = json.loads(row.assignees) if row is not None else []
    values = {"district_id": district_id, "title": title, "compound_id": compound_id, "community_id": community_id,
              "assignees": json.dumps(list(assignees) if assignees is not None else kept)}
    if row is None:
        session.add(TicketView(id=ticket_id, version=version, **values))
        return True
    if row.version >= version:
        return False
    for name, value in values.items():
        setattr(row, name, value)
    row.version = version
    return True


def record_committee(session: Session, committee_id: uuid.UUID, version: int, *, district_id: str,
                     community_id: uuid.UUID, name: str, convenor_member_id: uuid.UUID | None,
                     convenor_name: str | None, units: Sequence[uuid.UUID]) -> bool:
    return apply_versioned(session, CommitteeView, committee_id, version, {
        "district_id": district_id, "community_id": community_id, "name": name,
        "convenor_member_id": convenor_member_id, "convenor_name": convenor_name,
        "units": json.dumps([str(u) for u in units])})


def record_chair(session: Session, committee_id: uuid.UUID, *, district_id: str, organization_id: uuid.UUID | None,
                 organization_name: str | None, term_index: int, term_part: int, ends_at: datetime | None) -> bool:
    """Keep the committee's sitting chair: the latest term (index, then part after handovers) told of."""
    row = session.get(Chair, committee_id, with_for_update=True)
    if row is not None and (row.term_index, row.term_part) > (term_index, term_part):
        return False
    if row is None:
        row = Chair(committee_id=committee_id)
        session.add(row)
    row.district_id, row.organization_id, row.organization_name = district_id, organization_id, organization_name
    row.term_index, row.term_part, row.ends_at = term_index, term_part, ends_at
    return True


class _ReadModels:
    """`rules.Directory` over notify's read models, within one district."""

    def __init__(self, session: Session, district_id: str) -> None:
        self.session, self.district_id = session, district_id
        # The session's identity map holds rows weakly: a row kept here is found again by `session.get` without
        # a query for the rest of the transaction (the same units, chair and convenor in a burst; a reporter's
        # contact asked by role, then for the address).
        self._alive: list[Any] = lookups(session).setdefault("rows", [])

    def _get(self, model: type[Any], key: Any) -> Any:
        row = self.session.get(model, key)
        if row is not None:
            self._alive.append(row)
        return row

    def committee_of(self, community_id: str) -> str | None:
        found = self.session.scalar(select(CommitteeView.id).where(
            CommitteeView.community_id == _uuid(community_id), CommitteeView.district_id == self.district_id))
        return None if found is None else str(found)

    def _committee(self, committee_id: str) -> CommitteeView | None:
        row = self._get(CommitteeView, _uuid(committee_id)) if _uuid(committee_id) else None
        return row if row is not None and row.district_id == self.district_id else None

    def chair_of(self, committee_id: str) -> str | None:
        key = _uuid(committee_id)
        row = self._get(Chair, key) if key else None
        if row is None or row.district_id != self.district_id or row.organization_id is None:
            return None
        return str(row.organization_id)

    def convenor_of(self, committee_id: str) -> str | None:
        row = self._committee(committee_id)
        return None if row is None or row.convenor_member_id is None else str(row.convenor_member_id)

    def units_of(self, committee_id: str) -> list[str]:
        row = self._committee(committee_id)
        return [] if row is None else list(json.loads(row.units))

    def ticket(self, ticket_id: str) -> Mapping[str, Any] | None:
        key = _uuid(ticket_id)
        row = self._get(TicketView, key) if key else None
        if row is None or row.district_id != self.district_id:
            return None
        return {"compound_id": row.compound_id, "community_id": row.community_id,
                "assignees": json.loads(row.assignees)}

    def contact(self, recipient: str) -> Contact | None:
        row = self._get(Contact, recipient)
        return row if row is not None and row.district_id == self.district_id else None

    def has_reporter(self, ticket_id: str) -> bool:
        return self.contact(f"{rules.REPORTER}:{ticket_id}") is not None


def _rule_override(session: Session, district_id: str, event_type: str, *,
                   for_update: bool = False) -> RuleOverride | None:
    query = select(RuleOverride).where(RuleOverride.district_id == district_id, RuleOverride.event_type == event_type)
    return session.scalars(query.with_for_update() if for_update else query).first()


def _targets(row: RuleOverride) -> tuple[rules.Target, ...]:
    return tuple(rules.Target(t["role"], tuple(t["channels"])) for t in json.loads(row.recipients))


def rule_for(session: Session, district_id: str, event_type: str) -> rules.Rule | None:
    """The rule a district applies to `event_type`: its own, else the default; None: nobody is told.

    A district's rules are read once per transaction (all of them: a few dozen rows at most), so a burst of
    events pays one query, not one per event; changing a rule forgets them (`_changes_lookups`)."""
    by_district = lookups(session).setdefault("rules", {})
    if district_id not in by_district:
        by_district[district_id] = {row.event_type: _targets(row) for row in session.scalars(
            select(RuleOverride).where(RuleOverride.district_id == district_id))}
    return rules.effective(event_type, by_district[district_id].get(event_type))


def _template_override(session: Session, district_id: str, event_type: str, channel: str, locale: str, *,
                       for_update: bool = False) -> TemplateOverride | None:
    query = select(TemplateOverride).where(
        TemplateOverride.district_id == district_id, TemplateOverride.event_type == event_type,
        TemplateOverride.channel == channel, TemplateOverride.locale == locale)
    return session.scalars(query.with_for_update() if for_update else query).first()


WordingCache = dict[tuple[str, str, str, str], templates.Wording | None]


def wording_for(session: Session, district_id: str, event_type: str, channel: str, locale: str,
                cache: WordingCache | None = None) -> templates.Wording | None:
    """The wording a district uses: its own template if it saved one, else the suite's default (looked up once
    per `cache`: a page of an inbox asks for the same few)."""
    key = (district_id, event_type, channel, locale)
    if cache is not None and key in cache:
        return cache[key]
    # A district's own templates, read once per transaction (as its rules are).
    by_district = lookups(session).setdefault("templates", {})
    if district_id not in by_district:
        by_district[district_id] = {(row.event_type, row.channel, row.locale): templates.Wording(row.subject, row.body)
                                    for row in session.scalars(select(TemplateOverride).where(
                                        TemplateOverride.district_id == district_id))}
    found = by_district[district_id].get((event_type, channel, locale)) or templates.default(event_type, channel,
                                                                                               locale)
    if cache is not None:
        cache[key] = found
    return found


def render_message(session: Session, district_id: str, event_type: str, channel: str, locale: str,
                   variables: Mapping[str, Any], cache: WordingCache | None = None) -> tuple[str, str]:
    """Subject and body of a message in `locale`, by the district's template (its default if that fails)."""
    chosen = templates.supported(locale)
    wording_ = wording_for(session, district_id, event_type, channel, chosen, cache)
    if wording_ is None:
        return event_type, ""

    def failed(message: str) -> None:
        log.warning("template failed", district_id=district_id, event_type=event_type, channel=channel,
                    locale=chosen, error=message)

    return templates.render_or_default(wording_, event_type, channel, chosen, variables, failed)


def _inbox_event(notification: Notification) -> dict[str, Any]:
    """A notification as `notify.notification.delivered` tells of it (`DeliveryData`, shared with SMS and email)."""
    return {"id": notification.id, "district_id": notification.district_id, "recipient": notification.recipient,
            "channel": notification.channel, "source_event_id": notification.source_event_id,
            "event_type": notification.event_type, "state": notification.state, "provider": None, "error": None,
            "version": notification.version}


def _address(contact: Contact | None, channel: str) -> str | None:
    if contact is None:
        return None
    return contact.phone if channel == rules.SMS else contact.email


def tell(session: Session, *, event_type: str, district_id: str, event_id: uuid.UUID, payload: Mapping[str, Any],
         now: datetime) -> list[rules.Recipient]:
    """Tell everyone the district's rule names of this event: inbox rows, and SMS and email handed to delivery.

    At most once per (event, recipient, channel): a redelivered or replayed event adds nothing. A recipient
    without an address for an outgoing channel is skipped (and logged), not an error.
    """
    rule = rule_for(session, district_id, event_type)
    if rule is None:
        return []
    told = []
    directory = _ReadModels(session, district_id)
    recipients = rules.resolve(rule, payload, directory)
    before = told_before(session, event_id) if recipients else set()
    for target in recipients:
        variables = templates.context(event_type, payload, target.role)
        if target.channel == rules.INBOX:
            if (target.recipient, target.channel) in before:
                continue
            if _put_in_inbox(session, district_id, event_type, event_id, target, variables, looked=True):
                told.append(target)
            continue
        address = _address(directory.contact(target.recipient), target.channel)
        if not address:
            log.info("recipient skipped: no address", district_id=district_id, event_type=event_type,
                     event_id=str(event_id), recipient=target.recipient, role=target.role, channel=target.channel)
            continue
        if (target.recipient, target.channel) in before:
            continue

        def render(locale: str, channel: str = target.channel, variables: Mapping[str, Any] = variables,
                   ) -> tuple[str, str]:
            return render_message(session, district_id, event_type, channel, locale, variables)

        message = domain.Message(district_id=district_id, event_id=event_id, event_type=event_type,
                                 recipient=target.recipient, channel=target.channel, address=address,
                                 urgent=rule.urgent, render=render)
        if deliver(session, message, now=now, looked=True) is not None:
            told.append(target)
    return told


def told_before(session: Session, event_id: uuid.UUID) -> set[tuple[str, str]]:
    """(recipient, channel) this event was already told to, in the inbox or by SMS/email: one query per event."""
    inbox_rows = select(Notification.recipient, Notification.channel).where(Notification.source_event_id == event_id)
    outgoing_rows = select(Delivery.recipient, Delivery.channel).where(Delivery.source_event_id == event_id)
    return {(recipient, channel) for recipient, channel in session.execute(inbox_rows.union_all(outgoing_rows))}


def _put_in_inbox(session: Session, district_id: str, event_type: str, event_id: uuid.UUID,
                  target: rules.Recipient, variables: Mapping[str, Any], *, looked: bool = False) -> bool:
    key = (Notification.source_event_id == event_id, Notification.recipient == target.recipient,
           Notification.channel == rules.INBOX)
    if not looked and session.scalar(select(Notification.id).where(*key)) is not None:
        return False
    notification = Notification(district_id=district_id, recipient=target.recipient, channel=rules.INBOX,
                                event_type=event_type, template=event_type, role=target.role,
                                params=json.dumps(variables, ensure_ascii=False, default=str),
                                locale=DEFAULT_LOCALE, state=domain.UNREAD, source_event_id=event_id)
    session.add(notification)
    session.flush()
    record(session, NOTIFICATION_DELIVERED, notification, payload_of=_inbox_event(notification))
    return True


# --- The inbox ----------------------------------------------------------------------------------------------------

def inbox_query(actor: Actor, recipient: str | None = None) -> Any:
    """The notifications a caller may read: its own inbox (a member's or unit's token), else its district's."""
    query = select(Notification)
    if not actor.is_operator:
        query = query.where(Notification.district_id == actor.district)
    owner = domain.inbox_owner(actor.sub)
    if owner is not None:
        query = query.where(Notification.recipient == owner)
    if recipient is not None:
        query = query.where(Notification.recipient == recipient)
    return query


def _readable(session: Session, actor: Actor, notification_id: uuid.UUID, *, for_update: bool = False
              ) -> Notification:
    notification = visible(session, actor, Notification, notification_id, what="notification",
                           for_update=for_update)
    owner = domain.inbox_owner(actor.sub)
    if owner is not None and notification.recipient != owner:
        raise NotFound("notification not found")
    return notification


def get_notification(session: Session, actor: Actor, notification_id: uuid.UUID) -> Notification:
    return _readable(session, actor, notification_id)


def unread_count(session: Session, actor: Actor, recipient: str | None = None) -> int:
    query = inbox_query(actor, recipient).where(Notification.state == domain.UNREAD)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def mark_read(session: Session, actor: Actor, notification_id: uuid.UUID, now: datetime) -> Notification:
    """Mark a notification read; reading it again changes nothing and records nothing."""
    notification = _readable(session, actor, notification_id, for_update=True)
    _read(session, notification, now)
    return notification


def _read(session: Session, notification: Notification, now: datetime) -> bool:
    state, changed = domain.read(notification.state)
    if changed:
        notification.state = state
        notification.read_at = now
        record(session, NOTIFICATION_READ, notification)
    return changed


MAX_MARKED = 1000


def mark_all_read(session: Session, actor: Actor, now: datetime, *, recipient: str | None = None) -> int:
    """Mark every unread notification the caller may read (of one recipient if named) read, oldest first, up to
    MAX_MARKED per call; the number marked (call again while it is MAX_MARKED)."""
    query = (inbox_query(actor, recipient).where(Notification.state == domain.UNREAD)
             .order_by(Notification.created_at, Notification.id).limit(MAX_MARKED))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return sum(_read(session, notification, now) for notification in list(session.scalars(query)))


def present(session: Session, notification: Notification, locale: str,
            cache: WordingCache | None = None) -> dict[str, Any]:
    """A notification as its reader sees it: worded in `locale` by its district's inbox template."""
    variables = json.loads(notification.params)
    title, body = render_message(session, notification.district_id, notification.event_type, rules.INBOX, locale,
                                 variables, cache)
    fields = {column.key: getattr(notification, column.key) for column in Notification.__table__.columns}
    return fields | {"params": variables, "locale": templates.supported(locale), "title": title, "body": body}


# --- Rules over the API -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleView:
    event_type: str
    district_id: str | None
    overridden: bool
    recipients: list[dict[str, Any]]
    urgent: bool
    version: int


def _district(actor: Actor, asked: str | None, *, required: bool) -> str | None:
    """Whose rules or templates: the caller's district, or the one an operator names (None: the defaults)."""
    if actor.is_operator:
        if not asked:
            if required:
                raise ValidationFailed.field("district_id", "an operator names the district")
            return None
        return asked
    if asked is not None and asked != actor.district:
        raise ValidationFailed.field("district_id", "not your district")
    return actor.district


def _known_event(event_type: str) -> None:
    if event_type not in rules.DEFAULT_RULES:
        raise NotFound(f"notify has no rule for {event_type}")


def _rule_view(event_type: str, district: str | None, row: RuleOverride | None) -> RuleView:
    rule = rules.effective(event_type, None if row is None else _targets(row))
    targets = rule.targets if rule is not None else ()
    return RuleView(event_type, district, row is not None,
                    [{"role": t.role, "channels": list(t.channels)} for t in targets],
                    rule.urgent if rule is not None else False, 0 if row is None else row.version)


def list_rules(session: Session, actor: Actor, *, district_id: str | None = None,
               event_type: str | None = None) -> list[RuleView]:
    """Every ruled event type with the rule the district applies (an operator without a district: the defaults)."""
    district = _district(actor, district_id, required=False)
    own = {} if district is None else {row.event_type: row for row in session.scalars(
        select(RuleOverride).where(RuleOverride.district_id == district))}
    return [_rule_view(key, district, own.get(key)) for key in rules.DEFAULT_RULES
            if event_type is None or key == event_type]


def get_rule(session: Session, actor: Actor, event_type: str, *, district_id: str | None = None) -> RuleView:
    _known_event(event_type)
    district = _district(actor, district_id, required=False)
    return _rule_view(event_type, district, None if district is None else _rule_override(session, district,
                                                                                         event_type))


@_changes_lookups
def set_rule(session: Session, actor: Actor, event_type: str, *, recipients: Sequence[Mapping[str, Any]],
             district_id: str | None = None, check_version: VersionCheck | None = None) -> RuleView:
    """Replace a district's rule for an event type: its roles and their channels (an empty list tells nobody)."""
    _known_event(event_type)
    district = _district(actor, district_id, required=True)
    assert district is not None  # required
    targets = rules.check_targets(event_type, [rules.Target(r["role"], tuple(r["channels"])) for r in recipients])
    row = _rule_override(session, district, event_type, for_update=True)
    if check_version is not None:
        check_version(0 if row is None else row.version)
    text = json.dumps([{"role": t.role, "channels": list(t.channels)} for t in targets])
    if row is None:
        row = RuleOverride(district_id=district, event_type=event_type, recipients=text)
        session.add(row)
    else:
        row.recipients = text
    session.flush()
    return _rule_view(event_type, district, row)


@_changes_lookups
def reset_rule(session: Session, actor: Actor, event_type: str, *, district_id: str | None = None,
               check_version: VersionCheck | None = None) -> RuleView:
    """Drop a district's own rule: the default applies again."""
    _known_event(event_type)
    district = _district(actor, district_id, required=True)
    assert district is not None
    row = _rule_override(session, district, event_type, for_update=True)
    if check_version is not None:
        check_version(0 if row is None else row.version)
    if row is not None:
        session.delete(row)
        session.flush()
    return _rule_view(event_type, district, None)


@dataclass(frozen=True)
class Told:
    """One recipient of a previewed event, with what they would read."""

    recipient: str
    role: str
    channel: str
    subject: str
    body: str
    segments: int | None


def preview_rule(session: Session, actor: Actor, event_type: str, *, locale: str,
                 district_id: str | None = None) -> tuple[RuleView, list[Told]]:
    """Who the district's rule would tell of the event type's sample, on which channel, in which words."""
    view = get_rule(session, actor, event_type, district_id=district_id)
    rule = rules.Rule(event_type, tuple(rules.Target(r["role"], tuple(r["channels"])) for r in view.recipients),
                      view.urgent)
    payload = samples.sample(event_type)
    assert payload is not None  # every ruled event has a sample (tests/unit/test_notify_samples.py)
    told = []
    for target in rules.resolve(rule, payload, samples.SampleDirectory()):
        variables = templates.context(event_type, payload, target.role)
        if view.district_id is None:
            wording_ = templates.default(event_type, target.channel, templates.supported(locale))
            assert wording_ is not None
            subject, body = templates.render_or_default(wording_, event_type, target.channel,
                                                        templates.supported(locale), variables)
        else:
            subject, body = render_message(session, view.district_id, event_type, target.channel, locale, variables)
        told.append(Told(target.recipient, target.role, target.channel, subject, body,
                         sms.segments(body) if target.channel == rules.SMS else None))
    return view, told


# --- Templates over the API ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TemplateView:
    id: str
    event_type: str
    channel: str
    locale: str
    district_id: str | None
    overridden: bool
    subject: str
    body: str
    version: int
    segments: int | None = None
    warnings: tuple[str, ...] = ()


def _template_key(template_id: str) -> tuple[str, str, str]:
    try:
        return templates.parse_id(template_id)
    except ValueError:
        raise NotFound("template not found: ids are <event_type>:<channel>:<locale>, as GET /v1/templates lists "
                       "them") from None


def _template_view(key: tuple[str, str, str], district: str | None, row: TemplateOverride | None,
                   checked: templates.Checked | None = None) -> TemplateView:
    event_type, channel, locale = key
    wording_ = (templates.Wording(row.subject, row.body) if row is not None
                else templates.default(event_type, channel, locale))
    assert wording_ is not None  # parse_id admits only event types with defaults
    return TemplateView(templates.template_id(*key), event_type, channel, locale, district, row is not None,
                        wording_.subject, wording_.body, 0 if row is None else row.version,
                        checked.segments if checked else None, checked.warnings if checked else ())


def list_templates(session: Session, actor: Actor, *, district_id: str | None = None, event_type: str | None = None,
                   channel: str | None = None, locale: str | None = None) -> list[TemplateView]:
    """Every template in effect for the district (its own, else the defaults), filtered by the fields given."""
    district = _district(actor, district_id, required=False)
    own = {} if district is None else {(row.event_type, row.channel, row.locale): row for row in session.scalars(
        select(TemplateOverride).where(TemplateOverride.district_id == district))}
    return [_template_view(key, district, own.get(key))
            for key in ((e, c, lo) for e in wording.DEFAULTS for c in rules.CHANNELS for lo in templates.LOCALES)
            if (event_type is None or key[0] == event_type) and (channel is None or key[1] == channel)
            and (locale is None or key[2] == locale)]


def get_template(session: Session, actor: Actor, template_id: str, *, district_id: str | None = None
                 ) -> TemplateView:
    key = _template_key(template_id)
    district = _district(actor, district_id, required=False)
    return _template_view(key, district, None if district is None else _template_override(session, district, *key))


@_changes_lookups
def set_template(session: Session, actor: Actor, template_id: str, *, subject: str, body: str,
                 district_id: str | None = None, check_version: VersionCheck | None = None) -> TemplateView:
    """Save a district's wording; refused (naming subject or body) when it does not render against the event's
    sample: a variable the event lacks, something the sandbox forbids, an SMS over the segment limit."""
    key = _template_key(template_id)
    district = _district(actor, district_id, required=True)
    assert district is not None
    event_type, channel, _ = key
    if channel == rules.SMS and subject:
        raise ValidationFailed.field("subject", "an SMS has no subject")
    if channel != rules.SMS and not subject:
        raise ValidationFailed.field("subject", f"an {channel} message has a subject")
    checked = templates.check(event_type, channel, subject, body)
    row = _template_override(session, district, *key, for_update=True)
    if check_version is not None:
        check_version(0 if row is None else row.version)
    if row is None:
        row = TemplateOverride(district_id=district, event_type=event_type, channel=channel, locale=key[2],
                               subject=subject, body=body)
        session.add(row)
    else:
        row.subject, row.body = subject, body
    session.flush()
    return _template_view(key, district, row, checked)


@_changes_lookups
def reset_template(session: Session, actor: Actor, template_id: str, *, district_id: str | None = None,
                   check_version: VersionCheck | None = None) -> TemplateView:
    """Drop a district's wording: the default applies again."""
    key = _template_key(template_id)
    district = _district(actor, district_id, required=True)
    assert district is not None
    row = _template_override(session, district, *key, for_update=True)
    if check_version is not None:
        check_version(0 if row is None else row.version)
    if row is not None:
        session.delete(row)
        session.flush()
    return _template_view(key, district, None)


@dataclass(frozen=True)
class Preview:
    template: TemplateView
    subject: str
    body: str
    segments: int | None
    units: int | None
    encoding: str | None
    warnings: tuple[str, ...]


def preview_template(session: Session, actor: Actor, template_id: str, *, district_id: str | None = None,
                     subject: str | None = None, body: str | None = None, payload: Mapping[str, Any] | None = None,
                     role: str | None = None) -> Preview:
    """The template (or a draft `subject`/`body`) rendered against the event type's sample, or `payload`."""
    view = get_template(session, actor, template_id, district_id=district_id)
    rule = rules.DEFAULT_RULES[view.event_type]
    if role is not None and role not in rules.roles_for(view.event_type):
        raise ValidationFailed.field("role", f"{view.event_type} knows the roles "
                                             f"{', '.join(rules.roles_for(view.event_type))}")
    chosen_role = role or (rule.targets[0].role if rule.targets else "unit")
    wording_ = (view.subject if subject is None else subject, view.body if body is None else body)
    # The template itself against the sample first, so its own faults name subject or body...
    checked = templates.check(view.event_type, view.channel, *wording_,
                              templates.sample_context(view.event_type, chosen_role))
    if payload is not None:
        # ...and then what a given payload lacks names the payload.
        try:
            checked = templates.check(view.event_type, view.channel, *wording_,
                                      templates.context(view.event_type, payload, chosen_role))
        except ValidationFailed as exc:
            problems = [m for messages in (exc.errors or {}).values() for m in messages]
            raise ValidationFailed.field("payload", "; ".join(problems) or str(exc)) from exc
    is_sms = view.channel == rules.SMS
    return Preview(view, checked.subject, checked.body, checked.segments,
                   sms.units(checked.body) if is_sms else None,
                   ("gsm7" if sms.is_gsm7(checked.body) else "ucs2") if is_sms else None, checked.warnings)
