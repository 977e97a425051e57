"""Open311 GeoReport v2 clients written elsewhere (from PyPI), pointed at a running tickets service.

georeport reads in JSON and XML; civicbot's client reads JSON and posts requests form-encoded, checking them against
the service list and definition it fetched first. Neither supports an XML POST, sent here with urllib and read with
defusedxml.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

import defusedxml.ElementTree as safe_xml
from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import CONFIRM_TOKEN, Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element  # the type defusedxml answers; nothing is parsed with it


def georeport(base_url: str, jurisdiction: str | None, fmt: str) -> GeoReport:
    return GeoReport(f"{base_url}/open311/v2", jurisdiction=jurisdiction, output_format=fmt)


def civicbot(base_url: str, jurisdiction: str | None) -> Open311Client:
    endpoint = Endpoint(id="linli", name="linli tickets", base_url=f"{base_url}/open311/v2", write=True)
    # No politeness delay between calls: the server is this test's own.
    return Open311Client(endpoint, HttpTransport(rate_limiter=RateLimiter(min_interval=0)),
                         jurisdiction_id=jurisdiction, fmt="json")


def civicbot_post(client: Open311Client, service_code: str, api_key: str, **fields: object) -> dict:
    """File a request for real (civicbot only builds it unless told to send), and return the server's answer."""
    prepared = client.create_request(service_code, dry_run=False, confirm=CONFIRM_TOKEN, api_key=api_key,
                                     validate_remote=True, **fields)
    [answer] = prepared.response
    return answer


def post_xml(base_url: str, form: dict[str, str]) -> tuple[int, Element]:
    """POST requests.xml form-encoded; the status and the parsed XML answer, errors included."""
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(f"{base_url}/open311/v2/requests.xml", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, safe_xml.fromstring(response.read())
    except urllib.error.HTTPError as error:
        return error.code, safe_xml.fromstring(error.read())
