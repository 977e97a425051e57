"""The event catalogue in code, the AsyncAPI file generated from it, and the topic matching rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from linli.asyncapi import document, document_yaml, suite_events
from linli.shared.consumer import Subscription, topic_matches
from linli.suite import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def test_docs_asyncapi_is_what_the_catalogue_generates():
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert committed == document_yaml(), "docs/asyncapi.yaml drifted: run `linli asyncapi --out docs/asyncapi.yaml`"


def test_every_service_publishes_and_every_event_has_a_payload_schema():
    events = suite_events()
    assert {e.producer for e in events} == set(SERVICES)
    doc = document()
    for event in events:
        message = doc["components"]["messages"][event.key]
        ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert "version" in schema["properties"] or event.key.startswith("rotation.term."), event.key
        exchange = "linli.private" if event.private else "linli.events"
        assert doc["channels"][event.key]["bindings"]["amqp"]["exchange"]["name"] == exchange, event.key


def test_every_handled_key_is_a_declared_event():
    import importlib

    declared = {e.key for e in suite_events()}
    for name in SERVICES:
        spec = importlib.import_module(f"linli.services.{name}.service").SPEC
        for subscription in spec.subscriptions:
            for key in subscription.binding_keys:
                assert key in declared or "#" in key, f"{subscription.name} binds to undeclared {key}"


def test_asyncapi_is_valid_yaml_with_one_operation_per_channel():
    doc = yaml.safe_load(document_yaml())
    assert doc["asyncapi"].startswith("3.")
    assert set(doc["operations"]) == {f"{key}.send" for key in doc["channels"]}


@pytest.mark.parametrize(("pattern", "key", "expected"), [
    ("tickets.ticket.submitted", "tickets.ticket.submitted", True),
    ("tickets.#", "tickets.ticket.submitted", True),
    ("tickets.#", "tickets", True),
    ("#", "anything.at.all", True),
    ("tickets.*.submitted", "tickets.ticket.submitted", True),
    ("tickets.*", "tickets.ticket.submitted", False),
    ("tickets.ticket.submitted", "tickets.ticket.closed", False),
])
def test_topic_matching_follows_rabbitmq(pattern, key, expected):
    assert topic_matches(pattern, key) is expected


def test_star_bindings_are_refused_because_memory_transport_reads_them_differently():
    with pytest.raises(ValueError):
        Subscription("x", "y").handles("tickets.*.submitted")
