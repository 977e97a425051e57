"""Pruning of the delivery tables, so they stay small however long a service runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from linli.shared.db import utcnow
from linli.shared.tables import idempotency_keys, inbox, outbox


@dataclass(frozen=True)
class Retention:
    sent_events: timedelta = timedelta(hours=1)
    # Longer than any redelivery (retries, a DLQ replay days later) may plausibly arrive.
    applied_events: timedelta = timedelta(days=14)
    # Clients retry a POST within minutes; a day is generous.
    idempotency_keys: timedelta = timedelta(hours=24)


def prune(session: Session, retention: Retention = Retention(), *, keep_after_seq: int | None = None) -> dict[str, int]:
    """Delete what is past its retention; sent outbox rows after `keep_after_seq`, if given, are kept."""
    now = utcnow()
    sent = [outbox.c.sent_at.is_not(None), outbox.c.sent_at < now - retention.sent_events]
    if keep_after_seq is not None:
        sent.append(outbox.c.seq <= keep_after_seq)
    removed = {
        "outbox": session.execute(delete(outbox).where(*sent)).rowcount,
        "inbox": session.execute(delete(inbox).where(
            inbox.c.applied_at < now - retention.applied_events)).rowcount,
        "idempotency_keys": session.execute(delete(idempotency_keys).where(
            idempotency_keys.c.created_at < now - retention.idempotency_keys)).rowcount,
    }
    return {table: count or 0 for table, count in removed.items()}
