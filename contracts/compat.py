"""Decides whether a payload schema may replace its committed snapshot under the same type.

A consumer built against the snapshot must keep working with whatever the new
schema allows. The only change that guarantees it is adding optional
properties (consumers ignore unknown fields); wording (titles, descriptions,
examples) is free. Everything else, loosening a constraint included, needs a
new `.vN` type. The comparison follows `$ref`s rather than comparing `$defs`
by name, so renaming a nested model is harmless while changing one is not.
"""

from __future__ import annotations

import json
from typing import Any

ANNOTATIONS = frozenset({"title", "description", "examples", "$comment"})
"""Keywords that document a schema without constraining any value."""

DEFINITION_CONTAINERS = frozenset({"$defs", "definitions"})
"""Reached through `$ref` where used; comparing them by name would flag harmless renames."""

UNORDERED = frozenset({"enum", "type", "required"})
"""List-valued keywords whose order carries no meaning."""

Schema = dict[str, Any]


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """What breaks a consumer built against `old` if producers switch to `new`; empty if nothing."""
    comparison = _Comparison(old, new)
    comparison.compare(old, new, "")
    return comparison.problems


class _Comparison:
    """One walk over a pair of documents; holds both roots so `$ref`s resolve in their own."""

    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []
        self._following: set[tuple[str | None, str | None]] = set()

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path or '<root>'}: {message}")

    def compare(self, old: Any, new: Any, path: str) -> None:
        old_ref = old.get("$ref") if isinstance(old, dict) else None
        new_ref = new.get("$ref") if isinstance(new, dict) else None
        if old_ref is None and new_ref is None:
            self._compare_resolved(old, new, path)
            return
        pair = (old_ref, new_ref)
        if pair in self._following:  # a recursive model: this pair is already being compared
            return
        self._following.add(pair)
        try:
            self.compare(_inline(self.old_root, old), _inline(self.new_root, new), path)
        finally:
            self._following.discard(pair)

    def _compare_resolved(self, old: Any, new: Any, path: str) -> None:
        if not (isinstance(old, dict) and isinstance(new, dict)):
            if old != new:
                self.report(path, f"schema changed from {_show(old)} to {_show(new)}")
            return
        self._compare_properties(old, new, path)
        for key in sorted((old.keys() | new.keys()) - ANNOTATIONS - DEFINITION_CONTAINERS):
            if key in {"properties", "required"}:
                continue
            if key not in new:
                self.report(path, f"keyword {key!r} removed (was {_show(old[key])})")
            elif key not in old:
                self.report(path, f"keyword {key!r} added ({_show(new[key])})")
            else:
                self._compare_keyword(key, old[key], new[key], path)

    def _compare_properties(self, old: Schema, new: Schema, path: str) -> None:
        old_properties: Schema = old.get("properties", {})
        new_properties: Schema = new.get("properties", {})
        for name in sorted(old_properties):
            if name not in new_properties:
                self.report(_join(path, name), "property removed")
            else:
                self.compare(old_properties[name], new_properties[name], _join(path, name))

        old_required = set(old.get("required", []))
        new_required = set(new.get("required", []))
        for name in sorted(new_required - old_required):
            if name in old_properties:
                self.report(_join(path, name), "optional property became required")
            else:
                self.report(_join(path, name), "new required property")
        for name in sorted(old_required - new_required):
            if name in new_properties:
                self.report(_join(path, name), "required property became optional")

    def _compare_keyword(self, key: str, old: Any, new: Any, path: str) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            self.compare(old, new, f"{path}[{key}]")
        elif key in UNORDERED and isinstance(old, list) and isinstance(new, list):
            if sorted(map(_show, old)) != sorted(map(_show, new)):
                self.report(path, f"{key!r} changed from {_show(old)} to {_show(new)}")
        elif _is_schema_list(old) and _is_schema_list(new):
            if len(old) != len(new):
                self.report(path, f"{key!r} changed from {len(old)} to {len(new)} alternatives")
                return
            for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
                self.compare(old_item, new_item, f"{path}[{key}:{index}]")
        elif old != new:
            self.report(path, f"{key!r} changed from {_show(old)} to {_show(new)}")


def _inline(root: Schema, node: Any) -> Any:
    """Replace a `$ref` by its target, keeping keywords written beside it (2020-12 allows them)."""
    if not (isinstance(node, dict) and "$ref" in node):
        return node
    target = _resolve(root, node["$ref"])
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    return {**target, **siblings} if isinstance(target, dict) else target


def _resolve(root: Schema, ref: str) -> Any:
    """Follow a local JSON pointer (`#/$defs/Name`); snapshots never reference other files."""
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node: Any = root
    for token in ref[1:].split("/")[1:]:
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _is_schema_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict | bool) for item in value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
