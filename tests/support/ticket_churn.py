"""Tickets pushed about at random through tickets' use cases and clock, in the stats world's areas
(tests/support/stats_world.py): every verb, merges, re-routing, failed reviews, dissatisfied residents, deadlines
passing. For checking that what the moves keep (the rates' daily tallies) is what the tickets say."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linli.services.tickets import domain, tallies, usecases
from linli.services.tickets.clock import TIMERS
from linli.services.tickets.models import Ticket
from linli.services.tickets.usecases import Assignment
from linli.shared.clock import Clock
from linli.shared.errors import DomainError
from tests.support.stats_world import AS_OF, CLERK, HOUR

COMPOUNDS = ("a", "b", "c")
_ENDING = ("close", "reject", "merge")


def verbs(world: dict[str, Any], rng: random.Random, made: list[uuid.UUID]) -> dict[str, Callable[[], dict]]:
    """Each verb with arguments drawn for it."""
    police, school = world["police"], world["school"]
    return {
        "accept": dict,
        "reject": lambda: {"reason": "不属于本小区"},
        "start": dict,
        "escalate": dict,
        "list": dict,
        "dispatch": lambda: {"units": [Assignment(rng.choice((police, school)), lead=True)]},
        "claim": lambda: {"unit_id": school},
        "resolve": dict,
        "reroute": lambda: {"category": rng.choice(("general", "environment")),
                            "units": [Assignment(rng.choice((police, school)), lead=True)]},
        "review": lambda: {"passed": rng.random() < 0.7},
        "rate": lambda: {"rating": rng.choice(("satisfied", "basically_satisfied", "dissatisfied"))},
        "close": lambda: {"reason": rng.choice(("not_responsible", "no_further_action", "referred"))},
        "merge": lambda: {"master_id": rng.choice(made)},
    }


def churn(factory: Any, world: dict[str, Any], *, seed: int, tickets: int = 24, steps: int = 240) -> int:
    """Submit `tickets` over some days from AS_OF on and make `steps` random moves among them, the clock ticking
    as time goes by; returns how many moves were made (the others were refused, as they would be)."""
    rng = random.Random(seed)
    made: list[uuid.UUID] = []
    drawn = verbs(world, rng, made)
    now = AS_OF
    moved = 0
    for step in range(tickets + steps):
        now += rng.uniform(0.2, 9) * HOUR
        Clock("tickets", factory, TIMERS, now=lambda now=now: now).tick()
        with factory() as session:
            try:
                if step < tickets or rng.random() < 0.1:
                    made.append(usecases.submit_ticket(
                        session, CLERK, compound_id=world[rng.choice(COMPOUNDS)], title=f"churn {step}",
                        description="楼道灯坏了", category="facilities", reporter_name="王阿姨",
                        reporter_phone="13812345678", urgency=rng.choice(("normal", "normal", "urgent")), now=now).id)
                else:
                    ticket_id = rng.choice(made)
                    # Mostly a move the ticket's state allows, sometimes any (refused, and rolled back).
                    allowed = domain.allowed_verbs(usecases._value(session.get(Ticket, ticket_id)))
                    pool = allowed if allowed and rng.random() < 0.9 else tuple(drawn)
                    # Ending moves less often, or most tickets would end early.
                    verb = rng.choices(pool, weights=[0.15 if v in _ENDING else 1 for v in pool])[0]
                    action = usecases.list_for_meeting if verb == "list" else getattr(usecases, verb)
                    action(session, CLERK, ticket_id, now, **drawn[verb]())
                    moved += 1
                session.commit()
            except DomainError:
                session.rollback()
    # Masters closed close their open duplicates with them: a move of tickets other than the one asked.
    with factory() as session:
        masters = set(session.scalars(select(Ticket.master_id).where(Ticket.master_id.is_not(None),
                                                                     Ticket.state.in_(domain.OPEN_STATES))))
    for master_id in sorted(masters, key=str):
        now += HOUR
        with factory() as session:
            try:
                usecases.close(session, CLERK, master_id, now, reason="no_further_action")
                session.commit()
                moved += 1
            except DomainError:
                session.rollback()
    Clock("tickets", factory, TIMERS, now=lambda: now + timedelta(days=30)).tick()
    return moved


def kept_tallies(session: Session) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """The tallies as the moves kept them, by community and by unit, each row's key led by its table's name; zero
    rows left out (a row whose tickets all moved away)."""
    found = {}
    for ledger in tallies.LEDGERS:
        table = ledger.table
        for row in session.execute(select(table)):
            if any(tuple(row)[4:]):
                found[(table.name, *tuple(row)[:4])] = tuple(row)[4:]
    return found


def rebuilt_tallies(session: Session) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """The tallies counted again from the tickets (in a savepoint rolled back, so what was kept stays)."""
    with session.begin_nested() as savepoint:
        tallies.rebuild(session)
        found = kept_tallies(session)
        savepoint.rollback()
    return found
