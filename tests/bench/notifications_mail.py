"""Mail in and out on PostgreSQL, RabbitMQ and Redis, in two shapes: split, as production
runs it (tickets and notifications each `deskline serve`d in a process of its own, mail
sent into the notifications process's listener), and one host running both services on
one event loop (one core for SMTP, processing, filing and relaying alike).

Inbound: mails per second from SMTP accept at the listener to the ticket existing in
tickets (stored raw, screened, threaded, announced on the bus, filed), counted in the
tickets database. Outbound: mails per second from the queue to acceptance by a local SMTP
sink. Each beside the raw SMTP round-trip rate to a bare aiosmtpd sink, measured in the
same run just before it with the same client concurrency: what SMTP itself costs here.

Target (issue 5): inbound ≥ 100 mails/s. `BENCH_MAILS` changes the count; `BENCH_SHAPES`
(`split`, `one`, or both comma-separated, the default) which shapes run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from tempfile import TemporaryDirectory

import aiosmtplib
import httpx
import psutil
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts import Envelope, registry
from contracts.identity import WorkspaceCreated
from kit.bus.base import OutgoingMessage
from kit.bus.rabbit import RabbitBus
from kit.db.engine import create_engine, drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.logging import configure_logging
from kit.settings import Settings
from kit.testing import infra
from kit.uow import UnitOfWork
from services.notifications.models import (
    DirectoryPerson,
    DirectoryWorkspace,
    InboundMail,
    MailSettings,
    OutgoingMail,
)
from services.notifications.module import module as notifications_module
from services.notifications.outbound.service import queue_mail
from services.notifications.settings import get_settings
from services.tickets.models import Item
from services.tickets.module import module as tickets_module
from tests.notifications.sink import SmtpSink
from tests.support.buses import delete_namespace
from tests.support.harness import free_port
from tests.support.processes import serve_quietly

MAILS = int(os.environ.get("BENCH_MAILS", "500"))
SHAPES = os.environ.get("BENCH_SHAPES", "split,one").split(",")
CONNECTIONS = 8
DOMAIN = "bench.deskline.test"
MODULES = [tickets_module, notifications_module]
Sessions = async_sessionmaker[AsyncSession]


def message(n: int, to: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Client {n} <client{n}@bench-client.test>"
    mail["To"] = to
    mail["Subject"] = f"Request number {n}"
    mail["Message-ID"] = f"<bench-{n}-{uuid.uuid4().hex}@bench-client.test>"
    mail.set_content(f"Hello,\n\nplease look at request {n}.\n\nThanks")
    return mail


async def send_all(port: int, to: str, count: int) -> None:
    """`count` mails over CONNECTIONS connections, each sending its share in turn."""

    async def connection(share: range) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
            for n in share:
                await smtp.send_message(message(n, to))

    await asyncio.gather(*(connection(range(i, count, CONNECTIONS)) for i in range(CONNECTIONS)))


async def raw_rate(count: int) -> float:
    """SMTP round trips to a bare aiosmtpd sink, same client shape: the ceiling SMTP sets."""
    sink = SmtpSink(free_port())
    await sink.start()
    try:
        started = time.perf_counter()
        await send_all(sink.port, "someone@bench.test", count)
        elapsed = time.perf_counter() - started
    finally:
        await sink.stop()
    assert len(sink.received) == count
    return count / elapsed


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 600) -> None:
    deadline = time.perf_counter() + timeout
    while not await check():
        if time.perf_counter() > deadline:
            raise AssertionError("benchmark did not finish in time")
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Deployment:
    """The two services as the measurement sees them, wherever they run."""

    shape: str
    notifications: Sessions
    tickets: Sessions
    listen_port: int
    publish: Callable[[Envelope], Awaitable[None]]
    pids: dict[str, int]
    """The processes serving each service (split only: one host shares the client's)."""


@dataclass(frozen=True)
class Figures:
    inbound: float
    accepted_after: float
    processed_after: float
    raw_in: float
    outbound: float
    raw_out: float
    cpu_ms: dict[str, float]
    """CPU time per inbound mail, by service process: steadier than a rate on a busy
    machine."""


def mail_settings(sink_port: int, listen_port: int) -> dict[str, str]:
    return {
        "DESKLINE_NOTIFICATIONS_INBOUND_DOMAIN": DOMAIN,
        "DESKLINE_NOTIFICATIONS_SECRET": "bench",
        "DESKLINE_NOTIFICATIONS_SMTP_URL": f"smtp://127.0.0.1:{sink_port}?starttls=false",
        "DESKLINE_NOTIFICATIONS_SMTP_LISTEN_PORT": str(listen_port),
        "DESKLINE_NOTIFICATIONS_SENDER_POLL_INTERVAL": "0.05",
        "DESKLINE_NOTIFICATIONS_INBOUND_POLL_INTERVAL": "0.05",
        "DESKLINE_NOTIFICATIONS_RATE_LIMIT_MAILS": str(MAILS * 10),
    }


async def ready(ports: dict[str, int]) -> None:
    async with httpx.AsyncClient() as client:

        async def answering() -> bool:
            try:
                answers = [
                    await client.get(f"http://127.0.0.1:{port}/api/{name}/readyz")
                    for name, port in ports.items()
                ]
            except httpx.TransportError:
                return False
            return all(a.status_code == 200 for a in answers)

        await wait_for(answering, 60)


@asynccontextmanager
async def one_host(
    settings: Settings, env: dict[str, str], listen_port: int
) -> AsyncIterator[Deployment]:
    """Both services in this process, on this event loop."""
    saved = dict(os.environ)
    os.environ.update(env)
    get_settings.cache_clear()
    host = Host(settings, MODULES)
    serving = asyncio.create_task(host.serve("127.0.0.1", settings.port))
    tickets, notifications = host.runtimes
    try:
        await ready({m.name: settings.port for m in MODULES})

        async def publish(envelope: Envelope) -> None:
            await host.bus.publish([OutgoingMessage.of(envelope)])

        yield Deployment(
            "one host",
            notifications.session_factory,
            tickets.session_factory,
            listen_port,
            publish,
            {},
        )
    finally:
        host.request_stop()
        await serving
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


@asynccontextmanager
async def split(
    settings: Settings, env: dict[str, str], listen_port: int
) -> AsyncIterator[Deployment]:
    """Each service `deskline serve`d in a process of its own, as operators run them."""
    child_env = {
        **os.environ,
        **env,
        "DESKLINE_BUS_URL": settings.bus_url,
        "DESKLINE_DATABASE_URL": str(settings.database_url),
        "DESKLINE_REDIS_URL": str(settings.redis_url),
        "DESKLINE_NAMESPACE": settings.namespace,
        "DESKLINE_REDIS_PREFIX": str(settings.redis_prefix),
        "DESKLINE_VAR_DIR": str(settings.var_dir),
        "DESKLINE_OUTBOX_POLL_INTERVAL": str(settings.outbox_poll_interval),
        "DESKLINE_LOG_LEVEL": "WARNING",
    }
    ports = {m.name: free_port() for m in MODULES}
    children = {name: await serve_quietly(name, port, child_env) for name, port in ports.items()}
    engines = {m.name: create_engine(settings.database_url_for(m.name)) for m in MODULES}
    bus = RabbitBus(settings.bus_url, namespace=settings.namespace)
    try:
        await ready(ports)
        await bus.start()

        async def connected() -> bool:
            return bus.is_connected()

        await wait_for(connected, 30)

        async def publish(envelope: Envelope) -> None:
            await bus.publish([OutgoingMessage.of(envelope)])

        yield Deployment(
            "split",
            async_sessionmaker(engines["notifications"], expire_on_commit=False),
            async_sessionmaker(engines["tickets"], expire_on_commit=False),
            listen_port,
            publish,
            {name: child.pid for name, child in children.items()},
        )
    finally:
        await bus.close()
        for child in children.values():
            child.terminate()
        await asyncio.gather(*(child.wait() for child in children.values()))
        for engine in engines.values():
            await engine.dispose()


async def measure(system: Deployment, sink: SmtpSink, tag: str) -> Figures:
    workspace_id, slug = str(uuid.uuid4()), f"bench-{tag}"
    await system.publish(
        registry.envelope(
            WorkspaceCreated(
                workspace_id=uuid.UUID(workspace_id),
                name="Bench",
                slug=slug,
                time_zone="UTC",
                created_by=uuid.uuid4(),
            ),
            workspace=workspace_id,
            subject=f"workspace/{workspace_id}",
        )
    )

    async def up() -> bool:
        async with system.notifications() as session:
            return await session.get(DirectoryWorkspace, workspace_id) is not None

    await wait_for(up, 60)
    async with UnitOfWork(system.notifications) as uow:  # measure filing, not replying
        uow.session.add(MailSettings(workspace_id=workspace_id, acknowledge_requests=False))
        await uow.commit()

    progress(f"{system.shape}: raw SMTP, then inbound (processes {system.pids})")
    raw_in = await raw_rate(MAILS)
    processed_at: list[float] = []

    async def filed() -> bool:
        if not processed_at:
            async with system.notifications() as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(InboundMail)
                    .where(InboundMail.status == "received")
                )
            if waiting == 0:
                processed_at.append(time.perf_counter() - started)
        async with system.tickets() as session:
            count = await session.scalar(
                select(func.count()).select_from(Item).where(Item.workspace_id == workspace_id)
            )
        return count == MAILS

    processes = {name: psutil.Process(pid) for name, pid in system.pids.items()}
    cpu_before = {name: sum(p.cpu_times()[:2]) for name, p in processes.items()}
    started = time.perf_counter()
    await send_all(system.listen_port, f"{slug}@{DOMAIN}", MAILS)
    accepted = time.perf_counter() - started
    await wait_for(filed)
    inbound = MAILS / (time.perf_counter() - started)
    cpu_ms = {
        name: 1000 * (sum(p.cpu_times()[:2]) - cpu_before[name]) / MAILS
        for name, p in processes.items()
    }

    # Outbound: queue MAILS mails to known people (not measured), then drain.
    async with UnitOfWork(system.notifications) as uow:
        for n in range(MAILS):
            uow.session.add(
                DirectoryPerson(
                    id=str(uuid.uuid4()),
                    workspace_id=workspace_id,
                    email=f"person{n}@bench-out.test",
                    display_name=f"Person {n}",
                    kind="staff",
                    active=True,
                )
            )
        await uow.commit()
    async with system.notifications() as session:
        people = list(
            await session.scalars(
                select(DirectoryPerson.id).where(
                    DirectoryPerson.workspace_id == workspace_id,
                    DirectoryPerson.kind == "staff",
                )
            )
        )
    progress(f"{system.shape}: raw SMTP, then outbound")
    raw_out = await raw_rate(MAILS)
    before = len(sink.received)
    started = time.perf_counter()
    async with UnitOfWork(system.notifications) as uow:
        for user_id in people:
            await queue_mail(
                uow,
                workspace_id=workspace_id,
                user_id=user_id,
                dedupe_key="bench",
                kind="message",
                subject="Benchmark",
                text="Hello",
                html="<p>Hello</p>",
            )
        await uow.commit()

    async def sent() -> bool:
        async with system.notifications() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OutgoingMail)
                .where(
                    OutgoingMail.workspace_id == workspace_id,
                    OutgoingMail.dedupe_key == "bench",
                    OutgoingMail.status == "sent",
                )
            )
        return count == len(people)

    await wait_for(sent)
    outbound = len(people) / (time.perf_counter() - started)
    assert len(sink.received) - before == len(people)
    return Figures(
        inbound,
        accepted,
        processed_at[0] if processed_at else float("nan"),
        raw_in,
        outbound,
        raw_out,
        cpu_ms,
    )


