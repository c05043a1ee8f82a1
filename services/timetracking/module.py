"""What the launcher runs for the timetracking service."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from kit.access import access_consumer
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from services.timetracking.app import create_app
from services.timetracking.projections.consumers import CONSUMERS as PROJECTION_CONSUMERS
from services.timetracking.timers.service import sweep_forever


def background(runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
    """The sweep that flags forgotten timers; every replica runs one (they claim timers
    `SKIP LOCKED`, so they never stop the same timer twice)."""
    return [("timer-sweep", sweep_forever(runtime.unit_of_work))]


module = ServiceModule(
    name="timetracking",
    title="Time tracking",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[access_consumer(), *PROJECTION_CONSUMERS],
    background=background,
)
