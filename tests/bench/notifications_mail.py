"""Mail in and out on PostgreSQL, RabbitMQ and Redis, with tickets running beside
notifications in one host.

Inbound: mails per second from SMTP accept at the listener to the ticket existing in
tickets (stored raw, screened, threaded, announced on the bus, filed). Outbound: mails per
second from the queue to acceptance by a local SMTP sink. Both beside the raw SMTP
round-trip rate to the same kind of sink, measured in the same run with the same client
concurrency: what SMTP itself costs on this machine.

Target (issue 5): inbound ≥ 100 mails/s.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from tempfile import TemporaryDirectory

import aiosmtplib
import httpx
from sqlalchemy import func, select

from contracts import registry
from contracts.identity import WorkspaceCreated
from kit.bus.base import OutgoingMessage
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.logging import configure_logging
from kit.settings import Settings
from kit.testing import infra
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

MAILS = int(os.environ.get("BENCH_MAILS", "500"))
CONNECTIONS = 8
DOMAIN = "bench.deskline.test"


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


async def wait_for(check: object, timeout: float = 600) -> None:
    deadline = time.perf_counter() + timeout
    while not await check():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise AssertionError("benchmark did not finish in time")
        await asyncio.sleep(0.02)


async def run() -> None:
    configure_logging(json=False, level="WARNING")  # a log line per mail is not measured
    pg = infra.resolve(infra.POSTGRES)
    # BENCH_BUS_URL=memory:// measures without the broker (e.g. when it is unavailable).
    amqp = os.environ.get("BENCH_BUS_URL") or infra.resolve(infra.RABBITMQ)
    redis = infra.resolve(infra.REDIS)
    tag = uuid.uuid4().hex[:8]
    sink = SmtpSink(free_port())
    await sink.start()
    listen_port, port = free_port(), free_port()
    os.environ.update(
        {
            "DESKLINE_NOTIFICATIONS_INBOUND_DOMAIN": DOMAIN,
            "DESKLINE_NOTIFICATIONS_SECRET": "bench",
            "DESKLINE_NOTIFICATIONS_SMTP_URL": f"smtp://127.0.0.1:{sink.port}?starttls=false",
            "DESKLINE_NOTIFICATIONS_SMTP_LISTEN_PORT": str(listen_port),
            "DESKLINE_NOTIFICATIONS_SENDER_POLL_INTERVAL": "0.05",
            "DESKLINE_NOTIFICATIONS_INBOUND_POLL_INTERVAL": "0.05",
            "DESKLINE_NOTIFICATIONS_RATE_LIMIT_MAILS": str(MAILS * 10),
        }
    )
    get_settings.cache_clear()
    namespace = f"bench-{tag}"
    with TemporaryDirectory() as var:
        settings = Settings(
            database_url=infra.database_url(pg, f"dlbench_{tag}"),
            bus_url=amqp,
            redis_url=redis,
            namespace=namespace,
            redis_prefix=f"dlbench:{tag}:",
            var_dir=Path(var),
            port=port,
            outbox_poll_interval=0.05,
            log_level="WARNING",
        )
        modules = [tickets_module, notifications_module]
        for module in modules:
            await asyncio.to_thread(
                upgrade, module.migrations, settings.database_url_for(module.name)
            )
        host = Host(settings, modules)
        serving = asyncio.create_task(host.serve("127.0.0.1", port))
        tickets, notifications = host.runtimes
        try:
            workspace_id, slug = str(uuid.uuid4()), f"bench-{tag}"
            event = registry.envelope(
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

            async def up() -> bool:
                async with notifications.session_factory() as session:
                    return await session.get(DirectoryWorkspace, workspace_id) is not None

            async with httpx.AsyncClient() as client:

                async def ready() -> bool:
                    try:
                        answers = [
                            await client.get(f"http://127.0.0.1:{port}/api/{m.name}/readyz")
                            for m in modules
                        ]
                    except httpx.TransportError:
                        return False
                    return all(a.status_code == 200 for a in answers)

                await wait_for(ready, 60)
            await host.bus.publish([OutgoingMessage.of(event)])
            await wait_for(up, 60)
            async with notifications.unit_of_work() as uow:  # measure filing, not replying
                uow.session.add(MailSettings(workspace_id=workspace_id, acknowledge_requests=False))
                await uow.commit()

            raw_in = await raw_rate(MAILS)

            processed_at: list[float] = []

            async def filed() -> bool:
                if not processed_at:
                    async with notifications.session_factory() as session:
                        waiting = await session.scalar(
                            select(func.count())
                            .select_from(InboundMail)
                            .where(InboundMail.status == "received")
                        )
                    if waiting == 0:
                        processed_at.append(time.perf_counter() - started)
                async with tickets.session_factory() as session:
                    count = await session.scalar(
                        select(func.count())
                        .select_from(Item)
                        .where(Item.workspace_id == workspace_id)
                    )
                return count == MAILS

            started = time.perf_counter()
            await send_all(listen_port, f"{slug}@{DOMAIN}", MAILS)
            accepted = time.perf_counter() - started
            await wait_for(filed)
            inbound = MAILS / (time.perf_counter() - started)

            # Outbound: queue MAILS mails to known people (not measured), then drain.
            async with notifications.unit_of_work() as uow:
                for n in range(MAILS):
                    user_id = str(uuid.uuid4())
                    uow.session.add(
                        DirectoryPerson(
                            id=user_id,
                            workspace_id=workspace_id,
                            email=f"person{n}@bench-out.test",
                            display_name=f"Person {n}",
                            kind="staff",
                            active=True,
                        )
                    )
                await uow.session.flush()
                await uow.commit()
            people = []
            async with notifications.session_factory() as session:
                people = list(
                    await session.scalars(
                        select(DirectoryPerson.id).where(
                            DirectoryPerson.workspace_id == workspace_id,
                            DirectoryPerson.kind == "staff",
                        )
                    )
                )
            raw_out = await raw_rate(MAILS)
            before = len(sink.received)
            started = time.perf_counter()
            async with notifications.unit_of_work() as uow:
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
                async with notifications.session_factory() as session:
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
        finally:
            host.request_stop()
            await serving
            await sink.stop()
            if amqp.startswith("amqp"):
                await delete_namespace(amqp, namespace)
            for module in modules:
                await drop_database(settings.database_url_for(module.name))
    print(
        f"bus: {amqp.split('@')[-1]}\n"
        f"notifications inbound : {inbound:7.1f} mails/s SMTP accept -> ticket created "
        f"({MAILS} mails, {CONNECTIONS} connections; all accepted after {accepted:.1f} s, "
        f"processed after {processed_at[0] if processed_at else float('nan'):.1f} s)\n"
        f"   raw SMTP round trip : {raw_in:7.1f} mails/s to a bare aiosmtpd sink "
        f"-> ratio {inbound / raw_in:.2f} (target >= 100 mails/s)\n"
        f"notifications outbound: {outbound:7.1f} mails/s queue -> accepted by the sink "
        f"({MAILS} mails)\n"
        f"   raw SMTP round trip : {raw_out:7.1f} mails/s -> ratio {outbound / raw_out:.2f}"
    )
