"""What the launcher runs for the automation service."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from kit.access import access_consumer
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from services.automation.app import create_app
from services.automation.projections.consumers import CONSUMERS
from services.automation.scheduler.service import run_forever


def background(runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
    """The scheduler; every replica runs one (jobs are claimed, so each fires once)."""
    return [("scheduler", run_forever(runtime.unit_of_work))]


module = ServiceModule(
    name="automation",
    title="Automation",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[access_consumer(), *CONSUMERS],
    background=background,
)
