"""Who is told of which event, on which channels: the default rules, and recipient roles resolved to recipients.

Plain Python: a rule maps an event type to recipient roles, each with its channels; a role is resolved
against the event's payload and, where the payload does not say (the committee's chair, a ticket's
assignees when a comment is told), against the read models notify keeps, seen through `Directory`.

Recipients are strings naming whose inbox or contact it is: `member:<id>`, `organization:<id>` (a unit),
`compound:<id>` (the compound's inbox), `reporter:<ticket id>` (the resident who raised a ticket).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from linli.shared.errors import ValidationFailed

INBOX = "inbox"
SMS = "sms"
EMAIL = "email"
CHANNELS = (INBOX, SMS, EMAIL)

MEMBER = "member"
ORGANIZATION = "organization"
COMPOUND = "compound"
REPORTER = "reporter"

# Roles, and what each names. A rule may use only the roles its event's family knows (`roles_for`).
ROLES: dict[str, str] = {
    "reporter": "the resident who raised the ticket (SMS to the phone they gave)",
    "compound": "the inbox of the compound the ticket was raised in",
    "assignees": "the units working or having worked on the ticket (parts not withdrawn), and the member who "
                 "claimed a wish",
    "unit": "the unit(s) the event is about: dispatched, due or overdue units; the unit asking a swap, joining a "
            "committee or given a substitute term",
    "previous_units": "the units a re-routed ticket was taken from",
    "other_unit": "the unit asked to swap terms",
    "member": "the party member the event is about (a check-in, service hours, a claimed wish)",
    "chair": "the committee's rotating chair: the chair named by the event (an escalation, a term that began), "
             "else the one sitting now",
    "convenor": "the committee's convenor (召集人)",
    "incoming_chair": "the unit taking the chair at a handover",
    "outgoing_chair": "the unit leaving the chair at a handover",
    "committee_units": "every current unit of the committee",
}

_TICKET_ROLES = ("reporter", "compound", "assignees", "unit", "previous_units", "member", "chair", "convenor")
_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tickets.ticket.", _TICKET_ROLES),
    ("rotation.term.", ("chair", "incoming_chair", "outgoing_chair", "convenor", "committee_units")),
    ("rotation.swap.", ("unit", "other_unit", "convenor")),
    ("rotation.override.", ("unit", "convenor")),
    ("rotation.schedule.gap_found", ("chair", "convenor", "committee_units")),
    ("rotation.meeting.", ("chair", "convenor", "committee_units")),
    ("registry.check_in.", ("member",)),
    ("registry.service_record.", ("member",)),
    ("registry.committee.", ("unit", "convenor", "chair", "committee_units")),
    ("registry.pairing.", ("unit",)),
)


def roles_for(event_type: str) -> tuple[str, ...]:
    """The roles a rule of `event_type` may name: those its payload (or the read models) can resolve."""
    for prefix, roles in _FAMILIES:
        if event_type.startswith(prefix):
            return roles
    return ()


@dataclass(frozen=True)
class Target:
    """One role of a rule and the channels it is told on."""

    role: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    event_type: str
    targets: tuple[Target, ...]
    # Urgent messages go through the recipients' quiet hours (an overdue ticket, a handover).
    urgent: bool = False


def _rule(event_type: str, *targets: tuple[str, str], urgent: bool = False) -> Rule:
    return Rule(event_type, tuple(Target(role, tuple(channels.split())) for role, channels in targets), urgent)


# Every event of the catalogue that concerns people, and whom it concerns. Events left out tell nobody by default
# (a district may still rule them): read-model feeds (areas, organizations, contacts), plans and schedules
# (rotation.schedule.changed, rotation.rotation.*), notify's own events, and ticket moves the people concerned
# made themselves (started, reviewed, rated).
DEFAULT_RULES: dict[str, Rule] = {rule.event_type: rule for rule in (
    _rule("tickets.ticket.submitted", ("compound", "inbox"), ("reporter", "sms")),
    _rule("tickets.ticket.accepted", ("reporter", "sms")),
    _rule("tickets.ticket.rejected", ("reporter", "sms")),
    _rule("tickets.ticket.escalated", ("convenor", "inbox"), ("chair", "inbox"), ("reporter", "sms")),
    _rule("tickets.ticket.listed", ("chair", "inbox"), ("convenor", "inbox")),
    _rule("tickets.ticket.dispatched", ("unit", "inbox sms"), ("reporter", "sms")),
    _rule("tickets.ticket.claimed", ("compound", "inbox"), ("reporter", "sms")),
    _rule("tickets.ticket.resolved", ("compound", "inbox"), ("reporter", "sms")),
    _rule("tickets.ticket.rerouted", ("unit", "inbox sms"), ("previous_units", "inbox")),
    _rule("tickets.ticket.reopened", ("assignees", "inbox sms"), ("compound", "inbox")),
    _rule("tickets.ticket.closed", ("reporter", "sms"), ("assignees", "inbox")),
    _rule("tickets.ticket.merged", ("reporter", "sms")),
    _rule("tickets.ticket.commented", ("assignees", "inbox"), ("compound", "inbox")),
    _rule("tickets.ticket.due_soon", ("unit", "inbox"), ("compound", "inbox")),
    _rule("tickets.ticket.overdue", ("unit", "inbox sms"), ("compound", "inbox"), ("chair", "inbox sms"),
          ("convenor", "inbox sms"), urgent=True),
    _rule("rotation.term.started", ("chair", "inbox sms"), ("convenor", "inbox")),
    _rule("rotation.term.handed_over", ("incoming_chair", "inbox sms"), ("outgoing_chair", "inbox sms"),
          ("convenor", "inbox"), urgent=True),
    # Declared by rotation's terms and meetings work (branches rotation-terms, rotation-meetings); bound through
    # `rotation.term.#` and `rotation.meeting.#`, so they are told once those events exist.
    _rule("rotation.term.ending_soon", ("chair", "inbox sms")),
    _rule("rotation.term.ended", ("chair", "inbox")),
    _rule("rotation.term.report_due", ("chair", "inbox sms"), ("convenor", "inbox")),
    _rule("rotation.term.report_submitted", ("convenor", "inbox")),
    # Inbox only: a committee's rule schedules a year of meetings at once, which must not be a burst of SMS.
    _rule("rotation.meeting.scheduled", ("committee_units", "inbox"), ("convenor", "inbox")),
    _rule("rotation.meeting.moved", ("committee_units", "inbox sms"), ("convenor", "inbox"), urgent=True),
    _rule("rotation.meeting.cancelled", ("committee_units", "inbox sms"), ("convenor", "inbox"), urgent=True),
    _rule("rotation.swap.requested", ("other_unit", "inbox sms")),
    _rule("rotation.swap.accepted", ("unit", "inbox")),
    _rule("rotation.swap.declined", ("unit", "inbox")),
    _rule("rotation.schedule.gap_found", ("convenor", "inbox")),
    _rule("registry.check_in.confirmed", ("member", "inbox sms")),
    _rule("registry.check_in.rejected", ("member", "inbox sms")),
    _rule("registry.service_record.verified", ("member", "inbox")),
    _rule("registry.committee.unit_joined", ("unit", "inbox"), ("convenor", "inbox")),
)}

MAX_TARGETS = len(ROLES)


def check_targets(event_type: str, targets: Sequence[Target]) -> tuple[Target, ...]:
    """A district's rule for `event_type`, checked: known roles of its family, each once, known channels."""
    allowed = roles_for(event_type)
    if not allowed:
        raise ValidationFailed.field("event_type", f"{event_type} concerns nobody notify can name")
    seen: set[str] = set()
    checked = []
    for position, target in enumerate(targets):
        if target.role not in allowed:
            raise ValidationFailed.field(f"recipients.{position}.role",
                                         f"{event_type} knows the roles {', '.join(allowed)}")
        if target.role in seen:
            raise ValidationFailed.field(f"recipients.{position}.role", f"{target.role} is named twice")
        seen.add(target.role)
        unknown = [c for c in target.channels if c not in CHANNELS]
        if unknown:
            raise ValidationFailed.field(f"recipients.{position}.channels",
                                         f"channels are {', '.join(CHANNELS)}, not {', '.join(unknown)}")
        checked.append(Target(target.role, tuple(dict.fromkeys(target.channels))))
    return tuple(checked)


