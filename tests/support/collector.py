"""Listens on the events exchange like any outside app would, collecting what arrives."""

from __future__ import annotations

import json
import threading
from typing import Any

import kombu
import kombu.exceptions
from amqp.exceptions import AMQPError

from linli.shared.bus import events_exchange
from linli.shared.config import BusSettings


class Collector:
    def __init__(self, bus: BusSettings, binding: str = "#", name: str = "test.collector",
                 exchange: kombu.Exchange | None = None) -> None:
        self.bus = bus
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._queue = kombu.Queue(bus.queue(name), exchange or events_exchange(bus), routing_key=binding,
                                  durable=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("collector did not start")

    def _run(self) -> None:
        # The broker may cancel a consumer (a queue's process restarted under load) or drop the connection: the
        # durable queue keeps what arrives meanwhile, so listening again loses nothing.
        while not self._stop.is_set():
            try:
                self._listen()
            except (AMQPError, OSError, kombu.exceptions.OperationalError):
                self._stop.wait(0.2)

    def _listen(self) -> None:
        with kombu.Connection(self.bus.url) as conn:
            channel = conn.channel()
            queue = self._queue(channel)
            queue.declare()

            def on_message(message: Any) -> None:
                self.events.append(json.loads(message.body))
                message.ack()

            with kombu.Consumer(channel, queues=[queue], on_message=on_message, accept=None):
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        conn.drain_events(timeout=0.2)
                    except TimeoutError:
                        continue

    def of_type(self, key: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["type"] == f"linli.{key}"]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
