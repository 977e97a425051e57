from __future__ import annotations

import jwt
import pytest

from linli.cli import build_parser, main


def test_token_create_prints_a_token_the_services_accept(monkeypatch, capsys):
    monkeypatch.setenv("LINLI_JWT_SECRET", "cli-test-secret-0123456789-0123456789")
    assert main(["token", "create", "--district", "d-1", "--scope", "tickets:read tickets:write"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, "cli-test-secret-0123456789-0123456789", algorithms=["HS256"], issuer="linli")
    assert claims["district"] == "d-1" and claims["scope"] == "tickets:read tickets:write"


def test_dlq_needs_a_real_broker(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LINLI_BROKER_URL", raising=False)
    assert main(["dlq", "list", "tickets"]) == 2
    assert "LINLI_BROKER_URL" in capsys.readouterr().err


def test_unknown_service_is_refused():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "elsewhere"])


def test_worker_and_clock_processes_serve_metrics_when_asked(monkeypatch):
    from linli.processes import serve_metrics
    from tests.support.http import call, free_port
    from tests.support.waiting import wait_for

    port = free_port()
    monkeypatch.setenv("LINLI_METRICS_PORT", str(port))
    serve_metrics()
    status, body = wait_for(lambda: (r := call("GET", f"http://127.0.0.1:{port}/metrics"))[0] == 200 and r,
                            message="the metrics endpoint")
    assert b"linli_events_consumed_total" in body and b"linli_outbox_published_total" in body
