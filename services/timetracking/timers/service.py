"""Timers: a person runs at most one; starting another stops the first into an entry, in the
same transaction, even when two starts arrive at once. A timer is a row, so it survives
restarts; one left running past the workspace's limit becomes a flagged, non-billable entry
(when stopped, or by the periodic sweep) instead of silently billing a forgotten night."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kit.auth import Principal
from kit.db.times import in_utc
from kit.http.problems import Problem
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.timetracking.entries import service as entries
from services.timetracking.ids import new_id, now
from services.timetracking.models import RunningTimer, TimeEntry
from services.timetracking.projections import repository as projections
from services.timetracking.timers import repository
from services.timetracking.timers.schemas import TimerChange, TimerStart, TimerStop

log = get_logger(__name__)

START_ATTEMPTS = 5
"""Each lost race means another start committed in between; a few rounds settle any burst."""
SWEEP_INTERVAL = 60.0
SWEEP_BATCH = 100


def no_timer() -> Problem:
    return Problem(404, "no-running-timer", "You have no running timer.")


@dataclass(frozen=True)
class Started:
    timer: RunningTimer
    stopped: TimeEntry | None
    """The entry the previous timer became."""
    new: bool
    """False when this item's timer was already running: starting it again changes nothing."""


async def start(uow: UnitOfWork, principal: Principal, body: TimerStart) -> Started:
    """Start timing an item for the caller (`log_time` on its project; 404 when the item is
    unknown or out of reach). A running timer on another item is stopped into an entry first.

    The (workspace, person) primary key decides races: with no timer yet, concurrent starts
    insert `ON CONFLICT DO NOTHING` and all but one lose; the losers then lock the winner's
    row and stop it as any later start would. So however many starts race, exactly one timer
    runs and every timer they replaced became exactly one entry.
    """
    user_id = entries.person_id(principal)
    item = await entries.item_for(uow, principal, body.item_id, "log_time")
    if item is None:
        raise Problem(404, "not-found", "No such item.")
    workspace_id = principal.workspace_id
    for _ in range(START_ATTEMPTS):
        moment = now()
        current = await repository.running(uow.session, workspace_id, user_id, lock=True)
        if current is None:
            row = {
                "workspace_id": workspace_id,
                "user_id": user_id,
                "timer_id": new_id(),
                "item_id": item.id,
                "started_at": moment,
                "note": body.note,
            }
            if await repository.claim(uow.session, row):
                timer = await repository.running(uow.session, workspace_id, user_id)
                assert timer is not None
                return Started(timer, None, new=True)
            continue  # another start won the insert; lock its timer on the next round
        if current.item_id == item.id:
            return Started(current, None, new=False)
        stopped = await _stop_into_entry(uow, current, moment, note=None, percent_complete=None)
        current.timer_id, current.item_id = new_id(), item.id
        current.started_at, current.note = moment, body.note
        return Started(current, stopped, new=True)
    raise Problem(409, "timer-busy", "Your timer is being changed elsewhere; try again.")


async def current(uow: UnitOfWork, principal: Principal) -> RunningTimer:
    timer = await repository.running(uow.session, principal.workspace_id, principal.subject)
    if timer is None:
        raise no_timer()
    return timer


async def change(uow: UnitOfWork, principal: Principal, body: TimerChange) -> RunningTimer:
    """Move the running timer's start (never into the future) or replace its note. A start
    moved far back is judged at stop time like any long timer (flagged past the limit)."""
    timer = await repository.running(
        uow.session, principal.workspace_id, principal.subject, lock=True
    )
    if timer is None:
        raise no_timer()
    if body.started_at is not None:
        started_at = body.started_at.astimezone(UTC)
        if started_at > now():
            raise Problem(
                422,
                "timer-start-in-future",
                "A timer cannot start in the future.",
                started_at=started_at.isoformat(),
            )
        ended = await repository.latest_end(uow.session, timer.workspace_id, timer.user_id)
        if ended is not None and started_at < in_utc(ended):
            # The same hours would be billed twice: once in that entry, once in this timer.
            raise Problem(
                422,
                "timer-overlaps-entry",
                "The timer cannot start before your last timed work ended.",
                last_ended_at=in_utc(ended).isoformat(),
            )
        timer.started_at = started_at
    if body.note is not None:
        timer.note = body.note
    return timer


