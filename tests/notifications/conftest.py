"""Identity, tickets and notifications running together for real: one host on PostgreSQL,
RabbitMQ and Redis, the inbound SMTP listener on a port of its own, and mail out going to an
SMTP sink the test owns. Tests isolate themselves by workspace (each signs one up)."""

from __future__ import annotations

import asyncio
import os
import smtplib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.testing.infra import database_url
from services.identity.module import module as identity_module
from services.identity.settings import get_settings as identity_settings
from services.notifications.models import (
    DirectoryPerson,
    DirectoryWorkspace,
    InboundMail,
    OutgoingMail,
)
from services.notifications.module import module as notifications_module
from services.notifications.settings import get_settings as notifications_settings
from services.tickets.module import module as tickets_module
from services.tickets.settings import get_settings as tickets_settings
from tests.conftest import eventually
from tests.notifications.sink import SmtpSink
from tests.support.buses import delete_namespace
from tests.support.harness import free_port

PASSWORD = "correct horse battery staple"
DOMAIN = "in.deskline.test"
MODULES = [identity_module, tickets_module, notifications_module]
RATE_LIMIT = 20


@dataclass
class Tenant:
    workspace_id: str
    slug: str
    admin_id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def address(self) -> str:
        return f"{self.slug}@{DOMAIN}"


