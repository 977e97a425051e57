"""HTTP write path: `POST /v1/tickets` under `linli serve tickets` against a bare Flask + SQLAlchemy insert.

Run from the repository root (wrk must be installed: `apt-get install -y wrk`):

    .venv/bin/python -m bench.http [--seconds 15] [--runs 2] [--connections 16] [--json http.json]

Both servers run under gunicorn with the same settings (2 workers × 4 threads), each on a fresh
PostgreSQL database of the local server:

bare   `bench.bare`: parse the JSON body, check its fields by hand, one INSERT of the row the suite would
       store into a table of the suite's shape, commit, answer the row;
suite  `linli serve tickets` with `linli worker tickets` relaying its outbox to RabbitMQ, the database
       migrated, one compound delivered to tickets' read model by a `registry.area.created` event
       through the broker and the worker, and a bearer token minted for the compound's district.

Then wrk drives each with the same load (16 connections, 15 s), alternating bare, suite, bare, suite…
so that both see the same machine, after a short warm-up of each. Printed: req/s, latency p50/p99
(wrk's), non-2xx answers, CPU per request of the web processes, the worker, PostgreSQL (the backends of
the target's own database, and all of PostgreSQL), RabbitMQ and the whole machine, and the ratio suite ÷ bare.
Last, each app is run in this process on its database for a few hundred requests (Flask's test client,
no HTTP) to count its SQL statements per request and its own CPU per request, figures the machine's other
load blurs less.
URLs: LINLI_BENCH_DATABASE_URL, LINLI_BENCH_AMQP_URL (local defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

import bench.bare
from bench.servers import Databases, amqp_url, bus_environment, database_url, delete_bus, isolated_bus
from linli.shared.bus import ConfirmingPublisher, OutgoingMessage
from linli.shared.config import BusSettings
from linli.shared.events import encode
from linli.shared.http.auth import issue_token
from linli.shared.logs import configure_logging

DISTRICT = "50e9c1d2-4a53-4c1b-9f0e-2d8f4f6b1a01"
TICKETS_QUEUE = "tickets.read-models"
BARE_PORT, SUITE_PORT, OTHER_PORT = 8101, 8102, 8103
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.6  # the tickets issue's aim

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT {{\\"requests\\":%d,\\"duration_us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d," ..
    "\\"status\\":%d,\\"timeout\\":%d,\\"p50_us\\":%d,\\"p90_us\\":%d,\\"p99_us\\":%d,\\"max_us\\":%d}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def ticket_body(compound_id: str) -> dict[str, str]:
    return {
        "compound_id": compound_id,
        "title": "3栋2单元楼道灯不亮",
        "description": "三楼到五楼的楼道灯坏了一周，晚上老人上下楼很不方便。",
        "category": "facilities",
        "reporter_name": "王秀英",
        "reporter_phone": "13812345678",
    }


# --- processes ------------------------------------------------------------------------------------------


# The `linli` command run from another checkout: the editable install (scripts/_env.sh's) maps linli, linli.shared
# and linli.services to this checkout's folders by a table of its finder; the table is pointed at the other one.
_OTHER_CHECKOUT = """
import sys
root = sys.argv.pop(1)
for finder in sys.meta_path:
    mapping = getattr(sys.modules.get(getattr(finder, "__module__", "")), "MAPPING", None)
    if isinstance(mapping, dict) and "linli" in mapping:
        mapping.update({name: f"{root}/{folder}" for name, folder in
                        (("linli", "linli"), ("linli.shared", "shared"), ("linli.services", "services"))})
import linli.shared
if not linli.shared.__file__.startswith(root):
    raise SystemExit(f"linli still imports from {linli.shared.__file__}, not {root}: is linli installed editable?")
