"""The AsyncAPI 3 document of the suite's events, generated from the catalogue in code."""

from __future__ import annotations

import importlib
from typing import Any

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from linli.shared.events import CATALOGUE, CONTENT_TYPE, EventType
from linli.suite import SERVICES

CLOUDEVENT = {
    "type": "object",
    "description": "CloudEvents 1.0, structured mode; `data` is the entity's state after the change.",
    "required": ["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data", "district"],
    "properties": {
        "specversion": {"type": "string", "const": "1.0"},
        "id": {"type": "string", "format": "uuid", "description": "unique per event; consumers dedupe on it"},
        "source": {"type": "string", "description": "/linli/<service>"},
        "type": {"type": "string", "description": "linli.<service>.<entity>.<verb>"},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string", "description": "the entity id"},
        "datacontenttype": {"type": "string", "const": "application/json"},
        "district": {"type": "string", "description": "extension: the district the entity belongs to"},
        "traceparent": {"type": "string", "description": "extension: W3C trace context"},
        "data": {"type": "object"},
    },
}


def suite_events() -> list[EventType]:
    for name in SERVICES:
        importlib.import_module(f"linli.services.{name}.events")
    return sorted((e for e in CATALOGUE.values() if e.producer in SERVICES), key=lambda e: e.key)


def _payload_schemas(events: list[EventType]) -> dict[str, Any]:
    spec = APISpec("linli", "1.0.0", "3.0.3", plugins=[MarshmallowPlugin()])
    for schema in sorted({e.payload for e in events}, key=lambda s: s.__name__):
        spec.components.schema(schema.__name__, schema=schema)
    return spec.to_dict()["components"]["schemas"]


def document() -> dict[str, Any]:
    events = suite_events()
    def exchange(event: EventType) -> dict[str, Any]:
        name = "linli.private" if event.private else "linli.events"
        return {"name": name, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in events:
        messages[event.key] = {
            "name": event.type,
            "title": event.key,
            "summary": event.summary,
            "contentType": CONTENT_TYPE,
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {"type": "object", "properties": {
                        "type": {"const": event.type},
                        "data": {"$ref": f"#/components/schemas/{event.payload.__name__}"},
                    }},
                ]
            },
        }
        channels[event.key] = {
            "address": event.key,
            "messages": {event.key: {"$ref": f"#/components/messages/{event.key}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": exchange(event)}},
        }
        if event.private:
            channels[event.key]["description"] = (
                "Carries personal data: on `linli.private`, which only the suite's own services may bind to."
            )
        operations[f"{event.key}.send"] = {
            "action": "send",
            "summary": f"{event.producer} publishes: {event.summary}",
            "channel": {"$ref": f"#/channels/{event.key}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "linli events",
            "version": "1.0.0",
            "description": (
                "Every event of the suite, published with the routing key `<service>.<entity>.<verb>` to the "
                "durable topic exchange `linli.events`, which other applications may read, or, for the few "
                "events carrying personal data, to `linli.private`, which only the suite's own services may "
                "bind to (each channel names its exchange). Bind your own durable queue with full keys or `#` "
                "patterns. Delivery is at-least-once: the same event may arrive more than once (a publisher "
                "retrying after a lost confirm, a redelivery after a lost connection), so de-duplicate by the "
                "CloudEvent `id`, and use `data.version` to ignore stale updates. Generated from the catalogue "
                "in code by `linli asyncapi`."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"rabbitmq": {"host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"CloudEvent": CLOUDEVENT, **_payload_schemas(events)}},
    }


def document_yaml() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=110)
