"""rotation's tables."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, Index, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.services.rotation.domain import ACTIVE
from linli.shared.db import new_metadata
from linli.shared.orm import Entity, ReadModel


class Base(DeclarativeBase):
    metadata = new_metadata()


class Rotation(Entity, Base):
    """The rotating chair (轮值主席) of one committee: terms of `term_months` counted from `starts_on`."""

    __tablename__ = "rotations"

    # No foreign key to the committees read model: that table mirrors registry and may be
    # rebuilt from its events, while a rotation and its history are rotation's own.
    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    term_months: Mapped[int] = mapped_column()
    starts_on: Mapped[date] = mapped_column(Date)
    # Copied from the committee when the rotation is set up, so term boundaries do not
    # move under running terms if the committee's zone is edited later.
    time_zone: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)

    __table_args__ = (Index("ix_rotations_district_created", "district_id", "created_at", "id"),)


class Committee(ReadModel, Base):
    """registry's committees (大党委), kept current from its events."""

    __tablename__ = "committees"

    community_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
