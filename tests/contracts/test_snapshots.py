"""Committed JSON-schema snapshots are the promise to deployed consumers; these tests keep it.

The first part checks the real registry against `contracts/schemas/`; the
rest pins down the compatibility rule itself on hand-made schema pairs and
the snapshot command's refusal to rewrite a promise incompatibly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import create_model

from contracts import EventData, EventRegistry, registry
from contracts.compat import incompatibilities
from contracts.tools import (
    ASYNCAPI_PATH,
    SCHEMA_DIR,
    check,
    load_snapshot,
    render_schema,
    snapshot_path,
    snapshot_types,
    statuses,
    write_asyncapi,
    write_snapshots,
)

REGENERATE = "run `python -m contracts snapshot`"


# --- the real registry against the committed snapshots ------------------------------------


@pytest.mark.parametrize("event_type", registry.types())
def test_registered_type_matches_its_snapshot(event_type: str) -> None:
    assert snapshot_path(SCHEMA_DIR, event_type).exists(), (
        f"{event_type}: no snapshot; {REGENERATE}"
    )
    committed = load_snapshot(SCHEMA_DIR, event_type)
    current = registry.json_schema(event_type)

    assert incompatibilities(committed, current) == [], (
        f"{event_type} changed incompatibly: publish a new .vN type instead"
    )
    assert render_schema(committed) == render_schema(current), f"{event_type}: stale; {REGENERATE}"


def test_every_snapshot_has_a_registered_type() -> None:
    orphans = sorted(set(snapshot_types(SCHEMA_DIR)) - set(registry.types()))

    assert orphans == [], (
        f"types removed from the registry while consumers may rely on them: {orphans}"
    )


def test_snapshot_files_are_in_canonical_form() -> None:
    for event_type in snapshot_types(SCHEMA_DIR):
        text = snapshot_path(SCHEMA_DIR, event_type).read_text("utf-8")
        assert text == render_schema(load_snapshot(SCHEMA_DIR, event_type)), event_type


def test_check_passes_on_the_committed_artefacts() -> None:
    assert check(registry, SCHEMA_DIR, ASYNCAPI_PATH) == []


# --- the compatibility rule on hand-made schemas -----------------------------------------


BASE: dict[str, Any] = {
    "$defs": {
        "Address": {
            "properties": {
                "city": {"title": "City", "type": "string"},
                "zip": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            },
            "required": ["city"],
            "title": "Address",
            "type": "object",
        }
    },
    "description": "A client was created.",
    "properties": {
        "id": {"format": "uuid", "type": "string"},
        "kind": {"enum": ["staff", "client"], "type": "string"},
        "address": {"$ref": "#/$defs/Address"},
        "tags": {"items": {"type": "string"}, "type": "array"},
        "note": {"default": None, "anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["id", "kind", "address", "tags"],
    "title": "ClientCreated",
    "type": "object",
}


def changed(edit: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def props(schema: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema["properties"]
    return properties


def address(schema: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = schema["$defs"]["Address"]
    return nested


def rename_address(schema: dict[str, Any]) -> None:
    schema["$defs"] = {"PostalAddress": schema["$defs"].pop("Address")}
    props(schema)["address"] = {"$ref": "#/$defs/PostalAddress", "description": "Where."}


COMPATIBLE = {
    "identical": lambda s: None,
    "texts reworded": lambda s: s.update(title="Renamed", description="Reworded."),
    "property described": lambda s: props(s)["id"].update(description="The id."),
    "optional property added": lambda s: props(s).update(
        colour={"default": "red", "enum": ["red", "blue"], "type": "string"}
    ),
    "optional nested property added": lambda s: props(address(s)).update(
        street={"default": None, "anyOf": [{"type": "string"}, {"type": "null"}]}
    ),
    "nested model renamed": rename_address,
    "enum listed in another order": lambda s: props(s)["kind"].update(enum=["client", "staff"]),
}

INCOMPATIBLE = {
    "property removed": (lambda s: props(s).pop("note"), "note: property removed"),
    "required property removed": (
        lambda s: (props(s).pop("tags"), s["required"].remove("tags")),
        "tags: property removed",
    ),
    "type changed": (lambda s: props(s)["id"].update(type="integer"), "'type' changed"),
    "format changed": (lambda s: props(s)["id"].update(format="email"), "'format' changed"),
    "format dropped": (lambda s: props(s)["id"].pop("format"), "keyword 'format' removed"),
    "enum value added": (
        lambda s: props(s)["kind"].update(enum=["staff", "client", "vendor"]),
        "kind: 'enum' changed",
    ),
    "enum value removed": (
        lambda s: props(s)["kind"].update(enum=["staff"]),
        "kind: 'enum' changed",
    ),
    "items type changed": (
        lambda s: props(s)["tags"].update(items={"type": "integer"}),
        "tags[items]: 'type' changed",
    ),
    "nested type changed": (
        lambda s: props(address(s))["city"].update(type="integer"),
        "address.city: 'type' changed",
    ),
    "nested property removed": (
        lambda s: props(address(s)).pop("zip"),
        "address.zip: property removed",
    ),
    "nested optional became required": (
        lambda s: address(s)["required"].append("zip"),
        "address.zip: optional property became required",
    ),
    "new required property": (
        lambda s: (props(s).update(age={"type": "integer"}), s["required"].append("age")),
        "age: new required property",
    ),
    "optional became required": (
        lambda s: s["required"].append("note"),
        "note: optional property became required",
    ),
    "required became optional": (
        lambda s: s["required"].remove("tags"),
        "tags: required property became optional",
    ),
    "made nullable": (
        lambda s: props(s).update(
            id={"anyOf": [{"format": "uuid", "type": "string"}, {"type": "null"}]}
        ),
        "id: keyword 'anyOf' added",
    ),
    "nested model replaced by a string": (
        lambda s: props(s).update(address={"type": "string"}),
        "address",
    ),
    "constraint added": (
        lambda s: props(s)["tags"].update(maxItems=3),
        "keyword 'maxItems' added",
    ),
    "default changed": (
        lambda s: props(s)["note"].update(default="n/a"),
        "'default' changed",
    ),
}


@pytest.mark.parametrize("edit", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_changes_pass(edit: Any) -> None:
    assert incompatibilities(BASE, changed(edit)) == []


@pytest.mark.parametrize(("edit", "expected"), INCOMPATIBLE.values(), ids=INCOMPATIBLE.keys())
def test_incompatible_changes_are_reported(edit: Any, expected: str) -> None:
    problems = incompatibilities(BASE, changed(edit))

    assert problems, "an incompatible change passed"
    assert any(expected in problem for problem in problems), problems


def test_recursive_models_terminate() -> None:
    node: dict[str, Any] = {
        "$defs": {
            "Node": {
                "properties": {"child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}},
                "type": "object",
            }
        },
        "$ref": "#/$defs/Node",
    }
    broken = copy.deepcopy(node)
    broken["$defs"]["Node"]["properties"]["name"] = {"type": "string"}
    broken["$defs"]["Node"]["required"] = ["name"]

    assert incompatibilities(node, copy.deepcopy(node)) == []
    assert incompatibilities(node, broken) == ["name: new required property"]


# --- the snapshot command -----------------------------------------------------------------


class ItemV1(EventData):
    item_id: str


class ItemGrown(EventData):
    item_id: str
    colour: str | None = None


class ItemBroken(EventData):
    item_id: int


def registry_with(model: type[EventData], *extra: str) -> EventRegistry:
    events = EventRegistry()
    events.event("shop.item.created.v1", source="shop", summary="An item.")(model)
    for event_type in extra:
        payload = create_model("Extra", __base__=EventData, n=(int, ...))
        events.event(event_type, source="shop", summary="Extra.")(payload)
    return events


def states(events: EventRegistry, schema_dir: Path) -> dict[str, str]:
    return {status.type: status.state for status in statuses(events, schema_dir)}


def test_snapshot_records_new_types_and_compatible_growth(tmp_path: Path) -> None:
    _, complete = write_snapshots(registry_with(ItemV1), tmp_path)
    assert complete
    assert states(registry_with(ItemV1), tmp_path) == {"shop.item.created.v1": "unchanged"}

    assert states(registry_with(ItemGrown), tmp_path) == {"shop.item.created.v1": "compatible"}
    _, complete = write_snapshots(registry_with(ItemGrown), tmp_path)
    assert complete
    assert "colour" in load_snapshot(tmp_path, "shop.item.created.v1")["properties"]


def test_snapshot_refuses_an_incompatible_change_unless_forced(tmp_path: Path) -> None:
    write_snapshots(registry_with(ItemV1), tmp_path)
    before = snapshot_path(tmp_path, "shop.item.created.v1").read_text("utf-8")

    found, complete = write_snapshots(registry_with(ItemBroken), tmp_path)

    assert not complete
    assert [status.state for status in found] == ["incompatible"]
    assert snapshot_path(tmp_path, "shop.item.created.v1").read_text("utf-8") == before

    _, complete = write_snapshots(registry_with(ItemBroken), tmp_path, force=True)
    assert complete
    assert states(registry_with(ItemBroken), tmp_path) == {"shop.item.created.v1": "unchanged"}


def test_a_type_removed_from_the_registry_is_caught(tmp_path: Path) -> None:
    write_snapshots(registry_with(ItemV1, "shop.item.deleted.v1"), tmp_path)
    events = registry_with(ItemV1)

    assert states(events, tmp_path)["shop.item.deleted.v1"] == "removed"
    assert not write_snapshots(events, tmp_path)[1]
    assert snapshot_path(tmp_path, "shop.item.deleted.v1").exists()

    write_snapshots(events, tmp_path, force=True)
    assert not snapshot_path(tmp_path, "shop.item.deleted.v1").exists()


def test_check_lists_every_stale_artefact(tmp_path: Path) -> None:
    asyncapi_path = tmp_path / "asyncapi.yaml"
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()

    problems = check(registry_with(ItemV1), schema_dir, asyncapi_path)
    assert any("shop.item.created.v1: no snapshot" in problem for problem in problems)
    assert any("asyncapi.yaml is stale" in problem for problem in problems)

    write_snapshots(registry_with(ItemV1), schema_dir)
    write_asyncapi(registry_with(ItemV1), asyncapi_path)
    assert check(registry_with(ItemV1), schema_dir, asyncapi_path) == []

    problems = check(registry_with(ItemBroken), schema_dir, asyncapi_path)
    assert any("item_id: 'type' changed" in problem for problem in problems), problems
