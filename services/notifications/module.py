"""What the launcher runs for the notifications service."""

from __future__ import annotations

from pathlib import Path

from kit.access import access_consumer
from kit.module import ServiceModule
from services.notifications.app import create_app
from services.notifications.directory.consumers import CONSUMERS as DIRECTORY_CONSUMERS

module = ServiceModule(
    name="notifications",
    title="Notifications",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[access_consumer(), *DIRECTORY_CONSUMERS],
)
