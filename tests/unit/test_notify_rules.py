"""Who is told: default rules, roles resolved from payloads and read models, districts' rules checked."""

from __future__ import annotations

import pytest

from linli.services.notify import rules, samples
from linli.services.notify.rules import Rule, Target
from linli.shared.errors import ValidationFailed

ORG, MEMBER = "organization:", "member:"


class World:
    """A directory over dicts: what notify's read models would hold."""

    def __init__(self, *, committees=None, chairs=None, convenors=None, units=None, tickets=None, reporters=()):
        self.committees, self.chairs, self.convenors = committees or {}, chairs or {}, convenors or {}
        self.units, self.tickets, self.reporters = units or {}, tickets or {}, set(reporters)

    def committee_of(self, community_id):
        return self.committees.get(community_id)

    def chair_of(self, committee_id):
        return self.chairs.get(committee_id)

    def convenor_of(self, committee_id):
        return self.convenors.get(committee_id)

    def units_of(self, committee_id):
        return self.units.get(committee_id, [])

    def ticket(self, ticket_id):
        return self.tickets.get(ticket_id)

    def has_reporter(self, ticket_id):
        return ticket_id in self.reporters


def told(event_type, payload=None, directory=None, rule=None):
    found = rules.resolve(rule or rules.DEFAULT_RULES[event_type], payload or samples.sample(event_type),
                          directory or samples.SampleDirectory())
    return {(r.recipient, r.role, r.channel) for r in found}


def test_a_dispatched_ticket_tells_each_dispatched_unit_and_the_reporter():
    assert told("tickets.ticket.dispatched") == {
        (ORG + samples.POLICE, "unit", "inbox"), (ORG + samples.POLICE, "unit", "sms"),
        (ORG + samples.SCHOOL, "unit", "inbox"), (ORG + samples.SCHOOL, "unit", "sms"),
        (f"reporter:{samples.TICKET}", "reporter", "sms")}


def test_the_reporter_is_told_only_when_their_contact_is_known():
    assert told("tickets.ticket.accepted", directory=World()) == set()
    assert told("tickets.ticket.accepted", directory=World(reporters=[samples.TICKET])) == {
        (f"reporter:{samples.TICKET}", "reporter", "sms")}


def test_an_overdue_ticket_goes_to_the_chair_and_convenor_it_names_not_to_those_sitting_now():
    world = World(committees={samples.COMMUNITY: "c"}, chairs={"c": "someone-else"}, convenors={"c": "nobody"})
    found = told("tickets.ticket.overdue", directory=world)
    assert (ORG + samples.HOSPITAL, "chair", "sms") in found and (MEMBER + samples.CONVENOR, "convenor", "sms") in found
    assert not any("someone-else" in r or "nobody" in r for r, _, _ in found)
    # Not escalated (before dispatch, or no committee known): no chair, no convenor.
    payload = samples.sample("tickets.ticket.overdue") | {"escalation": None}
    assert {role for _, role, _ in told("tickets.ticket.overdue", payload, world)} == {"unit", "compound"}


def test_the_sitting_chair_and_convenor_come_from_the_read_models_when_the_event_names_none():
    world = World(committees={samples.COMMUNITY: "c1"}, chairs={"c1": "org-9"}, convenors={"c1": "m-7"})
    assert told("tickets.ticket.listed", directory=world) == {
        (ORG + "org-9", "chair", "inbox"), (MEMBER + "m-7", "convenor", "inbox")}
    assert told("tickets.ticket.listed", directory=World()) == set()


def test_a_comment_reaches_the_assignees_and_compound_the_read_model_knows():
    world = World(tickets={samples.TICKET: {"compound_id": "cp", "community_id": None,
                                            "assignees": [ORG + "u1", MEMBER + "m1"]}})
    assert told("tickets.ticket.commented", directory=world) == {
        (ORG + "u1", "assignees", "inbox"), (MEMBER + "m1", "assignees", "inbox"), ("compound:cp", "compound", "inbox")}


def test_assignees_are_the_parts_not_withdrawn_and_the_member_who_claimed_a_wish():
    payload = samples.sample("tickets.ticket.reopened")
    payload["parts"] += [{"unit_id": "gone", "state": "withdrawn"}, {"unit_id": "done", "state": "resolved"}]
    payload["member_id"] = "m-2"
    assert {r for r, role, _ in told("tickets.ticket.reopened", payload) if role == "assignees"} == {
        ORG + samples.POLICE, ORG + "done", MEMBER + "m-2"}


