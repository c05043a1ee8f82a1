"""Time and capacity reports: hours per client, project, person or item type; utilisation;
hours used against retainers; free capacity for the coming weeks.

Who sees what (checked here, before any query):

- workspace admins: everything;
- staff members: time on the projects they may view (kit.access `visible_projects`) and
  always their own; utilisation only their own, since availability is a personal matter;
- collaborators: only their own hours (the hours report with `user_id` = themselves, and
  their own utilisation); everything else is workspace-wide and answers 403;
- clients: 403 for every report (the portal is not a window on the agency's timesheets).

A report on less than the whole workspace says so in its `audience`, so a partial figure
is never mistaken for the agency's.

Logged time means entries not deleted and not rejected, whatever their approval state:
the reports show work done; only billing waits for approval.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from kit.access import ProjectScope, authorizer
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.timetracking.ids import now
from services.timetracking.reports import repository
from services.timetracking.reports.calendar import (
    Contract,
    Period,
    Schedule,
    buckets,
    month_end,
    percent,
    round_minutes,
    spread,
    to_hours,
    weekdays,
)
from services.timetracking.reports.repository import EntryScope, HoursFilter
from services.timetracking.reports.schemas import (
    Audience,
    CapacityReport,
    CapacityWeek,
    ClientReport,
    ClientRow,
    GroupBy,
    HoursReport,
    HoursRow,
    UtilisationReport,
    UtilisationRow,
)

MAX_RANGE_DAYS = 2 * 366
MAX_WEEKS = 26


def today() -> date:
    return now().date()


# --- access ----------------------------------------------------------------------------


def _forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", detail)


def _refuse_clients(principal: Principal) -> None:
    if principal.is_client:
        raise _forbidden("Clients have no access to time reports.")


async def _workspace_scope(uow: UnitOfWork, principal: Principal) -> tuple[EntryScope, Audience]:
    """For reports about the workspace's clients and capacity: staff only."""
    _refuse_clients(principal)
    if principal.holds_admin_role:  # seeing the workspace's hours is not administering it
        return repository.everything(principal.workspace_id), "workspace"
    if principal.kind == "collaborator":
        raise _forbidden("Collaborators see only their own hours.")
    projects = await authorizer.visible_projects(uow.session, principal)
    return EntryScope(principal.workspace_id, projects, principal.subject), "visible_projects"


async def _hours_scope(
    uow: UnitOfWork, principal: Principal, user_id: str | None
) -> tuple[EntryScope, Audience]:
    _refuse_clients(principal)
    if principal.kind == "collaborator" and not principal.is_admin:
        if user_id != principal.subject:
            raise _forbidden("Collaborators see only their own hours: ask with your user_id.")
        return _self(principal), "self"
    return await _workspace_scope(uow, principal)


def _self(principal: Principal) -> EntryScope:
    return EntryScope(
        principal.workspace_id, ProjectScope(whole_workspace=False), principal.subject
    )


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise Problem(400, "bad-request", "`to` is before `from`.")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Problem(400, "bad-request", f"A report covers at most {MAX_RANGE_DAYS} days.")


# --- hours -----------------------------------------------------------------------------


async def hours(
    uow: UnitOfWork,
    principal: Principal,
    *,
    group_by: GroupBy,
    period: Period,
    start: date,
    end: date,
    wanted: HoursFilter | None = None,
) -> HoursReport:
    """Logged hours per period and group. A period that starts before `from` (a week begun
    the Wednesday before) is named by its start but sums only the days in range."""
    wanted = wanted or HoursFilter()
    _check_range(start, end)
    scope, audience = await _hours_scope(uow, principal, wanted.user_id)
    sums = await repository.hours(
        uow.session,
        scope,
        group_by=group_by,
        period=period,
        start=start,
        end=end,
        wanted=wanted,
    )
    rows = [
        HoursRow(
            period_start=s.period_start,
            key=s.key,
            label=s.label,
            minutes=s.minutes,
            billable_minutes=s.billable_minutes,
            hours=to_hours(s.minutes),
            billable_hours=to_hours(s.billable_minutes),
        )
        for s in sums
    ]
    total = sum(row.minutes for row in rows)
    return HoursReport(
        group_by=group_by,
        period=period,
        from_=start,
        to=end,
        audience=audience,
        rows=rows,
        total_minutes=total,
        total_hours=to_hours(total),
    )


# --- utilisation -----------------------------------------------------------------------


