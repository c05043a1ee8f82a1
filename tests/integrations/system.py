"""Identity, tickets, time tracking and integrations together on RabbitMQ and PostgreSQL, in
one host: what the gateway's actions, searches and lists forward to, for real. A test may run
other services beside integrations (notifications, to see what an owner is told)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.testing.infra import database_url
from services.identity.module import module as identity_module
from services.identity.settings import get_settings as identity_settings
from services.integrations.module import module as integrations_module
from services.integrations.settings import get_settings as integrations_settings
from services.notifications.settings import get_settings as notifications_settings
from services.tickets.module import module as tickets_module
from services.timetracking.module import module as timetracking_module
from tests.conftest import eventually
from tests.support.buses import delete_namespace
from tests.support.harness import free_port, published_by

PASSWORD = "correct horse battery staple"
MODULES = [identity_module, tickets_module, timetracking_module, integrations_module]


SETTINGS_CACHES = (identity_settings, integrations_settings, notifications_settings)
"""Services' own settings, read again for each system (its environment differs)."""


@dataclass
class System:
    api: str
    """`http://host:port/api`"""
    client: httpx.AsyncClient
    host: Host

    @property
    def gateway(self) -> str:
        return f"{self.api}/integrations/v1"

    def runtime(self, service: str) -> ServiceRuntime:
        return next(r for r in self.host.runtimes if r.name == service)

    async def published(self, service: str, event_type: str, workspace: str) -> list[Any]:
        """What `service` published of `event_type` for the workspace (its outbox)."""
        return await published_by(self.runtime(service), event_type, workspace)

    async def user_id(self, token: str) -> str:
        me = await self.client.get(
            f"{self.api}/identity/me", headers={"authorization": f"Bearer {token}"}
        )
        assert me.status_code == 200, me.text
        found: str = me.json()["user_id"]
        return found

    async def workspace(self) -> tuple[str, str]:
        """A new workspace through identity's sign-up; (admin's access token, workspace id)."""
        slug = f"ws-{uuid.uuid4().hex[:10]}"
        email = f"admin@{slug}.test"
        created = await self.client.post(
            f"{self.api}/identity/workspaces",
            json={
                "name": "Acme Agency",
                "slug": slug,
                "time_zone": "Europe/Paris",
                "admin": {"email": email, "display_name": "Ada Admin", "password": PASSWORD},
            },
        )
        assert created.status_code == 201, created.text
        login = await self.client.post(
            f"{self.api}/identity/auth/login",
            json={"workspace": slug, "email": email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        return login.json()["access_token"], created.json()["workspace"]["id"]

    async def api_key(self, admin_token: str, scopes: list[str]) -> str:
        created = await self.client.post(
            f"{self.api}/identity/api-keys",
            headers={"authorization": f"Bearer {admin_token}"},
            json={"name": "Zapier", "scopes": scopes},
        )
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        return key


@asynccontextmanager
async def running_system(
    pg_server_url: str,
    amqp_url: str,
    tag: str,
    var_dir: Path,
    modules: Sequence[ServiceModule] = MODULES,
    **env: str,
) -> AsyncIterator[System]:
    """`env`: extra `DESKLINE_*` settings of the services (set for the block only)."""
    port = free_port()
    namespace = f"t{tag}"
    settings = Settings(
        database_url=database_url(pg_server_url, f"dltest_{tag}"),
        bus_url=amqp_url,
        namespace=namespace,
        var_dir=var_dir,
        host="127.0.0.1",
        port=port,
        retry_delays=[0.2, 0.5, 1.0],
        outbox_poll_interval=0.1,
        consumer_watchdog_interval=0.5,
    )
    values = {
        "DESKLINE_IDENTITY_ARGON2_TIME_COST": "1",
        "DESKLINE_IDENTITY_ARGON2_MEMORY_KIB": "64",
        "DESKLINE_IDENTITY_LOGIN_ATTEMPTS_PER_IP": "100000",
        "DESKLINE_INTEGRATIONS_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
        **env,
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    for cache in SETTINGS_CACHES:
        cache.cache_clear()
    for module in modules:
        url = settings.database_url_for(module.name)
        await drop_database(url)
        await asyncio.to_thread(upgrade, module.migrations, url)
    host = Host(settings, modules)
    serving = asyncio.create_task(host.serve("127.0.0.1", port))
    api = f"http://127.0.0.1:{port}/api"
    try:
        async with httpx.AsyncClient(timeout=60) as client:

            async def ready() -> bool:
                if serving.done():
                    raise AssertionError(f"the host stopped: {serving.result()}")
                try:
                    answers = [await client.get(f"{api}/{m.name}/readyz") for m in modules]
                except httpx.TransportError:
                    return False
                return all(a.status_code == 200 for a in answers)

            await eventually(ready, timeout=60)
            yield System(api, client, host)
    finally:
        host.request_stop()
        await asyncio.wait_for(serving, 30)
        for module in modules:
            await drop_database(settings.database_url_for(module.name))
        await delete_namespace(amqp_url, namespace)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for cache in SETTINGS_CACHES:
            cache.cache_clear()


async def wait_for(check: Any, timeout: float = 30) -> None:
    await eventually(check, timeout=timeout)
