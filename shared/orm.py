"""Columns every entity of the suite carries: id, district_id, created_at, updated_at, version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, Uuid
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from linli.shared.db import UTCDateTime, new_id, utcnow


class Entity:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    district_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Bumped by the mapper at every flush that changes the row, whose UPDATE also checks the version it
    # read (`WHERE version = :read`): two writers of one version cannot both win, on any database. Sent as
    # the ETag and in events, so read models can drop stale ones.
    version: Mapped[int] = mapped_column(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - a class-level directive
        return {"version_id_col": cls.version}


class ReadModel:
    """A local copy of another service's entity, kept current from its events."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    district_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column()
