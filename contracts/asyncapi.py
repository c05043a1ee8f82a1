"""Generates `asyncapi.yaml` (AsyncAPI 3.0.0) from the registry.

The document is for readers outside the code (operators, integrators, doc
tooling); it is derived, never edited, and its output is deterministic so a
test can tell when the committed copy is stale. Events are `send` operations
of their producer; commands are `receive` operations of the service that
executes them (anyone may send them).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import yaml

from contracts.envelope import Envelope
from contracts.registry import EventRegistry, EventSpec

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
SERVER = "rabbitmq"
EXCHANGE = "{namespace}.events"
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
AMQP_BINDING_VERSION = "0.3.0"
ENVELOPE_SCHEMA = "Envelope"

HEADER = "# Generated from contracts/ by `python -m contracts asyncapi`; do not edit.\n"

DESCRIPTION = """\
Every event and command of Deskline's services. Each message is a CloudEvents
1.0 envelope in structured JSON mode whose `type` is also the AMQP routing key
on the topic exchange `{namespace}.events` (the namespace is configured per
environment). Messages are persistent, published as mandatory with
`message_id` = envelope `id`, and delivered at least once: consumers
deduplicate on `id` and ignore fields they do not know.
"""


def render(registry: EventRegistry) -> str:
    """The document as committed: YAML with sorted keys behind a do-not-edit header."""
    body = yaml.dump(
        build(registry),
        Dumper=_Dumper,
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return HEADER + body


class _Dumper(yaml.SafeDumper):
    """`safe_dump`, except that multi-line texts (docstrings) keep their lines as `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def build(registry: EventRegistry) -> dict[str, Any]:
    schemas = _hoist(ENVELOPE_SCHEMA, Envelope.model_json_schema())
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in registry.types():
        spec = registry.spec(event_type)
        schemas.update(_hoist(event_type, registry.json_schema(event_type)))
        messages[event_type] = _message(spec)
        channels[event_type] = _channel(spec)
        operations[_operation_id(spec)] = _operation(spec)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Deskline events",
            "version": DOCUMENT_VERSION,
            "description": DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            SERVER: {
                "host": "{host}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The RabbitMQ broker every service connects to.",
                "variables": {
                    "host": {
                        "default": "localhost:5672",
                        "description": "Host and port of the broker.",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _channel(spec: EventSpec) -> dict[str, Any]:
    return {
        "address": spec.type,
        "summary": spec.summary,
        "messages": {spec.type: {"$ref": f"#/components/messages/{spec.type}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": EXCHANGE,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _operation_id(spec: EventSpec) -> str:
    return f"{spec.type}.{'receive' if spec.is_command else 'send'}"


def _operation(spec: EventSpec) -> dict[str, Any]:
    return {
        "action": "receive" if spec.is_command else "send",
        "channel": {"$ref": f"#/channels/{spec.type}"},
        "messages": [{"$ref": f"#/channels/{spec.type}/messages/{spec.type}"}],
        "summary": spec.summary,
        "tags": _tags(spec),
        "bindings": {
            "amqp": {
                "deliveryMode": 2,
                "mandatory": True,
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _message(spec: EventSpec) -> dict[str, Any]:
    return {
        "name": spec.type,
        "title": spec.model.__name__,
        "summary": spec.summary,
        "description": inspect.cleandoc(spec.model.__doc__ or spec.summary),
        "contentType": CONTENT_TYPE,
        "correlationId": {
            "description": "Id of the request that started the chain of messages.",
            "location": "$message.payload#/correlationid",
        },
        "tags": _tags(spec),
        "payload": {
            "allOf": [
                {"$ref": f"#/components/schemas/{ENVELOPE_SCHEMA}"},
                {
                    "type": "object",
                    "required": ["data", "source", "type"],
                    "properties": {
                        "type": {"const": spec.type},
                        **({} if spec.is_command else {"source": {"const": spec.source}}),
                        "data": {"$ref": f"#/components/schemas/{spec.type}"},
                    },
                },
            ]
        },
        "bindings": {
            "amqp": {
                "contentEncoding": CONTENT_ENCODING,
                "messageType": spec.type,
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _tags(spec: EventSpec) -> list[dict[str, str]]:
    return [{"name": spec.source}, {"name": "command" if spec.is_command else "event"}]


def _hoist(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Split a pydantic schema into component schemas.

    Pydantic's `#/$defs/...` pointers are relative to the schema's own root,
    which inside the AsyncAPI document is the document itself, so nested
    definitions move to `components/schemas` under names prefixed by `name`
    (two payloads may each define an unrelated `Address`).
    """
    definitions = schema.get("$defs", {})
    renamed = {local: _component_name(f"{name}.{local}") for local in definitions}
    hoisted = {
        renamed[local]: _rewrite_refs(definition, renamed)
        for local, definition in definitions.items()
    }
    root = {key: value for key, value in schema.items() if key != "$defs"}
    hoisted[name] = _rewrite_refs(root, renamed)
    return hoisted


def _rewrite_refs(node: Any, renamed: dict[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite_refs(item, renamed) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_refs(value, renamed) for key, value in node.items()}
    ref = rewritten.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rewritten["$ref"] = f"#/components/schemas/{renamed[ref.removeprefix('#/$defs/')]}"
    return rewritten


def _component_name(name: str) -> str:
    """AsyncAPI restricts component keys to `[a-zA-Z0-9.-_]`."""
    return re.sub(r"[^a-zA-Z0-9._-]", "_", name)
