from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from linli.shared.db import transaction, utcnow
from linli.shared.housekeeping import Retention, prune
from linli.shared.tables import idempotency_keys, inbox, outbox


def test_prune_removes_only_what_is_past_retention(make_service):
    sut = make_service("registry")
    now = utcnow()
    old, fresh = now - timedelta(days=30), now - timedelta(seconds=5)
    with transaction(sut.rt.factory) as s:
        for sent_at in (old, fresh, None):
            s.execute(outbox.insert().values(event_id=uuid.uuid4(), routing_key="registry.area.created",
                                             aggregate_id="a", body=b"{}", created_at=old, sent_at=sent_at))
        for applied_at in (old, fresh):
            s.execute(inbox.insert().values(consumer="c", event_id=uuid.uuid4(), event_type="x",
                                            applied_at=applied_at))
        for key, created_at in (("old", old), ("new", fresh)):
            s.execute(idempotency_keys.insert().values(client="c", key=key, fingerprint="f", status=201,
                                                       headers="{}", body=b"", created_at=created_at))
    with transaction(sut.rt.factory) as s:
        assert prune(s, Retention()) == {"outbox": 1, "inbox": 1, "idempotency_keys": 1}
    with sut.rt.factory() as s:
        # The unsent event stays whatever its age: it has not reached the broker yet.
        assert s.scalar(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))) == 1
        assert s.scalar(select(func.count()).select_from(outbox)) == 2
        assert s.scalar(select(func.count()).select_from(inbox)) == 1
        assert s.scalars(select(idempotency_keys.c.key)).all() == ["new"]