async def stop(uow: UnitOfWork, principal: Principal, body: TimerStop) -> TimeEntry:
    """Stop the caller's timer into an entry (rounded up to the minute, at least one)."""
    timer = await repository.running(
        uow.session, principal.workspace_id, principal.subject, lock=True
    )
    if timer is None:
        raise no_timer()
    entry = await _stop_into_entry(
        uow, timer, now(), note=body.note, percent_complete=body.percent_complete
    )
    await uow.session.delete(timer)
    return entry


async def discard(uow: UnitOfWork, principal: Principal) -> None:
    """Drop the running timer without writing anything (started by mistake)."""
    if not await repository.remove(uow.session, principal.workspace_id, principal.subject):
        raise no_timer()


async def _stop_into_entry(
    uow: UnitOfWork,
    timer: RunningTimer,
    ended_at: datetime,
    *,
    note: str | None,
    percent_complete: int | None,
) -> TimeEntry:
    """The entry a timer becomes. Past the workspace's limit it is flagged (and so neither
    billable nor announced) until someone confirms its duration.

    The item may have been deleted since the timer started: the work was done, so it is
    recorded all the same. The day is the start's, in UTC (this service does not keep the
    workspace's time zone).
    """
    item = await projections.item(uow.session, timer.workspace_id, timer.item_id)
    if item is None:  # the projection never forgets an item a timer was started on
        raise Problem(409, "unknown-item", "The timer's item is unknown here.")
    policy = await entries.current_policy(uow.session, timer.workspace_id)
    started_at = in_utc(timer.started_at)
    flagged = ended_at - started_at > timedelta(minutes=policy.timer_flag_after_minutes)
    return await entries.insert_entry(
        uow,
        item,
        user_id=timer.user_id,
        worked_on=started_at.date(),
        minutes=entries.minutes_between(started_at, ended_at),
        started_at=started_at,
        ended_at=ended_at,
        note=timer.note if note is None else note,
        billable=True,
        activity_type="",
        source="timer",
        percent_complete=percent_complete,
        flagged=flagged,
    )


# --- the sweep --------------------------------------------------------------------------------


async def sweep(
    uow: UnitOfWork, *, moment: datetime | None = None, batch: int = SWEEP_BATCH
) -> int:
    """Stop timers running past their workspace's limit into flagged entries; returns how many.

    Across workspaces by nature (a maintenance job, not a request); each entry is written in
    its timer's workspace. Safe with several processes: timers are claimed `SKIP LOCKED`.
    """
    at = moment or now()
    overdue = await repository.overdue(
        uow.session,
        moment=at,
        default_minutes=entries.default_flag_after_minutes(),
        limit=batch,
    )
    for timer in overdue:
        entry = await _stop_into_entry(uow, timer, at, note=None, percent_complete=None)
        await uow.session.delete(timer)
        log.info(
            "timer.flagged",
            workspace=timer.workspace_id,
            user_id=timer.user_id,
            entry_id=entry.id,
            minutes=entry.minutes,
        )
    return len(overdue)


async def sweep_forever(
    unit_of_work: Callable[[], UnitOfWork], *, interval: float = SWEEP_INTERVAL
) -> None:
    """The background task: sweep every `interval` seconds. A failed round (database away) is
    logged and retried at the next, as the outbox relay does, rather than stopping the
    process over a forgotten timer."""
    while True:
        swept = 0
        try:
            async with unit_of_work() as uow:
                swept = await sweep(uow)
                await uow.commit()
        except Exception as error:
            log.warning("timer sweep failed", error=repr(error))
        if swept < SWEEP_BATCH:
            await asyncio.sleep(interval)
