"""tickets' tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.shared.db import UTCDateTime, new_metadata
from linli.shared.orm import Entity, ReadModel


class Base(DeclarativeBase):
    metadata = new_metadata()


class Ticket(Entity, Base):
    """A resident's problem or need (诉求 / 工单)."""

    __tablename__ = "tickets"

    # Not indexed alone: ix_tickets_district_created leads with it, and every index costs each insert its upkeep.
    district_id: Mapped[str] = mapped_column(String(64))
    # No foreign key to `compounds`: that table is a copy of registry's data and may be rebuilt from events.
    compound_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40))
    reporter_name: Mapped[str] = mapped_column(String(100))
    reporter_phone: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (Index("ix_tickets_district_created", "district_id", "created_at", "id"),)


class Compound(ReadModel, Base):
    """registry's compounds (小区 / 院落), kept from its `area` events: tickets are raised against them."""

    __tablename__ = "compounds"

    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    kind: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (Index("ix_compounds_district_name", "district_id", "name", "id"),)
