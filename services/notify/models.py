"""notify's tables."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.services.notify import outgoing, webhooks
from linli.services.notify.domain import INBOX, UNREAD
from linli.services.notify.templates import DEFAULT_LOCALE
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.db import UTCDateTime, new_id, new_metadata, utcnow
from linli.shared.orm import Entity, ReadModel
from linli.shared.phones import mask_email, mask_phone


class Base(DeclarativeBase):
    metadata = new_metadata()


class Notification(Entity, Base):
    """One message in one recipient's inbox; its words are rendered from its event type's template when read."""

    __tablename__ = "notifications"

    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20), default=INBOX)
    # The suite event type it tells of (`tickets.ticket.overdue`): also the key of its templates.
    event_type: Mapped[str] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(200))
    # Why this recipient is told (a rule's role: reporter, assignees, chair, ...).
    role: Mapped[str | None] = mapped_column(String(40))
    # The template's variables, JSON text rather than a JSON column: stored and compared the same way on SQLite
    # and PostgreSQL.
    params: Mapped[str] = mapped_column(Text, default="{}")
    locale: Mapped[str] = mapped_column(String(16), default=DEFAULT_LOCALE)
    state: Mapped[str] = mapped_column(String(20), default=UNREAD)
    # The event that caused it.
    source_event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # At most once per (event, recipient, channel): a redelivered or replayed event tells nobody twice.
        Index("uq_notifications_event_recipient_channel", "source_event_id", "recipient", "channel", unique=True),
        Index("ix_notifications_district_created", "district_id", "created_at", "id"),
        # An inbox is listed newest first by the keyset (created_at, id); this also serves plain recipient lookups.
        Index("ix_notifications_recipient_created", "recipient", "created_at", "id"),
        Index("ix_notifications_recipient_state", "recipient", "state"),
    )


class Webhook(Entity, Base):
    """An endpoint of another application, sent the events of its district that match its patterns."""

    __tablename__ = "webhooks"

    url: Mapped[str] = mapped_column(String(webhooks.MAX_URL_LENGTH))
    # JSON list of topic patterns (see `webhooks.normalise_patterns`), text for the same reason as params.
    event_types: Mapped[str] = mapped_column(Text, default="[]")
    description: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20), default=webhooks.ENABLED)
    disabled_reason: Mapped[str | None] = mapped_column(String(20))
    disabled_note: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept as the receiver needs them to verify: an HMAC key cannot be stored as a hash.
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first failed attempt since the last success; an endpoint failing for 5 days is disabled.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webhooks_district_created", "district_id", "created_at", "id"),
    )

    @property
    def patterns(self) -> list[str]:
        return list(json.loads(self.event_types))


class WebhookMessage(Base):
    """An event as webhooks send it, stored once however many endpoints it goes to (and for replays)."""

    __tablename__ = "webhook_messages"

    # The CloudEvent's id: also the `webhook-id` receivers de-duplicate on.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookDelivery(Entity, Base):
    """One event to one endpoint: pending until delivered, failed after its schedule, or gone (410)."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhooks.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhook_messages.id"))
    event_type: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default=webhooks.PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts made of the current schedule; a replay starts the schedule again.
    schedule_step: Mapped[int] = mapped_column(Integer, default=0)
    # When a pending delivery is tried next; while a dispatcher sends it, when another may take it over.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # One delivery per endpoint and event: a redelivered event sends nothing twice.
        Index("uq_webhook_deliveries_webhook_event", "webhook_id", "event_id", unique=True),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at", "id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )


