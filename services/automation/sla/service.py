"""SLA policies on business-hours calendars, and each item's clocks.

An item's clocks are always recomputed from its history (`clock.compute`), on each of its
events and when a policy or calendar changes, and the scheduler is handed one warning and
one breach job per running clock, keyed by the due time: a due time that stays put is never
fired twice, and a moved one replaces its unfired jobs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts import new_event_id
from contracts.automation import SlaBreached, SlaMet, SlaWarning
from contracts.tickets import ItemSnapshot
from kit.access import ItemFacts, require_on_item
from kit.auth import Principal
from kit.db.times import in_utc
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.automation.models import Calendar, Clock, ItemView, Job, Policy
from services.automation.projections import repository as projections
from services.automation.scheduler import repository as jobs
from services.automation.sla import repository
from services.automation.sla.business_time import BusinessCalendar
from services.automation.sla.clock import TARGETS, ClockState, Moment, Rules, Target, compute
from services.automation.sla.schemas import (
    DAYS,
    CalendarCreate,
    CalendarUpdate,
    Opening,
    PolicyCreate,
    PolicyUpdate,
    Week,
)

SLA_JOBS = ("sla_warning", "sla_breach")


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Problem(403, "forbidden", "Only workspace admins manage SLAs.")


# --- calendars ------------------------------------------------------------------------------


def _week_json(week: Week) -> dict[str, Any]:
    openings: dict[str, list[Opening]] = {str(day): list(o) for day, o in week.items()}
    return {day: [o.model_dump() for o in openings.get(day, [])] for day in DAYS}


async def create_calendar(uow: UnitOfWork, principal: Principal, body: CalendarCreate) -> Calendar:
    _admin(principal)
    row = Calendar(
        id=new_event_id(),
        workspace_id=principal.workspace_id,
        name=body.name,
        time_zone=body.time_zone,
        week=_week_json(body.week),
        holidays=[d.isoformat() for d in body.holidays],
        holiday_country=body.holiday_country,
        holiday_subdivision=body.holiday_subdivision,
        version=1,
    )
    uow.session.add(row)
    return row


async def get_calendar(uow: UnitOfWork, principal: Principal, calendar_id: str) -> Calendar:
    _admin(principal)
    row = await repository.calendar(uow.session, principal.workspace_id, calendar_id)
    if row is None:
        raise Problem(404, "not-found", "No such calendar.")
    return row


async def list_calendars(uow: UnitOfWork, principal: Principal) -> list[Calendar]:
    _admin(principal)
    return await repository.calendars(uow.session, principal.workspace_id)


async def update_calendar(
    uow: UnitOfWork, principal: Principal, calendar_id: str, body: CalendarUpdate
) -> Calendar:
    row = await get_calendar(uow, principal, calendar_id)
    if body.name is not None:
        row.name = body.name
    if body.time_zone is not None:
        row.time_zone = body.time_zone
    if body.week is not None:
        row.week = _week_json(body.week)
    if body.holidays is not None:
        row.holidays = [d.isoformat() for d in body.holidays]
    fields = body.model_fields_set
    if "holiday_country" in fields:
        row.holiday_country = body.holiday_country
    if "holiday_subdivision" in fields:
        row.holiday_subdivision = body.holiday_subdivision
    CalendarCreate.model_validate(
        {
            "name": row.name,
            "time_zone": row.time_zone,
            "week": row.week,
            "holidays": row.holidays,
            "holiday_country": row.holiday_country,
            "holiday_subdivision": row.holiday_subdivision,
        }
    )
    row.version += 1
    await _recompute_later(uow, principal.workspace_id)
    return row


async def delete_calendar(uow: UnitOfWork, principal: Principal, calendar_id: str) -> None:
    row = await get_calendar(uow, principal, calendar_id)
    if await repository.policies_on(uow.session, principal.workspace_id, row.id):
        raise Problem(409, "calendar-in-use", "Policies still measure on this calendar.")
    await uow.session.delete(row)


_CALENDARS: dict[tuple[str, int], BusinessCalendar] = {}


def business_calendar(row: Calendar) -> BusinessCalendar:
    """Built once per calendar version: the per-day windows it caches are the hot path."""
    key = (row.id, row.version)
    found = _CALENDARS.get(key)
    if found is None:
        week = [[Opening.model_validate(o).minutes for o in row.week.get(day, [])] for day in DAYS]
        found = BusinessCalendar.build(
            row.time_zone,
            week,
            [date.fromisoformat(d) for d in row.holidays],
            row.holiday_country,
            row.holiday_subdivision,
        )
        if len(_CALENDARS) > 256:
            _CALENDARS.clear()
        _CALENDARS[key] = found
    return found


# --- policies -------------------------------------------------------------------------------


async def create_policy(uow: UnitOfWork, principal: Principal, body: PolicyCreate) -> Policy:
    _admin(principal)
    await get_calendar(uow, principal, body.calendar_id)
    position = body.position
    if position is None:
        position = await repository.next_position(uow.session, principal.workspace_id)
    row = Policy(
        id=new_event_id(),
        workspace_id=principal.workspace_id,
        name=body.name,
        calendar_id=body.calendar_id,
        position=position,
        enabled=body.enabled,
        applies_to=body.applies_to.model_dump(),
        targets=body.targets.model_dump(),
        pause_status_ids=list(body.pause_status_ids),
        pause_categories=list(body.pause_categories),
        warning_minutes=body.warning_minutes,
        version=1,
    )
    uow.session.add(row)
    await _recompute_later(uow, principal.workspace_id)
    return row


async def get_policy(uow: UnitOfWork, principal: Principal, policy_id: str) -> Policy:
    _admin(principal)
    row = await repository.policy(uow.session, principal.workspace_id, policy_id)
    if row is None:
        raise Problem(404, "not-found", "No such SLA policy.")
    return row


async def list_policies(uow: UnitOfWork, principal: Principal) -> list[Policy]:
    _admin(principal)
    return await repository.policies(uow.session, principal.workspace_id, enabled_only=False)


async def update_policy(
    uow: UnitOfWork, principal: Principal, policy_id: str, body: PolicyUpdate
) -> Policy:
    row = await get_policy(uow, principal, policy_id)
    if body.calendar_id is not None:
        await get_calendar(uow, principal, body.calendar_id)
        row.calendar_id = body.calendar_id
    for name in ("name", "warning_minutes", "position", "enabled"):
        value = getattr(body, name)
        if value is not None:
            setattr(row, name, value)
    if body.applies_to is not None:
        row.applies_to = body.applies_to.model_dump()
    if body.targets is not None:
        row.targets = body.targets.model_dump()
    if body.pause_status_ids is not None:
        row.pause_status_ids = list(body.pause_status_ids)
    if body.pause_categories is not None:
        row.pause_categories = list(body.pause_categories)
    row.version += 1
    await _recompute_later(uow, principal.workspace_id)
    return row


async def delete_policy(uow: UnitOfWork, principal: Principal, policy_id: str) -> None:
    row = await get_policy(uow, principal, policy_id)
    await uow.session.delete(row)
    await _recompute_later(uow, principal.workspace_id)


async def _recompute_later(uow: UnitOfWork, workspace_id: str) -> None:
    """A durable job rather than work in the request: a workspace may have many open items."""
    await jobs.schedule(
        uow.session,
        workspace_id=workspace_id,
        kind="sla_recompute",
        key=f"sla-recompute:{workspace_id}:{new_event_id()}",
        subject_id=workspace_id,
        due_at=datetime.now(UTC),
        payload={},
    )


def covers(policy: Policy, snapshot: dict[str, Any]) -> bool:
    scope = policy.applies_to
    checks = (
        ("type_ids", "type_id"),
        ("priorities", "priority"),
        ("organisation_ids", "requester_organisation_id"),
        ("project_ids", "project_id"),
    )
    return all(
        not scope.get(key) or str(snapshot.get(field)) in scope[key] for key, field in checks
    )


async def policy_for(uow: UnitOfWork, item: ItemView) -> Policy | None:
    """The policy a rule applied to the item, else the first enabled one that covers it."""
    if item.applied_policy_id:
        applied = await repository.policy(uow.session, item.workspace_id, item.applied_policy_id)
        if applied is not None and applied.enabled:
            return applied
    for policy in await repository.policies(uow.session, item.workspace_id, enabled_only=True):
        if covers(policy, item.snapshot):
            return policy
    return None


async def apply_policy(
    uow: UnitOfWork, workspace_id: str, item_id: str, policy_id: str, now: datetime
) -> bool:
    policy = await repository.policy(uow.session, workspace_id, policy_id)
    item = await projections.item(uow.session, workspace_id, item_id)
    if policy is None or item is None:
        return False
    item.applied_policy_id = policy.id
    await recompute_item(uow, item, now)
    return True


# --- clocks ---------------------------------------------------------------------------------


async def recompute_item(uow: UnitOfWork, item: ItemView, now: datetime) -> list[Clock]:
    """Put the item's clocks and their scheduled jobs right from its history."""
    policy = None if item.deleted else await policy_for(uow, item)
    calendar = (
        await repository.calendar(uow.session, item.workspace_id, policy.calendar_id)
        if policy is not None
        else None
    )
    if policy is None or calendar is None:
        await repository.drop_clocks(uow.session, item.id, keep=[])
        await jobs.drop_pending(uow.session, item.id, SLA_JOBS)
        return []
    history = await projections.history(uow.session, item.workspace_id, item.id)
    rules = Rules(
        targets={t: int(policy.targets[t]) for t in TARGETS if policy.targets.get(t)},
        pause_status_ids=frozenset(policy.pause_status_ids),
        pause_categories=frozenset(policy.pause_categories),
    )
    # SQLite hands stored times back naive (they are UTC); rows written in this session
    # are still aware: one clock must compare them all.
    moments = [Moment(in_utc(h.at), h.kind, h.status_id, h.category) for h in history]
    business = business_calendar(calendar)
    states = compute(moments, rules, business, now)
    await repository.drop_clocks(uow.session, item.id, keep=[s.target for s in states])
    wanted: list[tuple[str, str, datetime, dict[str, Any]]] = []
    rows: list[Clock] = []
    for state in states:
        row = await _store(uow, item, policy, state)
        rows.append(row)
        announced = None if row.announced_met_at is None else in_utc(row.announced_met_at)
        if state.met_at is not None and announced != state.met_at:
            row.announced_met_at = state.met_at
            _emit_met(uow, item, policy, state)
        if state.state == "met" or state.due_at is None:
            continue
        payload = {"target": state.target, "due_at": state.due_at.isoformat()}
        due = state.due_at.isoformat()
        warn_at = business.subtract(state.due_at, timedelta(minutes=policy.warning_minutes))
        if policy.warning_minutes and warn_at < state.due_at:
            key = f"sla-warning:{item.id}:{state.target}:{due}"
            wanted.append(("sla_warning", key, max(warn_at, state.started_at), payload))
        wanted.append(
            ("sla_breach", f"sla-breach:{item.id}:{state.target}:{due}", state.due_at, payload)
        )
    await jobs.drop_pending(uow.session, item.id, SLA_JOBS, keep=[key for _, key, _, _ in wanted])
    for kind, key, due_at, payload in wanted:
        await jobs.schedule(
            uow.session,
            workspace_id=item.workspace_id,
            kind=kind,
            key=key,
            subject_id=item.id,
            due_at=due_at,
            payload=payload,
        )
    return rows


