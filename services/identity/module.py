"""What the launcher runs for the identity service."""

from __future__ import annotations

from pathlib import Path

from kit.module import ServiceModule
from services.identity.app import create_app
from services.identity.grants.consumers import CONSUMERS as PROJECT_CONSUMERS
from services.identity.people.consumers import CONSUMERS as PEOPLE_CONSUMERS

module = ServiceModule(
    name="identity",
    title="Identity",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    consumers=[*PEOPLE_CONSUMERS, *PROJECT_CONSUMERS],
)