class WebhookAttempt(Base):
    """The log of every attempt: what was sent when, and what the receiver answered."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhook_deliveries.id"))
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(1000))
    response_excerpt: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (
        Index("ix_webhook_attempts_delivery_number", "delivery_id", "number", unique=True),
    )


# --- Outgoing messages: preferences, deliveries by SMS and email, their attempts ---------------------------------


class Preference(Entity, Base):
    """What one recipient chose: channels on or off, language, time zone, quiet hours, the daily digest."""

    __tablename__ = "preferences"

    recipient: Mapped[str] = mapped_column(String(200), unique=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(16), default=outgoing.DEFAULT_LOCALE)
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE)
    # Local wall times, HH:MM; both or neither. May cross midnight (22:00 to 07:00).
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_time: Mapped[str] = mapped_column(String(5), default="20:00")


class Delivery(Entity, Base):
    """One message to one recipient's address on one channel (sms or email), from the event that caused it.

    Its words are rendered once, in the recipient's locale, when it is planned: what was sent is what is logged.
    """

    __tablename__ = "deliveries"

    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    # Never shown unmasked by the API nor put in events.
    address: Mapped[str] = mapped_column(String(320))
    source_event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(16), default=outgoing.DEFAULT_LOCALE)
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default=outgoing.PENDING)
    # When the sender may take it: the next attempt, the end of quiet hours, the digest time. While a sender
    # holds it, when another may take it over (a lease).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where in the provider chain it is, and how often that provider was tried.
    provider_index: Mapped[int] = mapped_column(Integer, default=0)
    provider_tries: Mapped[int] = mapped_column(Integer, default=0)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # The provider of the last attempt, and why the delivery failed (or its last attempt did).
    provider: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(1000))
    segments: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # For a message told in a daily digest: the digest's own delivery.
    digest_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    __table_args__ = (
        # At most once per (event, recipient, channel): a redelivered or replayed event sends nothing twice.
        Index("uq_deliveries_event_recipient_channel", "source_event_id", "recipient", "channel", unique=True),
        Index("ix_deliveries_district_created", "district_id", "created_at", "id"),
        Index("ix_deliveries_recipient_created", "recipient", "created_at", "id"),
        Index("ix_deliveries_due", "state", "not_before"),
    )

    @property
    def masked_address(self) -> str:
        """The address as the API shows it: recognisable, not usable."""
        return mask_phone(self.address) if self.channel == "sms" else mask_email(self.address)


class DeliveryAttempt(Base):
    """Every attempt of a delivery: which provider, what came of it, and when."""

    __tablename__ = "delivery_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("deliveries.id"))
    number: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(200))
    # ok | retryable | permanent
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(1000))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_delivery_attempts_delivery_number", "delivery_id", "number", unique=True),
    )


# --- Who is told: read models of other services' entities, and the districts' rules and templates ---------------

class Contact(Base):
    """How to reach a member, a unit or a ticket's reporter, from registry's and tickets' private events.

    Keyed by recipient (`member:<id>`, `organization:<id>`, `reporter:<ticket id>`); `version` is the entity's,
    so an older contact event never overwrites a newer one.
    """

    __tablename__ = "contacts"

    recipient: Mapped[str] = mapped_column(String(200), primary_key=True)
    district_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # For a unit: whom to ask for there.
    person: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    version: Mapped[int] = mapped_column(Integer)


class TicketView(ReadModel, Base):
    """A ticket as notify needs it to tell of its comments: where it is and who works on it."""

    __tablename__ = "ticket_views"

    compound_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    community_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    title: Mapped[str] = mapped_column(String(500))
    # JSON list of recipients: the units with open parts, the member who claimed a wish.
    assignees: Mapped[str] = mapped_column(Text, default="[]")


class CommitteeView(ReadModel, Base):
    """registry's committees (大党委): the community each serves, its convenor and its current units."""

    __tablename__ = "committee_views"

    community_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(String(200))
    convenor_member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    convenor_name: Mapped[str | None] = mapped_column(String(200))
    # JSON list of the current units' organization ids.
    units: Mapped[str] = mapped_column(Text, default="[]")


class Chair(Base):
    """The unit chairing each committee now, from rotation's term events (the highest term and part seen)."""

    __tablename__ = "chairs"

    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    district_id: Mapped[str] = mapped_column(String(64), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    organization_name: Mapped[str | None] = mapped_column(String(200))
    term_index: Mapped[int] = mapped_column(Integer)
    term_part: Mapped[int] = mapped_column(Integer)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RuleOverride(Entity, Base):
    """A district's own rule for an event type: its recipient roles and their channels (JSON)."""

    __tablename__ = "rule_overrides"

    event_type: Mapped[str] = mapped_column(String(200))
    recipients: Mapped[str] = mapped_column(Text, default="[]")

    __table_args__ = (Index("uq_rule_overrides_district_event", "district_id", "event_type", unique=True),)


class TemplateOverride(Entity, Base):
    """A district's own wording of an event type on a channel in a locale (Jinja2, checked when saved)."""

    __tablename__ = "template_overrides"

    event_type: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("uq_template_overrides_key", "district_id", "event_type", "channel", "locale",
                            unique=True),)