def test_a_handover_tells_the_incoming_and_outgoing_chairs_and_the_convenor():
    assert told("rotation.term.handed_over") == {
        (ORG + samples.SCHOOL, "incoming_chair", "inbox"), (ORG + samples.SCHOOL, "incoming_chair", "sms"),
        (ORG + samples.POLICE, "outgoing_chair", "inbox"), (ORG + samples.POLICE, "outgoing_chair", "sms"),
        (MEMBER + samples.CONVENOR, "convenor", "inbox")}
    assert rules.DEFAULT_RULES["rotation.term.handed_over"].urgent


def test_a_recipient_named_by_two_roles_is_told_once_per_channel_by_the_first():
    rule = Rule("tickets.ticket.dispatched", (Target("unit", ("inbox",)), Target("assignees", ("inbox", "sms"))))
    found = told("tickets.ticket.dispatched", rule=rule)
    assert (ORG + samples.POLICE, "unit", "inbox") in found and (ORG + samples.POLICE, "assignees", "sms") in found
    assert (ORG + samples.POLICE, "assignees", "inbox") not in found


@pytest.mark.parametrize(("event_type", "expected"), [
    ("registry.check_in.confirmed", {(MEMBER + samples.MEMBER, "member", "inbox"),
                                     (MEMBER + samples.MEMBER, "member", "sms")}),
    ("rotation.swap.requested", {(ORG + samples.SCHOOL, "other_unit", "inbox"),
                                 (ORG + samples.SCHOOL, "other_unit", "sms")}),
    ("rotation.swap.declined", {(ORG + samples.POLICE, "unit", "inbox")}),
    ("registry.committee.unit_joined", {(ORG + samples.HOSPITAL, "unit", "inbox"),
                                        (MEMBER + samples.CONVENOR, "convenor", "inbox")}),
    ("rotation.term.report_due", {(ORG + samples.SCHOOL, "chair", "inbox"), (ORG + samples.SCHOOL, "chair", "sms"),
                                  (MEMBER + samples.CONVENOR, "convenor", "inbox")}),
    ("rotation.meeting.scheduled", {(ORG + org, "committee_units", "inbox") for org in (
        samples.POLICE, samples.SCHOOL, samples.HOSPITAL)} | {(MEMBER + samples.CONVENOR, "convenor", "inbox")}),
    ("tickets.ticket.rerouted", {(ORG + samples.HOSPITAL, "unit", "inbox"), (ORG + samples.HOSPITAL, "unit", "sms"),
                                 (ORG + samples.POLICE, "previous_units", "inbox")}),
])
def test_each_default_names_whom_the_issue_says(event_type, expected):
    assert told(event_type) == expected


def test_every_ruled_event_tells_someone_of_its_sample():
    for event_type in rules.DEFAULT_RULES:
        assert told(event_type), event_type


def test_a_district_rule_is_checked_role_by_role():
    checked = rules.check_targets("tickets.ticket.closed", [Target("compound", ("inbox", "inbox", "email"))])
    assert checked == (Target("compound", ("inbox", "email")),)
    with pytest.raises(ValidationFailed) as bad_role:
        rules.check_targets("tickets.ticket.closed", [Target("compound", ("inbox",)), Target("incoming_chair", ())])
    assert "recipients.1.role" in bad_role.value.errors
    with pytest.raises(ValidationFailed) as twice:
        rules.check_targets("tickets.ticket.closed", [Target("reporter", ("sms",)), Target("reporter", ("email",))])
    assert "recipients.1.role" in twice.value.errors
    with pytest.raises(ValidationFailed) as channel:
        rules.check_targets("tickets.ticket.closed", [Target("reporter", ("fax",))])
    assert "recipients.0.channels" in channel.value.errors
    assert rules.check_targets("tickets.ticket.closed", []) == ()


def test_a_districts_rule_replaces_the_default_and_keeps_its_urgency():
    own = rules.effective("tickets.ticket.overdue", (Target("compound", ("email",)),))
    assert own is not None and own.targets == (Target("compound", ("email",)),) and own.urgent
    assert rules.effective("tickets.ticket.overdue", None) is rules.DEFAULT_RULES["tickets.ticket.overdue"]
    assert rules.effective("registry.area.created", None) is None
