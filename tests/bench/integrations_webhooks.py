"""Ticket created through the tickets API → signed webhook received by a local receiver, in
split mode: tickets and integrations each in its own process (`deskline serve`), on
RabbitMQ and PostgreSQL.

Open loop: tickets are created at a fixed rate whatever the latency (each request starts at
its scheduled time), so a slow system shows as latency rather than as a lower offered rate.
Latency is from the scheduled start of the create request to the receipt of its webhook.
Beside it, in the same run, the raw bus round trip at the same rate: aio-pika publish with
confirms → consume, one process, no database.

Targets: the sustained rate keeps up with ≥ 200 tickets/s and p99 < 500 ms.
`BENCH_RATE` (per second) and `BENCH_SECONDS` change the load.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aio_pika
import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.types import Receive, Scope, Send

from contracts import registry
from contracts.identity import WorkspaceCreated
from contracts.tickets import ItemCreated, ItemSnapshot
from kit.bus.base import OutgoingMessage
from kit.bus.rabbit import RabbitBus
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.settings import Settings
from kit.testing import infra
from services.integrations.module import module as integrations_module
from services.tickets.module import module as tickets_module
from tests.bench.http_load import LoadClient
from tests.support.buses import delete_namespace
from tests.support.harness import free_port
from tests.support.processes import serve_quietly

RATE = float(os.environ.get("BENCH_RATE", "200"))
LOAD_CONNECTIONS = 64
"""Keep-alive connections carrying the creates (a request waits for a free one)."""
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
KEY = Ed25519PrivateKey.generate()
PUBLIC_PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def token(workspace_id: str, user_id: str) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "wid": workspace_id,
        "kind": "staff",
        "role": "admin",
        "iss": "deskline-identity",
        "aud": "deskline",
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, KEY, algorithm="EdDSA")


class Receiver:
    """Records when each item's webhook arrived (plain ASGI: the receiver shares the
    benchmark's process with the load, and should cost it little)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        at = time.perf_counter()
        data = json.loads(b"".join(chunks))["data"]
        self.arrived.setdefault(str(data["item_id"]), at)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def open_loop(count: int, fire: Callable[[int, float], Coroutine[Any, Any, None]]) -> None:
    """Start `fire(i, scheduled)` at `RATE` per second, never waiting for earlier ones."""
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        scheduled = started + i / RATE
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i, scheduled)))
    await asyncio.gather(*tasks)


async def raw_round_trip(amqp_url: str, count: int) -> list[float]:
    connection = await aio_pika.connect(amqp_url)
    latencies: list[float] = []
    done = asyncio.Event()
    sent: dict[str, float] = {}
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(exclusive=True)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            latencies.append(time.perf_counter() - sent[str(message.message_id)])
            await message.ack()
            if len(latencies) == count:
                done.set()

        await queue.consume(on_message)

        async def fire(i: int, scheduled: float) -> None:
            sent[str(i)] = scheduled
            body = json.dumps({"n": i, "pad": "x" * 600}).encode()
            message = aio_pika.Message(body, message_id=str(i), delivery_mode=2)
            await channel.default_exchange.publish(message, routing_key=queue.name)

        await open_loop(count, fire)
        await asyncio.wait_for(done.wait(), 120)
    finally:
        await connection.close()
    return latencies


async def bus_to_webhook(
    bus: RabbitBus, receiver: Receiver, workspace_id: str, project_id: str, count: int
) -> list[float]:
    """The integrations service alone: item events published as tickets would (one per
    message, at the same rate) → webhook received."""
    sent: dict[str, float] = {}

    async def fire(i: int, scheduled: float) -> None:
        item = ItemSnapshot(
            id=uuid.uuid4(),
            number=i,
            title=f"Direct {i}",
            project_id=uuid.UUID(project_id),
            type_id=uuid.uuid4(),
            kind="ticket",
            status_id=uuid.uuid4(),
            status_name="New",
            status_category="new",
            priority="normal",
        )
        envelope = registry.envelope(
            ItemCreated(item=item), workspace=workspace_id, subject=f"item/{item.id}"
        )
        sent[str(item.id)] = scheduled
        await bus.publish([OutgoingMessage.of(envelope)])

    await open_loop(count, fire)

    async def arrived() -> bool:
        return all(item in receiver.arrived for item in sent)

    await until(arrived, timeout=300)
    return [receiver.arrived[i] - t for i, t in sent.items()]


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's set-up did not come up in time")
        await asyncio.sleep(0.1)


