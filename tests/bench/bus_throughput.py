"""Events per second through outbox → RabbitMQ → inbox (PostgreSQL), against raw aio-pika.

The baseline publishes the same number of messages with publisher confirms
and consumes them with manual acks, nothing else; the ratio is what the
outbox, the relay and the transactional inbox (with one effect row written per
event) cost. Producer and consumer are separate processes in both, as services
are in production. Each side is measured `ROUNDS` times, alternating, and the
medians are compared. Target: ≥ 0.5.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence

from kit.testing import infra
from tests.support.buses import delete_namespace
from tests.support.pair import drop_databases, pair_settings, prepare_databases

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


async def start_role(
    role: str, args: Sequence[str], env: dict[str, str]
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.roles",
        role,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    await expect(process, "ready")
    return process


async def expect(process: asyncio.subprocess.Process, word: str) -> str:
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=600)).decode().strip()
    if not line.startswith(word):
        raise RuntimeError(f"benchmark role said {line!r}, expected {word!r}")
    return line


async def timed(
    consumer_role: str, producer_role: str, args: Sequence[str], env: dict[str, str]
) -> float:
    consumer = await start_role(consumer_role, args, env)
    producer = await start_role(producer_role, args, env)
    assert producer.stdin is not None
    started = time.time()
    producer.stdin.write(b"go\n")
    await producer.stdin.drain()
    finished = float((await expect(consumer, "done")).split()[1])
    await asyncio.gather(producer.wait(), consumer.wait())
    return EVENTS / (finished - started)


async def run() -> None:
    amqp_url = infra.resolve(infra.RABBITMQ)
    pg_url = infra.resolve(infra.POSTGRES)
    raw_rates: list[float] = []
    kit_rates: list[float] = []
    for _ in range(ROUNDS):
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        raw_rates.append(
            await timed(
                "raw-consume", "raw-publish", [amqp_url, namespace, str(EVENTS)], dict(os.environ)
            )
        )
        settings = pair_settings(
            amqp_url=amqp_url,
            pg_server_url=pg_url,
            database=f"dlbench_{namespace.replace('-', '_')}",
            namespace=namespace,
        )
        await prepare_databases(settings)
        env = {
            **os.environ,
            "DESKLINE_BUS_URL": amqp_url,
            "DESKLINE_DATABASE_URL": str(settings.database_url),
            "DESKLINE_NAMESPACE": namespace,
        }
        try:
            kit_rates.append(await timed("kit-consume", "kit-produce", [str(EVENTS)], env))
        finally:
            await delete_namespace(amqp_url, namespace)
            await drop_databases(settings)
    raw, kit = statistics.median(raw_rates), statistics.median(kit_rates)
    print(
        f"bus throughput, {EVENTS} events, median of {ROUNDS} rounds "
        "(BENCH_EVENTS, BENCH_ROUNDS to change):"
    )
    print(
        f"  raw aio-pika publish-with-confirms -> consume/ack : {raw:8.0f} events/s "
        f"{[round(r) for r in raw_rates]}"
    )
    print(
        f"  outbox -> relay -> RabbitMQ -> inbox (PostgreSQL) : {kit:8.0f} events/s "
        f"{[round(r) for r in kit_rates]}"
    )
    print(f"  ratio (target >= 0.5)                             : {kit / raw:8.2f}")
