"""An SLA breach fires once, on time, with two scheduler processes and a restart between,
and one that fell due while no scheduler ran is caught up when one starts (real
PostgreSQL: the processes claim jobs `FOR UPDATE SKIP LOCKED`).

The clock is short rather than faked: a round-the-clock calendar and an item created 57
seconds before a one-minute first-response target, so the breach falls due a few seconds
into the test."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from services.automation.scheduler.service import fire_due, run_forever
from tests.automation.conftest import AutomationApp, SchedulerProcess, Workspace, always_open
from tests.conftest import eventually


class Schedulers:
    def __init__(self, url: str) -> None:
        self._url = url
        self.running: dict[str, tuple[SchedulerProcess, asyncio.Task[None]]] = {}

    def start(self, name: str) -> None:
        process = SchedulerProcess(self._url, name)
        task = asyncio.create_task(run_forever(process.unit_of_work, worker=name, interval=0.05))
        self.running[name] = (process, task)

    async def stop(self, name: str) -> None:
        process, task = self.running.pop(name)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await process.close()

    async def stop_all(self) -> None:
        for name in list(self.running):
            await self.stop(name)


async def sla_policy(automation: AutomationApp, ws: Workspace, minutes: int = 1) -> str:
    calendar = await automation.post("/calendars", ws.admin, json=always_open())
    assert calendar.status_code == 201, calendar.text
    policy = await automation.post(
        "/sla-policies",
        ws.admin,
        json={
            "name": "Answer within a minute",
            "calendar_id": calendar.json()["id"],
            "targets": {"first_response": minutes},
            "warning_minutes": 0,
        },
    )
    assert policy.status_code == 201, policy.text
    return str(policy.json()["id"])


async def test_a_breach_fires_once_on_time_across_two_schedulers_and_a_restart(
    automation: AutomationApp, workspace: Workspace
) -> None:
    schedulers = Schedulers(automation.runtime.database_url)
    schedulers.start("a")
    schedulers.start("b")
    try:
        await sla_policy(automation, workspace)
        created = datetime.now(UTC) - timedelta(seconds=57)
        item_id = await automation.create_item(workspace, at=created)

        async def scheduled() -> bool:
            return any(j.kind == "sla_breach" for j in await automation.jobs(item_id))

        await eventually(scheduled, timeout=10)
        await schedulers.stop("a")  # a restart while the breach is pending
        schedulers.start("a-again")

        async def breached() -> bool:
            return bool(await automation.published_about("automation.sla.breached.v1", item_id))

        await eventually(breached, timeout=30)
        # Every process takes a few more passes; none fires it again.
        for name in ("a-again", "b"):
            process = schedulers.running[name][0]
            for _ in range(3):
                await fire_due(process.unit_of_work, worker=name)
    finally:
        await schedulers.stop_all()

    events = await automation.published_about("automation.sla.breached.v1", item_id)
    assert len(events) == 1
    due_at = created + timedelta(minutes=1)
    assert datetime.fromisoformat(events[0]["due_at"]) == due_at
    assert datetime.fromisoformat(events[0]["breached_at"]) == due_at
    [job] = [j for j in await automation.jobs(item_id) if j.kind == "sla_breach"]
    assert job.fired_at is not None and job.fired_at >= due_at  # not early
    assert job.fired_by in ("b", "a-again")
    clock = (await automation.clocks(item_id))["first_response"]
    assert clock.breached and clock.state == "running"


async def test_a_breach_due_while_no_scheduler_ran_is_caught_up_once(
    automation: AutomationApp, workspace: Workspace
) -> None:
    schedulers = Schedulers(automation.runtime.database_url)
    await sla_policy(automation, workspace)
    # Without a scheduler the policy's recomputation job waits too; the item's own event
    # computes its clock at once.
    created = datetime.now(UTC) - timedelta(seconds=59)
    item_id = await automation.create_item(workspace, at=created)
    due_at = created + timedelta(minutes=1)

    async def passed() -> bool:
        return datetime.now(UTC) > due_at + timedelta(seconds=1)

    await eventually(passed, timeout=10, interval=0.2)
    assert not await automation.published_about("automation.sla.breached.v1", item_id)
    schedulers.start("late")
    schedulers.start("later")
    try:

        async def breached() -> bool:
            return bool(await automation.published_about("automation.sla.breached.v1", item_id))

        await eventually(breached, timeout=30)
        for name in ("late", "later"):
            await fire_due(schedulers.running[name][0].unit_of_work, worker=name)
    finally:
        await schedulers.stop_all()
    events = await automation.published_about("automation.sla.breached.v1", item_id)
    assert len(events) == 1
    assert datetime.fromisoformat(events[0]["breached_at"]) == due_at
