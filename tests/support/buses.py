"""Build either transport for the parametrised bus contract suite, and clean up after it."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Sequence

import aio_pika

from kit.bus.base import Bus
from kit.bus.memory import MemoryBus
from kit.bus.rabbit import RabbitBus


def build_bus(kind: str, *, amqp_url: str, namespace: str, retry_delays: Sequence[float]) -> Bus:
    if kind == "memory":
        return MemoryBus(namespace=namespace, retry_delays=retry_delays)
    return RabbitBus(
        amqp_url,
        namespace=namespace,
        prefetch=64,
        retry_delays=retry_delays,
        watchdog_interval=0.2,
        connect_backoff_max=1.0,
    )


async def delete_namespace(amqp_url: str, namespace: str) -> None:
    """Remove every queue and the exchange of a test namespace from the shared broker."""
    listing = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "list_queues", "--quiet", "--no-table-headers", "name"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = [line.strip() for line in listing.stdout.splitlines()]
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for name in names:
            if name.startswith(f"{namespace}."):
                await channel.queue_delete(name)
        await channel.exchange_delete(f"{namespace}.events")
    finally:
        await connection.close()


async def rabbitmqctl(*args: str) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr}")


async def ensure_broker_running() -> None:
    """A test that stopped the app must never leave the broker down for the next one."""
    await rabbitmqctl("start_app")
    await rabbitmqctl("await_startup")
