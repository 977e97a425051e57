"""Which time zone names the suite takes from callers: IANA zones, and none of the tz folder's other entries.

Plain Python, so domain rules, schemas and use cases of every service check zones the same way.
"""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def check_time_zone(name: str) -> ZoneInfo:
    """The IANA zone named `name`; ValueError for anything else (a path, a POSIX TZ string, a typo)."""
    if name not in _zone_names():
        raise ValueError(f"not an IANA time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"not an IANA time zone: {name!r}") from exc


@functools.cache
def _zone_names() -> frozenset[str]:
    # The system's zone folder may also hold `localtime` (whatever zone the server is in) and `Factory`
    # (no offset, "-00"): names, but no one's time zone.
    return frozenset(available_timezones()) - {"localtime", "Factory", "posixrules"}
