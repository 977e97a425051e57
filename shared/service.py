"""What a service is made of, and its running parts wired to one database and one broker."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask_smorest import Blueprint
from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import Session, sessionmaker

from linli.shared.bus import ConfirmingPublisher, QueueTopology, declare_all
from linli.shared.clock import Clock, TimerHandler
from linli.shared.config import Settings
from linli.shared.consumer import Worker
from linli.shared.db import make_engine, make_sessionmaker, utcnow
from linli.shared.outbox import Relay
from linli.shared.subscriptions import Subscription, topologies
from linli.shared.tables import infra_metadata

Loop = Callable[["Runtime"], Callable[[threading.Event], None]]

SCOPE = re.compile(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    description: str
    metadata: MetaData
    blueprints: Sequence[Blueprint]
    migrations: Path
    subscriptions: Sequence[Subscription] = ()
    timers: Mapping[str, TimerHandler] = field(default_factory=dict)
    # Long-running loops of the worker process, beside its consumers and relay (notify's webhook dispatcher):
    # name -> a builder taking the running service and returning what runs until its stop event is set.
    loops: Mapping[str, Loop] = field(default_factory=dict)
    # The token scopes this service's API knows, scope -> what it grants; `<name>:admin` implies the others.
    scopes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        foreign = [scope for scope in self.scopes if not SCOPE.fullmatch(scope) or scope.split(":")[0] != self.name]
        if foreign:
            raise ValueError(f"{self.name}: scopes must read '{self.name}:<word>': {foreign}")

    @property
    def all_metadata(self) -> list[MetaData]:
        return [infra_metadata, self.metadata]


@dataclass
class Runtime:
    spec: ServiceSpec
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    # Every subscription of every service this process knows (the launcher passes them in): their
    # queues are declared before this service publishes anything, so no event finds a queue missing.
    known_subscriptions: Sequence[Subscription] = ()

    @classmethod
    def build(cls, spec: ServiceSpec, settings: Settings,
              known_subscriptions: Sequence[Subscription] | None = None) -> Runtime:
        engine = make_engine(settings.database_url)
        known = spec.subscriptions if known_subscriptions is None else known_subscriptions
        return cls(spec, settings, engine, make_sessionmaker(engine), known)

    def topologies(self) -> list[QueueTopology]:
        return topologies(self.settings.bus, [*self.known_subscriptions, *self.spec.subscriptions])

    def declare_topology(self) -> None:
        """Declare every known queue on the broker now (bounded by the bus timeout)."""
        declare_all(self.settings.bus, self.topologies())

    @property
    def name(self) -> str:
        return self.spec.name

    def relay(self) -> Relay:
        return Relay(self.name, self.factory, ConfirmingPublisher(self.settings.bus, topologies=self.topologies()),
                     poll_seconds=self.settings.outbox_poll_seconds)

    def worker(self) -> Worker:
        return Worker(self.settings.bus, self.factory, self.spec.subscriptions)

    def clock(self, now: Callable[[], datetime] = utcnow) -> Clock:
        return Clock(self.name, self.factory, self.spec.timers, now=now)

    def queue_names(self) -> list[str]:
        return [self.settings.bus.queue(s.name) for s in self.spec.subscriptions if s.handlers]

    def dispose(self) -> None:
        self.engine.dispose()