async def _store(uow: UnitOfWork, item: ItemView, policy: Policy, state: ClockState) -> Clock:
    row = await repository.clock(uow.session, item.id, state.target)
    if row is None:
        row = Clock(item_id=item.id, target=state.target, workspace_id=item.workspace_id)
        uow.session.add(row)
    row.policy_id = policy.id
    row.state = state.state
    row.started_at = state.started_at
    row.due_at = state.due_at
    row.met_at = state.met_at
    row.used_minutes = state.used_minutes
    row.paused_minutes = state.paused_minutes
    row.breached = state.breached
    row.breached_by_minutes = state.breached_by_minutes
    return row


def _snapshot(item: ItemView) -> ItemSnapshot:
    return ItemSnapshot.model_validate(item.snapshot)


def _emit_met(uow: UnitOfWork, item: ItemView, policy: Policy, state: ClockState) -> None:
    assert state.met_at is not None
    uow.emit(
        SlaMet(
            workspace_id=uuid.UUID(item.workspace_id),
            item=_snapshot(item),
            policy_id=uuid.UUID(policy.id),
            policy_name=policy.name,
            target=state.target,
            due_at=state.due_at or state.met_at,
            met_at=state.met_at,
            business_minutes_used=state.used_minutes,
            breached=state.breached,
        ),
        workspace=item.workspace_id,
        subject=f"item/{item.id}",
    )


