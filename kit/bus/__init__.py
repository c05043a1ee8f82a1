"""One bus interface, two transports.

RabbitMQ for real deployments, in-memory for the embedded mode and fast tests.
"""

from kit.bus.base import (
    Bus,
    BusError,
    Handler,
    OutgoingMessage,
    PublishOutcome,
    Subscription,
)
from kit.bus.factory import make_bus

__all__ = [
    "Bus",
    "BusError",
    "Handler",
    "OutgoingMessage",
    "PublishOutcome",
    "Subscription",
    "make_bus",
]
