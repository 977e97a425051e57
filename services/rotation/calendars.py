"""iCalendar (RFC 5545) feeds of terms and joint meetings, written with the `icalendar` package.

A calendar app that subscribed keeps each event by its UID and takes a copy with a higher SEQUENCE as an
update: so a term or meeting that is no longer planned is still published, as STATUS:CANCELLED under the
same UID with a higher SEQUENCE, and disappears from phones instead of lingering.

Terms are all-day events over their local days (DTEND is the day after the last, as the standard has it);
meetings carry their committee's zone as TZID, with its VTIMEZONE.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

PRODID = "-//linli//rotation//ZH"
TOKEN_BYTES = 32


def new_token() -> str:
    """A feed's secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, so a leaked table opens no feed (the token is high-entropy,
    so a plain hash suffices; no slow KDF is needed against guessing)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TermEntry:
    uid: str
    summary: str
    first_day: date
    last_day: date
    cancelled: bool
    sequence: int
    updated_at: datetime
    description: str | None = None


@dataclass(frozen=True)
class MeetingEntry:
    uid: str
    summary: str
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    cancelled: bool
    sequence: int
    updated_at: datetime
    location: str | None = None
    description: str | None = None


def _stamp(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def calendar(name: str, terms: Sequence[TermEntry], meetings: Sequence[MeetingEntry], now: datetime,
             time_zone: str = "Asia/Shanghai") -> bytes:
    """The feed: VTIMEZONEs for the zones meetings use, then one VEVENT per term and per meeting; `time_zone` is
    the zone a calendar app should show it in (X-WR-TIMEZONE, the committee's)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", time_zone)
    stamp = _stamp(now)
    for term in terms:
        event = Event()
        event.add("uid", term.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", term.first_day)
        event.add("dtend", term.last_day + timedelta(days=1))
        event.add("summary", term.summary)
        if term.description:
            event.add("description", term.description)
        event.add("transp", "TRANSPARENT")
        event.add("status", "CANCELLED" if term.cancelled else "CONFIRMED")
        event.add("sequence", term.sequence)
        event.add("last-modified", _stamp(term.updated_at))
        cal.add_component(event)
    for meeting in meetings:
        zone = ZoneInfo(meeting.time_zone)
        event = Event()
        event.add("uid", meeting.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", meeting.starts_at.astimezone(zone))
        event.add("dtend", meeting.ends_at.astimezone(zone))
        event.add("summary", meeting.summary)
        if meeting.location:
            event.add("location", meeting.location)
        if meeting.description:
            event.add("description", meeting.description)
        event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
        event.add("sequence", meeting.sequence)
        event.add("last-modified", _stamp(meeting.updated_at))
        cal.add_component(event)
    if meetings:
        first = min(m.starts_at for m in meetings).date() - timedelta(days=366)
        last = max(m.ends_at for m in meetings).date() + timedelta(days=366)
        cal.add_missing_timezones(first_date=first, last_date=last)
    return bytes(cal.to_ical())