# --- Resolving roles to recipients -----------------------------------------------------------------------------

class Directory(Protocol):
    """What notify's read models know beyond an event's payload."""

    def committee_of(self, community_id: str) -> str | None:
        """The committee (大党委) of a community."""

    def chair_of(self, committee_id: str) -> str | None:
        """The organization chairing the committee now."""

    def convenor_of(self, committee_id: str) -> str | None:
        """The convenor's member id."""

    def units_of(self, committee_id: str) -> list[str]:
        """The committee's current units' organization ids."""

    def ticket(self, ticket_id: str) -> Mapping[str, Any] | None:
        """A ticket as notify last heard of it: compound_id, community_id, assignees (recipients)."""

    def has_reporter(self, ticket_id: str) -> bool:
        """Whether the ticket's reporter's contact is known."""


@dataclass(frozen=True)
class Recipient:
    recipient: str
    role: str
    channel: str


# Parts whose unit works, or worked, on the ticket (a withdrawn part's unit is told no more).
ASSIGNED_PARTS = ("dispatched", "in_progress", "resolved")


def _ids(values: Iterable[Any] | None) -> list[str]:
    return [str(v) for v in values or () if v]


def _ticket_id(event_type: str, payload: Mapping[str, Any]) -> str | None:
    if not event_type.startswith("tickets.ticket."):
        return None
    found = payload.get("ticket_id") or payload.get("id")
    return str(found) if found else None


def _committee(event_type: str, payload: Mapping[str, Any], directory: Directory) -> str | None:
    if payload.get("committee_id"):
        return str(payload["committee_id"])
    if event_type.startswith("registry.committee."):
        return str(payload["id"]) if payload.get("id") else None
    community = payload.get("community_id")
    if not community and (ticket_id := _ticket_id(event_type, payload)):
        known = directory.ticket(ticket_id)
        community = known.get("community_id") if known else None
    return directory.committee_of(str(community)) if community else None


