"""Choose the transport from the settings; nothing else in the code knows which one runs."""

from __future__ import annotations

from kit.bus.base import Bus
from kit.bus.memory import MemoryBus
from kit.bus.rabbit import RabbitBus
from kit.settings import Settings


def make_bus(settings: Settings) -> Bus:
    if settings.uses_amqp:
        return RabbitBus(
            settings.bus_url,
            namespace=settings.namespace,
            prefetch=settings.prefetch,
            retry_delays=settings.retry_delays,
            delivery_limit=settings.delivery_limit,
            watchdog_interval=settings.consumer_watchdog_interval,
            connect_backoff_max=settings.bus_connect_backoff_max,
        )
    if settings.bus_url.startswith("memory://"):
        return MemoryBus(namespace=settings.namespace, retry_delays=settings.retry_delays)
    raise ValueError(f"unsupported DESKLINE_BUS_URL {settings.bus_url!r} (memory:// or amqp://)")