@dataclass
class MailSystem:
    base: str
    host: Host
    client: httpx.AsyncClient
    sink: SmtpSink
    listen_port: int

    def runtime(self, name: str) -> ServiceRuntime:
        return next(r for r in self.host.runtimes if r.name == name)

    async def sign_up(self) -> Tenant:
        slug = f"ws-{uuid.uuid4().hex[:10]}"
        email = f"admin@{slug}.test"
        created = await self.client.post(
            f"{self.base}/identity/workspaces",
            json={
                "name": "Acme Agency",
                "slug": slug,
                "time_zone": "Europe/Paris",
                "admin": {"email": email, "display_name": "Ada Admin", "password": PASSWORD},
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        login = await self.client.post(
            f"{self.base}/identity/auth/login",
            json={"workspace": slug, "email": email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        tenant = Tenant(
            body["workspace"]["id"], slug, body["admin_user_id"], login.json()["access_token"]
        )
        await eventually(lambda: self._knows_workspace(slug), timeout=30)
        await eventually(lambda: self._has_support_project(tenant), timeout=30)
        return tenant

    async def invite(self, tenant: Tenant, email: str, kind: str = "staff") -> str:
        """A user of the workspace (staff or collaborator) sharing its Support project, known
        to notifications."""
        projects = await self.client.get(f"{self.base}/tickets/projects", headers=tenant.auth)
        project_id = projects.json()["items"][0]["id"]
        answers: list[httpx.Response] = []

        async def invited() -> bool:
            """Refused (404) until identity has heard of the project from tickets."""
            response = await self.client.post(
                f"{self.base}/identity/users/invitations",
                headers=tenant.auth,
                json={
                    "email": email,
                    "display_name": email.split("@")[0].title(),
                    "kind": kind,
                    "grants": [{"project_id": project_id, "role": "contributor"}],
                },
            )
            assert response.status_code in (201, 404), response.text
            answers.append(response)
            return response.status_code == 201

        await eventually(invited, timeout=30, interval=0.2)
        user_id = str(answers[-1].json()["id"])
        await eventually(lambda: self.knows_person(user_id), timeout=30)
        return user_id

    async def knows_person(self, user_id: str) -> bool:
        async with self.runtime("notifications").session_factory() as session:
            person = await session.get(DirectoryPerson, user_id)
            return person is not None and bool(person.kind)

    async def send(self, message: EmailMessage, to: str, mail_from: str | None = None) -> None:
        """Through Python's smtplib to the listener, as any mail server would."""

        def deliver() -> None:
            with smtplib.SMTP("127.0.0.1", self.listen_port, timeout=30) as smtp:
                smtp.send_message(message, from_addr=mail_from, to_addrs=[to])

        await asyncio.to_thread(deliver)

    async def inbound(self, workspace_id: str) -> list[InboundMail]:
        async with self.runtime("notifications").session_factory() as session:
            rows = await session.scalars(
                select(InboundMail)
                .where(InboundMail.workspace_id == workspace_id)
                .order_by(InboundMail.received_at)
            )
            return list(rows)

    async def outgoing(self, workspace_id: str) -> list[OutgoingMail]:
        async with self.runtime("notifications").session_factory() as session:
            rows = await session.scalars(
                select(OutgoingMail)
                .where(OutgoingMail.workspace_id == workspace_id)
                .order_by(OutgoingMail.created_at)
            )
            return list(rows)

    async def processed(self, workspace_id: str, count: int) -> list[InboundMail]:
        """Wait until `count` mails of the workspace have an outcome; returns them all."""

        async def done() -> bool:
            rows = await self.inbound(workspace_id)
            return len(rows) >= count and all(r.status != "received" for r in rows)

        await eventually(done, timeout=60)
        return await self.inbound(workspace_id)

    async def items(self, tenant: Tenant) -> list[dict[str, Any]]:
        response = await self.client.get(f"{self.base}/tickets/items", headers=tenant.auth)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def comments(self, tenant: Tenant, item_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.base}/tickets/items/{item_id}/comments", headers=tenant.auth
        )
        assert response.status_code == 200, response.text
        comments: list[dict[str, Any]] = response.json()
        return comments

    async def attachments(self, tenant: Tenant, item_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.base}/tickets/items/{item_id}/attachments", headers=tenant.auth
        )
        assert response.status_code == 200, response.text
        files: list[dict[str, Any]] = response.json()
        return files

    async def _knows_workspace(self, slug: str) -> bool:
        async with self.runtime("notifications").session_factory() as session:
            found = await session.scalar(
                select(DirectoryWorkspace).where(DirectoryWorkspace.slug == slug)
            )
            return found is not None

    async def _has_support_project(self, tenant: Tenant) -> bool:
        response = await self.client.get(f"{self.base}/tickets/projects", headers=tenant.auth)
        return response.status_code == 200 and bool(response.json()["items"])


def mail_settings(sink_port: int, listen_port: int, attachments: Path) -> dict[str, str]:
    return {
        "DESKLINE_TICKETS_ATTACHMENT_DIR": str(attachments),
        "DESKLINE_NOTIFICATIONS_INBOUND_DOMAIN": DOMAIN,
        "DESKLINE_NOTIFICATIONS_SECRET": "test-secret",
        "DESKLINE_NOTIFICATIONS_SMTP_URL": f"smtp://127.0.0.1:{sink_port}?starttls=false",
        "DESKLINE_NOTIFICATIONS_SMTP_LISTEN_PORT": str(listen_port),
        "DESKLINE_NOTIFICATIONS_SENDER_POLL_INTERVAL": "0.1",
        "DESKLINE_NOTIFICATIONS_INBOUND_POLL_INTERVAL": "0.1",
        "DESKLINE_NOTIFICATIONS_RETRY_BASE_SECONDS": "0.5",
        "DESKLINE_NOTIFICATIONS_RETRY_MAX_SECONDS": "2",
        "DESKLINE_NOTIFICATIONS_SMTP_TIMEOUT": "5",
        "DESKLINE_NOTIFICATIONS_RATE_LIMIT_MAILS": str(RATE_LIMIT),
        "DESKLINE_NOTIFICATIONS_MAX_MESSAGE_BYTES": str(2 * 1024 * 1024),
        "DESKLINE_NOTIFICATIONS_MAX_ATTACHMENTS": "50",
        # Argon2 at its cheapest: these tests log in often.
        "DESKLINE_IDENTITY_ARGON2_TIME_COST": "1",
        "DESKLINE_IDENTITY_ARGON2_MEMORY_KIB": "64",
        "DESKLINE_IDENTITY_LOGIN_ATTEMPTS_PER_IP": "100000",
    }


@pytest.fixture(scope="session")
async def mail_system(
    pg_server_url: str,
    amqp_url: str,
    redis_url: str,
    session_tag: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[MailSystem]:
    sink = SmtpSink(free_port())
    await sink.start()
    listen_port, port = free_port(), free_port()
    saved = dict(os.environ)
    var_dir = Path(tmp_path_factory.mktemp("mail-var"))
    os.environ.update(mail_settings(sink.port, listen_port, var_dir / "attachments"))
    for cached in (notifications_settings, identity_settings, tickets_settings):
        cached.cache_clear()
    namespace = f"t{session_tag}-mail"
    settings = Settings(
        database_url=database_url(pg_server_url, f"dltest_{session_tag}_mail"),
        bus_url=amqp_url,
        redis_url=redis_url,
        namespace=namespace,
        redis_prefix=f"dltest:{session_tag}:mail:",
        var_dir=var_dir,
        host="127.0.0.1",
        port=port,
        retry_delays=[0.2, 0.5, 1.0],
        outbox_poll_interval=0.1,
    )
    for module in MODULES:
        await drop_database(settings.database_url_for(module.name))
        await asyncio.to_thread(upgrade, module.migrations, settings.database_url_for(module.name))
    host = Host(settings, MODULES)
    serving = asyncio.create_task(host.serve("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}/api"
    try:
        async with httpx.AsyncClient(timeout=30) as client:

            async def ready() -> bool:
                if serving.done():
                    raise AssertionError(f"the host stopped: {serving.result()}")
                try:
                    responses = [await client.get(f"{base}/{m.name}/readyz") for m in MODULES]
                except httpx.TransportError:
                    return False
                return all(r.status_code == 200 for r in responses)

            await eventually(ready, timeout=60)
            yield MailSystem(base, host, client, sink, listen_port)
    finally:
        host.request_stop()
        await asyncio.wait_for(serving, 30)
        await sink.stop()
        await delete_namespace(amqp_url, namespace)
        for module in MODULES:
            await drop_database(settings.database_url_for(module.name))
        os.environ.clear()
        os.environ.update(saved)
        for cached in (notifications_settings, identity_settings, tickets_settings):
            cached.cache_clear()