async def run_shape(shape: str, pg: str, amqp: str, redis: str) -> Figures:
    tag = uuid.uuid4().hex[:8]
    sink = SmtpSink(free_port())
    await sink.start()
    listen_port = free_port()
    env = mail_settings(sink.port, listen_port)
    with TemporaryDirectory() as var:
        settings = Settings(
            database_url=infra.database_url(pg, f"dlbench_{tag}"),
            bus_url=amqp,
            redis_url=redis,
            namespace=f"bench-{tag}",
            redis_prefix=f"dlbench:{tag}:",
            var_dir=Path(var),
            port=free_port(),
            outbox_poll_interval=0.05,
            log_level="WARNING",
        )
        for module in MODULES:
            await asyncio.to_thread(
                upgrade, module.migrations, settings.database_url_for(module.name)
            )
        deploy = split if shape == "split" else one_host
        try:
            async with deploy(settings, env, listen_port) as system:
                return await measure(system, sink, tag)
        finally:
            await sink.stop()
            if amqp.startswith("amqp"):
                await delete_namespace(amqp, settings.namespace)
            for module in MODULES:
                await drop_database(settings.database_url_for(module.name))


async def run() -> None:
    configure_logging(json=False, level="WARNING")  # a log line per mail is not measured
    pg = infra.resolve(infra.POSTGRES)
    # BENCH_BUS_URL=memory:// measures without the broker (one host only: a split system
    # needs a broker between its processes).
    amqp = os.environ.get("BENCH_BUS_URL") or infra.resolve(infra.RABBITMQ)
    shapes = [s for s in SHAPES if s == "one" or amqp.startswith("amqp")]
    load_before = os.getloadavg()[0]
    results = {
        shape: await run_shape(shape, pg, amqp, redis=infra.resolve(infra.REDIS))
        for shape in shapes
    }
    print(
        f"notifications: bus {amqp.split('@')[-1]}, {MAILS} mails, {CONNECTIONS} SMTP "
        f"connections; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"({os.cpu_count()} cores)"
    )
    labels = {
        "split": "split (deskline serve tickets / notifications)",
        "one": "one host (both services, one event loop)",
    }
    for shape, f in results.items():
        print(
            f"  {labels[shape]}:\n"
            f"    inbound  : {f.inbound:7.1f} mails/s SMTP accept -> ticket created "
            f"(all accepted after {f.accepted_after:.1f} s, processed after "
            f"{f.processed_after:.1f} s)\n"
            f"      raw SMTP round trip : {f.raw_in:7.1f} mails/s to a bare aiosmtpd sink "
            f"-> ratio {f.inbound / f.raw_in:.2f} (target >= 100 mails/s)\n"
            f"    outbound : {f.outbound:7.1f} mails/s queue -> accepted by the sink\n"
            f"      raw SMTP round trip : {f.raw_out:7.1f} mails/s -> ratio "
            f"{f.outbound / f.raw_out:.2f}"
        )
        if f.cpu_ms:
            cpu = ", ".join(f"{name} {ms:.1f} ms" for name, ms in f.cpu_ms.items())
            print(f"    CPU per inbound mail: {cpu}")


def progress(phase: str) -> None:
    print(f"  … {phase}", file=sys.stderr, flush=True)