def _assignees(event_type: str, payload: Mapping[str, Any], directory: Directory) -> list[str]:
    if "parts" in payload:
        found = [f"{ORGANIZATION}:{p['unit_id']}" for p in payload.get("parts") or ()
                 if p.get("state") in ASSIGNED_PARTS and p.get("unit_id")]
        member = payload.get("member_id")
        return found + ([f"{MEMBER}:{member}"] if member else [])
    ticket_id = _ticket_id(event_type, payload)
    known = directory.ticket(ticket_id) if ticket_id else None
    return list(known.get("assignees") or ()) if known else []


def concerned_units(event_type: str, payload: Mapping[str, Any]) -> list[str]:
    """The organization ids the event is about (role `unit`), from its payload."""
    if event_type.startswith("tickets.ticket."):
        move = payload.get("move") or {}
        return _ids(move.get("unit_ids") or payload.get("unit_ids"))
    if event_type.startswith("registry.activity."):
        return _ids([payload.get("host_organization_id")])
    return _ids([payload.get("organization_id")])


def _role(role: str, event_type: str, payload: Mapping[str, Any], directory: Directory) -> list[str]:
    """The recipients one role names for one event."""
    org, member = f"{ORGANIZATION}:", f"{MEMBER}:"
    if role == "reporter":
        ticket_id = _ticket_id(event_type, payload)
        return [f"{REPORTER}:{ticket_id}"] if ticket_id and directory.has_reporter(ticket_id) else []
    if role == "compound":
        compound = payload.get("compound_id")
        if not compound and (ticket_id := _ticket_id(event_type, payload)):
            known = directory.ticket(ticket_id)
            compound = known.get("compound_id") if known else None
        return [f"{COMPOUND}:{compound}"] if compound else []
    if role == "assignees":
        return _assignees(event_type, payload, directory)
    if role == "unit":
        return [org + u for u in concerned_units(event_type, payload)]
    if role == "previous_units":
        return [org + u for u in _ids(payload.get("previous_unit_ids"))]
    if role == "other_unit":
        return [org + u for u in _ids([payload.get("with_organization_id")])]
    if role == "member":
        move = payload.get("move") or {}
        found = payload.get("member_id") or move.get("member_id")
        if not found and event_type.startswith("registry.member."):
            found = payload.get("id")
        return [member + m for m in _ids([found])]
    if role == "incoming_chair":
        return [org + u for u in _ids([(payload.get("term") or {}).get("organization_id")])]
    if role == "outgoing_chair":
        return [org + u for u in _ids([(payload.get("previous") or {}).get("organization_id")])]
    if role in ("chair", "convenor"):
        # An event that names whom it escalates to (an overdue ticket) is taken at its word, even when it names
        # nobody: tickets decides what is escalated.
        if "escalation" in payload:
            escalation = payload.get("escalation") or {}
            named = escalation.get("chair_unit_id" if role == "chair" else "convenor_member_id")
            return [(org if role == "chair" else member) + x for x in _ids([named])]
        if role == "chair" and event_type.startswith("rotation.term.") and "organization_id" in payload:
            # A term's own events (started, ending soon, ended, its report) are the chair of that term's to hear.
            return [org + u for u in _ids([payload.get("organization_id")])]
        if role == "convenor" and "convenor_member_id" in payload and event_type.startswith("rotation.meeting."):
            return [member + m for m in _ids([payload.get("convenor_member_id")])]
        if role == "convenor" and event_type.startswith("registry.committee.") and "convenor_member_id" in payload:
            return [member + m for m in _ids([payload.get("convenor_member_id")])]
        committee = _committee(event_type, payload, directory)
        if committee is None:
            return []
        if role == "chair":
            return [org + u for u in _ids([directory.chair_of(committee)])]
        return [member + m for m in _ids([directory.convenor_of(committee)])]
    if role == "committee_units":
        committee = _committee(event_type, payload, directory)
        return [org + u for u in directory.units_of(committee)] if committee else []
    raise ValueError(f"unknown role {role!r}")


def resolve(rule: Rule, payload: Mapping[str, Any], directory: Directory) -> list[Recipient]:
    """Everyone the rule tells of this event, once per (recipient, channel): the first role naming them wins."""
    told: dict[tuple[str, str], Recipient] = {}
    for target in rule.targets:
        for recipient in _role(target.role, rule.event_type, payload, directory):
            for channel in target.channels:
                told.setdefault((recipient, channel), Recipient(recipient, target.role, channel))
    return list(told.values())


def effective(event_type: str, override: Sequence[Target] | None) -> Rule | None:
    """A district's rule for `event_type`: its own if it set one, else the default (None: nobody is told)."""
    default = DEFAULT_RULES.get(event_type)
    if override is None:
        return default
    return Rule(event_type, tuple(override), default.urgent if default else False)
