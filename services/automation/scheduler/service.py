"""The scheduler: fires every due job exactly once, however many automation processes run,
and catches up on what fell due while none was running.

Each pass lists due jobs, then fires each in its own transaction: the job row is locked
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two processes split the work instead of
queueing behind each other), claimed with a conditional update (which alone suffices on
SQLite), and the claim commits together with the job's effects (outbox events and
commands, rule executions, follow-up jobs). A job that fails is rolled back and put back
with a growing delay; it never blocks the others.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.automation.models import Job
from services.automation.projections import repository as projections
from services.automation.projections.service import item_facts
from services.automation.rules import repository as rules_repository
from services.automation.rules import service as rules
from services.automation.rules.engine import Facts, RuleSet
from services.automation.rules.schemas import Definition
from services.automation.scheduler import repository
from services.automation.scheduler.timing import next_run
from services.automation.settings import get_settings
from services.automation.sla import service as sla

log = get_logger(__name__)

Clock = Callable[[], datetime]
MAX_ATTEMPTS = 5
REMINDER_CATCH_UP_DAYS = 7


def utc_now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_forever(
    unit_of_work: Callable[[], UnitOfWork],
    *,
    now: Clock = utc_now,
    worker: str | None = None,
    interval: float | None = None,
) -> None:
    settings = get_settings()
    name = worker or worker_name()
    pause = settings.scheduler_interval if interval is None else interval
    while True:
        try:
            while await fire_due(unit_of_work, now=now, worker=name) >= settings.scheduler_batch:
                pass
        except Exception as error:  # database away: the jobs wait, the loop goes on
            log.warning("scheduler pass failed", error=repr(error))
        await asyncio.sleep(pause)


async def fire_due(
    unit_of_work: Callable[[], UnitOfWork], *, now: Clock = utc_now, worker: str = "scheduler"
) -> int:
    """One pass: fire what is due, one transaction per job; returns how many were due."""
    moment = now()
    async with unit_of_work() as uow:
        due = await repository.due_ids(uow.session, moment, get_settings().scheduler_batch)
    for job_id in due:
        failure: tuple[Job, str] | None = None
        async with unit_of_work() as uow:
            job = await repository.lock_due(uow.session, job_id, moment)
            if job is None or not await repository.claim(uow.session, job.id, moment, worker):
                continue  # another process has it, or fired it already
            try:
                await _fire(uow, job, moment)
                await uow.commit()
            except Exception as error:
                log.exception("scheduled job failed", job_id=job_id, kind=job.kind)
                failure = (job, repr(error))
        if failure is not None:
            async with unit_of_work() as uow:
                await _retry_later(uow, failure[0], moment, failure[1])
                await uow.commit()
    return len(due)


async def _retry_later(uow: UnitOfWork, job: Job, now: datetime, error: str) -> None:
    attempts = job.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        await repository.give_up(uow.session, job.id, now, error)
    else:
        delay = timedelta(seconds=30 * 2**attempts)
        await repository.postpone(uow.session, job.id, now + delay, attempts, error)


async def _fire(uow: UnitOfWork, job: Job, now: datetime) -> None:
    if job.kind in sla.SLA_JOBS:
        fired = await sla.fire_clock(uow, job, now)
        if fired is None:
            return
        item, target = fired
        kind = "sla_breached" if job.kind == "sla_breach" else "sla_warning"
        await rules.run_rules(
            uow,
            Facts(
                event_id=f"job:{job.id}",
                event_type=f"automation.{kind}",
                workspace_id=item.workspace_id,
                triggers=[(kind, "")],
                item=item_facts(item),
                sla_target=target,
                now=now,
            ),
        )
    elif job.kind == "sla_recompute":
        await sla.recompute_workspace(uow, job.workspace_id, now)
    elif job.kind == "rule_tick":
        await _tick(uow, job, now)
    else:
        log.warning("unknown job kind", kind=job.kind, job_id=job.id)


async def _tick(uow: UnitOfWork, job: Job, now: datetime) -> None:
    """One run of a timed rule, then the next one planned. Reminder days missed while no
    scheduler ran are each caught up (up to a week); a cron rule's missed runs fold into
    one."""
    row = await rules_repository.rule(uow.session, job.workspace_id, job.subject_id)
    if row is None or not row.enabled or row.version != job.payload.get("version"):
        return  # edited or switched off since: its edit planned its own runs
    rule = rules.compile_rule(row)
    trigger = Definition.model_validate(row.definition).trigger
    due_at = job.due_at if job.due_at.tzinfo else job.due_at.replace(tzinfo=UTC)
    if trigger.kind == "due_date_approaching":
        local_day = due_at.astimezone(ZoneInfo(trigger.time_zone)).date()
        target_day = (local_day + timedelta(days=trigger.days_before)).isoformat()
        items = await projections.open_items(
            uow.session, job.workspace_id, due_on=target_day, limit=_limit()
        )
        follow = next_run(trigger, due_at)
        if follow < now - timedelta(days=REMINDER_CATCH_UP_DAYS):
            follow = next_run(trigger, now - timedelta(days=REMINDER_CATCH_UP_DAYS))
    else:
        items = await projections.open_items(uow.session, job.workspace_id, limit=_limit())
        follow = next_run(trigger, max(due_at, now))
    ruleset = RuleSet([rule])
    for item in items:
        facts = Facts(
            event_id=f"job:{job.id}",
            event_type=f"automation.{trigger.kind}",
            workspace_id=job.workspace_id,
            triggers=[(trigger.kind, "")],
            item=item_facts(item),
            now=now,
        )
        for candidate in ruleset.candidates(facts):
            await rules.run_rule(uow, candidate, facts)
    await rules.schedule_tick(uow, row, follow)


def _limit() -> int:
    return get_settings().schedule_items_limit
