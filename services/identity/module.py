"""What the launcher runs for the identity service."""

from __future__ import annotations

from pathlib import Path

from kit.module import ServiceModule
from services.identity.app import create_app

module = ServiceModule(
    name="identity",
    title="Identity",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
)
