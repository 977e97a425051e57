"""notify's sample events are what their producers send: each validates against its declared schema."""

from __future__ import annotations

import importlib

import pytest

from linli.services.notify import rules, samples
from linli.shared.events import CATALOGUE

for _service in ("registry", "tickets", "rotation"):
    importlib.import_module(f"linli.services.{_service}.events")


# Ruled before their producer declares them (rotation's term milestones and joint meetings, built alongside):
# held to their schemas as soon as they are declared.
AWAITED = {"rotation.term.ending_soon", "rotation.term.ended", "rotation.term.report_due",
           "rotation.term.report_submitted", "rotation.meeting.scheduled", "rotation.meeting.moved",
           "rotation.meeting.cancelled"}


@pytest.mark.parametrize("event_type", sorted(samples.SAMPLES))
def test_each_sample_fits_its_producers_schema(event_type):
    if event_type not in CATALOGUE:
        assert event_type in AWAITED, f"{event_type} is not declared by any service"
        pytest.skip(f"{event_type} is not declared yet")
    CATALOGUE[event_type].validate(samples.sample(event_type))


def test_samples_are_copies_callers_may_change():
    first = samples.sample("tickets.ticket.dispatched")
    first["parts"].clear()
    assert samples.sample("tickets.ticket.dispatched")["parts"]


def test_every_ruled_event_is_public_and_every_role_of_a_rule_is_one_its_family_knows():
    for event_type, rule in rules.DEFAULT_RULES.items():
        assert event_type in AWAITED or not CATALOGUE[event_type].private, event_type
        assert rules.check_targets(event_type, rule.targets) == rule.targets
