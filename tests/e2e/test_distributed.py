"""The distributed mode as docker-compose runs it, minus Docker: `linli migrate|serve|worker` processes
per service on real PostgreSQL databases and a real RabbitMQ, with events crossing between them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from linli.shared.http.auth import issue_token
from linli.suite import SERVICES
from tests.support.apps import SECRET
from tests.support.collector import Collector
from tests.support.http import call, free_port
from tests.support.servers import delete_bus, isolated_bus
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def _linli(*args: str) -> list[str]:
    return [sys.executable, "-m", "linli.cli", *args]


@pytest.fixture(scope="module")
def suite(databases, amqp_url) -> Iterator[dict[str, str]]:
    bus = isolated_bus(amqp_url)
    env = {**os.environ, "LINLI_BROKER_URL": bus.url, "LINLI_EXCHANGE": bus.exchange,
           "LINLI_PRIVATE_EXCHANGE": bus.private_exchange,
           "LINLI_DEAD_EXCHANGE": bus.dead_exchange, "LINLI_QUEUE_PREFIX": bus.queue_prefix,
           "LINLI_JWT_SECRET": SECRET, "LINLI_OUTBOX_POLL_SECONDS": "0.5", "LINLI_LOG_FORMAT": "json",
           "LINLI_LOG_LEVEL": "WARNING"}
    for name in SERVICES:
        env[f"{name.upper()}_DATABASE_URL"] = databases.fresh(name)
    subprocess.run(_linli("migrate", "all"), env=env, check=True, capture_output=True, timeout=120)
    procs: list[subprocess.Popen[bytes]] = []
    bases: dict[str, str] = {}
    try:
        for name in SERVICES:
            port = free_port()
            bases[name] = f"http://127.0.0.1:{port}"
            procs.append(subprocess.Popen(_linli("serve", name, "--bind", f"127.0.0.1:{port}", "--workers", "1"),
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen(_linli("worker", name), env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # Two clock replicas of rotation: each due term start must still be announced once.
        procs += [subprocess.Popen(_linli("clock", "rotation"), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) for _ in range(2)]
        for name, base in bases.items():
            wait_for(lambda base=base: call("GET", f"{base}/readyz")[0] == 200, timeout=60,
                     message=f"{name} ready")
        collector = Collector(bus)
        yield {**bases, "collector": collector}
        collector.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        delete_bus(bus, [bus.queue(q) for q in ("registry.service-credits", "tickets.read-models",
                                                 "rotation.read-models", "notify.deliveries",
                                                 "notify.webhooks")])


def test_events_cross_every_service_in_the_distributed_mode(suite):
    operator = issue_token(SECRET, sub="e2e", district="*", scopes="registry:admin")
    reg = suite["registry"]
    status, district = call("POST", f"{reg}/v1/areas", operator, {"level": "district", "name": "铜梁区"})
    assert status == 201, district
    token = issue_token(SECRET, sub="tongliang", district=district["id"],
                        scopes="registry:write registry:read tickets:write tickets:read rotation:write "
                               "rotation:read notify:read")
    _, street = call("POST", f"{reg}/v1/areas", token, {"level": "street", "name": "巴川街道",
                                                        "parent_id": district["id"]})
    _, community = call("POST", f"{reg}/v1/areas", token, {"level": "community", "name": "龙城社区",
                                                           "parent_id": street["id"]})
    status, compound = call("POST", f"{reg}/v1/areas", token, {"level": "compound", "name": "龙城小区",
                                                               "kind": "resettlement",
                                                               "parent_id": community["id"]})
    assert status == 201, compound
    status, committee = call("POST", f"{reg}/v1/committees", token, {"community_id": community["id"],
                                                                     "name": "龙城社区大党委"})
    assert status == 201, committee

    tickets, rotation, notify = suite["tickets"], suite["rotation"], suite["notify"]
    wait_for(lambda: any(c["id"] == compound["id"] for c in
                         call("GET", f"{tickets}/v1/compounds", token)[1].get("items", [])),
             timeout=30, message="tickets' read model of the compound")
    status, ticket = call("POST", f"{tickets}/v1/tickets", token, {
        "compound_id": compound["id"], "title": "电梯停运", "description": "2号楼电梯停运两天",
        "reporter_name": "张大爷", "reporter_phone": "13700002222"}, headers={"Idempotency-Key": "e2e-1"})
    assert status == 201, ticket
    notes = wait_for(lambda: call("GET", f"{notify}/v1/inbox?recipient=compound:{compound['id']}",
                                  token)[1].get("items"), timeout=30, message="notify's notification")
    assert len(notes) == 1 and "电梯停运" in notes[0]["title"]

    wait_for(lambda: any(c["id"] == committee["id"] for c in
                         call("GET", f"{rotation}/v1/committees", token)[1].get("items", [])),
             timeout=30, message="rotation's read model of the committee")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    status, rot = call("POST", f"{rotation}/v1/rotations", token,
                       {"committee_id": committee["id"], "term_months": 1, "starts_on": today.isoformat()})
    assert status == 201, rot
    # Term 0 began at local midnight: a clock process announces it, once, through the worker's relay.
    collector = suite["collector"]
    started = wait_for(lambda: [e for e in collector.of_type("rotation.term.started") if e["subject"] == rot["id"]],
                       timeout=30, message="rotation.term.started from the clock process")
    assert started[0]["data"]["index"] == 0

    # Another district's client sees none of it.
    stranger = issue_token(SECRET, sub="bishan", district="00000000-0000-0000-0000-000000000000",
                           scopes="tickets:read")
    assert call("GET", f"{tickets}/v1/tickets/{ticket['id']}", stranger)[0] == 404
    assert len([e for e in collector.of_type("rotation.term.started") if e["subject"] == rot["id"]]) == 1

    # gunicorn's workers share their counts through the multiprocess directory.
    status, metrics = call("GET", f"{tickets}/metrics")
    assert status == 200
    assert b'linli_http_requests_total{endpoint="/v1/tickets",method="POST",service="tickets",status="201"}' \
        in metrics
