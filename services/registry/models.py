"""registry's tables."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, ForeignKey, Index, String, Table, Uuid, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.shared.db import new_metadata
from linli.shared.orm import Entity


class Base(DeclarativeBase):
    metadata = new_metadata()


class Area(Entity, Base):
    __tablename__ = "areas"

    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("areas.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(20))
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Compound details. The property company and owners' committee are organizations, named by id.
    management_mode: Mapped[str | None] = mapped_column(String(20))
    households: Mapped[int | None] = mapped_column()
    residents: Mapped[int | None] = mapped_column()
    year_built: Mapped[int | None] = mapped_column()
    property_company_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    owners_committee_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Building details.
    units: Mapped[int | None] = mapped_column()
    floors: Mapped[int | None] = mapped_column()

    __table_args__ = (
        Index("ix_areas_district_created", "district_id", "created_at", "id"),
        # Siblings have distinct names; districts (no parent) too, which a plain unique index on
        # (parent_id, name) would not enforce, NULLs being distinct.
        Index("uq_areas_parent_id_name", "parent_id", "name", unique=True),
        Index("uq_areas_district_name", "name", unique=True, sqlite_where=text("parent_id IS NULL"),
              postgresql_where=text("parent_id IS NULL")),
    )


class Committee(Entity, Base):
    """A community's big party committee (大党委)."""

    __tablename__ = "committees"

    community_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("areas.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")

    __table_args__ = (Index("ix_committees_district_created", "district_id", "created_at", "id"),)


# Which compounds and buildings each grid (an area of level `grid`) covers; replaced as a whole.
grid_coverage = Table(
    "grid_coverage",
    Base.metadata,
    Column("grid_id", Uuid, ForeignKey("areas.id"), primary_key=True),
    Column("area_id", Uuid, ForeignKey("areas.id"), primary_key=True, index=True),
    Column("district_id", String(64), nullable=False),
)