async def utilisation(
    uow: UnitOfWork,
    principal: Principal,
    *,
    period: Period,
    start: date,
    end: date,
    user_id: str | None = None,
) -> UtilisationReport:
    """Per person and period: minutes logged against minutes available, where available is
    the weekly availability spread over its working days, counted on the period's days in
    range, less days off. A period where someone had neither is left out, and so is the
    availability of people who have left (deactivated) unless they logged time in it."""
    _check_range(start, end)
    _refuse_clients(principal)
    if principal.holds_admin_role:  # seeing the workspace's hours is not administering it
        scope, audience = repository.everything(principal.workspace_id), "workspace"
    else:
        if user_id not in (None, principal.subject):
            raise _forbidden("Only workspace admins see other people's utilisation.")
        user_id, scope, audience = principal.subject, _self(principal), "self"
    session, workspace_id = uow.session, principal.workspace_id
    logged = {
        (p.user_id, p.period_start): p
        for p in await repository.logged_per_person(
            session, scope, period=period, start=start, end=end, user_id=user_id
        )
    }
    schedules = await _schedules(uow, workspace_id, start, end, user_id)
    ids = set(schedules) | {uid for uid, _ in logged}
    people = await repository.people(session, workspace_id, ids)
    rows = []
    for uid in ids:
        schedule = schedules.get(uid, Schedule((), ()))
        for bucket in buckets(start, end, period):
            available = round_minutes(schedule.minutes_between(bucket.first, bucket.last))
            done = logged.get((uid, bucket.start))
            if done is None and (available == 0 or not _active(people.get(uid))):
                continue
            minutes = done.minutes if done else 0
            billable = done.billable_minutes if done else 0
            rows.append(
                UtilisationRow(
                    user_id=uid,
                    name=people[uid].name if uid in people else "",
                    period_start=bucket.start,
                    available_minutes=available,
                    logged_minutes=minutes,
                    billable_minutes=billable,
                    available_hours=to_hours(available),
                    logged_hours=to_hours(minutes),
                    utilisation_percent=percent(minutes, available),
                    billable_percent=percent(billable, available),
                )
            )
    rows.sort(key=lambda r: (r.name, r.user_id, r.period_start))
    return UtilisationReport(period=period, from_=start, to=end, audience=audience, rows=rows)


def _active(person: repository.Person | None) -> bool:
    """Unknown people count as active: the people projection may lag behind."""
    return person is None or person.active


async def _schedules(
    uow: UnitOfWork, workspace_id: str, start: date, end: date, user_id: str | None
) -> dict[str, Schedule]:
    contracts: dict[str, list[Contract]] = defaultdict(list)
    for row in await repository.contracts(uow.session, workspace_id, until=end, user_id=user_id):
        contracts[row.user_id].append(
            Contract(row.effective_from, row.weekly_minutes, tuple(row.working_days))
        )
    off: dict[str, list[date]] = defaultdict(list)
    for uid, day in await repository.days_off(
        uow.session, workspace_id, start=start, end=end, user_id=user_id
    ):
        off[uid].append(day)
    return {uid: Schedule(found, off[uid]) for uid, found in contracts.items()}


# --- clients: hours used vs sold -------------------------------------------------------


async def clients(
    uow: UnitOfWork, principal: Principal, *, month: date | None = None, as_of: date | None = None
) -> ClientReport:
    """Per client for one month: billable hours used against the retainer sold, projected
    linearly to the month's end over working days (Monday to Friday): used x working days
    in the month / working days elapsed up to `as_of`. Before the first working day, and
    once the month is over, the projection is what was used.

    Clients appear when they have a retainer that month or time logged; members see the
    clients of the projects they may view, with the time they may see.
    """
    as_of = as_of or today()
    first = (month or as_of).replace(day=1)
    last = month_end(first)
    scope, audience = await _workspace_scope(uow, principal)
    session, workspace_id = uow.session, principal.workspace_id
    used = {
        u.organisation_id: u
        for u in await repository.client_use(session, scope, start=first, end=last)
    }
    sold = {
        org: minutes
        for org, minutes in (
            await repository.retainers_in_effect(session, workspace_id, on=first)
        ).items()
        if minutes > 0
    }
    if not scope.whole_workspace:
        theirs = await repository.organisations_of_projects(session, workspace_id, scope.projects)
        sold = {org: minutes for org, minutes in sold.items() if org in theirs or org in used}
    names = await repository.organisation_names(session, workspace_id, set(used) | set(sold))
    total_days = weekdays(first, last)
    elapsed = weekdays(first, min(as_of, last))
    rows = []
    for org in set(used) | set(sold):
        billable = used[org].billable_minutes if org in used else 0
        projected = (
            round_minutes(Fraction(billable * total_days, elapsed))
            if 0 < elapsed < total_days
            else billable
        )
        sold_minutes = sold.get(org)
        rows.append(
            ClientRow(
                organisation_id=org,
                organisation_name=names.get(org, ""),
                sold_minutes=sold_minutes,
                used_minutes=billable,
                nonbillable_minutes=used[org].nonbillable_minutes if org in used else 0,
                remaining_minutes=None if sold_minutes is None else sold_minutes - billable,
                projected_minutes=projected,
                sold_hours=None if sold_minutes is None else to_hours(sold_minutes),
                used_hours=to_hours(billable),
                projected_hours=to_hours(projected),
                projected_percent=None
                if sold_minutes is None
                else percent(projected, sold_minutes),
            )
        )
    rows.sort(key=lambda r: (r.organisation_name, r.organisation_id))
    return ClientReport(
        month=first,
        as_of=as_of,
        working_days=total_days,
        elapsed_working_days=elapsed,
        audience=audience,
        rows=rows,
    )


