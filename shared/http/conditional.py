"""ETag/If-Match on versioned items, so two editors cannot silently overwrite each other; If-None-Match."""

from __future__ import annotations

from flask import Response, request

from linli.shared.http.problems import ProblemError


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(current_version: int) -> None:
    wanted = request.headers.get("If-Match")
    if wanted is None or wanted.strip() == "*":
        return
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    if etag(current_version) not in tags:
        raise ProblemError(412, f"the item changed: it is at version {current_version}",
                           errors={"If-Match": [f"current ETag is {etag(current_version)}"]})


# Headers a 304 repeats from the 200 it stands for (RFC 9110, 15.4.5).
_NOT_MODIFIED_HEADERS = ("ETag", "Cache-Control", "Content-Location", "Date", "Expires", "Vary")


def _matches(header: str, tag: str) -> bool:
    if header.strip() == "*":
        return True
    weak = tag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == weak for candidate in header.split(","))


def not_modified_if_cached(response: Response) -> Response:
    """A GET whose If-None-Match names the item's current ETag gets 304 and no body."""
    wanted = request.headers.get("If-None-Match")
    tag = response.headers.get("ETag")
    if (wanted is None or tag is None or request.method not in ("GET", "HEAD")
            or response.status_code != 200 or not _matches(wanted, tag)):
        return response
    cached = Response(status=304)
    for name in _NOT_MODIFIED_HEADERS:
        if name in response.headers:
            cached.headers[name] = response.headers[name]
    return cached
