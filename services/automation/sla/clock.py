"""An item's SLA clocks, computed from its history alone.

Recomputing from history (rather than nudging stored due times on each event) is what lets
a changed policy or calendar put every open item's figures right: the same function runs
on every event of the item and on every configuration change.

- first response runs from creation to the first public staff reply;
- next response runs from the first client message after a staff reply to the next staff
  reply (the opening request belongs to the first response);
- resolution runs from creation until the item rests in a done or closed status; time spent
  done before a reopening counts as paused.
Time in a pause status (e.g. Waiting on client) stops every clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.automation.sla.business_time import BusinessCalendar

Target = Literal["first_response", "next_response", "resolution"]
TARGETS: tuple[Target, ...] = ("first_response", "next_response", "resolution")
FINISHED = frozenset({"done", "closed"})


@dataclass(frozen=True)
class Moment:
    """One history entry: `created`, `status` (with its id and category), `reply` (public,
    by staff) or `client_message`."""

    at: datetime
    kind: str
    status_id: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Rules:
    targets: dict[Target, int]
    """Business minutes per target; a missing target is not measured."""
    pause_status_ids: frozenset[str]
    pause_categories: frozenset[str]


@dataclass(frozen=True)
class ClockState:
    target: Target
    state: Literal["running", "paused", "met"]
    started_at: datetime
    due_at: datetime | None
    met_at: datetime | None
    used_minutes: int
    paused_minutes: int
    breached: bool
    breached_by_minutes: int


Pauses = list[tuple[datetime, datetime | None]]


def compute(
    history: Sequence[Moment], rules: Rules, calendar: BusinessCalendar, now: datetime
) -> list[ClockState]:
    moments = sorted(history, key=lambda m: m.at)
    created = next((m.at for m in moments if m.kind == "created"), None)
    if created is None:
        return []
    pauses, done_since = _status_intervals(moments, rules)
    clocks: list[ClockState] = []
    for target in TARGETS:
        minutes = rules.targets.get(target)
        if not minutes:
            continue
        span = _span(target, moments, created, done_since)
        if span is None:
            continue
        start, met = span
        clocks.append(_clock(target, start, met, minutes, pauses, calendar, now))
    return clocks


def _span(
    target: Target, moments: Sequence[Moment], created: datetime, done_since: datetime | None
) -> tuple[datetime, datetime | None] | None:
    if target == "first_response":
        reply = next((m.at for m in moments if m.kind == "reply" and m.at >= created), None)
        return created, reply
    if target == "resolution":
        return created, done_since
    replied = False
    waiting: datetime | None = None
    last: tuple[datetime, datetime | None] | None = None
    for moment in moments:
        if moment.kind == "reply":
            if waiting is not None:
                last, waiting = (waiting, moment.at), None
            replied = True
        elif moment.kind == "client_message" and replied and waiting is None:
            waiting = moment.at
    if waiting is not None:
        return waiting, None
    return last


def _status_intervals(moments: Sequence[Moment], rules: Rules) -> tuple[Pauses, datetime | None]:
    """Intervals in a pause status or done before a reopening, and since when the item has
    rested done (None when it is open)."""
    pauses: Pauses = []
    paused_since: datetime | None = None
    done_since: datetime | None = None
    for moment in moments:
        if moment.kind not in ("status", "created") or moment.category is None:
            continue
        pausing = (
            moment.status_id in rules.pause_status_ids or moment.category in rules.pause_categories
        )
        finished = moment.category in FINISHED
        if done_since is not None and not finished:
            pauses.append((done_since, moment.at))  # reopened: the done time did not count
            done_since = None
        elif finished and done_since is None:
            done_since = moment.at
        if pausing and paused_since is None:
            paused_since = moment.at
        elif not pausing and paused_since is not None:
            pauses.append((paused_since, moment.at))
            paused_since = None
    if paused_since is not None:
        pauses.append((paused_since, None))
    return pauses, done_since


def _clock(
    target: Target,
    start: datetime,
    met: datetime | None,
    minutes: int,
    pauses: Pauses,
    calendar: BusinessCalendar,
    now: datetime,
) -> ClockState:
    goal = timedelta(minutes=minutes)
    until = met or now
    relevant = [(a, b if met is None or b is None or b < met else met) for a, b in pauses]
    relevant = [(a, b) for a, b in relevant if met is None or a < met]
    if met is not None:
        relevant = [(a, b if b is not None else met) for a, b in relevant]
    due = calendar.due(start, goal, relevant)
    used = calendar.elapsed(start, until, relevant)
    paused = calendar.between(start, until) - used
    open_pause = met is None and any(b is None and a <= now for a, b in relevant)
    breached = due is not None and until > due
    over = calendar.between(due, until) if breached and due is not None else timedelta(0)
    return ClockState(
        target=target,
        state="met" if met is not None else "paused" if open_pause else "running",
        started_at=start,
        due_at=due,
        met_at=met,
        used_minutes=_minutes(used),
        paused_minutes=_minutes(paused),
        breached=breached,
        breached_by_minutes=_minutes(over),
    )


def _minutes(amount: timedelta) -> int:
    return max(0, int(amount.total_seconds() // 60))
