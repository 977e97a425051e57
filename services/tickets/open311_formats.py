"""Open311's two formats: the same document as JSON or as XML (the standard's default).

XML is generated with xml.etree from the document, never parsed here. Each list becomes an element of the list's
name holding one element per item (`<services><service>…</service></services>`), as the standard's examples
have it. Text XML 1.0 cannot carry (control characters a description may hold) is replaced, so the answer is
always well-formed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

# The element each item of a list is written as.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(root: str, document: Any, fmt: str) -> tuple[bytes, str]:
    """The document's bytes in `fmt` (json or xml) and their content type; `root` names the XML root element."""
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False).encode("utf-8"), CONTENT_TYPES["json"]
    return xml(root, document), CONTENT_TYPES["xml"]


def xml(root: str, document: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, root, document)
    return (_DECLARATION + ET.tostring(element, encoding="unicode")).encode("utf-8")


def errors(code: int, descriptions: list[str]) -> list[dict[str, Any]]:
    """The standard's error document: one `error{code, description}` per problem found."""
    return [{"code": code, "description": description} for description in descriptions]


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif isinstance(value, list | tuple):
        tag = ITEMS.get(name, "item")
        for item in value:
            _fill(ET.SubElement(element, tag), tag, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = clean(str(value))


def clean(text: str) -> str:
    """Text as XML 1.0 can hold it: characters it cannot are replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
