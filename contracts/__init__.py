"""Deskline's event contracts: the envelope every message travels in and the registry of types.

This package is the only thing services share about each other. It depends on
pydantic alone, never on the kit or a service, so any producer or consumer
(including external tools reading the AsyncAPI document) can rely on it.
Importing it registers every producer's types (one module per producer).
"""

from contracts import automation, identity, integrations, notifications, tickets, timetracking
from contracts.envelope import SPEC_VERSION, Envelope, EventData, new_event_id
from contracts.registry import (
    EventRegistry,
    EventSpec,
    RegistrationError,
    UnknownEventType,
    registry,
)

__all__ = [
    "SPEC_VERSION",
    "Envelope",
    "EventData",
    "EventRegistry",
    "EventSpec",
    "RegistrationError",
    "UnknownEventType",
    "automation",
    "identity",
    "integrations",
    "new_event_id",
    "notifications",
    "registry",
    "tickets",
    "timetracking",
]
