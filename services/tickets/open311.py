"""Open311 GeoReport v2 as tickets speaks it: which services it offers, how a request maps onto a ticket, and how a
ticket looks to the public (http://wiki.open311.org/GeoReport_v2).

Plain Python like domain.py: the rules are unit-tested in milliseconds and the HTTP layer (open311_api.py) only
parses, calls and renders. A service is a ticket category; a service request is a ticket; the ticket's states map
onto the standard's two, `open` and `closed`, with a note in Chinese (the suite's user-facing language) unless the
last move of the ticket left one. What the public sees of a ticket never holds the reporter's name or phone.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from linli.services.tickets import domain
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.errors import ValidationFailed

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# The day this implementation of the standard last changed, as discovery reports it.
CHANGESET = "2026-11-26T00:00:00+08:00"
FORMATS = ("xml", "json")  # xml first: the standard's default and required format
MEDIA_TYPES = {"xml": "text/xml", "json": "application/json"}
# Times are shown in the districts' local time, with its offset, as hotlines and their callers read them.
ZONE = ZoneInfo(DEFAULT_TIME_ZONE)
MAX_REQUESTS = 1000  # the standard's largest answer to GET requests
WINDOW = timedelta(days=90)  # the standard's default and widest date range
MAX_IDS = 200  # service_request_id values in one GET
ANONYMOUS = "匿名"  # the reporter's name when the request names no one
KEY_PREFIX = "o311_"
KEY_SHOWN = 12  # characters of a key an operator sees in lists, to tell keys apart


# --- Services: the categories tickets are raised in ------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """A question a service asks besides the standard's fields (`attribute[code]` in a POST)."""

    code: str
    datatype: str
    description: str
    order: int
    values: tuple[Value, ...] = ()
    required: bool = False
    datatype_description: str | None = None
    variable: bool = True


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    keywords: tuple[str, ...] = ()
    group: str = "社区治理"
    type: str = "realtime"  # a POST answers with the new request's id at once
    metadata: bool = True  # every service has the attributes below


_SERVICE_TEXTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "general": ("社区综合事务", "其他需要社区或小区处理的问题和需求", ("综合", "其他")),
    "environment": ("环境卫生", "垃圾清运、楼道卫生、绿化养护等", ("垃圾", "卫生", "绿化")),
    "facilities": ("设施维修", "楼道灯、电梯、管网、道路等公共设施损坏", ("路灯", "电梯", "维修")),
    "dispute": ("邻里纠纷", "噪音、占道、漏水等邻里之间的矛盾", ("噪音", "纠纷", "调解")),
    "fast_track": ("急事急办", "需要职能部门立即处置的紧急问题", ("紧急", "急事急办")),
}


def services() -> tuple[Service, ...]:
    """Every category as a service, in the order tickets lists them; an unnamed category shows its code."""
    return tuple(Service(code, *_SERVICE_TEXTS.get(code, (code, code, ()))) for code in domain.CATEGORIES)


def service(code: str) -> Service | None:
    return next((s for s in services() if s.code == code), None)


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("urgency", "singlevaluelist", "紧急程度", 1,
              (Value(domain.NORMAL, "一般"), Value(domain.URGENT, "紧急（急事急办）"))),
    Attribute("kind", "singlevaluelist", "诉求类型", 2,
              (Value(domain.PROBLEM, "问题诉求"), Value(domain.WISH, "微心愿"))),
    Attribute("building_id", "string", "楼栋编号（可选）", 3, datatype_description="楼栋的 UUID"),
)


# --- A POST: the standard's fields, as a ticket takes them ------------------------------------------------------

_ATTRIBUTE_KEY = re.compile(r"attribute\[([^\[\]]+)\](\[\])?")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"\+?[0-9]{6,19}")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TITLE_LENGTH = 60


@dataclass(frozen=True)
class Intake:
    """What a service request becomes at intake, short of the compound it is raised against."""

    category: str
    title: str
    description: str
    reporter_name: str
    reporter_phone: str
    urgency: str = domain.NORMAL
    kind: str = domain.PROBLEM
    building_id: uuid.UUID | None = None
    attachments: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None
    address: str | None = None


