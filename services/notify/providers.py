"""How SMS and email leave the suite: the provider interface, an HTTP SMS gateway, SMTP, and a file sink.

A provider makes one attempt and says what came of it (`outgoing.Outcome`: ok, retryable, permanent); what
happens next (retry, the next provider of the chain, failed) is `outgoing.after_attempt`'s to decide.

The HTTP gateway contract (JSON over POST, one message per request):

    POST <gateway URL>
    Content-Type: application/json
    Idempotency-Key: <delivery id>          (the same for every attempt of a delivery: a gateway de-duplicates)
    {"id": "<delivery id>", "to": "<phone>", "text": "<body>", "segments": <n>}

    2xx {"accepted": true, "message_id": "..."}    accepted (an empty or non-JSON 2xx body counts as accepted)
    2xx {"accepted": false, "reason": "..."}       refused for good: failed, with the gateway's reason
    429 / 5xx / no answer within the timeout        retryable (429 and 503 may carry Retry-After)
    other 4xx                                       refused for good: failed, "HTTP <status>"
"""

from __future__ import annotations

import http.client
import json
import os
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from html import escape
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from linli.services.notify import outgoing, sending
from linli.services.notify.webhooks import Target
from linli.shared.config import data_dir

USER_AGENT = "linli-notify-sms/1"


@dataclass(frozen=True)
class Outgoing:
    """One message as a provider sends it."""

    delivery_id: uuid.UUID
    address: str
    subject: str
    body: str
    segments: int | None


class Provider(Protocol):
    """One way out for one channel; `name` is what the delivery log shows (never a credential)."""

    name: str

    def send(self, message: Outgoing, timeout: float) -> outgoing.Outcome: ...


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class HttpGateway:
    """An SMS gateway taking the JSON POST above."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an SMS gateway is an http(s) URL: {url!r}")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # The log names the gateway by host and path: a query string or user part may carry its credentials.
        self.name = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"[:200]

    def send(self, message: Outgoing, timeout: float) -> outgoing.Outcome:
        body = json.dumps({"id": str(message.delivery_id), "to": message.address, "text": message.body,
                           "segments": message.segments}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(message.delivery_id),
                   "User-Agent": USER_AGENT}
        try:
            target = Target(self.scheme, self.host, self.port, self.path,
                            tuple(sending.resolve(self.host, self.port)))
            answer = sending.post(target, headers, body, timeout)
        except (OSError, http.client.HTTPException) as exc:
            return outgoing.Outcome(outgoing.RETRYABLE, _error(exc))
        rejected = _rejection(answer.excerpt) if 200 <= answer.status < 300 else None
        kind = outgoing.judge_http(answer.status, rejected=rejected)
        if kind == outgoing.OK:
            return outgoing.Outcome(kind)
        error = f"rejected: {rejected}" if rejected else f"HTTP {answer.status}"
        wait = outgoing.parse_retry_after(answer.retry_after, datetime.now(UTC))
        return outgoing.Outcome(kind, error, wait)


def _rejection(text: str) -> str | None:
    """The gateway's reason when its 2xx answer says `"accepted": false`."""
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("accepted") is False:
        return str(answer.get("reason") or "refused")[:500]
    return None


class FileSink:
    """Appends each message as a JSON line to a file: the embedded mode's SMS (and mail) without a gateway."""

    _lock = threading.Lock()

    def __init__(self, path: Path, channel: str) -> None:
        self.path = path
        self.channel = channel
        self.name = f"file:{path.name}"

    def send(self, message: Outgoing, timeout: float) -> outgoing.Outcome:
        line = json.dumps({"id": str(message.delivery_id), "channel": self.channel, "to": message.address,
                           "subject": message.subject, "text": message.body, "segments": message.segments,
                           "at": datetime.now(UTC).isoformat()}, ensure_ascii=False)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as sink:
                    sink.write(line + "\n")
        except OSError as exc:
            return outgoing.Outcome(outgoing.RETRYABLE, _error(exc))
        return outgoing.Outcome(outgoing.OK)


