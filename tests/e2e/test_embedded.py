"""Smoke test of the embedded mode as a newcomer runs it: `linli run`, then HTTP on port 8000's stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http import call, free_port
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("linli-data")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL") and k != "LINLI_BROKER_URL"}
    env["LINLI_LOG_FORMAT"] = "json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "linli.cli", "run", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        token_line = wait_for(lambda: next((ln for ln in lines if ln.startswith("LINLI_TOKEN=")), None),
                              timeout=60, message="the printed operator token")
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: call("GET", f"{base}/healthz")[0] == 200, message="the server")
        yield base, token_line.strip().split("=", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert Path(data_dir, "tickets.db").exists()


def test_every_service_is_ready_under_its_prefix(embedded):
    base, _ = embedded
    for service in ("registry", "tickets", "rotation", "notify"):
        status, body = call("GET", f"{base}/{service}/readyz")
        assert status == 200 and body["status"] == "ready", (service, body)
        status, spec = call("GET", f"{base}/{service}/openapi.json")
        assert status == 200 and spec["paths"], service


def test_demo_data_crossed_all_four_services(embedded):
    base, token = embedded
    status, tickets = call("GET", f"{base}/tickets/v1/tickets", token)
    assert status == 200 and [t["title"] for t in tickets["items"]] == ["3栋楼道灯坏了"]
    compound = tickets["items"][0]["compound_id"]
    notes = wait_for(lambda: call("GET", f"{base}/notify/v1/notifications?recipient=compound:{compound}",
                                  token)[1]["items"], message="the demo ticket's notification")
    assert "3栋楼道灯坏了" in notes[0]["title"]
    status, rotations = call("GET", f"{base}/rotation/v1/rotations", token)
    assert status == 200 and len(rotations["items"]) == 1
    status, meetings = call("GET", f"{base}/rotation/v1/meetings", token)
    assert status == 200 and len(meetings["items"]) == 4
    assert {(m["local_time"], m["convenor_name"]) for m in meetings["items"]} == {("14:30", "张书记")}
    status, members = call("GET", f"{base}/registry/v1/members", token)
    assert status == 200 and sorted(m["name"] for m in members["items"]) == ["刘医生", "陈老师"]
    status, check_ins = call("GET", f"{base}/registry/v1/check-ins?state=confirmed", token)
    assert status == 200 and len(check_ins["items"]) == 1
    status, branches = call("GET", f"{base}/registry/v1/organizations?kind=party_branch", token)
    assert status == 200 and check_ins["items"][0]["branch_id"] == branches["items"][0]["id"]
    status, coverage = call("GET", f"{base}/registry/v1/coverage?area_id={compound}", token)
    assert status == 200 and coverage["compounds"][0]["checked_in"] == 1 and coverage["totals"]["members"] == 2
    status, committees = call("GET", f"{base}/registry/v1/committees", token)
    assert status == 200 and committees["items"][0]["unit_count"] == 5
    status, activities = call("GET", f"{base}/registry/v1/activities?state=held", token)
    assert status == 200 and [a["title"] for a in activities["items"]] == ["重阳义诊进小区"]
    status, records = call("GET", f"{base}/registry/v1/service-records?source=activity", token)
    assert status == 200 and [(r["state"], r["hours"]) for r in records["items"]] == [("verified", 2)]


def test_a_new_compound_and_ticket_flow_through_the_in_memory_bus(embedded):
    base, token = embedded
    status, communities = call("GET", f"{base}/registry/v1/areas?level=community", token)
    assert status == 200
    community = communities["items"][0]
    status, compound = call("POST", f"{base}/registry/v1/areas", token,
                            {"level": "compound", "name": "桂花苑", "kind": "old", "parent_id": community["id"]})
    assert status == 201, compound
    wait_for(lambda: any(c["id"] == compound["id"] for c in
                         call("GET", f"{base}/tickets/v1/compounds", token)[1]["items"]),
             message="tickets learning the compound")
    status, ticket = call("POST", f"{base}/tickets/v1/tickets", token, {
        "compound_id": compound["id"], "title": "化粪池堵塞", "description": "需要疏通",
        "reporter_name": "李师傅", "reporter_phone": "13900001111"})
    assert status == 201, ticket
    notes = wait_for(lambda: call("GET", f"{base}/notify/v1/notifications?recipient=compound:{compound['id']}",
                                  token)[1]["items"], message="the notification")
    assert len(notes) == 1 and "化粪池堵塞" in notes[0]["title"]


def test_bad_input_is_a_problem_naming_the_field(embedded):
    base, token = embedded
    status, body = call("POST", f"{base}/tickets/v1/tickets", token, {"title": "x"})
    assert status == 422
    assert "compound_id" in body["errors"]
    status, body = call("GET", f"{base}/tickets/v1/tickets")
    assert status == 401 and body["type"] == "/problems/unauthorized"


def test_front_page_is_chinese_by_default_and_english_on_request(embedded):
    base, _ = embedded
    status, page = call("GET", f"{base}/")
    assert status == 200 and "邻里" in page.decode()
    status, page = call("GET", f"{base}/?lang=en")
    assert "community governance" in page.decode()
