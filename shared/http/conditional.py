"""ETag/If-Match on versioned items, so two editors cannot silently overwrite each other."""

from __future__ import annotations

from flask import request

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
