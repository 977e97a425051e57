"""Webhooks on the wire: the settings of sending, name resolution, and one HTTP POST to an address judged safe.

The POST connects to an address `webhooks.check_url` approved (never resolving the name again), follows no
redirect, and is bounded as a whole: a receiver that accepts the connection and then dribbles or says nothing
is cut off at the deadline, so it holds one of the dispatcher's threads for at most that long.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from linli.services.notify.webhooks import Target

USER_AGENT = "linli-notify-webhooks/1"
# What of a receiver's answer is kept in the attempt log; the rest is read and dropped.
EXCERPT_CHARS = 500
_READ_AT_MOST = 64 * 1024


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WebhookSettings:
    """How webhooks are sent; from LINLI_WEBHOOKS_* environment variables."""

    # Endpoints on loopback, private and link-local addresses are refused unless this is set (test set-ups).
    allow_private: bool = False
    # Sends in flight at once in one worker process, and at most this many to one endpoint: a slow or dead
    # endpoint ties up `per_endpoint` threads, never the rest.
    threads: int = 32
    per_endpoint: int = 2
    # The longest one attempt may take, connecting and reading the answer included.
    timeout_seconds: float = 10.0
    # How often the dispatcher looks for due deliveries when nothing woke it.
    poll_seconds: float = 0.5
    # Multiplies the retry schedule (5 s ... 10 h); tests shrink it. Retry-After is taken as the receiver said.
    delay_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.threads < 1 or self.per_endpoint < 1 or self.timeout_seconds <= 0 or self.poll_seconds <= 0 \
                or self.delay_scale < 0:
            raise ValueError(f"webhook settings out of range: {self}")

    @classmethod
    def from_env(cls) -> WebhookSettings:
        return cls(
            allow_private=private_allowed(),
            threads=int(os.environ.get("LINLI_WEBHOOKS_THREADS", "32")),
            per_endpoint=int(os.environ.get("LINLI_WEBHOOKS_PER_ENDPOINT", "2")),
            timeout_seconds=float(os.environ.get("LINLI_WEBHOOKS_TIMEOUT_SECONDS", "10")),
            poll_seconds=float(os.environ.get("LINLI_WEBHOOKS_POLL_SECONDS", "0.5")),
            delay_scale=float(os.environ.get("LINLI_WEBHOOKS_DELAY_SCALE", "1")),
        )


def private_allowed() -> bool:
    """The operator's LINLI_WEBHOOKS_ALLOW_PRIVATE: read at each call, so one setting governs API and sending."""
    return _flag("LINLI_WEBHOOKS_ALLOW_PRIVATE")


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection (IPv4 and IPv6), in the resolver's order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    excerpt: str


class _Pinned(http.client.HTTPConnection):
    """Plain HTTP to a fixed address; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, the certificate checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, headers: Mapping[str, str], body: bytes, timeout: float) -> Answer:
    """POST `body` to the target at the first of its addresses that accepts a connection.

    Raises OSError (refused, unreachable, timed out, cut off at the deadline) or http.client.HTTPException
    (not HTTP): no answer. Any HTTP status is an answer, for the caller to judge.
    """
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    for address in target.addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        kind = _PinnedTLS if target.scheme == "https" else _Pinned
        conn = kind(target.host, target.port, address, left)
        try:
            conn.connect()
        except OSError as exc:
            last = exc
            conn.close()
            continue
        return _exchange(conn, target, headers, body, deadline)
    raise last or TimeoutError("no time left to connect")


def _exchange(conn: http.client.HTTPConnection, target: Target, headers: Mapping[str, str], body: bytes,
              deadline: float) -> Answer:
    # The socket timeout bounds each read; this bounds them all together.
    cutoff = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, args=(conn,))
    cutoff.daemon = True
    cutoff.start()
    try:
        conn.request("POST", target.path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = conn.getresponse()
        raw = response.read(_READ_AT_MOST)
        return Answer(response.status, response.getheader("Retry-After"),
                      raw.decode("utf-8", "replace")[:EXCERPT_CHARS])
    except (OSError, http.client.HTTPException):
        # Cut off at the deadline, the read ends in a reset or an incomplete answer: say what happened.
        if time.monotonic() >= deadline - 0.01:
            raise TimeoutError("the receiver did not answer in time") from None
        raise
    finally:
        cutoff.cancel()
        conn.close()


def _cut(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
