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


# --- the signing key of distributed processes ---------------------------------------------------------------

STRONG = "a-strong-secret-for-tests-0123456789abcdef"


@pytest.fixture
def nothing_starts(monkeypatch, tmp_path):
    """A process that got past its checks would start here: fail the test instead of running forever."""
    import gunicorn.app.base

    import linli.processes

    def started(*_args, **_kwargs):
        raise AssertionError("the process started")

    monkeypatch.setattr(linli.processes, "run_worker", started)
    monkeypatch.setattr(linli.processes, "run_clock", started)
    monkeypatch.setattr(gunicorn.app.base.BaseApplication, "run", started)
    monkeypatch.chdir(tmp_path)
    for name in ("LINLI_DATA_DIR", "LINLI_JWT_SECRET", "TICKETS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("command", ["serve", "worker", "clock"])
@pytest.mark.parametrize("secret, complaint", [
    (None, "LINLI_JWT_SECRET is not set"),
    ("", "LINLI_JWT_SECRET is not set"),
    ("change-me-in-production", "published example"),
    ("x" * 31, "31 bytes long; at least 32"),
])
def test_a_distributed_process_refuses_a_missing_published_or_short_key(
        nothing_starts, monkeypatch, capsys, command, secret, complaint):
    if secret is not None:
        monkeypatch.setenv("LINLI_JWT_SECRET", secret)
    assert main([command, "tickets"]) == 2
    err = capsys.readouterr().err
    assert complaint in err and "openssl rand" in err
    assert not (nothing_starts / ".linli").exists()  # and it left no stray data folder behind


def test_a_distributed_process_starts_with_a_strong_key(nothing_starts, monkeypatch):
    monkeypatch.setenv("LINLI_JWT_SECRET", STRONG)
    monkeypatch.setenv("TICKETS_DATABASE_URL", f"sqlite:///{nothing_starts / 'tickets.db'}")
    with pytest.raises(AssertionError, match="the process started"):
        main(["worker", "tickets"])


def test_migrate_checks_no_token_and_needs_no_key(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("LINLI_JWT_SECRET", raising=False)
    monkeypatch.delenv("NOTIFY_DATABASE_URL", raising=False)
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path))
    assert main(["migrate", "notify"]) == 0
    assert not (tmp_path / "jwt.key").exists()


def test_the_embedded_mode_refuses_a_weak_key_it_is_given(monkeypatch, tmp_path):
    from linli.shared.config import ConfigError, embedded_jwt_secret

    monkeypatch.setenv("LINLI_JWT_SECRET", "change-me-in-production")
    with pytest.raises(ConfigError):
        embedded_jwt_secret(tmp_path)
    monkeypatch.delenv("LINLI_JWT_SECRET")
    generated = embedded_jwt_secret(tmp_path)
    assert len(generated) >= 32 and embedded_jwt_secret(tmp_path) == generated


# --- linli token create --------------------------------------------------------------------------------------


@pytest.fixture
def checkout(monkeypatch, tmp_path):
    """A folder where `linli run` keeps its data, with its key, and a subdirectory to run commands from."""
    for name in ("LINLI_DATA_DIR", "LINLI_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / ".linli"
    data.mkdir()
    (data / "jwt.key").write_text(STRONG + "\n")
    sub = tmp_path / "services" / "tickets"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    return tmp_path


def _claims(token: str, key: str = STRONG) -> dict:
    return jwt.decode(token, key, algorithms=["HS256"], issuer="linli")


def test_token_create_finds_the_data_folder_from_a_subdirectory(checkout, capsys):
    assert main(["token", "create", "--district", "*", "--scope", "tickets:read"]) == 0
    assert _claims(capsys.readouterr().out.strip())["scope"] == "tickets:read"
    assert not (checkout / "services" / "tickets" / ".linli").exists()


def test_token_create_prefers_linli_data_dir(checkout, monkeypatch, tmp_path_factory, capsys):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "jwt.key").write_text("another-key-of-the-right-length-0123456789")
    monkeypatch.setenv("LINLI_DATA_DIR", str(elsewhere))
    assert main(["token", "create", "--district", "*", "--scope", "tickets:read"]) == 0
    _claims(capsys.readouterr().out.strip(), "another-key-of-the-right-length-0123456789")


