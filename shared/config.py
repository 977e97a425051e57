"""Configuration from environment variables only, so one image serves every run mode."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _data_dir() -> Path:
    return Path(os.environ.get("LINLI_DATA_DIR", ".linli")).resolve()


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, else a SQLite file of the service in the data folder."""
    url = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if url:
        return url
    data = _data_dir()
    data.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data / f'{service}.db'}"


def jwt_secret() -> str:
    """The suite's signing key; the embedded mode keeps a generated one beside its data."""
    secret = os.environ.get("LINLI_JWT_SECRET")
    if secret:
        return secret
    path = _data_dir() / "jwt.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class BusSettings:
    url: str = "memory://"
    exchange: str = "linli.events"
    # Events carrying personal data; only the suite's own broker users may bind to it.
    private_exchange: str = "linli.private"
    dead_exchange: str = "linli.dead"
    # Prefixes queue names so test runs on one broker never see each other's messages.
    queue_prefix: str = ""
    max_attempts: int = 5
    retry_base_seconds: float = 0.5
    prefetch: int = 50
    # Both sides check it, so a broker (or peer) that stops answering without closing is noticed.
    heartbeat_seconds: int = 30
    # Bounds every wait on the broker: connect, confirms, channel operations, close.
    timeout_seconds: float = 10.0
    # "classic" on one machine; "quorum" for a RabbitMQ cluster.
    queue_type: str = "classic"
    # Quorum queues only: deliveries (crashes, lost connections) before the broker dead-letters a message.
    delivery_limit: int = 50
    # Events no queue was bound for; the oldest go first beyond this many.
    unrouted_max_length: int = 100_000

    def __post_init__(self) -> None:
        if self.queue_type not in ("classic", "quorum"):
            raise ValueError(f"LINLI_QUEUE_TYPE must be classic or quorum, not {self.queue_type!r}")

    @property
    def is_memory(self) -> bool:
        return self.url.startswith("memory://")

    def queue(self, name: str) -> str:
        return f"{self.queue_prefix}{name}"

    @classmethod
    def from_env(cls) -> BusSettings:
        return cls(
            url=os.environ.get("LINLI_BROKER_URL", "memory://"),
            exchange=os.environ.get("LINLI_EXCHANGE", "linli.events"),
            private_exchange=os.environ.get("LINLI_PRIVATE_EXCHANGE", "linli.private"),
            dead_exchange=os.environ.get("LINLI_DEAD_EXCHANGE", "linli.dead"),
            queue_prefix=os.environ.get("LINLI_QUEUE_PREFIX", ""),
            max_attempts=int(os.environ.get("LINLI_CONSUMER_MAX_ATTEMPTS", "5")),
            retry_base_seconds=float(os.environ.get("LINLI_RETRY_BASE_SECONDS", "0.5")),
            heartbeat_seconds=int(os.environ.get("LINLI_BROKER_HEARTBEAT", "30")),
            timeout_seconds=float(os.environ.get("LINLI_BROKER_TIMEOUT_SECONDS", "10")),
            queue_type=os.environ.get("LINLI_QUEUE_TYPE", "classic"),
            delivery_limit=int(os.environ.get("LINLI_QUEUE_DELIVERY_LIMIT", "50")),
            unrouted_max_length=int(os.environ.get("LINLI_UNROUTED_MAX_LENGTH", "100000")),
        )


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    bus: BusSettings = field(default_factory=BusSettings)
    jwt_secret: str = ""
    outbox_poll_seconds: float = 1.0
    clock_tick_seconds: float = 1.0

    @classmethod
    def from_env(cls, service: str) -> Settings:
        return cls(
            service=service,
            database_url=database_url(service),
            bus=BusSettings.from_env(),
            jwt_secret=jwt_secret(),
            outbox_poll_seconds=float(os.environ.get("LINLI_OUTBOX_POLL_SECONDS", "1.0")),
            clock_tick_seconds=float(os.environ.get("LINLI_CLOCK_TICK_SECONDS", "1.0")),
        )
