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
from linli.shared.orm import Entity
from linli.shared.phones import mask_phone


class Base(DeclarativeBase):
    metadata = new_metadata()


class Notification(Entity, Base):
    """One message to one recipient on one channel; its words are rendered from `template` when read."""

    __tablename__ = "notifications"

    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20), default=INBOX)
    template: Mapped[str] = mapped_column(String(100))
    # JSON text rather than a JSON column: stored and compared the same way on SQLite and PostgreSQL.
    params: Mapped[str] = mapped_column(Text, default="{}")
    locale: Mapped[str] = mapped_column(String(16), default=DEFAULT_LOCALE)
    state: Mapped[str] = mapped_column(String(20), default=UNREAD)
    # The event that caused it: a second copy of that event can never notify twice.
    source_event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notifications_district_created", "district_id", "created_at", "id"),
        # An inbox is listed newest first by the keyset (created_at, id); this also serves plain recipient lookups.
        Index("ix_notifications_recipient_created", "recipient", "created_at", "id"),
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
        return mask_phone(self.address) if self.channel == "sms" else outgoing.mask_email(self.address)


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
