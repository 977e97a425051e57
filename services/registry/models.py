"""registry's tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, Uuid, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from linli.shared.db import UTCDateTime, new_metadata
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
    # The community party secretary who convenes it; the member id once members are registered.
    convenor_name: Mapped[str | None] = mapped_column(String(100))
    convenor_member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Current units: kept on the row so a join or a leave changes the committee, bumping its version,
    # which orders every committee event for the read models built from them.
    unit_count: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (Index("ix_committees_district_created", "district_id", "created_at", "id"),)


# Which compounds and buildings each grid (an area of level `grid`) covers; replaced as a whole.
grid_coverage = Table(
    "grid_coverage",
    Base.metadata,
    Column("grid_id", Uuid, ForeignKey("areas.id"), primary_key=True),
    Column("area_id", Uuid, ForeignKey("areas.id"), primary_key=True, index=True),
    Column("district_id", String(64), nullable=False),
)


# --- Organizations, their resources, pairings and committee units ------------------------------------

class Organization(Entity, Base):
    """A government agency, school, company, ... that can join committees and pair with compounds (单位)."""

    __tablename__ = "organizations"

    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    contact_person: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # A party branch's compound, or its community for a community-level branch (no FK: added to a filled table).
    area_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    __table_args__ = (
        Index("ix_organizations_district_created", "district_id", "created_at", "id"),
        Index("ix_organizations_district_kind", "district_id", "kind"),
        # The branches serving a set of compounds and communities, for check-ins and coverage.
        Index("ix_organizations_area_kind", "area_id", "kind"),
    )


class Resource(Entity, Base):
    """What an organization offers residents (资源清单): staff, a venue, funds, vehicles or skills."""

    __tablename__ = "resources"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(20), default="available")
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_resources_organization_created", "organization_id", "created_at", "id"),
        # Matching a ticket's category to the units that offer it.
        Index("ix_resources_district_category", "district_id", "category", "state"),
    )


class Pairing(Entity, Base):
    """An organization responsible for a compound over a period (一对一结对包建); days are inclusive."""

    __tablename__ = "pairings"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    compound_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("areas.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="active")
    reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_pairings_district_created", "district_id", "created_at", "id"),
        Index("ix_pairings_organization_created", "organization_id", "created_at", "id"),
        Index("ix_pairings_compound_created", "compound_id", "created_at", "id"),
    )


class CommitteeUnit(Entity, Base):
    """One stint of an organization in a committee: joined, and perhaps left; a rejoin is a new row."""

    __tablename__ = "committee_units"

    committee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("committees.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    joined_on: Mapped[date] = mapped_column(Date)
    # The part-time member (兼职委员) the organization sends.
    member_name: Mapped[str] = mapped_column(String(100))
    member_phone: Mapped[str | None] = mapped_column(String(20))
    left_on: Mapped[date | None] = mapped_column(Date)
    left_reason: Mapped[str | None] = mapped_column(String(500))

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        Index("ix_committee_units_committee_created", "committee_id", "created_at", "id"),
        # One current stint per organization and committee, against racing writers too.
        Index("uq_committee_units_current", "committee_id", "organization_id", unique=True,
              sqlite_where=text("left_on IS NULL"), postgresql_where=text("left_on IS NULL")),
    )


# --- Party members ----------------------------------------------------------------------------------------

# Names longer than this are few (compound surnames, minority and foreign names); a two-character
# fragment is found inside them through `ix_members_name_length` (see the members search in api.py).
SHORT_NAME = 3


class Member(Entity, Base):
    """A party member (党员) living in a compound of the district."""

    __tablename__ = "members"

    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    # Optional: notify's e-mail channel reaches only members who gave one.
    email: Mapped[str | None] = mapped_column(String(254))
    employer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("organizations.id"))
    compound_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("areas.id"))
    building_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("areas.id"))
    status: Mapped[str] = mapped_column(String(20))
    membership: Mapped[str] = mapped_column(String(20), default="active")
    left_on: Mapped[date | None] = mapped_column(Date)
    left_reason: Mapped[str | None] = mapped_column(String(500))

    # Skills and roles live in their own rows so a search by one uses an index; `skills` and `roles`
    # below are their codes, sorted.
    skill_rows: Mapped[list[MemberSkill]] = relationship(lazy="selectin", cascade="all, delete-orphan",
                                                         order_by="MemberSkill.skill")
    role_rows: Mapped[list[MemberRole]] = relationship(lazy="selectin", cascade="all, delete-orphan",
                                                       order_by="MemberRole.role")

    __table_args__ = (
        Index("ix_members_district_created", "district_id", "created_at", "id"),
        # One member per phone number within a district, against racing writers too.
        Index("uq_members_district_phone", "district_id", "phone", unique=True),
        Index("ix_members_compound_created", "compound_id", "created_at", "id"),
        Index("ix_members_building", "building_id"),
        Index("ix_members_employer", "employer_id"),
        # A name fragment (Chinese included) is found through trigrams on PostgreSQL; SQLite gets a plain index.
        Index("ix_members_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    @property
    def skills(self) -> list[str]:
        return sorted(row.skill for row in self.skill_rows)

    @skills.setter
    def skills(self, codes: list[str]) -> None:
        kept = {row.skill: row for row in self.skill_rows}
        self.skill_rows = [kept.get(code) or MemberSkill(skill=code) for code in sorted(set(codes))]

    @property
    def roles(self) -> list[str]:
        return sorted(row.role for row in self.role_rows)

    @roles.setter
    def roles(self, codes: list[str]) -> None:
        kept = {row.role: row for row in self.role_rows}
        self.role_rows = [kept.get(code) or MemberRole(role=code) for code in sorted(set(codes))]


# Finds the few long names of a district. ANALYZE keeps statistics of an indexed expression, so the
# planner also knows how few they are, which it cannot tell from a partial index's predicate.
Index("ix_members_name_length", Member.district_id, func.length(Member.name))


class MemberSkill(Base):
    __tablename__ = "member_skills"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(40), primary_key=True)

    __table_args__ = (Index("ix_member_skills_skill", "skill", "member_id"),)


class MemberRole(Base):
    __tablename__ = "member_roles"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)

    __table_args__ = (Index("ix_member_roles_role", "role", "member_id"),)


class Pledge(Entity, Base):
    """A public promise a member makes to the neighbourhood (承诺), open until fulfilled."""

    __tablename__ = "pledges"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="open")
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_pledges_member_created", "member_id", "created_at", "id"),)


class CheckIn(Entity, Base):
    """A member reporting to the branch of a compound they live in (报到); a move is a new check-in."""

    __tablename__ = "check_ins"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id"))
    compound_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("areas.id"))
    building_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("areas.id"))
    state: Mapped[str] = mapped_column(String(20), default="submitted")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The party branch serving the compound (or its community) when the member reported; none if it had none.
    branch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    __table_args__ = (
        Index("ix_check_ins_district_created", "district_id", "created_at", "id"),
        Index("ix_check_ins_branch_created", "branch_id", "created_at", "id"),
        Index("ix_check_ins_member_created", "member_id", "created_at", "id"),
        Index("ix_check_ins_compound_created", "compound_id", "created_at", "id"),
        # At most one check-in awaiting the branch and one in force per member, against racing writers too.
        Index("uq_check_ins_submitted", "member_id", unique=True, sqlite_where=text("state = 'submitted'"),
              postgresql_where=text("state = 'submitted'")),
        Index("uq_check_ins_confirmed", "member_id", unique=True, sqlite_where=text("state = 'confirmed'"),
              postgresql_where=text("state = 'confirmed'")),
    )


# --- Service given ----------------------------------------------------------------------------------------

class ServiceRecord(Entity, Base):
    """Hours of service a member gave (服务记录): logged by hand or credited by an activity or a ticket.

    Time is kept in whole minutes so a year's sums by category are exact; the API speaks hours.
    """

    __tablename__ = "service_records"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id"))
    # `activity` or `ticket` when credited automatically (source_id is the activity's or ticket's id),
    # `other` when logged by hand.
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    served_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column()
    category: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20), default="logged")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_service_records_district_created", "district_id", "created_at", "id"),
        Index("ix_service_records_member_served", "member_id", "served_on"),
        # An activity or ticket credits a member once, however often its event is delivered.
        Index("uq_service_records_source", "member_id", "source", "source_id", unique=True,
              sqlite_where=text("source_id IS NOT NULL"), postgresql_where=text("source_id IS NOT NULL")),
    )

    @property
    def hours(self) -> float:
        return self.minutes / 60


# --- Activities (活动) ---------------------------------------------------------------------------------------

class Activity(Entity, Base):
    """Something a unit hosts for a community's residents (a free clinic, a lecture, a clean-up, a festival)."""

    __tablename__ = "activities"

    host_organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    # Where it is held: the community itself or one of its compounds; `community_id` is the community either way.
    area_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("areas.id"))
    community_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("areas.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    category: Mapped[str] = mapped_column(String(40))
    place: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column()
    # Current sign-ups, kept on the row so a sign-up locks and changes the activity: racing sign-ups
    # take turns and none passes the capacity.
    sign_up_count: Mapped[int] = mapped_column(default=0, server_default="0")
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendee_count: Mapped[int] = mapped_column(default=0, server_default="0")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))

    host: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        Index("ix_activities_district_created", "district_id", "created_at", "id"),
        Index("ix_activities_community_created", "community_id", "created_at", "id"),
        Index("ix_activities_area_created", "area_id", "created_at", "id"),
        Index("ix_activities_host_created", "host_organization_id", "created_at", "id"),
    )


class ActivitySignUp(Entity, Base):
    """A member signed up for an activity; withdrawn, the row stays (cancelled) and a new sign-up revives it."""

    __tablename__ = "activity_sign_ups"

    activity_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("activities.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("members.id"))
    signed_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default="signed_up")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_activity_sign_ups_member", "activity_id", "member_id", unique=True),
        Index("ix_activity_sign_ups_activity_created", "activity_id", "created_at", "id"),
        Index("ix_activity_sign_ups_member", "member_id"),
    )


# Who attended an activity when it was held, with the minutes each served (credited as service records).
activity_attendees = Table(
    "activity_attendees",
    Base.metadata,
    Column("activity_id", Uuid, ForeignKey("activities.id"), primary_key=True),
    Column("member_id", Uuid, ForeignKey("members.id"), primary_key=True, index=True),
    Column("minutes", Integer, nullable=False),
    Column("district_id", String(64), nullable=False),
)
