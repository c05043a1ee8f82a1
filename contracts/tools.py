"""Keeping the committed artefacts (schema snapshots, asyncapi.yaml) in step with the registry.

The snapshots are the promise made to consumers already deployed: `snapshot`
records new types and compatible growth but refuses to rewrite that promise
incompatibly unless forced, and `check` (run in CI) fails on anything stale.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from contracts import asyncapi
from contracts.compat import incompatibilities
from contracts.registry import EventRegistry, registry

CONTRACTS_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = CONTRACTS_DIR / "schemas"
ASYNCAPI_PATH = CONTRACTS_DIR / "asyncapi.yaml"

State = Literal["unchanged", "new", "compatible", "incompatible", "removed"]


@dataclass(frozen=True)
class SnapshotStatus:
    """How one type's current schema relates to its committed snapshot."""

    type: str
    state: State
    problems: list[str] = field(default_factory=list)

    @property
    def is_breaking(self) -> bool:
        return self.state in ("incompatible", "removed")


def render_schema(schema: dict[str, Any]) -> str:
    """Snapshot text: pretty, sorted and newline-terminated so diffs stay readable."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def snapshot_path(schema_dir: Path, event_type: str) -> Path:
    return schema_dir / f"{event_type}.json"


def snapshot_types(schema_dir: Path) -> list[str]:
    return sorted(path.name.removesuffix(".json") for path in schema_dir.glob("*.json"))


def load_snapshot(schema_dir: Path, event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(snapshot_path(schema_dir, event_type).read_text("utf-8"))
    return loaded


def statuses(events: EventRegistry, schema_dir: Path) -> list[SnapshotStatus]:
    """Every registered type and every snapshot file, compared; sorted by type."""
    found: list[SnapshotStatus] = []
    registered = set(events.types())
    for event_type in sorted(registered | set(snapshot_types(schema_dir))):
        if event_type not in registered:
            found.append(
                SnapshotStatus(
                    event_type,
                    "removed",
                    [
                        "snapshot has no registered type; a type may not disappear while "
                        "consumers may still receive it"
                    ],
                )
            )
            continue
        current = events.json_schema(event_type)
        if not snapshot_path(schema_dir, event_type).exists():
            found.append(SnapshotStatus(event_type, "new"))
            continue
        committed = load_snapshot(schema_dir, event_type)
        if render_schema(committed) == render_schema(current):
            found.append(SnapshotStatus(event_type, "unchanged"))
            continue
        problems = incompatibilities(committed, current)
        found.append(
            SnapshotStatus(event_type, "incompatible" if problems else "compatible", problems)
        )
    return found


def write_snapshots(
    events: EventRegistry, schema_dir: Path, *, force: bool = False
) -> tuple[list[SnapshotStatus], bool]:
    """Write new and compatibly changed snapshots; breaking ones only when forced.

    Returns the statuses and whether everything asked for was written, so a
    refused incompatible change leaves its snapshot untouched and fails the
    command.
    """
    found = statuses(events, schema_dir)
    complete = True
    schema_dir.mkdir(parents=True, exist_ok=True)
    for status in found:
        if status.state == "unchanged":
            continue
        if status.is_breaking and not force:
            complete = False
            continue
        path = snapshot_path(schema_dir, status.type)
        if status.state == "removed":
            path.unlink()
        else:
            path.write_text(render_schema(events.json_schema(status.type)), "utf-8")
    return found, complete


def asyncapi_is_current(events: EventRegistry, path: Path) -> bool:
    return path.exists() and path.read_text("utf-8") == asyncapi.render(events)


def write_asyncapi(events: EventRegistry, path: Path) -> bool:
    """Regenerate the document; returns whether its content changed."""
    if asyncapi_is_current(events, path):
        return False
    path.write_text(asyncapi.render(events), "utf-8")
    return True


def check(events: EventRegistry, schema_dir: Path, asyncapi_path: Path) -> list[str]:
    """Everything CI should fail on, one line each; empty when all artefacts are current."""
    problems: list[str] = []
    for status in statuses(events, schema_dir):
        if status.state == "new":
            problems.append(f"{status.type}: no snapshot; run `python -m contracts snapshot`")
        elif status.state == "compatible":
            problems.append(
                f"{status.type}: snapshot stale (compatible change); "
                "run `python -m contracts snapshot`"
            )
        elif status.is_breaking:
            problems.extend(
                f"{status.type}: {status.state}: {problem}" for problem in status.problems
            )
    if not asyncapi_is_current(events, asyncapi_path):
        problems.append(f"{asyncapi_path.name} is stale; run `python -m contracts asyncapi`")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts", description="Maintain the event contracts' artefacts."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    snapshot = commands.add_parser("snapshot", help="write or update the JSON-schema snapshots")
    snapshot.add_argument(
        "--force",
        action="store_true",
        help="also overwrite incompatible snapshots and delete those of unregistered types",
    )
    commands.add_parser("asyncapi", help="regenerate asyncapi.yaml")
    commands.add_parser("check", help="fail if a snapshot or asyncapi.yaml is stale or broken")
    args = parser.parse_args(argv)

    if args.command == "snapshot":
        return _snapshot(force=args.force)
    if args.command == "asyncapi":
        changed = write_asyncapi(registry, ASYNCAPI_PATH)
        print(f"{ASYNCAPI_PATH.name}: {'regenerated' if changed else 'unchanged'}")
        return 0
    problems = check(registry, SCHEMA_DIR, ASYNCAPI_PATH)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"contracts: {len(registry.types())} types, snapshots and asyncapi.yaml current")
    return 1 if problems else 0


def _snapshot(*, force: bool) -> int:
    found, complete = write_snapshots(registry, SCHEMA_DIR, force=force)
    if all(status.state == "unchanged" for status in found):
        print(f"snapshots: all {len(found)} current")
    for status in found:
        if status.state == "unchanged":
            continue
        verb: str = "forced" if status.is_breaking and force else status.state
        if status.is_breaking and not force:
            verb = f"REFUSED ({status.state}; a new .vN type is needed, or --force)"
        print(f"{status.type}: {verb}")
        for problem in status.problems:
            print(f"    {problem}")
    return 0 if complete else 1