def test_token_create_never_makes_a_key(checkout, capsys):
    (checkout / ".linli" / "jwt.key").unlink()
    assert main(["token", "create", "--district", "*", "--scope", "tickets:read"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no signing key" in captured.err and "LINLI_JWT_SECRET" in captured.err
    assert not (checkout / ".linli" / "jwt.key").exists()


def test_token_create_refuses_scopes_the_services_do_not_know(checkout, capsys):
    assert main(["token", "create", "--district", "*", "--scope", "tickets:read tickets:raed"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "tickets:raed" in captured.err and "tickets:pii" in captured.err


@pytest.mark.parametrize("ttl", ["0", "-60", "soon"])
def test_token_create_refuses_a_ttl_that_is_not_positive(checkout, capsys, ttl):
    with pytest.raises(SystemExit) as exit_:
        main(["token", "create", "--district", "*", "--scope", "tickets:read", "--ttl", ttl])
    assert exit_.value.code == 2 and "--ttl" in capsys.readouterr().err


def test_token_scopes_lists_what_the_services_declare(capsys):
    assert main(["token", "scopes"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    services = ("registry", "tickets", "rotation", "notify")
    expected = {f"{s}:{level}" for s in services for level in ("read", "write", "admin")}
    assert listed == expected | {"tickets:pii", "registry:pii"}


def test_a_service_declares_only_scopes_of_its_own():
    from linli.suite import spec

    base = spec("notify")
    with pytest.raises(ValueError, match="notify:<word>"):
        type(base)(**{**base.__dict__, "scopes": {"tickets:read": "not notify's"}})


def test_the_embedded_operator_token_lives_hours_with_every_declared_scope(make_service):
    from linli.embedded import Suite
    from linli.suite import scopes
    from tests.support.apps import SECRET

    suite = Suite({"registry": make_service("registry").rt}, {}, None)
    claims = jwt.decode(suite.operator_token(), SECRET, algorithms=["HS256"], issuer="linli")
    assert claims["exp"] - claims["iat"] == 8 * 3600
    assert set(claims["scope"].split()) == set(scopes()) and claims["district"] == "*"


def test_the_command_line_imports_prometheus_only_when_a_command_needs_it():
    """`linli serve` sets PROMETHEUS_MULTIPROC_DIR first; imported earlier, gunicorn's workers' counts are lost."""
    import subprocess
    import sys

    code = "import sys, linli.cli; print('prometheus_client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


@pytest.fixture
def tickets_with_tallies(monkeypatch, tmp_path):
    """tickets' embedded database, migrated by the CLI, holding the stats world's tickets and their tallies."""
    from linli.suite import runtime
    from tests.support import stats_world

    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LINLI_BROKER_URL", raising=False)
    assert main(["migrate", "tickets"]) == 0
    rt = runtime("tickets", jwt_secret="")
    stats_world.build(rt.factory, stats_world.ids())
    yield rt
    rt.dispose()


def test_tallies_counts_the_rates_tallies_again_from_the_tickets(tickets_with_tallies, capsys):
    from sqlalchemy import update

    from linli.services.tickets.models import ticket_tallies, ticket_unit_tallies
    from tests.support.ticket_churn import kept_tallies

    factory = tickets_with_tallies.factory
    with factory() as session:
        right = kept_tallies(session)
        for table in (ticket_tallies, ticket_unit_tallies):  # as an old version's writes leave them
            session.execute(update(table).values(submitted=0))
        session.commit()
        wrong = kept_tallies(session)
        assert {key[0] for key in right if wrong.get(key) != right[key]} == {"ticket_tallies", "ticket_unit_tallies"}
    assert main(["tallies"]) == 0
    assert "tally row(s) counted" in capsys.readouterr().out
    with factory() as session:
        assert kept_tallies(session) == right


def test_tallies_check_names_the_rows_that_drifted_and_writes_nothing(tickets_with_tallies, capsys):
    """A count off in a bucket the medians do not read would go unseen; `tallies --check` finds it, and exits 1."""
    from sqlalchemy import select, update

    from linli.services.tickets.models import MONTH, ticket_unit_tallies
    from tests.support.stats_world import YONGCHUAN
    from tests.support.ticket_churn import kept_tallies

    assert main(["tallies", "--check"]) == 0
    assert "the tallies hold what the tickets count" in capsys.readouterr().out
    table = ticket_unit_tallies
    with tickets_with_tallies.factory() as session:
        unit, first = session.execute(select(table.c.unit_id, table.c.day).where(
            table.c.span == MONTH, table.c.resolved_in_47 == 0).limit(1)).one()
        session.execute(update(table).where(table.c.span == MONTH, table.c.unit_id == unit, table.c.day == first)
                        .values(resolved_in_47=table.c.resolved_in_47 + 1))
        session.commit()
        drifted = kept_tallies(session)
    assert main(["tallies", "--check"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"ticket_unit_tallies {YONGCHUAN} month {first} {unit}: resolved_in_47"]
    assert "1 tally row(s) differ" in err
    assert main(["tallies", "--check", "--district", "elsewhere"]) == 0
    with tickets_with_tallies.factory() as session:
        assert kept_tallies(session) == drifted  # a check writes nothing
    assert main(["tallies"]) == 0 and main(["tallies", "--check"]) == 0


def test_tallies_counts_again_when_a_move_wrote_a_new_row_meanwhile(monkeypatch, tmp_path, capsys):
    from sqlalchemy.exc import IntegrityError

    from linli.services.tickets import tallies

    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LINLI_BROKER_URL", raising=False)
    assert main(["migrate", "tickets"]) == 0
    real, calls = tallies.rebuild, []

    def raced(session, **kwargs):
        calls.append(kwargs)
        written = real(session, **kwargs)
        if len(calls) == 1:  # as PostgreSQL answers the insert of a row a concurrent move has just created
            raise IntegrityError("INSERT INTO ticket_tallies", {}, Exception("duplicate key"))
        return written

    monkeypatch.setattr(tallies, "rebuild", raced)
    assert main(["tallies", "--district", "yongchuan"]) == 0
    out, err = capsys.readouterr()
    assert len(calls) == 2 and "counting again (2)" in err and "tally row(s) counted" in out

    def always(session, **kwargs):
        calls.append(kwargs)
        raise IntegrityError("INSERT INTO ticket_tallies", {}, Exception("duplicate key"))

    calls.clear()
    monkeypatch.setattr(tallies, "rebuild", always)
    with pytest.raises(IntegrityError):  # three tries, then the error itself, not a claim of success
        main(["tallies"])
    assert len(calls) == 3 and "tally row(s) counted" not in capsys.readouterr().out
