"""SMS and email providers against real local servers: the HTTP gateway contract, and SMTP with aiosmtpd."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from linli.services.notify import outgoing, providers
from tests.support.receiver import Receiver, Reply
from tests.support.smtp import MailServer


@pytest.fixture
def gateway() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def mail() -> Iterator[MailServer]:
    found = MailServer()
    yield found
    found.close()


def _message(address: str = "13800001111", body: str = "诉求已超期：楼道灯不亮") -> providers.Outgoing:
    return providers.Outgoing(uuid.uuid4(), address, "诉求已超期", body, outgoing.sms_segments(body))


def test_the_gateway_is_sent_the_documented_json_with_an_idempotency_key(gateway):
    message = _message()
    outcome = providers.HttpGateway(gateway.url("/sms?token=s3cret")).send(message, 5)
    assert outcome == outgoing.Outcome(outgoing.OK)
    [received] = gateway.received()
    assert json.loads(received.body) == {"id": str(message.delivery_id), "to": "13800001111",
                                         "text": "诉求已超期：楼道灯不亮", "segments": 1}
    assert received.headers["Idempotency-Key"] == str(message.delivery_id)
    assert received.headers["Content-Type"] == "application/json"


def test_the_gateway_is_named_without_its_query_string():
    assert providers.HttpGateway("https://u:p@gw.example.cn:8443/send?key=s3cret").name == \
        "https://gw.example.cn:8443/send"


@pytest.mark.parametrize(("reply", "outcome"), [
    (Reply(503), outgoing.Outcome(outgoing.RETRYABLE, "HTTP 503")),
    (Reply(429, {"Retry-After": "7"}), outgoing.Outcome(outgoing.RETRYABLE, "HTTP 429", timedelta(seconds=7))),
    (Reply(400), outgoing.Outcome(outgoing.PERMANENT, "HTTP 400")),
    (Reply(200, body=b'{"accepted": false, "reason": "blocked number"}'),
     outgoing.Outcome(outgoing.PERMANENT, "rejected: blocked number")),
    (Reply(200, body=b'{"accepted": true, "message_id": "m1"}'), outgoing.Outcome(outgoing.OK)),
])
def test_gateway_answers_become_outcomes(gateway, reply, outcome):
    gateway.script("/sms", reply)
    assert providers.HttpGateway(gateway.url("/sms")).send(_message(), 5) == outcome


def test_a_gateway_that_does_not_answer_in_time_is_retryable(gateway):
    release = threading.Event()
    gateway.script("/sms", Reply(hang=release))
    try:
        outcome = providers.HttpGateway(gateway.url("/sms")).send(_message(), 0.3)
    finally:
        release.set()
    assert outcome.kind == outgoing.RETRYABLE and "TimeoutError" in (outcome.error or "")


def test_a_gateway_nobody_listens_on_is_retryable():
    outcome = providers.HttpGateway("http://127.0.0.1:9/sms").send(_message(), 1)
    assert outcome.kind == outgoing.RETRYABLE


def test_the_file_sink_appends_a_json_line_per_message(tmp_path):
    sink = providers.FileSink(tmp_path / "sms.jsonl", "sms")
    for _ in range(2):
        assert sink.send(_message(), 1).kind == outgoing.OK
    lines = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["to"] for line in lines] == ["13800001111"] * 2 and lines[0]["text"] == "诉求已超期：楼道灯不亮"


def test_the_chain_is_configured_in_order():
    chain = providers.sms_chain("http://gw1.example.cn/send, https://gw2.example.cn/send ,file:/tmp/linli-sms.jsonl")
    assert providers.names(chain) == ["http://gw1.example.cn/send", "https://gw2.example.cn/send",
                                      "file:linli-sms.jsonl"]
    with pytest.raises(ValueError):
        providers.sms_chain("ftp://gw.example.cn/")


def _smtp(mail: MailServer) -> providers.Smtp:
    return providers.Smtp(providers.SmtpSettings(host="127.0.0.1", port=mail.port, starttls=False,
                                                 sender="linli <noreply@linli.example.cn>"))


def test_email_goes_over_smtp_as_text_with_an_html_alternative(mail):
    message = _message("zhang@example.cn", "诉求已超期：楼道灯不亮\n请尽快处理")
    assert _smtp(mail).send(message, 5) == outgoing.Outcome(outgoing.OK)
    [(recipients, sent)] = mail.mails()
    assert recipients == ["zhang@example.cn"] and sent["Subject"] == "诉求已超期"
    assert sent.get_content_type() == "multipart/alternative"
    assert sent.get_body(("plain",)).get_content().splitlines() == ["诉求已超期：楼道灯不亮", "请尽快处理"]
    assert "<p>请尽快处理</p>" in sent.get_body(("html",)).get_content()


def test_a_refused_recipient_is_permanent_and_a_busy_one_retryable(mail):
    mail.refuse = {"gone@example.cn": "550 no such user", "busy@example.cn": "451 try again later"}
    assert _smtp(mail).send(_message("gone@example.cn"), 5).kind == outgoing.PERMANENT
    assert _smtp(mail).send(_message("busy@example.cn"), 5).kind == outgoing.RETRYABLE
    assert mail.mails() == []


def test_no_mail_server_is_retryable():
    settings = providers.SmtpSettings(host="127.0.0.1", port=9, starttls=False)
    assert providers.Smtp(settings).send(_message("a@example.cn"), 1).kind == outgoing.RETRYABLE


def test_a_line_break_in_a_subject_stays_in_one_header(mail):
    message = providers.Outgoing(uuid.uuid4(), "zhang@example.cn", "诉求已超期\nBcc: x@evil.example", "正文", None)
    assert _smtp(mail).send(message, 5).kind == outgoing.OK
    [(recipients, sent)] = mail.mails()
    assert recipients == ["zhang@example.cn"] and sent["Bcc"] is None
    assert sent["Subject"] == "诉求已超期 Bcc: x@evil.example"


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    from linli.services.notify.sender import SenderSettings

    monkeypatch.setenv("LINLI_SMS_PROVIDERS", f"http://gw1.example.cn/send,file:{tmp_path}/sms.jsonl")
    monkeypatch.setenv("LINLI_SMTP_HOST", "smtp.example.cn")
    monkeypatch.setenv("LINLI_SMTP_PORT", "465")
    monkeypatch.setenv("LINLI_SMTP_TLS", "1")
    monkeypatch.setenv("LINLI_DELIVERY_TRIES_PER_PROVIDER", "5")
    monkeypatch.setenv("LINLI_DELIVERY_DELAY_SCALE", "0.5")
    settings = SenderSettings.from_env()
    assert providers.names(settings.sms) == ["http://gw1.example.cn/send", "file:sms.jsonl"]
    assert providers.names(settings.email) == ["smtp://smtp.example.cn:465"]
    assert settings.retries.tries_per_provider == 5 and settings.retries.base_delay == timedelta(seconds=1)
    [smtp] = settings.email
    assert smtp.settings.tls and smtp.settings.starttls


def test_without_settings_the_embedded_mode_writes_to_files_in_the_data_folder(monkeypatch, tmp_path):
    from linli.services.notify.sender import SenderSettings

    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path))
    for name in ("LINLI_SMS_PROVIDERS", "LINLI_SMTP_HOST", "LINLI_EMAIL_PROVIDERS"):
        monkeypatch.delenv(name, raising=False)
    settings = SenderSettings.from_env()
    assert [p.path for p in settings.sms] == [tmp_path / "sms.jsonl"]
    assert [p.path for p in settings.email] == [tmp_path / "email.jsonl"]