# --- free capacity ---------------------------------------------------------------------


async def capacity(
    uow: UnitOfWork,
    principal: Principal,
    *,
    start: date | None = None,
    weeks: int = 4,
    needed_hours_per_week: Decimal | None = None,
) -> CapacityReport:
    """Free capacity for the coming weeks: "can we take another client?".

    Method:

    1. The horizon is `weeks` whole weeks from the first Monday on or after `start`
       (default today): the days already begun are not capacity any more.
    2. Supply: each week, the sum over the team of each person's availability on that
       week's days (weekly minutes spread over their working days, the contract in effect
       that day), less their days off. The team is everyone with availability, except
       people known to be deactivated.
    3. Demand: every open item (status category new, open, in progress or waiting; not
       deleted, not in an archived project) still needs max(estimate - time logged on it,
       0). The item projection carries neither due dates nor assignees, so that remaining
       work is spread evenly over the horizon's weeks (whole minutes, the first weeks
       taking the remainder) and counted against the whole team.
    4. Free = supply - demand, per week (negative when overbooked). Open items without an
       estimate are counted in `unestimated_items`: demand the figure cannot see.
    5. With `needed_hours_per_week` (what a new client would take) `fits` says whether
       every week of the horizon has that much free.

    Members get the demand of the projects they may view only (`audience`), against the
    whole team's supply, so their answer is an upper bound.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        raise Problem(400, "bad-request", f"`weeks` is between 1 and {MAX_WEEKS}.")
    scope, audience = await _workspace_scope(uow, principal)
    session, workspace_id = uow.session, principal.workspace_id
    begin = start or today()
    first_week = begin + timedelta(days=(7 - begin.weekday()) % 7)
    last_day = first_week + timedelta(days=7 * weeks - 1)
    schedules = await _schedules(uow, workspace_id, first_week, last_day, None)
    known = await repository.people(session, workspace_id, set(schedules))
    team = {
        uid: schedule
        for uid, schedule in schedules.items()
        if _active(known.get(uid)) and (uid not in known or known[uid].kind != "client")
    }
    work = await repository.open_work(session, workspace_id, scope.projects)
    demand = spread(work.remaining_minutes, weeks)
    rows = []
    per_person = {
        uid: schedule.minutes_between(first_week, last_day) for uid, schedule in team.items()
    }
    people = sum(1 for minutes in per_person.values() if minutes > 0)
    for index in range(weeks):
        monday = first_week + timedelta(days=7 * index)
        supply = round_minutes(
            sum(
                (s.minutes_between(monday, monday + timedelta(days=6)) for s in team.values()),
                Fraction(0),
            )
        )
        free = supply - demand[index]
        rows.append(
            CapacityWeek(
                week_start=monday,
                available_minutes=supply,
                demand_minutes=demand[index],
                free_minutes=free,
                available_hours=to_hours(supply),
                demand_hours=to_hours(demand[index]),
                free_hours=to_hours(free),
            )
        )
    free_total = sum(r.free_minutes for r in rows)
    fits = None
    if needed_hours_per_week is not None:
        fits = all(r.free_minutes >= needed_hours_per_week * 60 for r in rows)
    return CapacityReport(
        weeks=weeks,
        first_week=first_week,
        audience=audience,
        people=people,
        open_items=work.items,
        unestimated_items=work.unestimated,
        remaining_estimate_minutes=work.remaining_minutes,
        rows=rows,
        available_minutes=sum(r.available_minutes for r in rows),
        demand_minutes=sum(r.demand_minutes for r in rows),
        free_minutes=free_total,
        free_hours_per_week=to_hours(Fraction(free_total, weeks)),
        needed_hours_per_week=needed_hours_per_week,
        fits=fits,
    )