@dataclass(frozen=True)
class SmtpSettings:
    """LINLI_SMTP_*: where mail goes; STARTTLS unless turned off, or implicit TLS (`LINLI_SMTP_TLS=1`, port 465)."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    tls: bool = False
    sender: str = "linli <noreply@localhost>"

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        host = os.environ.get("LINLI_SMTP_HOST", "").strip()
        if not host:
            return None
        return cls(host=host, port=int(os.environ.get("LINLI_SMTP_PORT", "587")),
                   user=os.environ.get("LINLI_SMTP_USER") or None,
                   password=os.environ.get("LINLI_SMTP_PASSWORD") or None,
                   starttls=sending._flag("LINLI_SMTP_STARTTLS") if "LINLI_SMTP_STARTTLS" in os.environ else True,
                   tls=sending._flag("LINLI_SMTP_TLS"),
                   sender=os.environ.get("LINLI_SMTP_FROM", cls.sender))


class Smtp:
    """Mail over SMTP (stdlib smtplib), one connection per message: text/plain with an HTML alternative."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.name = f"smtp://{settings.host}:{settings.port}"[:200]

    def compose(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = message.address
        # A header is one line: a template's stray line break must not end the header (nor refuse the mail).
        mail["Subject"] = " ".join(message.subject.split())
        mail["Message-ID"] = make_msgid(idstring=str(message.delivery_id), domain="linli")
        mail.set_content(message.body)
        paragraphs = "".join(f"<p>{escape(line)}</p>" for line in message.body.splitlines() if line.strip())
        mail.add_alternative(f"<!doctype html><html><body>{paragraphs}</body></html>", subtype="html")
        return mail

    def send(self, message: Outgoing, timeout: float) -> outgoing.Outcome:
        s = self.settings
        try:
            tls = ssl.create_default_context()
            client = (smtplib.SMTP_SSL(s.host, s.port, timeout=timeout, context=tls) if s.tls
                      else smtplib.SMTP(s.host, s.port, timeout=timeout))
            with client:
                if s.starttls and not s.tls:
                    client.starttls(context=tls)
                if s.user:
                    client.login(s.user, s.password or "")
                client.send_message(self.compose(message))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            kind_ = outgoing.RETRYABLE if codes and all(400 <= c < 500 for c in codes) else outgoing.PERMANENT
            return outgoing.Outcome(kind_, f"recipient refused: {codes}")
        except smtplib.SMTPResponseException as exc:
            # 4xx: try again later; 5xx: refused for good (an authentication failure too is retried, so a
            # mistyped password fixed in time loses nothing).
            retry = 400 <= exc.smtp_code < 500 or isinstance(exc, smtplib.SMTPAuthenticationError)
            return outgoing.Outcome(outgoing.RETRYABLE if retry else outgoing.PERMANENT,
                                    f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
        except (OSError, smtplib.SMTPException) as exc:
            return outgoing.Outcome(outgoing.RETRYABLE, _error(exc))
        return outgoing.Outcome(outgoing.OK)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def sms_chain(spec: str | None) -> list[Provider]:
    """The SMS failover chain from `LINLI_SMS_PROVIDERS`: comma-separated http(s) gateway URLs and `file:<path>`
    sinks, tried in order; unset: a file sink in the data folder (the embedded mode)."""
    if not spec or not spec.strip():
        return [FileSink(data_dir() / "sms.jsonl", "sms")]
    return [_provider(item.strip(), "sms") for item in spec.split(",") if item.strip()]


def email_chain(settings: SmtpSettings | None, spec: str | None = None) -> list[Provider]:
    """SMTP when `LINLI_SMTP_HOST` is set, else `LINLI_EMAIL_PROVIDERS` (`file:<path>`), else a file sink."""
    if settings is not None:
        return [Smtp(settings)]
    if spec and spec.strip():
        return [_provider(item.strip(), "email") for item in spec.split(",") if item.strip()]
    return [FileSink(data_dir() / "email.jsonl", "email")]


def _provider(item: str, channel: str) -> Provider:
    if item.startswith("file:"):
        path = item.removeprefix("file:")
        if not path:
            raise ValueError("a file provider names its file: file:<path>")
        return FileSink(Path(path).expanduser().resolve(), channel)
    if channel == "sms":
        return HttpGateway(item)
    raise ValueError(f"not a provider of {channel}: {item!r}")


def timed(provider: Provider, message: Outgoing, timeout: float) -> tuple[outgoing.Outcome, int]:
    """One attempt and how long it took (ms); a provider that raises counts as a retryable failure."""
    started = time.monotonic()
    try:
        outcome = provider.send(message, timeout)
    except Exception as exc:  # noqa: BLE001 - a provider's bug must not lose the message
        outcome = outgoing.Outcome(outgoing.RETRYABLE, _error(exc))
    return outcome, int((time.monotonic() - started) * 1000)


def names(chain: Sequence[Provider]) -> list[str]:
    return [provider.name for provider in chain]
