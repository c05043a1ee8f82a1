"""What the launcher runs for the tickets service."""

from __future__ import annotations

from pathlib import Path

from kit.access import access_consumer
from kit.module import ServiceModule
from services.tickets.app import create_app
from services.tickets.conversation.consumers import CONSUMERS as MAIL_CONSUMERS
from services.tickets.defaults import CONSUMERS as DEFAULTS_CONSUMERS
from services.tickets.items.consumers import CONSUMERS as ITEM_CONSUMERS
from services.tickets.people.consumers import CONSUMERS as PEOPLE_CONSUMERS

module = ServiceModule(
    name="tickets",
    title="Tickets",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[
        access_consumer(),
        *PEOPLE_CONSUMERS,
        *DEFAULTS_CONSUMERS,
        *ITEM_CONSUMERS,
        *MAIL_CONSUMERS,
    ],
)
