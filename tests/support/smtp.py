"""A real SMTP server (aiosmtpd) for the email tests: keeps what it accepts, refuses recipients as scripted."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    """Accepts mail on 127.0.0.1; a recipient listed in `refuse` is answered with its SMTP reply instead."""

    def __init__(self) -> None:
        self.refuse: dict[str, str] = {}
        self._lock = threading.Lock()
        self._mails: list[tuple[list[str], EmailMessage]] = []
        server = self

        class Handler:
            async def handle_RCPT(self, _server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                                  rcpt_options: list[str]) -> str:
                if address in server.refuse:
                    return server.refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
                mail = message_from_bytes(envelope.content, policy=policy.default)
                with server._lock:
                    server._mails.append((list(envelope.rcpt_tos), mail))  # type: ignore[arg-type]
                return "250 Message accepted"

        self.port = _free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def mails(self) -> list[tuple[list[str], EmailMessage]]:
        with self._lock:
            return list(self._mails)

    def close(self) -> None:
        self._controller.stop()
