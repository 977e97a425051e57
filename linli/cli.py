"""The `linli` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from linli.suite import SERVICES

SERVICE_CHOICES = (*SERVICES, "all")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="linli (邻里): community governance services")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="all four services in one process, SQLite + in-memory bus (embedded mode)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--data-dir", help="default: LINLI_DATA_DIR, else the nearest .linli here or above, else ./.linli")
    run.add_argument("--no-demo", action="store_true", help="do not load the demo data")

    serve = sub.add_parser("serve", help="a service's HTTP API under gunicorn")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--bind", default="0.0.0.0:8000")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("LINLI_WEB_WORKERS", "2")))
    serve.add_argument("--threads", type=int, default=int(os.environ.get("LINLI_WEB_THREADS", "4")),
                       help="threads per worker (gthread); default LINLI_WEB_THREADS, else 4")

    worker = sub.add_parser("worker", help="a service's outbox relay and event consumers")
    worker.add_argument("service", choices=SERVICES)

    clock = sub.add_parser("clock", help="a service's time-driven events")
    clock.add_argument("service", choices=SERVICES)

    migrate = sub.add_parser("migrate", help="bring a service's database to the latest schema")
    migrate.add_argument("service", choices=SERVICE_CHOICES)

    revision = sub.add_parser("makemigration", help="(developers) autogenerate a migration from the models")
    revision.add_argument("service", choices=SERVICES)
    revision.add_argument("-m", "--message", required=True)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser(
        "create", help="print a bearer token signed with LINLI_JWT_SECRET, else the data folder's key")
    create.add_argument("--district", required=True, help="a district id, or * for an operator")
    create.add_argument("--scope", required=True, help='space-separated, e.g. "tickets:read tickets:write"; '
                                                       "`linli token scopes` lists them")
    create.add_argument("--sub", default="cli", help="client id")
    create.add_argument("--ttl", type=_positive_seconds, default=24 * 3600, help="seconds (default one day)")
    token_sub.add_parser("scopes", help="list the scopes the services know")

    dlq = sub.add_parser("dlq", help="dead-lettered events")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_sub.add_parser("list", help="show what failed for good (one JSON line each), leaving it in place")
    dlq_list.add_argument("service", choices=SERVICES)
    dlq_replay = dlq_sub.add_parser("replay", help="send dead messages back to their queue (all, or one)")
    dlq_replay.add_argument("service", choices=SERVICES)
    dlq_drop = dlq_sub.add_parser("drop", help="remove one dead message (or one event's) for good")
    dlq_drop.add_argument("service", choices=SERVICES)
    for command, required in ((dlq_replay, False), (dlq_drop, True)):
        which = command.add_mutually_exclusive_group(required=required)
        which.add_argument("--id", dest="handle", help="only the message with this handle (from `dlq list`)")
        which.add_argument("--event-id", help="only this event's message(s)")

    tallies = sub.add_parser("tallies", help="tickets' rates tallies counted again from the tickets (after an upgrade "
                                             "to 0009, 0010 or 0011 during which the old version kept writing)")
    tallies.add_argument("--district", help="only this district's")
    tallies.add_argument("--check", action="store_true",
                         help="only compare the tallies with the tickets, writing nothing; exit 1 if any row differs")

    asyncapi = sub.add_parser("asyncapi", help="print the AsyncAPI document generated from the event catalogue")
    asyncapi.add_argument("--out", help="write to this file instead")
    return parser


def _positive_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from linli.shared.config import ConfigError
    from linli.shared.logs import configure_logging

    configure_logging()
    handler = globals()[f"_cmd_{args.command}"]
    try:
        return handler(args) or 0
    except ConfigError as exc:
        print(f"linli {args.command}: {exc}", file=sys.stderr)
        return 2


def _cmd_run(args: argparse.Namespace) -> int:
    from linli.embedded import serve

    serve(host=args.host, port=args.port, data_dir=args.data_dir, demo=not args.no_demo)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import tempfile

    from linli.shared.config import required_jwt_secret

    # Refused here, before gunicorn starts workers that would each fail to load the app.
    required_jwt_secret()
    # Must be set before prometheus_client is imported, so every worker writes its counts to files.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="linli-metrics-"))
    from linli.processes import declare_bus
    from linli.suite import runtime

    # Once, in the master, before any worker is forked.
    rt = runtime(args.service)
    declare_bus(rt)
    rt.dispose()
    from gunicorn.app.base import BaseApplication
    from prometheus_client import multiprocess

    from linli.wsgi import app

    def child_exit(_server: object, worker: object) -> None:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", args.bind)
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("accesslog", None)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("child_exit", child_exit)

        def load(self) -> object:
            return app(args.service)

    Gunicorn().run()
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from linli.processes import run_worker
    from linli.suite import runtime

    run_worker(runtime(args.service))
    return 0


def _cmd_clock(args: argparse.Namespace) -> int:
    from linli.processes import run_clock
    from linli.suite import runtime

    run_clock(runtime(args.service))
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from linli.shared.migrations import upgrade
    from linli.suite import names, runtime

    for name in names(args.service):
        rt = runtime(name, jwt_secret="")  # a schema change checks no token
        upgrade(rt)
        print(f"{name}: migrated")
        rt.dispose()
    # The broker's topology is part of the schema: every queue of every service, before anything publishes.
    bus = runtime(names(args.service)[0], jwt_secret="")
    try:
        if bus.settings.bus.is_memory:
            print("bus: in-memory, nothing to declare")
            return 0
        try:
            bus.declare_topology()
        except Exception as exc:  # noqa: BLE001 - reported to the operator, who must act
            print(f"bus: could not declare the queues on {_safe_url(bus.settings.bus.url)}: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(f"bus: {len(bus.topologies())} queue(s) and their exchanges declared")
    finally:
        bus.dispose()
    return 0


def _cmd_tallies(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from linli.services.tickets.tallies import check, rebuild
    from linli.shared.db import transaction
    from linli.suite import runtime

    rt = runtime("tickets", jwt_secret="")  # run by an operator on the database, as migrate is
    try:
        if args.check:
            with rt.factory() as session:
                drifts = check(session, district_id=args.district)
            for drift in drifts[:_DRIFTS_SHOWN]:
                district, span, day, group = drift.key
                print(f"{drift.table} {district} {span} {day} {group}: {', '.join(drift.figures)}")
            if drifts:
                print(f"tickets: {len(drifts)} tally row(s) differ from the tickets; `linli tallies` counts them again",
                      file=sys.stderr)
                return 1
            print("tickets: the tallies hold what the tickets count")
            return 0
        for attempt in range(1, _TALLY_ATTEMPTS + 1):
            try:
                with transaction(rt.factory) as session:
                    rows = rebuild(session, district_id=args.district)
                break
            except IntegrityError:
                # A move made a brand-new tally row while the count ran (existing rows are locked, new ones cannot
                # be): nothing was written; counting again sees that move.
                if attempt == _TALLY_ATTEMPTS:
                    raise
                print(f"tickets: a move wrote a new tally row meanwhile; counting again ({attempt + 1})",
                      file=sys.stderr)
        print(f"tickets: {rows} tally row(s) counted from the tickets")
    finally:
        rt.dispose()
    return 0


_TALLY_ATTEMPTS = 3
_DRIFTS_SHOWN = 20  # the rows `tallies --check` prints; it counts them all


def _cmd_makemigration(args: argparse.Namespace) -> int:
    from alembic import command

    from linli.shared.migrations import alembic_config
    from linli.suite import runtime

    rt = runtime(args.service, jwt_secret="")
    command.revision(alembic_config(rt), message=args.message, autogenerate=True)
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from linli.shared.config import existing_jwt_secret
    from linli.shared.http.auth import issue_token
    from linli.suite import scopes

    known = scopes()
    if args.token_command == "scopes":
        for scope, meaning in known.items():
            print(f"{scope:<16} {meaning}")
        return 0
    requested = args.scope.split()
    unknown = [scope for scope in requested if scope not in known]
    if not requested or unknown:
        what = f"unknown scope(s): {' '.join(unknown)}" if unknown else "no scope given"
        print(f"linli token create: {what}; the services know: {' '.join(known)}", file=sys.stderr)
        return 2
    secret = existing_jwt_secret()
    print(issue_token(secret, sub=args.sub, district=args.district, scopes=requested, ttl_seconds=args.ttl))
    return 0


def _cmd_dlq(args: argparse.Namespace) -> int:
    from linli.shared import dlq
    from linli.suite import runtime

    rt = runtime(args.service, jwt_secret="")
    if rt.settings.bus.is_memory:
        print("the in-memory bus keeps no dead-letter queue across processes; set LINLI_BROKER_URL", file=sys.stderr)
        return 2
    queues = rt.queue_names()
    try:
        if args.dlq_command == "list":
            for entry in dlq.list_dead(rt.settings.bus, queues):
                print(json.dumps(entry, ensure_ascii=False, default=str))
            return 0
        act = dlq.replay if args.dlq_command == "replay" else dlq.drop
        count = act(rt.settings.bus, queues, event_id=args.event_id, handle=args.handle)
    except dlq.DeadLetterError as exc:
        print(f"dlq: {exc}", file=sys.stderr)
        return 1
    finally:
        rt.dispose()
    past = "replayed" if args.dlq_command == "replay" else "dropped"
    if count == 0 and (args.event_id or args.handle):
        print(f"dlq: no dead message of {args.service} matches {args.handle or args.event_id}", file=sys.stderr)
        return 1
    print(f"{past} {count} message(s)")
    return 0


def _safe_url(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


def _cmd_asyncapi(args: argparse.Namespace) -> int:
    from linli.asyncapi import document_yaml

    text = document_yaml()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
