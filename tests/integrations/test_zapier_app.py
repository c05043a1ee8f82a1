"""The Zapier app (services/integrations/zapier): its definition validated with
`zapier-platform-schema`, and its triggers, actions and searches run with
`zapier-platform-core`'s app tester against the running gateway.

Node packages come from the lock file: `npm ci` runs here when node_modules is missing, so
a fresh clone needs nothing else than Node and the npm registry.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.conftest import Receiver, received
from tests.integrations.system import System

APP = Path(__file__).parents[2] / "services" / "integrations" / "zapier"
_installing = asyncio.Lock()


async def _node(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (20 or later) is needed for the Zapier app's tests", pytrace=False)
    await _install()
    process = await asyncio.create_subprocess_exec(
        node,
        *args,
        cwd=APP,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, stderr.decode()[-4000:]
    # The result is the last line; the platform may log before it.
    lines = [line for line in stdout.decode().splitlines() if line.strip()]
    assert lines, f"no output; stderr: {stderr.decode()[-4000:]}"
    return lines[-1]


async def _install() -> None:
    async with _installing:
        if (APP / "node_modules" / "zapier-platform-core").is_dir():
            return
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install the Zapier app's packages", pytrace=False)
        process = await asyncio.create_subprocess_exec(
            npm,
            "ci",
            "--no-audit",
            "--no-fund",
            cwd=APP,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 600)
        assert process.returncode == 0, f"npm ci failed:\n{output.decode()[-4000:]}"


async def test_the_app_definition_is_valid_for_zapier() -> None:
    result = json.loads(await _node("test/validate.js"))
    assert result == {"valid": True, "triggers": 14, "creates": 7, "searches": 4}


async def test_the_app_runs_against_the_gateway(system: System, receiver: Receiver) -> None:
    admin_token, workspace_id = await system.workspace()
    key = await system.api_key(admin_token, ["read", "write", "admin"])
    path = receiver.new_path()
    out: dict[str, Any] = json.loads(
        await _node(
            "test/exercise.js",
            env={
                "DESKLINE_URL": system.api.removesuffix("/api"),
                "DESKLINE_API_KEY": key,
                "HOOK_TARGET_URL": receiver.url(path),
            },
        )
    )
    assert out["me"]["workspace_id"] == workspace_id
    assert {t["name"] for t in out["lists"]["types"]} >= {"Ticket", "Task"}
    ticket, task = out["ticket"], out["task"]
    assert ticket["title"] == "Zap: printer on fire"
    assert ticket["due_date"] == "2026-12-24"
    assert out["comment"]["body"] == "Extinguisher on its way"
    assert out["updated"]["status_id"] == next(
        s["id"] for s in out["lists"]["statuses"] if s["name"] == "Open"
    )
    assert [a["id"] for a in out["assigned"]["assignees"]] == [out["users"][0]["id"]]
    # The key acts as the admin who made it: the time is theirs.
    assert (out["time"]["minutes"], out["time"]["user_id"]) == (30, out["me"]["subject"])
    assert out["client"]["kind"] == "client"
    assert [i["id"] for i in out["found_item"]] == [ticket["id"]]
    assert [c["id"] for c in out["found_client"]] == [out["client"]["id"]]
    assert out["found_project"][0]["id"] == out["lists"]["projects"][0]["id"]
    assert {o["item_id"] for o in out["polled"]["item_created"]} == {ticket["id"], task["id"]}
    assert out["parsed"] == [out["polled"]["item_created"][0]]

    # The REST hook it subscribed got both new items, signed, as the polling list shows them.
    await received(receiver, path, 2)
    secret = out["subscribed"]["secret"]
    delivered = [r.verified(secret)["data"] for r in receiver.at(path)]
    assert sorted(delivered, key=lambda d: d["id"]) == sorted(
        out["polled"]["item_created"], key=lambda d: d["id"]
    )
    assert out["unsubscribed"] is True
    hook = await system.client.get(
        f"{system.gateway}/hooks/{out['subscribed']['id']}", headers={"x-api-key": key}
    )
    assert hook.status_code == 404
