"""The webhook dispatcher: a loop of the notify worker that sends due deliveries, many at once.

Each due delivery is claimed in a short transaction, sent from a thread pool with the attempt bounded by
`WebhookSettings.timeout_seconds`, and its outcome recorded in another transaction; no transaction is open
while a receiver is being waited for. At most `per_endpoint` sends to one endpoint are in flight, so a slow
or dead endpoint holds that many threads and the others' deliveries go on (as long as fewer than
threads / per_endpoint endpoints hang at once). Several worker replicas may run it: claims skip rows another
holds, and a claim is a lease, so a delivery whose sender died is taken over when the lease ends.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from linli.services.notify import sending, usecases, webhooks
from linli.services.notify.pool import LanePool
from linli.shared.db import transaction, utcnow
from linli.shared.errors import ValidationFailed
from linli.shared.events import CONTENT_TYPE
from linli.shared.logs import get_logger
from linli.shared.service import Runtime

log = get_logger(__name__)

Post = Callable[[webhooks.Target, dict[str, str], bytes, float], sending.Answer]

# Past the attempt's own deadline, how long a claim still waits before another dispatcher may take it over.
LEASE_MARGIN = timedelta(seconds=30)


class Dispatcher(LanePool[usecases.Job]):
    name = "webhook"

    def __init__(self, factory: sessionmaker[Session], settings: sending.WebhookSettings, *,
                 now: Callable[[], datetime] = utcnow, resolve: webhooks.Resolve | None = None,
                 post: Post | None = None) -> None:
        super().__init__(settings.threads, settings.poll_seconds)
        self.factory = factory
        self.settings = settings
        self.now = now
        # Looked up at call time, so tests can stand in for the network.
        self._resolve = resolve
        self._post = post

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.timeout_seconds) + LEASE_MARGIN

    def run(self, stop: threading.Event) -> None:
        log.info("webhook_dispatcher_started", threads=self.settings.threads,
                 per_endpoint=self.settings.per_endpoint, timeout=self.settings.timeout_seconds)
        super().run(stop)

    def claim(self, free: int, busy: dict[Hashable, int]) -> Sequence[usecases.Job]:
        with transaction(self.factory) as session:
            return usecases.claim_due_deliveries(session, self.now(), limit=free,
                                                 per_endpoint=self.settings.per_endpoint, in_flight=busy,
                                                 lease=self.lease)

    def lane(self, job: usecases.Job) -> Hashable:
        return job.webhook_id

    def send(self, job: usecases.Job) -> None:
        """One attempt of one delivery, recorded; never raises."""
        try:
            result = self.attempt(job)
            with transaction(self.factory) as session:
                usecases.record_attempt(session, job.delivery_id, result, self.now(),
                                        scale=self.settings.delay_scale)
        except Exception:  # noqa: BLE001 - the claim's lease ends and the delivery is tried again
            log.exception("webhook_attempt_not_recorded", delivery_id=str(job.delivery_id))

    def attempt(self, job: usecases.Job) -> usecases.AttemptResult:
        attempted_at = self.now()
        started = time.monotonic()

        def result(status: int | None, error: str | None, answer: sending.Answer | None = None
                   ) -> usecases.AttemptResult:
            return usecases.AttemptResult(attempted_at, int((time.monotonic() - started) * 1000), status, error,
                                          answer.retry_after if answer else None, answer.excerpt if answer else None)

        try:
            # Judged again now: the name may point elsewhere than when the endpoint was registered.
            target = webhooks.check_url(job.url, self._resolve or sending.resolve,
                                        allow_private=self.settings.allow_private)
        except ValidationFailed as exc:
            return result(None, f"refused: {exc.detail}")
        timestamp = int(time.time())
        headers = {
            "Content-Type": CONTENT_TYPE,
            "webhook-id": str(job.event_id),
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhooks.signature_header(job.secrets, str(job.event_id), timestamp, job.body),
        }
        try:
            answer = (self._post or sending.post)(target, headers, job.body, self.settings.timeout_seconds)
        except (OSError, http.client.HTTPException) as exc:
            return result(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        error = None if webhooks.succeeded(answer.status) else f"HTTP {answer.status}"
        return result(answer.status, error, answer)


def dispatcher(rt: Runtime) -> Callable[[threading.Event], None]:
    """The loop the notify worker runs (`ServiceSpec.loops`), configured from the environment."""
    return Dispatcher(rt.factory, sending.WebhookSettings.from_env()).run
