"""The distributed mode's files agree with the launcher and with each other.

No Docker engine runs here, so docker-compose.yml is never started in tests; this
catches what would otherwise only show at `docker compose up`: a process without
its database or broker URL, a command the `linli` launcher rejects, a service that
cannot be scaled, a gateway that does not route to every service.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "tickets", "rotation", "notify")
PROCESSES = ("migrate", "web", "worker", "clock")
SCALABLE = ("web", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves anchors and `<<` merge keys, as docker compose does.
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def nginx_conf() -> str:
    return (ROOT / "deploy" / "nginx" / "nginx.conf").read_text(encoding="utf-8")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def published_ports(service: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(host port or None, container port) for each entry of `ports`, short or long form."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            host = port.get("published")
            result.append((str(host) if host else None, str(port.get("target"))))
        else:
            *front, target = str(port).split("/")[0].split(":")  # [ip:][host:]container[/proto]
            result.append(((front[-1] or None) if front else None, target))
    return result


def linli_processes(compose: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, process, compose["services"][f"{name}-{process}"])
        for name in SERVICES
        for process in PROCESSES
        if f"{name}-{process}" in compose["services"]
    ]


def test_every_service_has_its_four_processes(compose):
    missing = [
        f"{name}-{process}"
        for name in SERVICES
        for process in PROCESSES
        if f"{name}-{process}" not in compose["services"]
    ]
    assert not missing


def test_every_process_has_its_database_and_the_broker(compose):
    for name, process, service in linli_processes(compose):
        env = environment(service)
        assert env.get(f"{name.upper()}_DATABASE_URL", "").startswith("postgresql"), f"{name}-{process}"
        assert env.get("LINLI_BROKER_URL", "").startswith("amqp://"), f"{name}-{process}"
        assert env.get("LINLI_JWT_SECRET"), f"{name}-{process}"
        # One database per service: a process sees no other service's database.
        others = {f"{other.upper()}_DATABASE_URL" for other in SERVICES if other != name}
        assert not others & env.keys(), f"{name}-{process}"
        assert env[f"{name.upper()}_DATABASE_URL"].rsplit("/", 1)[-1] == name


def test_the_signing_key_has_no_usable_default(compose):
    """`${VAR:?message}` makes compose stop with the message when the variable is unset or empty."""
    for name, process, service in linli_processes(compose):
        secret = environment(service)["LINLI_JWT_SECRET"]
        assert re.fullmatch(r"\$\{LINLI_JWT_SECRET:\?[^}]+\}", secret), f"{name}-{process}: {secret}"


def test_processes_run_the_matching_linli_command(compose):
    for name, process, service in linli_processes(compose):
        cmd = command(service)
        assert cmd[:3] == ["linli", process if process != "web" else "serve", name], f"{name}-{process}"


def test_every_linli_command_parses(compose):
    from linli.cli import build_parser

    commands = [command(service) for service in compose["services"].values()]
    commands = [cmd for cmd in commands if cmd and cmd[0] == "linli"]
    assert len(commands) >= len(SERVICES) * len(PROCESSES)
    for cmd in commands:
        try:
            build_parser().parse_args(cmd[1:])
        except SystemExit as exc:  # argparse's way of rejecting
            pytest.fail(f"`{shlex.join(cmd)}` is rejected by the launcher (exit {exc.code})")


def test_the_image_default_command_parses():
    from linli.cli import build_parser

    match = re.search(r"^CMD\s+(\[.*\])\s*$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert match, "Dockerfile has no exec-form CMD"
    cmd = yaml.safe_load(match.group(1))  # a JSON array is YAML too
    assert cmd[0] == "linli"
    build_parser().parse_args(cmd[1:])


def test_web_and_worker_can_be_scaled(compose):
    for name, process, service in linli_processes(compose):
        if process not in SCALABLE:
            continue
        assert "container_name" not in service, f"{name}-{process}"
        # Only a container port, published on a random host port, scales.
        fixed = [host for host, _ in published_ports(service) if host]
        assert not fixed, f"{name}-{process} publishes fixed host ports {fixed}"


def test_processes_start_after_the_migration_and_the_infrastructure(compose):
    for name, process, service in linli_processes(compose):
        depends = service.get("depends_on") or {}
        if process == "migrate":
            assert service.get("restart", "no") == "no", f"{name}-migrate must run once"
            assert depends.get("postgres", {}).get("condition") == "service_healthy"
            continue
        assert depends.get(f"{name}-migrate", {}).get("condition") == "service_completed_successfully", (
            f"{name}-{process}"
        )
        for infra in ("rabbitmq", "postgres"):
            assert depends.get(infra, {}).get("condition") == "service_healthy", f"{name}-{process}"


def test_infrastructure_is_checked_for_health(compose):
    for infra in ("rabbitmq", "postgres"):
        assert compose["services"][infra].get("healthcheck", {}).get("test"), infra
    init = (ROOT / "deploy" / "postgres" / "init.sql").read_text(encoding="utf-8")
    for name in SERVICES:
        assert re.search(rf"CREATE DATABASE {name}\b", init, re.I), name


def test_gateway_publishes_port_8000(compose):
    gateway = compose["services"]["gateway"]
    assert ("8000", "8000") in published_ports(gateway)
    assert any("nginx.conf" in str(volume) for volume in gateway.get("volumes") or [])


def test_gateway_routes_every_prefix(nginx_conf):
    for name in SERVICES:
        assert re.search(rf"location\s+(\^~\s+)?/{name}/\s*\{{", nginx_conf), f"no location for /{name}/"
        assert f"{name}-web:8000" in nginx_conf, name
        assert re.search(rf"set\s+\$linli_prefix\s+/{name};", nginx_conf), name
    assert re.search(r"location\s+=\s+/healthz\s*\{", nginx_conf)
    # Without a resolver and variables in proxy_pass, nginx resolves each name
    # once at start and never sees replicas added by --scale.
    assert re.search(r"resolver\s+127\.0\.0\.11\b", nginx_conf)
    for header in ("X-Forwarded-Prefix", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id"):
        assert re.search(rf"proxy_set_header\s+{header}\s", nginx_conf), header