from linli.cli import main
sys.exit(main())
"""


def _launcher(*args: str, code: Path = ROOT) -> list[str]:
    if code != ROOT:
        return [sys.executable, "-c", _OTHER_CHECKOUT, str(code), *args]
    return [sys.executable, "-c", "import sys; from linli.cli import main; sys.exit(main())", *args]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(name: str, command: list[str], env: dict[str, str], logs: Path) -> Server:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    return Server(name, process, log)


def wait_until(check: Callable[[], bool], timeout: float, what: str, server: Server | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited ({server.process.returncode}); see {server.log}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001,S110 - not up yet
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}" + (f"; see {server.log}" if server else ""))


def healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
        return response.status == 200


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def deliver_compound(bus: BusSettings, tickets_db: str, worker: Server) -> str:
    """Publish a compound as registry would and wait until tickets' worker has it in its read model."""
    compound_id = str(uuid.uuid4())
    event_id = str(uuid.uuid4())
    event = {
        "specversion": "1.0", "id": event_id, "source": "/linli/registry", "type": "linli.registry.area.created",
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "subject": compound_id,
        "datacontenttype": "application/json", "district": DISTRICT,
        "data": {"id": compound_id, "district_id": DISTRICT, "parent_id": str(uuid.uuid4()), "level": "compound",
                 "name": "星光小区", "kind": "old", "version": 1},
    }
    publisher = ConfirmingPublisher(bus)
    engine = create_engine(tickets_db)
    try:
        def arrived() -> bool:
            # Until the worker has bound its queue the event is unroutable; the inbox makes a repeat harmless.
            publisher.publish([OutgoingMessage("registry.area.created", encode(event), event_id)])
            with engine.connect() as conn:
                return bool(conn.execute(text("SELECT count(*) FROM compounds")).scalar())

        wait_until(arrived, 60, "the compound in tickets' read model", worker)
    finally:
        publisher.close()
        engine.dispose()
    return compound_id


def outbox_unsent(tickets_db: str) -> int:
    engine = create_engine(tickets_db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar() or 0)
    finally:
        engine.dispose()


# --- CPU accounting -------------------------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid → (parent pid, command, CPU seconds of it and its reaped children)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(stat.parent.name)] = (int(fields[1]), comm, sum(int(v) for v in fields[11:15]) / _CLK_TCK)
    return table


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU used so far by each named process tree, by every PostgreSQL process and RabbitMQ, and by the machine."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    used: dict[str, float] = {}
    for name, root in roots.items():
        stack, total = [root], 0.0
        while stack:
            pid = stack.pop()
            if pid in table:
                total += table[pid][2]
            stack += children.get(pid, [])
        used[name] = total
    used["pg all"] = sum(cpu for _, comm, cpu in table.values() if comm == "postgres")
    used["rabbitmq"] = sum(cpu for _, comm, cpu in table.values() if comm == "beam.smp")
    used["machine"] = machine_busy_seconds()
    return used


def backend_pids(admin: Engine, database: str) -> set[int]:
    """The PostgreSQL backends serving `database` now (its pools' connections, the relay's, the LISTENer)."""
    with admin.connect() as conn:
        return set(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                                {"name": make_url(database).database}).scalars())


def own_backends_seconds(before: dict[int, float], pids: set[int]) -> float:
    """CPU the backends of one database used since `before` (pid → CPU then); a backend that ended meanwhile is
    lost from the count, so this may fall short when connections come and go (the suite's pools keep theirs)."""
    table = _proc_table()
    return sum(table[pid][2] - before.get(pid, 0.0) for pid in pids | set(before) if pid in table)


