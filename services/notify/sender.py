"""The SMS and email sender: a loop of the notify worker, built like the webhook dispatcher (`dispatch.py`).

Each round composes the daily digests that fell due, then claims due deliveries (pending ones, and held ones
whose quiet hours ended) in a short transaction, sends them from a thread pool with each attempt bounded by
`timeout_seconds`, and records each outcome in a transaction of its own; no transaction is open while a provider
is waited for. Retries are rescheduled attempts, never a sleep in the loop: a provider that failed is tried again
at the delivery's `not_before`, and meanwhile every other message goes on. At most `per_provider` sends to one
provider are in flight, so a slow or dead gateway ties up that many threads and never the rest; and once a
provider failed `breaker_threshold` times in a row its circuit opens, so its backlog goes to the next provider at
once rather than each message waiting out its timeouts. Several worker replicas may run it: claims skip rows
another holds, and a claim is a lease.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from linli.services.notify import outgoing, providers, usecases
from linli.services.notify.pool import LanePool
from linli.shared.db import transaction, utcnow
from linli.shared.logs import get_logger
from linli.shared.service import Runtime

log = get_logger(__name__)

LEASE_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class SenderSettings:
    """How SMS and email are sent; from LINLI_SMS_* / LINLI_SMTP_* / LINLI_DELIVERY_* environment variables."""

    sms: Sequence[providers.Provider] = field(default_factory=list)
    email: Sequence[providers.Provider] = field(default_factory=list)
    threads: int = 16
    per_provider: int = 4
    timeout_seconds: float = 10.0
    poll_seconds: float = 0.5
    retries: outgoing.Retries = outgoing.Retries()
    # Retryable failures in a row that open a provider's circuit, and for how long (see `outgoing.Breaker`).
    breaker_threshold: int = 5
    breaker_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.threads < 1 or self.per_provider < 1 or self.timeout_seconds <= 0 or self.poll_seconds <= 0:
            raise ValueError(f"delivery settings out of range: {self}")

    def chain(self, channel: str) -> Sequence[providers.Provider]:
        return self.sms if channel == "sms" else self.email

    @classmethod
    def from_env(cls) -> SenderSettings:
        scale = float(os.environ.get("LINLI_DELIVERY_DELAY_SCALE", "1"))
        base = outgoing.Retries()
        return cls(
            sms=providers.sms_chain(os.environ.get("LINLI_SMS_PROVIDERS")),
            email=providers.email_chain(providers.SmtpSettings.from_env(), os.environ.get("LINLI_EMAIL_PROVIDERS")),
            threads=int(os.environ.get("LINLI_DELIVERY_THREADS", "16")),
            per_provider=int(os.environ.get("LINLI_DELIVERY_PER_PROVIDER", "4")),
            timeout_seconds=float(os.environ.get("LINLI_DELIVERY_TIMEOUT_SECONDS", "10")),
            poll_seconds=float(os.environ.get("LINLI_DELIVERY_POLL_SECONDS", "0.5")),
            breaker_threshold=int(os.environ.get("LINLI_DELIVERY_BREAKER_THRESHOLD", "5")),
            breaker_seconds=float(os.environ.get("LINLI_DELIVERY_BREAKER_SECONDS", "30")),
            retries=outgoing.Retries(
                tries_per_provider=int(os.environ.get("LINLI_DELIVERY_TRIES_PER_PROVIDER", "3")),
                base_delay=base.base_delay * scale, max_delay=base.max_delay * scale,
                max_retry_after=base.max_retry_after),
        )


class Sender(LanePool[usecases.MessageJob]):
    name = "sender"

    def __init__(self, factory: sessionmaker[Session], settings: SenderSettings, *,
                 now: Callable[[], datetime] = utcnow) -> None:
        super().__init__(settings.threads, settings.poll_seconds)
        self.factory = factory
        self.settings = settings
        self.now = now
        self._breakers: dict[Hashable, outgoing.Breaker] = {}

    def _breaker(self, lane: Hashable) -> outgoing.Breaker:
        # Called under self._lock.
        if lane not in self._breakers:
            self._breakers[lane] = outgoing.Breaker(self.settings.breaker_threshold,
                                                    timedelta(seconds=self.settings.breaker_seconds))
        return self._breakers[lane]

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.timeout_seconds) + LEASE_MARGIN

    def run(self, stop: threading.Event) -> None:
        log.info("message_sender_started", sms=providers.names(self.settings.sms),
                 email=providers.names(self.settings.email), threads=self.settings.threads)
        super().run(stop)

    def round(self) -> int:
        """Compose due digests, claim what is due and hand it to the pool; returns how many sends started."""
        with transaction(self.factory) as session:
            usecases.compose_digests(session, self.now())
        return super().round()

    def claim(self, free: int, busy: dict[Hashable, int]) -> Sequence[usecases.MessageJob]:
        with transaction(self.factory) as session:
            return usecases.claim_due_messages(session, self.now(), limit=free,
                                               per_provider=self.settings.per_provider, in_flight=busy,
                                               lease=self.lease)

    def lane(self, job: usecases.MessageJob) -> Hashable:
        return job.lane

    def send(self, job: usecases.MessageJob) -> None:
        """One attempt of one delivery on the provider its place in the chain names, recorded; never raises."""
        try:
            chain = self.settings.chain(job.channel)
            attempted_at = self.now()
            if job.provider_index < len(chain):
                provider = chain[job.provider_index]
                name = provider.name
                with self._lock:
                    # The last provider is always tried: there is nobody to hand on to.
                    skip = job.provider_index + 1 < len(chain) and self._breaker(job.lane).is_open(attempted_at)
                if skip:
                    outcome, took = outgoing.Outcome(outgoing.RETRYABLE, "not tried: failing lately (circuit open)",
                                                     hand_on=True), 0
                else:
                    message = providers.Outgoing(job.delivery_id, job.address, job.subject, job.body,
                                                 job.segments)
                    outcome, took = providers.timed(provider, message, self.settings.timeout_seconds)
                    with self._lock:
                        self._breaker(job.lane).record(outcome.kind, self.now())
            else:
                # The chain got shorter since this delivery was handed on (a restart with fewer providers).
                outcome, took, name = outgoing.Outcome(outgoing.PERMANENT, "no such provider configured"), 0, "-"
            attempt = usecases.MessageAttempt(name, outcome, attempted_at, took)
            with transaction(self.factory) as session:
                usecases.record_message_attempt(session, job.delivery_id, attempt, self.now(),
                                                providers=len(chain), retries=self.settings.retries)
        except Exception:  # noqa: BLE001 - the claim's lease ends and the delivery is tried again
            log.exception("message_attempt_not_recorded", delivery_id=str(job.delivery_id))


def sender(rt: Runtime) -> Callable[[threading.Event], None]:
    """The loop the notify worker runs (`ServiceSpec.loops`), configured from the environment."""
    return Sender(rt.factory, SenderSettings.from_env()).run

