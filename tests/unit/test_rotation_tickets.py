"""rotation's read model of tickets' tickets: fed by tickets' events, stale versions dropped, moments kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from linli.services.rotation import handlers, usecases
from linli.services.rotation.models import Base, RotationTicket, TicketMoment
from linli.shared.subscriptions import Event
from tests.support.ticket_events import moved_ticket

DISTRICT = str(uuid.uuid4())
COMMUNITY, OTHER_COMMUNITY = str(uuid.uuid4()), str(uuid.uuid4())
COMPOUND = str(uuid.uuid4())


@pytest.fixture
def factory(make_store):
    return make_store(Base.metadata)


def feed(factory, verb, state, ticket_id, version, at, community=COMMUNITY, **fields):
    data = moved_ticket(verb, state, ticket_id=ticket_id, district_id=DISTRICT, compound_id=COMPOUND,
                        community_id=community, version=version, at=at, **fields)
    event = Event(id=uuid.uuid4(), key=f"tickets.ticket.{verb}", subject=ticket_id, district=DISTRICT, data=data,
                  time=at, traceparent=None, raw={})
    with factory() as session:
        handlers.on_ticket(session, event)
        session.commit()


def row(factory, ticket_id) -> RotationTicket:
    with factory() as session:
        return session.get_one(RotationTicket, uuid.UUID(ticket_id))


def test_a_ticket_follows_its_events_and_keeps_its_first_instants(factory):
    ticket = str(uuid.uuid4())
    feed(factory, "submitted", "submitted", ticket, 1, "2025-03-01T02:00:00+00:00")
    assert row(factory, ticket).community_id is None  # submitted does not name the community
    feed(factory, "escalated", "escalated", ticket, 3, "2025-03-02T02:00:00+00:00")
    feed(factory, "listed", "listed", ticket, 4, "2025-03-03T02:00:00+00:00")
    listed = row(factory, ticket)
    assert (listed.state, str(listed.community_id), listed.version) == ("listed", COMMUNITY, 4)
    assert listed.listed_at == datetime(2025, 3, 3, 2, tzinfo=UTC)
    feed(factory, "dispatched", "dispatched", ticket, 5, "2025-03-04T02:00:00+00:00")
    feed(factory, "overdue", "dispatched", ticket, 6, "2025-03-10T02:00:00+00:00")
    feed(factory, "overdue", "dispatched", ticket, 7, "2025-03-11T02:00:00+00:00")
    feed(factory, "closed", "closed", ticket, 9, "2025-03-12T02:00:00+00:00")
    closed = row(factory, ticket)
    assert closed.state == "closed" and closed.closed_at == datetime(2025, 3, 12, 2, tzinfo=UTC)
    assert closed.dispatched_at == datetime(2025, 3, 4, 2, tzinfo=UTC)
    assert closed.overdue_at == datetime(2025, 3, 10, 2, tzinfo=UTC)  # the first time, not the last
    feed(factory, "reopened", "dispatched", ticket, 10, "2025-03-13T02:00:00+00:00")
    assert row(factory, ticket).closed_at is None
    with factory() as session:
        kinds = [m.kind for m in session.scalars(select(TicketMoment).order_by(TicketMoment.at))]
    assert kinds == ["listed", "dispatched", "overdue", "overdue", "closed"]


def test_a_stale_event_leaves_the_row_but_adds_its_moment_and_first_instant(factory):
    ticket = str(uuid.uuid4())
    feed(factory, "dispatched", "dispatched", ticket, 5, "2025-03-04T02:00:00+00:00")
    feed(factory, "listed", "listed", ticket, 4, "2025-03-03T02:00:00+00:00")  # arrives late
    late = row(factory, ticket)
    assert (late.state, late.version) == ("dispatched", 5)
    assert late.listed_at == datetime(2025, 3, 3, 2, tzinfo=UTC)
    feed(factory, "dispatched", "dispatched", ticket, 5, "2025-03-04T02:00:00+00:00")  # a repeat
    with factory() as session:
        assert session.scalar(select(TicketMoment.id).where(TicketMoment.kind == "dispatched")) is not None
        assert len(session.scalars(select(TicketMoment)).all()) == 2


def test_listed_tickets_are_the_communitys_listed_ones_oldest_first(factory):
    first, second, taken, elsewhere = (str(uuid.uuid4()) for _ in range(4))
    feed(factory, "listed", "listed", second, 4, "2025-03-05T02:00:00+00:00")
    feed(factory, "listed", "listed", first, 4, "2025-03-03T02:00:00+00:00")
    feed(factory, "listed", "listed", taken, 4, "2025-03-01T02:00:00+00:00")
    feed(factory, "claimed", "dispatched", taken, 5, "2025-03-02T02:00:00+00:00")
    feed(factory, "listed", "listed", elsewhere, 4, "2025-03-01T02:00:00+00:00", community=OTHER_COMMUNITY)
    with factory() as session:
        found = usecases.listed_tickets(session, uuid.UUID(COMMUNITY))
    assert [str(t.id) for t in found] == [first, second]


def test_moments_told_before_the_community_was_known_count_for_it_once_it_is(factory):
    ticket = str(uuid.uuid4())
    feed(factory, "listed", "listed", ticket, 4, "2025-03-03T02:00:00+00:00", community=None)
    feed(factory, "dispatched", "dispatched", ticket, 5, "2025-03-04T02:00:00+00:00")
    with factory() as session:
        communities = {str(m.community_id) for m in session.scalars(select(TicketMoment))}
    assert communities == {COMMUNITY}
