"""notify's sample events are what their producers send: each validates against its declared schema."""

from __future__ import annotations

import importlib

import pytest

from linli.services.notify import rules, samples
from linli.shared.events import CATALOGUE

for _service in ("registry", "tickets", "rotation"):
    importlib.import_module(f"linli.services.{_service}.events")


@pytest.mark.parametrize("event_type", sorted(samples.SAMPLES))
def test_each_sample_fits_its_producers_schema(event_type):
    assert event_type in CATALOGUE, f"{event_type} is not declared by any service"
    CATALOGUE[event_type].validate(samples.sample(event_type))


def test_samples_are_copies_callers_may_change():
    first = samples.sample("tickets.ticket.dispatched")
    first["parts"].clear()
    assert samples.sample("tickets.ticket.dispatched")["parts"]


def test_every_ruled_event_is_public_and_every_role_of_a_rule_is_one_its_family_knows():
    for event_type, rule in rules.DEFAULT_RULES.items():
        assert not CATALOGUE[event_type].private, event_type
        assert rules.check_targets(event_type, rule.targets) == rule.targets
