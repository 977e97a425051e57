"""notify's tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.services.notify.domain import INBOX, UNREAD
from linli.services.notify.templates import DEFAULT_LOCALE
from linli.shared.db import UTCDateTime, new_metadata
from linli.shared.orm import Entity


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
