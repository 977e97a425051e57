"""How the service code is shaped: one layout for every service, layers that import only what they may,
and one naming pattern for what handles events and timers."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import marshmallow as ma
import pytest

from linli.shared.actors import Actor
from linli.shared.incoming import Incoming
from linli.suite import SERVICES

ROOT = Path(__file__).resolve().parents[2]
CORE_MODULES = {"__init__", "api", "domain", "events", "models", "schemas", "service", "usecases"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _uses(imports: set[str], *prefixes: str) -> set[str]:
    return {name for name in imports for prefix in prefixes if name == prefix or name.startswith(prefix + ".")}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_folder_has_the_same_layout(service):
    folder = ROOT / "services" / service
    modules = {path.stem for path in folder.glob("*.py")}
    assert modules >= CORE_MODULES, f"{service} lacks {CORE_MODULES - modules}"
    spec = importlib.import_module(f"linli.services.{service}.service").SPEC
    assert ("handlers" in modules) == bool(spec.subscriptions)
    assert ("clock" in modules) == bool(spec.timers)


@pytest.mark.parametrize("service", SERVICES)
def test_use_cases_and_domain_rules_run_without_flask(service):
    folder = ROOT / "services" / service
    assert not _uses(_imports(folder / "usecases.py"), "flask", "flask_smorest", "linli.shared.http", "kombu")
    assert not _uses(_imports(folder / "domain.py"), "flask", "flask_smorest", "linli.shared.http", "kombu",
                     "sqlalchemy", "marshmallow")


# Domain rules kept in modules of their own besides domain.py (the chair's planner, webhook rules, evaluation sums):
# plain Python too.
PLAIN_RULES = ["rotation/schedule.py", "rotation/meetings.py", "rotation/calendars.py", "notify/webhooks.py",
               "notify/outgoing.py", "notify/rules.py", "notify/samples.py", "notify/sms.py", "notify/templates.py",
               "notify/wording.py", "registry/evaluation.py", "tickets/rates.py", "tickets/stats_files.py"]


@pytest.mark.parametrize("module", PLAIN_RULES)
def test_domain_rules_outside_domain_py_run_without_frameworks(module):
    assert (ROOT / "services" / module).exists(), module
    imports = _imports(ROOT / "services" / module)
    assert not _uses(imports, "flask", "flask_smorest", "linli.shared.http", "kombu", "sqlalchemy", "marshmallow")
    assert not _uses(imports, "socket", "http", "urllib.request"), "rules judge; they do not reach the network"


@pytest.mark.parametrize("module", ["actors", "changes", "errors", "incoming", "visibility"])
def test_the_shared_steps_of_use_cases_run_without_flask(module):
    assert not _uses(_imports(ROOT / "shared" / f"{module}.py"), "flask", "flask_smorest", "linli.shared.http")


def test_no_service_answers_with_http_problems_itself():
    # Use cases raise domain errors (shared/errors.py); shared maps them to problems.
    for path in (ROOT / "services").rglob("*.py"):
        assert "ProblemError" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("service", SERVICES)
def test_event_handlers_are_named_on_entity_or_on_entity_verb(service):
    spec = importlib.import_module(f"linli.services.{service}.service").SPEC
    for subscription in spec.subscriptions:
        by_handler: dict[str, set[str]] = {}
        for key, handler in subscription.handlers:
            if "#" in key.split(".")[:2]:
                # A handler of whatever event comes (notify's webhooks) is named for that; one of whatever verb of
                # one entity (notify's `rotation.term.#`) is named for the entity, below.
                assert handler.__name__ == "on_event", f"{service}: {handler.__name__} handles {key}; name it on_event"
                continue
            by_handler.setdefault(handler.__name__, set()).add(key)
        for name, keys in by_handler.items():
            entities = {key.split(".")[1] for key in keys}
            assert len(entities) == 1, f"{name} takes several entities: {keys}"
            [entity] = entities
            verbs = {key.split(".")[2] for key in keys}
            expected = {f"on_{entity}"} | ({f"on_{entity}_{verb}" for verb in verbs} if len(verbs) == 1 else set())
            assert name in expected, f"{service}: {name} handles {sorted(keys)}; name it one of {expected}"


@pytest.mark.parametrize("service", SERVICES)
def test_timer_handlers_are_named_after_their_kind(service):
    spec = importlib.import_module(f"linli.services.{service}.service").SPEC
    for kind, handler in spec.timers.items():
        assert handler.__name__ == "on_" + kind.replace(".", "_"), (kind, handler.__name__)


@pytest.mark.parametrize("service", [s for s in SERVICES if (ROOT / "services" / s / "handlers.py").exists()])
def test_handlers_read_events_through_tolerant_schemas(service):
    handlers = importlib.import_module(f"linli.services.{service}.handlers")
    schemas = [obj for _, obj in inspect.getmembers(handlers, inspect.isclass)
               if issubclass(obj, ma.Schema) and obj.__module__ == handlers.__name__]
    assert schemas, f"{service} handlers declare no schema for the payloads they read"
    for schema in schemas:
        assert issubclass(schema, Incoming) and schema.Meta.unknown == ma.EXCLUDE, schema


def test_the_acting_caller_is_plain_python_and_auth_keeps_its_name():
    from linli.shared.http.auth import Principal

    assert Principal is Actor
    clerk = Actor("clerk", "d1", frozenset({"tickets:admin"}))
    assert clerk.has("tickets:write") and not clerk.has("registry:read")
    assert clerk.sees("d1") and not clerk.sees("d2") and not clerk.is_operator
    assert Actor("ops", "*", frozenset()).sees("d2")
