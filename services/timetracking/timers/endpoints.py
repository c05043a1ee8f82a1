"""The caller's timer: start, look, stop, discard."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.timetracking.dependencies import Caller, UoW
from services.timetracking.entries.endpoints import entry_out
from services.timetracking.entries.schemas import Entry
from services.timetracking.models import RunningTimer
from services.timetracking.timers import service
from services.timetracking.timers.schemas import (
    StartedTimer,
    Timer,
    TimerChange,
    TimerStart,
    TimerStop,
)

router = APIRouter(tags=["timers"])


def timer_out(row: RunningTimer) -> Timer:
    return Timer(id=row.timer_id, item_id=row.item_id, started_at=row.started_at, note=row.note)


@router.post("/timers", status_code=201, response_model=StartedTimer)
async def start_timer(
    body: TimerStart, principal: Caller, uow: UoW, response: Response
) -> StartedTimer:
    """Start timing an item; a timer running on another item is stopped into an entry first
    (`stopped_entry`). Starting the item already timed changes nothing (200)."""
    started = await service.start(uow, principal, body)
    await uow.commit()
    if not started.new:
        response.status_code = 200
    return StartedTimer(
        **timer_out(started.timer).model_dump(),
        stopped_entry=entry_out(started.stopped) if started.stopped else None,
    )


@router.get("/timers/current", response_model=Timer)
async def current_timer(principal: Caller, uow: UoW) -> Timer:
    """404 `no-running-timer` when none runs."""
    return timer_out(await service.current(uow, principal))


@router.patch("/timers/current", response_model=Timer)
async def change_timer(body: TimerChange, principal: Caller, uow: UoW) -> Timer:
    """Correct the running timer's start (started late) or note; 404 `no-running-timer`."""
    timer = await service.change(uow, principal, body)
    await uow.commit()
    return timer_out(timer)


@router.post("/timers/current/stop", response_model=Entry)
async def stop_timer(principal: Caller, uow: UoW, body: TimerStop | None = None) -> Entry:
    """The entry the timer became (flagged, and not billable, past the workspace's limit)."""
    entry = await service.stop(uow, principal, body or TimerStop())
    await uow.commit()
    return entry_out(entry)


@router.post("/timers/current/discard", status_code=204)
async def discard_timer(principal: Caller, uow: UoW) -> Response:
    await service.discard(uow, principal)
    await uow.commit()
    return Response(status_code=204)