def machine_busy_seconds() -> float:
    """CPU time every core spent busy since boot (everything: wrk, the servers, other users' work)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _CLK_TCK


# --- load -----------------------------------------------------------------------------------------------


@dataclass
class Run:
    target: str
    round: int
    seconds: float
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_request: dict[str, float]


def wrk(port: int, script: Path, seconds: float, connections: int, threads: int) -> dict[str, Any]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}/v1/tickets"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRK-RESULT "):
            return dict(json.loads(line.removeprefix("WRK-RESULT ")))
    raise SystemExit(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def measure(target: str, round_: int, port: int, script: Path, args: argparse.Namespace,
            roots: dict[str, int], admin: Engine, database: str) -> Run:
    table = _proc_table()
    backends = {pid: table[pid][2] for pid in backend_pids(admin, database) if pid in table}
    before = cpu_seconds(roots)
    result = wrk(port, script, args.seconds, args.connections, args.wrk_threads)
    after = cpu_seconds(roots)
    after["pg own"] = own_backends_seconds(backends, backend_pids(admin, database))
    before["pg own"] = 0.0
    requests = result["requests"]
    seconds = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Run(
        target=target,
        round=round_,
        seconds=seconds,
        requests=requests,
        rate=requests / seconds,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors=errors,
        cpu_ms_per_request={k: round((after[k] - before[k]) * 1000 / max(requests, 1), 3) for k in after},
    )


def write_script(path: Path, body: dict[str, Any], token: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    path.write_text(WRK_SCRIPT.format(body=json.dumps(body, ensure_ascii=False), auth=auth))
    return path


# --- statements and CPU in process -------------------------------------------------------------------


@dataclass
class InProcess:
    target: str
    requests: int
    statements_per_request: float
    commits_per_request: float
    cpu_ms_per_request: float
    statements: list[str]  # of one request: each statement's first words


def in_process(target: str, app: Any, engine: Engine, body: dict[str, Any], headers: dict[str, str],
               requests: int) -> InProcess:
    """Drive `app` through Flask's test client: SQL statements (and commits) per request, CPU per request.

    The request log line is rendered as the servers render it, into /dev/null.
    """
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **headers}
    client = app.test_client()
    statements: list[str] = []
    commits = [0]

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()[:3]))

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    def post() -> None:
        response = client.post("/v1/tickets", data=payload, headers=headers)
        if response.status_code != 201:
            raise SystemExit(f"{target} in process answered {response.status_code}: {response.get_data(True)[:500]}")

    real_stderr = sys.stderr
    configure_logging("INFO", "json")
    try:
        with open(os.devnull, "w") as devnull:
            sys.stderr = devnull
            for _ in range(50):  # statement caches, psycopg's prepared statements
                post()
            event.listen(engine, "before_cursor_execute", on_statement)
            event.listen(engine, "commit", on_commit)
            try:
                post()
                one = list(statements)
                started = time.thread_time()
                for _ in range(requests):
                    post()
                cpu = time.thread_time() - started
            finally:
                event.remove(engine, "before_cursor_execute", on_statement)
                event.remove(engine, "commit", on_commit)
    finally:
        sys.stderr = real_stderr
        configure_logging(os.environ.get("LINLI_LOG_LEVEL", "WARNING"), "console")
    return InProcess(target, requests, (len(statements) - len(one)) / requests, (commits[0] - 1) / requests,
                     round(cpu * 1000 / requests, 3), one)


def bare_in_process(database: str, requests: int) -> InProcess:
    engine = bench.bare.make_engine(database)
    try:
        return in_process("bare", bench.bare.create_app(engine), engine, ticket_body(str(uuid.uuid4())), {},
                          requests)
    finally:
        engine.dispose()


def suite_in_process(target: str, suite: Suite, requests: int) -> InProcess:
    """The suite as its servers run it, in this process (this checkout's code, whichever `suite.code` is)."""
    from linli.shared.config import Settings
    from linli.shared.http.app import create_app
    from linli.suite import runtime

    rt = runtime("tickets", Settings(service="tickets", database_url=suite.database, bus=suite.bus,
                                     jwt_secret=suite.secret))
    try:
        return in_process(target, create_app(rt), rt.engine, ticket_body(suite.compound_id),
                          {"Authorization": f"Bearer {suite.token}"}, requests)
    finally:
        rt.dispose()


# --- report ---------------------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def code_version(root: Path = ROOT) -> str:
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "shared", "services"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted" if dirty else "")


CPU_KEYS = ["web", "worker", "pg own", "pg all", "rabbitmq", "machine"]


def print_report(runs: list[Run], counted: list[InProcess]) -> dict[str, Any]:
    print(f"{'run':<14}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>8}   CPU ms/request: "
          + "".join(f"{k:>11}" for k in CPU_KEYS))
    print("-" * 123)
    for run in runs:
        cpu = "".join(f"{run.cpu_ms_per_request[k]:>11.3f}" if k in run.cpu_ms_per_request else f"{'—':>11}"
                      for k in CPU_KEYS)
        print(f"{run.target + ' #' + str(run.round):<14}{run.rate:>8,.0f}{run.p50_ms:>9.2f}{run.p99_ms:>9.2f}"
              f"{run.errors:>8}   {'':15}{cpu}")
    print("(pg own: the backends of the target's database; pg all: every PostgreSQL process, other users' too; "
          "machine: every process on the box, wrk and other users' work included)")
    bare = [r.rate for r in runs if r.target == "bare"]
    summary: dict[str, Any] = {"bare_mean": mean(bare), "suites": {}}
    print()
    if counted:
        print(f"in process ({counted[0].requests} requests each, Flask's test client, no HTTP):")
        for one in counted:
            print(f"  {one.target:<12}{one.statements_per_request:>5.1f} statements + {one.commits_per_request:.0f} "
                  f"commit per request, {one.cpu_ms_per_request:.2f} ms CPU per request: "
                  + "; ".join(one.statements))
        print()
    print(f"bare mean {mean(bare):,.0f} req/s")
    for target in dict.fromkeys(r.target for r in runs if r.target != "bare"):
        rates = [r.rate for r in runs if r.target == target]
        ratio = mean(rates) / mean(bare)
        pairs = [s / b for s, b in zip(rates, bare, strict=False)]
        print(f"{target} mean {mean(rates):,.0f} req/s; {target} ÷ bare = {ratio:.2f}× (per round: "
              f"{', '.join(f'{p:.2f}' for p in pairs)}); target ≥ {TARGET_RATIO}×: "
              f"{'MET' if ratio >= TARGET_RATIO else 'NOT MET'}")
        summary["suites"][target] = {"mean": mean(rates), "ratio": ratio, "per_round": pairs}
    if any(r.errors for r in runs):
        print("WARNING: some requests failed (non-2xx, timeouts or socket errors); see the server logs")
    return summary


# --- main -----------------------------------------------------------------------------------------------


@dataclass
class Suite:
    """One `linli serve tickets` + `linli worker tickets`, on a database and bus namespace of its own."""

    name: str
    port: int
    code: Path  # the checkout whose code it runs
    database: str
    bus: BusSettings
    secret: str
    compound_id: str
    token: str
    web: Server
    worker: Server


def start_suite(name: str, port: int, code: Path, databases: Databases, bus: BusSettings, logs: Path,
                workers: int, threads: int, servers: list[Server]) -> Suite:
    database = databases.fresh(name.replace("-", "_"))
    secret = secrets.token_urlsafe(32)
    env = {"TICKETS_DATABASE_URL": database, "LINLI_JWT_SECRET": secret, **bus_environment(bus)}
    migrate = subprocess.run(_launcher("migrate", "tickets", code=code), env={**os.environ, **env},
                             capture_output=True, text=True, check=False)
    if migrate.returncode:
        raise SystemExit(f"linli migrate tickets ({name}) failed:\n{migrate.stdout}{migrate.stderr}")
    worker = start(f"{name}-worker", _launcher("worker", "tickets", code=code), env, logs)
    servers.append(worker)
    compound_id = deliver_compound(bus, database, worker)
    # As an environment variable: a checkout from before `linli serve --threads` ignores it (and runs 4).
    web = start(name, _launcher("serve", "tickets", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                                code=code), {**env, "LINLI_WEB_THREADS": str(threads)}, logs)
    servers.append(web)
    wait_until(lambda: healthy(port), 60, f"linli serve tickets ({name})", web)
    token = issue_token(secret, sub="bench", district=DISTRICT, scopes=["tickets:write", "tickets:read"],
                        ttl_seconds=24 * 3600)
    return Suite(name, port, code, database, bus, secret, compound_id, token, web, worker)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each measured run (default 15)")
    parser.add_argument("--runs", type=int, default=2, help="rounds of bare + suite (default 2)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring each (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker, both servers (4)")
    parser.add_argument("--only", choices=("bare", "suite"), help="drive one of the two only (no ratio)")
    parser.add_argument("--compare-with", type=Path, metavar="CHECKOUT",
                        help="also run the suite from another checkout of linli (e.g. a worktree at an older "
                             "commit), as 'suite-other', in the same rounds")
    parser.add_argument("--count", type=int, default=300,
                        help="requests per app for the in-process statement and CPU count (0: skip; default 300)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs (printed where)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print("bench.http needs wrk, an HTTP load generator: `apt-get install -y wrk` (Debian/Ubuntu)",
              file=sys.stderr)
        return 2
    for port in (BARE_PORT, SUITE_PORT, OTHER_PORT):
        if not port_free(port):
            print(f"port {port} is in use; stop what listens there first", file=sys.stderr)
            return 2

    configure_logging(os.environ.get("LINLI_LOG_LEVEL", "WARNING"), "console")
    load = os.getloadavg()
    other = args.compare_with.resolve() if args.compare_with else None
    print(f"linli HTTP intake benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
          f"(load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}), code at {code_version()}"
          + (f"; suite-other: {other} at {code_version(other)}" if other else ""))
    print(f"wrk -t{args.wrk_threads} -c{args.connections}, {args.seconds:g} s per run after {args.warmup:g} s "
          f"warm-up, {args.runs} round(s); gunicorn {args.workers} workers × {args.threads} threads each", flush=True)

    logs = Path(tempfile.mkdtemp(prefix="linli-bench-http-"))
    bus = isolated_bus(amqp_url())
    other_bus = isolated_bus(amqp_url()) if other else None
    databases = Databases(database_url())
    servers: list[Server] = []
    runs: list[Run] = []
    counted: list[InProcess] = []
    suites: list[Suite] = []
    try:
        targets: dict[str, tuple[int, Path, dict[str, int], str]] = {}
        if args.only != "suite":
            bare_db = databases.fresh("bare")
            bare = start("bare", [sys.executable, "-m", "bench.bare", "--bind", f"127.0.0.1:{BARE_PORT}",
                                  "--database-url", bare_db, "--workers", str(args.workers),
                                  "--threads", str(args.threads)], {}, logs)
            servers.append(bare)
            wait_until(lambda: healthy(BARE_PORT), 60, "the bare server", bare)
            script = write_script(logs / "bare.lua", ticket_body(str(uuid.uuid4())), None)
            targets["bare"] = (BARE_PORT, script, {"web": bare.process.pid}, bare_db)
        if args.only != "bare":
            suites.append(start_suite("suite", SUITE_PORT, ROOT, databases, bus, logs, args.workers, args.threads,
                                      servers))
            if other and other_bus:
                suites.append(start_suite("suite-other", OTHER_PORT, other, databases, other_bus, logs,
                                          args.workers, args.threads, servers))
            for suite in suites:
                script = write_script(logs / f"{suite.name}.lua", ticket_body(suite.compound_id), suite.token)
                targets[suite.name] = (suite.port, script, {"web": suite.web.process.pid,
                                                            "worker": suite.worker.process.pid}, suite.database)

        for name, (port, script, _, _) in targets.items():
            if args.warmup > 0:
                wrk(port, script, args.warmup, args.connections, args.wrk_threads)
                print(f"  warmed up {name}", flush=True)
        for round_ in range(1, args.runs + 1):
            for name, (port, script, roots, database) in targets.items():
                run = measure(name, round_, port, script, args, roots, databases.admin, database)
                runs.append(run)
                print(f"  {name} #{round_}: {run.rate:,.0f} req/s", flush=True)
        for suite in suites:
            started = time.monotonic()
            wait_until(lambda: outbox_unsent(suite.database) == 0, 60, "the relay to drain the outbox")  # noqa: B023
            print(f"  {suite.name}: the worker's relay had published every event {time.monotonic() - started:.1f} s "
                  "after the last run", flush=True)
        for server in reversed(servers):  # the in-process counts want the cores to themselves
            server.stop()
        if args.count > 0:
            if "bare" in targets:
                counted.append(bare_in_process(bare_db, args.count))
            if suites:
                # In this process only this checkout's code can run; the other checkout's suite is not counted.
                counted.append(suite_in_process("suite", suites[0], args.count))
    finally:
        for server in reversed(servers):
            server.stop()
        databases.drop_all()
        delete_bus(bus, [bus.queue(TICKETS_QUEUE)])
        if other_bus:
            delete_bus(other_bus, [other_bus.queue(TICKETS_QUEUE)])
        if args.keep_logs:
            print(f"server logs in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)

    print()
    summary: dict[str, Any] = {}
    if args.only is None:
        summary = print_report(runs, counted)
    else:
        for run in runs:
            print(f"{run.target} #{run.round}: {run.rate:,.0f} req/s, p50 {run.p50_ms:.2f} ms, "
                  f"p99 {run.p99_ms:.2f} ms, {run.errors} failed, CPU ms/request {run.cpu_ms_per_request}")
        for one in counted:
            print(f"{one.target} in process: {one.statements_per_request:.1f} statements/request, "
                  f"{one.cpu_ms_per_request:.2f} ms CPU/request: {'; '.join(one.statements)}")
    if args.json:
        args.json.write_text(json.dumps({"runs": [asdict(r) for r in runs], "in_process": [asdict(c) for c in counted],
                                         **summary, "code": code_version(),
                                         "other_code": code_version(other) if other else None,
                                         "args": vars(args) | {"json": str(args.json)}},
                                        indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