async def run() -> None:
    amqp_url = infra.resolve(infra.RABBITMQ)
    pg_url = infra.resolve(infra.POSTGRES)
    count = int(RATE * SECONDS)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=infra.database_url(pg_url, f"dlbench_{namespace.replace('-', '_')}"),
        bus_url=amqp_url,
        namespace=namespace,
    )
    modules = (tickets_module, integrations_module)
    for module in modules:
        url = settings.database_url_for(module.name)
        await drop_database(url)
        await asyncio.to_thread(upgrade, module.migrations, url)

    receiver = Receiver()
    receiver_port, tickets_port, integrations_port = free_port(), free_port(), free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            receiver, host="127.0.0.1", port=receiver_port, log_config=None, access_log=False
        )
    )
    receiving = asyncio.create_task(server.serve())
    env = {
        **os.environ,
        "DESKLINE_BUS_URL": amqp_url,
        "DESKLINE_DATABASE_URL": str(settings.database_url),
        "DESKLINE_NAMESPACE": namespace,
        "DESKLINE_JWT_PUBLIC_KEY": PUBLIC_PEM,
        "DESKLINE_LOG_LEVEL": "WARNING",
        "DESKLINE_OUTBOX_POLL_INTERVAL": "0.2",
        "DESKLINE_INTEGRATIONS_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
    }
    processes = [
        await serve_quietly("tickets", tickets_port, env),
        await serve_quietly("integrations", integrations_port, env),
    ]
    bus = RabbitBus(amqp_url, namespace=namespace)
    tickets = f"http://127.0.0.1:{tickets_port}/api/tickets"
    integrations = f"http://127.0.0.1:{integrations_port}/api/integrations"
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    try:
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def ready() -> bool:
                try:
                    answers = [
                        await client.get(f"{base}/readyz") for base in (tickets, integrations)
                    ]
                except httpx.TransportError:
                    return False
                return all(a.status_code == 200 for a in answers)

            progress("services up")
            await until(ready)
            workspace_id, admin_id = str(uuid.uuid4()), str(uuid.uuid4())
            auth = {"authorization": f"Bearer {token(workspace_id, admin_id)}"}
            await bus.start()
            await until(lambda: _true(bus.is_connected()))
            created = WorkspaceCreated(
                workspace_id=uuid.UUID(workspace_id),
                name="Bench",
                slug=f"bench-{workspace_id[:8]}",
                time_zone="UTC",
                created_by=uuid.UUID(admin_id),
            )
            envelope = registry.envelope(
                created, workspace=workspace_id, subject=f"workspace/{workspace_id}"
            )
            await bus.publish([OutgoingMessage.of(envelope)])

            async def has_project() -> bool:
                page = await client.get(f"{tickets}/projects", headers=auth)
                return page.status_code == 200 and bool(page.json()["items"])

            await until(has_project)
            project_id = (await client.get(f"{tickets}/projects", headers=auth)).json()["items"][0][
                "id"
            ]
            hook = await client.post(
                f"{integrations}/v1/webhooks",
                headers=auth,
                json={
                    "url": f"http://127.0.0.1:{receiver_port}/hook",
                    "events": ["item_created"],
                    "max_concurrency": 32,
                },
            )
            assert hook.status_code == 201, hook.text

            progress("set up; raw bus round trip")
            raw = await raw_round_trip(amqp_url, count)
            progress("item events on the bus -> webhooks")
            direct = await bus_to_webhook(bus, receiver, workspace_id, project_id, count)
            progress("tickets through the API -> webhooks")

            scheduled_at: dict[str, float] = {}
            answered_at: dict[str, float] = {}
            failures = 0

            async def create(i: int, scheduled: float) -> None:
                nonlocal failures
                response = await load.post_json(
                    "/api/tickets/items",
                    {"project_id": project_id, "title": f"Bench ticket {i}"},
                    auth,
                )
                if response.status != 201:
                    failures += 1
                    return
                item_id = response.json()["id"]
                scheduled_at[item_id] = scheduled
                answered_at[item_id] = time.perf_counter()

            async with LoadClient("127.0.0.1", tickets_port, LOAD_CONNECTIONS) as load:
                started = time.perf_counter()
                await open_loop(count, create)
                offered_for = time.perf_counter() - started

            async def all_arrived() -> bool:
                return all(item in receiver.arrived for item in scheduled_at)

            await until(all_arrived, timeout=300)
            latencies = [receiver.arrived[i] - t for i, t in scheduled_at.items()]
            creating = [answered_at[i] - t for i, t in scheduled_at.items()]
            after = [receiver.arrived[i] - t for i, t in answered_at.items()]
            finished = max(receiver.arrived[i] for i in scheduled_at)
            sustained = len(scheduled_at) / (finished - started)
    finally:
        await bus.close()
        for process in processes:
            process.terminate()
        await asyncio.gather(*(p.wait() for p in processes))
        server.should_exit = True
        await receiving
        await delete_namespace(amqp_url, namespace)
        for module in modules:
            await drop_database(settings.database_url_for(module.name))

    def ms(values: list[float], share: float) -> float:
        return 1000 * percentile(values, share)

    print(
        f"integrations: ticket created via the API -> webhook received, split mode on "
        f"RabbitMQ, open loop at {RATE:g}/s for {SECONDS:g} s ({count} tickets; "
        "BENCH_RATE, BENCH_SECONDS to change):"
    )
    print(
        f"  raw bus round trip (aio-pika confirm -> consume) : p50 {ms(raw, 0.5):7.1f} ms  "
        f"p99 {ms(raw, 0.99):7.1f} ms"
    )
    print(
        f"  item event on the bus -> webhook (integrations)  : p50 {ms(direct, 0.5):7.1f} ms  "
        f"p99 {ms(direct, 0.99):7.1f} ms"
    )
    print(
        f"  ticket -> webhook                                : p50 {ms(latencies, 0.5):7.1f} ms  "
        f"p99 {ms(latencies, 0.99):7.1f} ms  (failed creates: {failures})"
    )
    print(
        f"    of which the create request (tickets API)    : p50 {ms(creating, 0.5):7.1f} ms  "
        f"p99 {ms(creating, 0.99):7.1f} ms"
    )
    print(
        f"    of which its answer -> webhook received      : p50 {ms(after, 0.5):7.1f} ms  "
        f"p99 {ms(after, 0.99):7.1f} ms"
    )
    print(
        f"  offered {count / offered_for:6.1f}/s, sustained {sustained:6.1f}/s "
        f"(target >= 200/s, p99 < 500 ms); p50 ratio to the raw round trip: "
        f"{statistics.median(latencies) / statistics.median(raw):6.1f}x"
    )


def progress(phase: str) -> None:
    print(f"  … {phase}", file=sys.stderr, flush=True)


async def _true(value: bool) -> bool:
    return value