async def fire_clock(uow: UnitOfWork, job: Job, now: datetime) -> tuple[ItemView, Target] | None:
    """The warning or breach of a job, if the clock still falls due when the job said: then
    the event is published and the caller runs the rules it pulls."""
    target: Target = job.payload["target"]
    due_at = datetime.fromisoformat(job.payload["due_at"])
    clock = await repository.clock(uow.session, job.subject_id, target)
    item = await projections.item(uow.session, job.workspace_id, job.subject_id)
    if clock is None or item is None or item.deleted:
        return None
    if clock.met_at is not None or clock.due_at is None or in_utc(clock.due_at) != due_at:
        return None
    policy = await repository.policy(uow.session, item.workspace_id, clock.policy_id)
    if policy is None:
        return None
    common: dict[str, Any] = {
        "workspace_id": uuid.UUID(item.workspace_id),
        "item": _snapshot(item),
        "policy_id": uuid.UUID(policy.id),
        "policy_name": policy.name,
        "target": target,
        "due_at": due_at,
    }
    if job.kind == "sla_breach":
        clock.breached = True
        event: SlaBreached | SlaWarning = SlaBreached(**common, breached_at=due_at)
    else:
        calendar = await repository.calendar(uow.session, item.workspace_id, policy.calendar_id)
        left = business_calendar(calendar).between(now, due_at) if calendar else timedelta(0)
        event = SlaWarning(**common, business_minutes_left=int(left.total_seconds() // 60))
    uow.emit(event, workspace=item.workspace_id, subject=f"item/{item.id}")
    return item, target


async def recompute_workspace(uow: UnitOfWork, workspace_id: str, now: datetime) -> int:
    count, after = 0, None
    while True:
        batch = await projections.open_items(uow.session, workspace_id, after_id=after, limit=200)
        for item in batch:
            await recompute_item(uow, item, now)
        count += len(batch)
        if len(batch) < 200:
            return count
        after = batch[-1].id


async def item_sla(uow: UnitOfWork, principal: Principal, item_id: str) -> list[Clock]:
    """Staff and collaborators who may see the item may see its SLA state; clients never
    (the targets are the agency's internal promise), and 404 for anyone else."""
    item = await projections.item(uow.session, principal.workspace_id, item_id)
    if item is None or item.deleted or principal.is_client:
        raise Problem(404, "not-found", "No such item.")
    snapshot = item.snapshot
    await require_on_item(
        uow.session,
        principal,
        "view",
        ItemFacts(
            workspace_id=item.workspace_id,
            project_id=item.project_id,
            requester_id=str(snapshot.get("requester_id") or "") or None,
            requester_organisation_id=str(snapshot.get("requester_organisation_id") or "") or None,
            follower_ids=[str(f) for f in snapshot.get("follower_ids") or []],
        ),
    )
    return await repository.clocks(uow.session, principal.workspace_id, item_id)