def attributes_of(form: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """`attribute[code]` and `attribute[code][]` fields of a form, by code; every other field is left alone."""
    found: dict[str, list[str]] = {}
    for key, value in form:
        match = _ATTRIBUTE_KEY.fullmatch(key)
        if match:
            found.setdefault(match.group(1), []).append(value)
    return found


def intake(service_code: str, *, description: str | None, first_name: str | None, last_name: str | None,
           phone: str | None, media_url: str | None, attributes: Mapping[str, Sequence[str]],
           lat: float | None = None, lon: float | None = None, address: str | None = None) -> Intake:
    """The ticket a request asks for; ValidationFailed naming the request's field when it cannot be one."""
    offered = service(service_code)
    if offered is None:
        raise ValidationFailed.field("service_code", f"no service {service_code!r}; GET services for the list")
    answers = _answers(attributes)
    text = description or offered.name
    return Intake(category=offered.code, title=title_of(text), description=text,
                  reporter_name=reporter_name(first_name, last_name), reporter_phone=reporter_phone(phone),
                  urgency=answers.get("urgency", domain.NORMAL), kind=answers.get("kind", domain.PROBLEM),
                  building_id=_building(answers.get("building_id")),
                  attachments=(media_url,) if media_url else (), lat=lat, lon=lon, address=address)


def _answers(attributes: Mapping[str, Sequence[str]]) -> dict[str, str]:
    known = {attribute.code: attribute for attribute in ATTRIBUTES}
    answers = {}
    for code, values in attributes.items():
        name = f"attribute[{code}]"
        attribute = known.get(code)
        if attribute is None:
            raise ValidationFailed.field(name, f"no such attribute; known: {', '.join(known)}")
        if len(values) != 1:
            raise ValidationFailed.field(name, "takes exactly one value")
        value = values[0].strip()
        if not value:
            continue
        if attribute.values and value not in {v.key for v in attribute.values}:
            raise ValidationFailed.field(name, f"one of {', '.join(v.key for v in attribute.values)}")
        answers[code] = value
    return answers


def _building(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ValidationFailed.field("attribute[building_id]", "must be a building's UUID") from exc


def reporter_name(first_name: str | None, last_name: str | None) -> str:
    """The reporter as a ticket names them: a Chinese name family name first (张 + 三 = 张三), others as given."""
    first, last = (first_name or "").strip(), (last_name or "").strip()
    if not first and not last:
        return ANONYMOUS
    if _CJK.search(first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


def reporter_phone(phone: str | None) -> str:
    """The number to call back, without the spaces, dashes and brackets people write into numbers.

    Required: the compound calls the reporter back and the reporter rates the fix, and a ticket has no other way
    to reach them (the standard's `email` has nowhere to go).
    """
    if not phone or not phone.strip():
        raise ValidationFailed.field("phone", "required here: the compound calls the reporter back")
    number = _PHONE_NOISE.sub("", phone)
    if not _PHONE.fullmatch(number):
        raise ValidationFailed.field("phone", "6 to 19 digits, optionally after a leading +")
    return number


def title_of(text: str) -> str:
    """A ticket's title from the request's description: its first line, cut short."""
    first = text.strip().splitlines()[0].strip() if text.strip() else text
    return first if len(first) <= _TITLE_LENGTH else first[:_TITLE_LENGTH - 1] + "…"


def match_compound(address: str, compounds: Iterable[tuple[uuid.UUID, str]]) -> uuid.UUID | None:
    """The compound an address names (星光小区 in 永川区星光小区3栋): the longest name found in it, if one is."""
    named = [(len(name), str(compound_id), compound_id) for compound_id, name in compounds if name and name in address]
    return max(named)[2] if named else None


def choose_jurisdiction(asked: str | None, served: Sequence[str]) -> str | None:
    """The district a call is about: the one asked for, or the only one served; None when nothing is served yet."""
    if asked:
        if asked not in served:
            raise ValidationFailed.field("jurisdiction_id", "no such jurisdiction is served here")
        return asked
    if len(served) > 1:
        raise ValidationFailed.field("jurisdiction_id", "required: this endpoint serves several jurisdictions")
    return served[0] if served else None


# --- A GET: which requests, and how each looks --------------------------------------------------------------------

OPEN = "open"
CLOSED = "closed"
STATUSES = (OPEN, CLOSED)

_STATE_NOTES = {
    domain.SUBMITTED: "已收到，等待受理",
    domain.ACCEPTED: "已受理",
    domain.IN_PROGRESS: "正在办理",
    domain.ESCALATED: "小区已上报社区协调（吹哨）",
    domain.LISTED: "已列入大党委联席会议议题（挂单）",
    domain.DISPATCHED: "已派单至责任单位办理",
    domain.RESOLVED: "已处理完毕，等待回访核实",
    domain.REVIEWED: "已回访核实，等待评价",
    domain.CLOSED: "已办结",
    domain.REJECTED: "未予受理",
}
_CLOSE_NOTES = {
    "not_responsible": "不属于受理范围，已关闭",
    "duplicate": "与其他诉求重复，已合并办理",
    "no_further_action": "无需进一步处理，已关闭",
    "referred": "已转交其他部门办理",
}


def status_of(state: str) -> str:
    return CLOSED if state in domain.CLOSED_STATES else OPEN


def states_of(statuses: Iterable[str]) -> frozenset[str]:
    """The ticket states behind the standard's statuses."""
    wanted = set(statuses)
    return frozenset(state for state in domain.STATES if status_of(state) in wanted)


def status_notes(state: str, close_reason: str | None = None, last_note: str | None = None,
                 last_reason: str | None = None) -> str:
    """The last move's note when it left one; otherwise what the state means, in Chinese."""
    if last_note and last_note.strip():
        return last_note.strip()
    if state == domain.CLOSED and close_reason in _CLOSE_NOTES:
        return _CLOSE_NOTES[close_reason]
    if state == domain.REJECTED and last_reason:
        return f"{_STATE_NOTES[state]}：{last_reason}"
    return _STATE_NOTES.get(state, state)


def local(at: datetime | None) -> str | None:
    """An instant as ISO 8601 in the districts' local time, with its offset."""
    return None if at is None else at.astimezone(ZONE).isoformat(timespec="seconds")


def parse_time(value: str, name: str) -> datetime:
    """A W3C date or date-time (2010-01-01T00:00:00Z); one without an offset is read in the districts' time."""
    try:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=ZONE)).astimezone(UTC)
    except ValueError as exc:
        raise ValidationFailed.field(name, "a W3C date-time, e.g. 2010-01-01T00:00:00Z") from exc
    except OverflowError as exc:  # year 1 or 9999 moved across the date line
        raise ValidationFailed.field(name, "out of range") from exc


def window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The requested_datetime range asked for: the last 90 days by default, never wider than 90 days."""
    try:
        if end is None:
            end = now if start is None else start + WINDOW
        if start is None:
            start = end - WINDOW
    except OverflowError as exc:
        raise ValidationFailed.field("start_date" if start is not None else "end_date", "out of range") from exc
    if end < start:
        raise ValidationFailed.field("end_date", "must not be before start_date")
    if end - start > WINDOW:
        raise ValidationFailed.field("end_date", "the range may span 90 days at most")
    return start, end


def split(value: str | None) -> list[str]:
    """A comma-separated parameter's values (`open,closed`), empty ones dropped."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def request_ids(value: str) -> list[uuid.UUID]:
    ids = split(value)
    if len(ids) > MAX_IDS:
        raise ValidationFailed.field("service_request_id", f"at most {MAX_IDS} ids")
    try:
        return [uuid.UUID(one) for one in ids]
    except ValueError as exc:
        raise ValidationFailed.field("service_request_id", "ids are UUIDs, comma-separated") from exc


@dataclass(frozen=True)
class Seen:
    """What the public may see of a ticket, besides the ticket's own fields."""

    agency_responsible: str | None = None
    last_note: str | None = None
    last_reason: str | None = None
    compound_name: str | None = None


class Shown(Protocol):
    """What public_request reads of a ticket (the row, or anything with its attributes)."""

    id: uuid.UUID
    state: str
    close_reason: str | None
    category: str
    description: str
    created_at: datetime
    updated_at: datetime
    due_at: datetime
    compound_id: uuid.UUID
    lat: float | None
    lon: float | None
    attachments: list[str]


def public_request(ticket: Shown, seen: Seen) -> dict[str, object]:
    """The standard's fields of a ticket, in the standard's order: nothing about who reported it, nor where they
    live, and no phone number anyone wrote into its text (the reporter's own, often, in the description).

    A resident's problem is often at home ("3栋2单元501 漏水"): the public sees the compound, not the ticket's own
    address, and the coordinates rounded; a district's systems read both whole over the JWT API."""
    offered = service(ticket.category)
    attachments = list(ticket.attachments or [])
    return {
        "service_request_id": str(ticket.id),
        "status": status_of(ticket.state),
        "status_notes": domain.mask_phones_in(status_notes(ticket.state, ticket.close_reason, seen.last_note,
                                                           seen.last_reason)),
        "service_name": offered.name if offered else ticket.category,
        "service_code": ticket.category,
        "description": domain.mask_phones_in(ticket.description),
        "agency_responsible": seen.agency_responsible,
        "service_notice": None,
        "requested_datetime": local(ticket.created_at),
        "updated_datetime": local(ticket.updated_at),
        "expected_datetime": local(ticket.due_at),
        "address": seen.compound_name,
        "address_id": str(ticket.compound_id),
        "zipcode": None,
        "lat": domain.public_coordinate(ticket.lat),
        "long": domain.public_coordinate(ticket.lon),
        "media_url": attachments[0] if attachments else None,
    }


def service_notice(due_at: datetime) -> str:
    """What the reporter is told when the request is taken."""
    return f"已收到您的诉求，预计在 {due_at.astimezone(ZONE):%Y-%m-%d %H:%M} 前处理"


# --- api_keys -------------------------------------------------------------------------------------------------------

def new_api_key() -> str:
    """A fresh api_key: 256 random bits, recognisable by its prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """What is kept of a key. A plain SHA-256 is enough: keys are random, not passwords a person chose."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
