"""Lists a session keeps for its transaction's commit (the outbox's events, tickets' tally changes): a savepoint
rolled back drops what was added since it began, the whole transaction rolled back drops everything, and a
`before_commit` listener takes what is left."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_LISTS = "transaction_lists"
_MARKS = "transaction_list_marks"


def append(session: Session, key: str, item: Any) -> None:
    session.info.setdefault(_LISTS, {}).setdefault(key, []).append(item)


def items(session: Session, key: str) -> list[Any]:
    """What the transaction kept under `key` so far (a list to read, not to change)."""
    return session.info.get(_LISTS, {}).get(key, [])


def take(session: Session, key: str) -> list[Any]:
    """What the transaction kept under `key`, no longer kept: for the commit to write."""
    return session.info.get(_LISTS, {}).pop(key, [])


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint remembers how long each list was when it began, so rolling it back drops only its own.
    if transaction.nested:
        lengths = {key: len(kept) for key, kept in session.info.get(_LISTS, {}).items()}
        session.info.setdefault(_MARKS, {})[transaction] = lengths


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested:
        lengths = session.info.get(_MARKS, {}).pop(previous_transaction, None)
        if lengths is None:
            return
        for key, kept in session.info.get(_LISTS, {}).items():
            del kept[lengths.get(key, 0):]
    elif previous_transaction.parent is None:
        # The whole transaction is gone, and everything it kept with it.
        session.info.pop(_LISTS, None)
        session.info.pop(_MARKS, None)


@event.listens_for(Session, "after_transaction_end")
def _unmark(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint's mark outlives its end (its soft rollback is told after it), until the transaction's end.
    if transaction.parent is None:
        session.info.pop(_MARKS, None)
