"""`contracts/asyncapi.yaml` is generated: it must match a fresh generation and be well formed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from contracts import registry
from contracts.asyncapi import build, render
from contracts.tools import ASYNCAPI_PATH


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI_PATH.read_text("utf-8"))
    return loaded


def test_committed_document_is_current() -> None:
    assert ASYNCAPI_PATH.read_text("utf-8") == render(registry), (
        "contracts/asyncapi.yaml is stale; run `python -m contracts asyncapi`"
    )


def test_generation_is_deterministic() -> None:
    assert render(registry) == render(registry)
    assert yaml.safe_load(render(registry)) == build(registry)


def test_header_and_server(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Deskline events"
    assert document["info"]["version"]
    assert document["servers"]["rabbitmq"]["protocol"] == "amqp"


def test_one_channel_per_type_addressed_by_its_routing_key(document: dict[str, Any]) -> None:
    channels = document["channels"]

    assert sorted(channels) == registry.types()
    for event_type, channel in channels.items():
        assert channel["address"] == event_type
        amqp = channel["bindings"]["amqp"]
        assert amqp["is"] == "routingKey"
        assert amqp["exchange"] == {
            "name": "{namespace}.events",
            "type": "topic",
            "durable": True,
            "autoDelete": False,
            "vhost": "/",
        }


def test_messages_carry_bindings_and_the_envelope(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]

    assert sorted(messages) == registry.types()
    for event_type, message in messages.items():
        amqp = message["bindings"]["amqp"]
        assert amqp["messageType"] == event_type
        assert amqp["contentEncoding"]
        envelope_ref, specialised = message["payload"]["allOf"]
        assert envelope_ref == {"$ref": "#/components/schemas/Envelope"}
        assert specialised["properties"]["type"] == {"const": event_type}
        assert specialised["properties"]["data"] == {"$ref": f"#/components/schemas/{event_type}"}


def test_operations_follow_the_direction_of_each_type(document: dict[str, Any]) -> None:
    operations = document["operations"]

    assert len(operations) == len(registry.types())
    for operation in operations.values():
        event_type = operation["channel"]["$ref"].removeprefix("#/channels/")
        expected = "receive" if registry.spec(event_type).is_command else "send"
        assert operation["action"] == expected


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    for ref in _refs(document):
        assert ref.startswith("#/"), ref
        node: Any = document
        for token in ref[2:].split("/"):
            assert token in node, f"dangling {ref}"
            node = node[token]


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return found + [ref for value in node.values() for ref in _refs(value)]
