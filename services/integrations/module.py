"""What the launcher runs for the integrations service."""

from __future__ import annotations

from pathlib import Path

from kit.access import access_consumer
from kit.module import ServiceModule
from services.integrations.app import create_app

module = ServiceModule(
    name="integrations",
    title="Integrations",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[access_consumer()],
)
