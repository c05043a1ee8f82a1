"""Identity's grants reach another service's projection through the real bus, and that
service then authorises on its own: the way every service will check access."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from contracts import registry
from contracts.tickets import ProjectCreated
from kit.access import authorizer
from kit.auth import principal_from_claims
from kit.bus.base import OutgoingMessage
from kit.db.engine import drop_database
from kit.db.migrations import upgrade
from kit.launcher.host import Host
from kit.settings import Settings
from kit.testing.infra import database_url
from services.identity.module import module as identity_module
from services.identity.settings import get_settings
from services.tickets.module import module as tickets_module
from tests.conftest import eventually
from tests.support.buses import delete_namespace
from tests.support.harness import free_port

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["embedded", "servers"])
async def system(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    namespace: str,
    session_tag: str,
    pg_server_url: str,
    amqp_url: str,
    redis_url: str,
) -> AsyncIterator[tuple[Host, str]]:
    os.environ["DESKLINE_IDENTITY_ARGON2_TIME_COST"] = "1"
    os.environ["DESKLINE_IDENTITY_ARGON2_MEMORY_KIB"] = "64"
    get_settings.cache_clear()
    port = free_port()
    common: dict[str, Any] = {
        "var_dir": tmp_path,
        "host": "127.0.0.1",
        "port": port,
        "namespace": namespace,
        "retry_delays": [0.1, 0.2],
    }
    if request.param == "servers":
        common |= {
            "bus_url": amqp_url,
            "redis_url": redis_url,
            "redis_prefix": f"{namespace}:",
            "database_url": database_url(pg_server_url, f"dltest_{session_tag}_{namespace[-8:]}"),
        }
    settings = Settings(**common)
    modules = [identity_module, tickets_module]
    for module in modules:
        await drop_database(settings.database_url_for(module.name))
        await asyncio.to_thread(upgrade, module.migrations, settings.database_url_for(module.name))
    host = Host(settings, modules)
    serving = asyncio.create_task(host.serve("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}/api"
    async with httpx.AsyncClient() as client:

        async def ready() -> bool:
            try:
                response = await client.get(f"{base}/tickets/readyz")
            except httpx.TransportError:
                return False
            return response.status_code == 200

        await eventually(ready, timeout=30)
    yield host, base
    host.request_stop()
    await asyncio.wait_for(serving, 30)
    if request.param == "servers":
        await delete_namespace(amqp_url, namespace)
        for module in modules:
            await drop_database(settings.database_url_for(module.name))


async def test_grants_and_visibility_reach_the_tickets_projection(
    system: tuple[Host, str],
) -> None:
    host, base = system
    tickets = next(r for r in host.runtimes if r.name == "tickets")
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        created = await client.post(
            "/identity/workspaces",
            json={
                "name": "Acme",
                "slug": "acme-flow",
                "time_zone": "Europe/Paris",
                "admin": {"email": "ann@acme.test", "display_name": "Ann", "password": PASSWORD},
            },
        )
        assert created.status_code == 201, created.text
        workspace_id = created.json()["workspace"]["id"]
        admin = (
            await client.post(
                "/identity/auth/login",
                json={"workspace": "acme-flow", "email": "ann@acme.test", "password": PASSWORD},
            )
        ).json()
        auth = {"Authorization": f"Bearer {admin['access_token']}"}
        invited = await client.post(
            "/identity/users/invitations",
            headers=auth,
            json={"email": "vic@vendor.test", "display_name": "Vic", "kind": "collaborator"},
        )
        vendor_id = invited.json()["id"]

        project_id = uuid.uuid4()
        await host.bus.publish(
            [
                OutgoingMessage.of(
                    registry.envelope(
                        ProjectCreated(
                            project_id=project_id,
                            workspace_id=uuid.UUID(workspace_id),
                            name="Spring campaign",
                        ),
                        workspace=workspace_id,
                    )
                )
            ]
        )

        async def project_known() -> bool:
            response = await client.get(f"/identity/projects/{project_id}/grants", headers=auth)
            return response.status_code == 200

        await eventually(project_known, timeout=15)
        given = await client.post(
            f"/identity/projects/{project_id}/grants",
            headers=auth,
            json={"subject_type": "user", "subject_id": vendor_id, "role": "editor"},
        )
        assert given.status_code == 201, given.text

    vendor = principal_from_claims({"sub": vendor_id, "wid": workspace_id, "kind": "collaborator"})
    outsider = principal_from_claims(
        {"sub": vendor_id, "wid": str(uuid.uuid4()), "kind": "collaborator"}
    )

    async def role_in_tickets() -> str | None:
        async with tickets.unit_of_work() as uow:
            return await authorizer.project_role(uow.session, vendor, str(project_id))

    async def is_editor() -> bool:
        return await role_in_tickets() == "editor"

    await eventually(is_editor, timeout=15)
    async with tickets.unit_of_work() as uow:
        assert await authorizer.can(uow.session, vendor, "change_status", str(project_id))
        assert not await authorizer.can(uow.session, vendor, "manage_grants", str(project_id))
        assert await authorizer.project_role(uow.session, outsider, str(project_id)) is None

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        grant_id = given.json()["id"]
        assert (
            await client.delete(f"/identity/grants/{grant_id}", headers=auth)
        ).status_code == 204
        await client.patch(
            "/identity/workspace", headers=auth, json={"client_visibility": "organisation"}
        )

    async def revoked_and_visible() -> bool:
        async with tickets.unit_of_work() as uow:
            visibility = await authorizer.client_visibility(uow.session, workspace_id)
        return await role_in_tickets() is None and visibility == "organisation"

    await eventually(revoked_and_visible, timeout=15)
    claims = jwt.decode(admin["access_token"], options={"verify_signature": False})
    assert claims["wid"] == workspace_id
