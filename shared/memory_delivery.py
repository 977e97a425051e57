"""What the in-memory bus needs so that stopping the embedded mode loses no event.

kombu's `memory://` queues live in the process: when it stops (SIGTERM, kill -9, a crash),
whatever the relays had published and the consumers had not yet applied is gone — the
messages waiting in queues, the retries waiting in timers, the dead letters. The relay
still marks a row sent once the transport took it, exactly as in the distributed mode;
this module is all the memory mode adds on top:

- a per-database watermark (`outbox_drained.up_to_seq`): every outbox row up to it was
  sent *and* applied by every consumer that handles its routing key (their inbox rows say
  so). It is computed from the databases alone, so it holds whatever the transport lost;
- at start, rows sent after the watermark are marked unsent again, so the unchanged relay
  publishes them once more; the consumers' inbox makes the repeats no-ops;
- while running, the watermark moves on every few seconds (so a kill -9 repeats little),
  and at a clean stop, after the consumers drained, up to everything applied;
- a sent row after the watermark is never pruned (`Relay.cleanup`).

An event that failed for good stops the watermark before it, so the in-memory dead letters
are tried again after a restart instead of vanishing.

The watermark relies on outbox sequence numbers committing in order, which SQLite (the
embedded mode's database) guarantees: it has one writer at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from linli.shared.db import transaction, utcnow
from linli.shared.logs import get_logger
from linli.shared.tables import inbox, outbox, outbox_drained

if TYPE_CHECKING:
    from linli.shared.service import Runtime

log = get_logger(__name__)

BUS = "memory"
_BATCH = 500


def drained_up_to(session: Session) -> int:
    """The recorded watermark: every outbox row up to this seq was applied everywhere (0: none known)."""
    mark = session.execute(select(outbox_drained.c.up_to_seq).where(outbox_drained.c.bus == BUS)).scalar()
    return int(mark or 0)


def record_drained(factory: sessionmaker[Session], seq: int) -> None:
    with transaction(factory) as session:
        found = session.execute(
            update(outbox_drained).where(outbox_drained.c.bus == BUS)
            .values(up_to_seq=seq, recorded_at=utcnow())
        ).rowcount
        if not found:
            session.execute(outbox_drained.insert().values(bus=BUS, up_to_seq=seq, recorded_at=utcnow()))


def republish_undrained(factory: sessionmaker[Session]) -> int:
    """Mark unsent every row sent after the watermark, for the relay to publish again; returns how many."""
    with transaction(factory) as session:
        mark = drained_up_to(session)
        return session.execute(
            update(outbox).where(outbox.c.seq > mark, outbox.c.sent_at.is_not(None)).values(sent_at=None)
        ).rowcount or 0


class MemoryDelivery:
    """The drain watermarks of a set of services sharing one in-memory bus."""

    def __init__(self, runtimes: Sequence[Runtime]) -> None:
        self.runtimes = list(runtimes)
        self.consumers = [rt for rt in self.runtimes if any(s.handlers for s in rt.spec.subscriptions)]

    def republish_undrained(self) -> dict[str, int]:
        counts = {rt.name: republish_undrained(rt.factory) for rt in self.runtimes}
        if any(counts.values()):
            log.info("memory_bus_republishing", **counts)
        return counts

    def settled_up_to(self, producer: Runtime) -> int:
        """The highest seq such that every row up to it was sent and applied by each consumer handling it."""
        with producer.factory() as session:
            mark = drained_up_to(session)
        while True:
            # Read and let go before asking the consumers: a service consuming its own events (notify's
            # webhooks) reads the same SQLite file, whose every transaction takes the write lock.
            with producer.factory() as session:
                rows = session.execute(
                    select(outbox.c.seq, outbox.c.event_id, outbox.c.routing_key, outbox.c.sent_at)
                    .where(outbox.c.seq > mark).order_by(outbox.c.seq).limit(_BATCH)
                ).all()
            if not rows:
                return mark
            blocked = self._first_unsettled(rows)
            if blocked is not None:
                return blocked - 1
            mark = rows[-1].seq

    def _first_unsettled(self, rows: Sequence[Row[Any]]) -> int | None:
        first = next((row.seq for row in rows if row.sent_at is None), None)
        for consumer in self.consumers:
            for subscription in consumer.spec.subscriptions:
                wanted = {row.event_id: row.seq for row in rows if subscription.handlers_for(row.routing_key)}
                if not wanted:
                    continue
                with consumer.factory() as session:
                    applied = set(session.execute(select(inbox.c.event_id).where(
                        inbox.c.consumer == subscription.name, inbox.c.event_id.in_(list(wanted)))).scalars())
                missing = [seq for event_id, seq in wanted.items() if event_id not in applied]
                if missing:
                    first = min(missing) if first is None else min(first, *missing)
        return first

    def unsettled(self) -> dict[str, int]:
        """Per service, how many sent rows are not known to be applied yet."""
        result = {}
        for rt in self.runtimes:
            mark = self.settled_up_to(rt)
            with rt.factory() as session:
                result[rt.name] = session.execute(select(func.count()).select_from(outbox).where(
                    outbox.c.seq > mark, outbox.c.sent_at.is_not(None))).scalar_one()
        return result

    def checkpoint(self) -> dict[str, int]:
        """Record, per database, how far everything sent is applied; returns the new watermarks."""
        marks = {}
        for rt in self.runtimes:
            with rt.factory() as session:
                recorded = drained_up_to(session)
            mark = self.settled_up_to(rt)
            if mark > recorded:
                record_drained(rt.factory, mark)
            marks[rt.name] = mark
        return marks

    def run_checkpoints(self, stop: threading.Event, every: float = 2.0) -> None:
        while not stop.wait(every):
            try:
                self.checkpoint()
            except Exception:  # noqa: BLE001 - a missed checkpoint only means more to repeat after a crash
                log.exception("memory_bus_checkpoint_failed")

    def drain(self, timeout: float) -> bool:
        """After the relays stopped: wait (until `timeout`) for the consumers to apply all that was sent."""
        deadline = time.monotonic() + timeout
        while True:
            left = {name: count for name, count in self.unsettled().items() if count}
            if not left:
                return True
            if time.monotonic() >= deadline:
                log.warning("memory_bus_not_drained", unapplied=left,
                            consequence="sent again at the next start")
                return False
            time.sleep(0.05)
