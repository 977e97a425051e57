"""Configuration from environment variables only, so one image serves every run mode."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DATA_FOLDER = ".linli"
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output, 256 bits.
MIN_SECRET_BYTES = 32
# Published example values: a key that anyone can read in the repository signs anyone's tokens.
KNOWN_SECRETS = frozenset({"change-me-in-production"})
MAKE_SECRET = 'export LINLI_JWT_SECRET="$(openssl rand -base64 48)"'


class ConfigError(RuntimeError):
    """A setting that must stop a process before it starts; the message says what to do."""


def find_data_dir(start: Path | None = None) -> Path | None:
    """LINLI_DATA_DIR if set, else the nearest `.linli` folder in the current directory or above it.

    Walking up, as git does for `.git`, lets every `linli` command run anywhere inside a checkout
    find the folder `linli run` (started at its top, as `bash scripts/run` does) keeps its data in.
    """
    configured = os.environ.get("LINLI_DATA_DIR")
    if configured:
        return Path(configured).resolve()
    here = (start or Path.cwd()).resolve()
    return next((folder / DATA_FOLDER for folder in (here, *here.parents) if (folder / DATA_FOLDER).is_dir()), None)


def data_dir() -> Path:
    """The data folder found, else a new `.linli` in the current directory."""
    return find_data_dir() or (Path.cwd() / DATA_FOLDER).resolve()


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, else a SQLite file of the service in the data folder."""
    url = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if url:
        return url
    data = data_dir()
    data.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data / f'{service}.db'}"


def weak_secret(secret: str) -> str | None:
    """Why `secret` must not sign tokens, or None if it may."""
    if secret in KNOWN_SECRETS:
        return "is the published example value"
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        return f"is {size} bytes long; at least {MIN_SECRET_BYTES} are needed"
    return None


def env_jwt_secret() -> str | None:
    """LINLI_JWT_SECRET if set (a weak one is refused), else None."""
    secret = os.environ.get("LINLI_JWT_SECRET", "")
    if not secret:
        return None
    problem = weak_secret(secret)
    if problem:
        raise ConfigError(f"LINLI_JWT_SECRET {problem}. Make a random one: {MAKE_SECRET}")
    return secret


def required_jwt_secret() -> str:
    """The signing key of a distributed process: LINLI_JWT_SECRET, shared by every process, strong."""
    secret = env_jwt_secret()
    if secret is None:
        raise ConfigError(
            "LINLI_JWT_SECRET is not set: every process of the distributed mode checks tokens with the same "
            f"signing key of at least {MIN_SECRET_BYTES} bytes. Make one and give it to all of them: {MAKE_SECRET}"
        )
    return secret


def embedded_jwt_secret(folder: Path) -> str:
    """The embedded mode's key: LINLI_JWT_SECRET if set, else the one kept in (first generated into) `folder`."""
    secret = env_jwt_secret()
    if secret is not None:
        return secret
    path = folder / "jwt.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def existing_jwt_secret() -> str:
    """The key tokens are signed with, for `linli token create`: never a new one, which nothing would accept."""
    secret = env_jwt_secret()
    if secret is not None:
        return secret
    folder = find_data_dir()
    path = folder / "jwt.key" if folder else None
    if path is None or not path.is_file():
        where = f"no signing key in {folder}" if folder else (
            f"no {DATA_FOLDER} folder here or above {Path.cwd()} and LINLI_DATA_DIR is not set")
        raise ConfigError(
            f"{where}. Run this where `linli run` keeps its data (or set LINLI_DATA_DIR to that folder), "
            "or set LINLI_JWT_SECRET to the distributed mode's key."
        )
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
    def from_env(cls, service: str, *, jwt_secret: str | None = None) -> Settings:
        """`jwt_secret`: None for a distributed process (LINLI_JWT_SECRET, checked), "" where no token is."""
        # The key first: a process refused for want of one leaves nothing behind (no data folder).
        secret = required_jwt_secret() if jwt_secret is None else jwt_secret
        return cls(
            service=service,
            database_url=database_url(service),
            bus=BusSettings.from_env(),
            jwt_secret=secret,
            outbox_poll_seconds=float(os.environ.get("LINLI_OUTBOX_POLL_SECONDS", "1.0")),
            clock_tick_seconds=float(os.environ.get("LINLI_CLOCK_TICK_SECONDS", "1.0")),
        )
