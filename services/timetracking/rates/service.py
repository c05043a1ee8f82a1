"""Hourly rates, availability, days off, retainers, and the billing export that prices time.

Only workspace admins write any of these (they are the agency's prices and its people's
contracts). Rates and retainers are read by admins only too; a person may read their own
availability and days off, since the utilisation report shows them theirs anyway.

Pricing follows one rule, in `rate_for`: the most specific scope wins (user > project >
organisation > workspace), and within a scope the latest `effective_from` on or before the
day worked. Amounts are Decimal and rounded half-up to cents once per line, from the exact
minutes — never from rounded hours, and never summed from rounded parts of one line.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.timetracking.ids import new_id
from services.timetracking.models import Availability, DayOff, Rate, Retainer
from services.timetracking.rates import repository
from services.timetracking.rates.repository import BillableWork
from services.timetracking.rates.schemas import (
    AvailabilityCreate,
    AvailabilityUpdate,
    Billing,
    BillingEntryLine,
    BillingGroup,
    BillingGroupLine,
    BillingTotal,
    DayOffCreate,
    RateCreate,
    RateUpdate,
    RetainerCreate,
    RetainerUpdate,
)

SCOPES_BY_PRECEDENCE = ("user", "project", "organisation", "workspace")
"""Most specific first: a person's own rate beats a project's, which beats a client's."""

CENT = Decimal("0.01")
MAX_BILLING_DAYS = 366


def hours(minutes: int) -> Decimal:
    """For display and CSV: hours to two places, half-up (20 min → 0.33)."""
    return (Decimal(minutes) / 60).quantize(CENT, ROUND_HALF_UP)


def amount(hourly_rate: Decimal, minutes: int) -> Decimal:
    return (hourly_rate * minutes / 60).quantize(CENT, ROUND_HALF_UP)


# --- pricing ---------------------------------------------------------------------------


class RateLike(Protocol):
    """What pricing reads of a rate; `Rate` rows satisfy it, and so do test doubles."""

    @property
    def id(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def scope_id(self) -> str | None: ...
    @property
    def effective_from(self) -> date: ...


R = TypeVar("R", bound=RateLike)


class RateBook(Generic[R]):
    """A workspace's rates indexed by target, so pricing thousands of entries costs a
    dictionary lookup and a bisection each instead of a scan of every rate."""

    def __init__(self, rates: Iterable[R]) -> None:
        by_target: dict[tuple[str, str | None], list[R]] = {}
        for rate in rates:
            if rate.scope in SCOPES_BY_PRECEDENCE:
                target = None if rate.scope == "workspace" else rate.scope_id
                by_target.setdefault((rate.scope, target), []).append(rate)
        self._timelines = {
            target: sorted(found, key=lambda r: (r.effective_from, r.id))
            for target, found in by_target.items()
        }
        self._starts = {
            target: [r.effective_from for r in timeline]
            for target, timeline in self._timelines.items()
        }

    def rate_for(
        self,
        *,
        day: date,
        user_id: str | None,
        project_id: str | None,
        organisation_id: str | None,
    ) -> R | None:
        targets = {
            "user": user_id,
            "project": project_id,
            "organisation": organisation_id,
            "workspace": None,
        }
        for scope in SCOPES_BY_PRECEDENCE:
            target = targets[scope]
            if scope != "workspace" and target is None:
                continue
            starts = self._starts.get((scope, target))
            if not starts:
                continue
            # The last rate starting on or before the day; none if they all start later.
            index = bisect.bisect_right(starts, day)
            if index:
                return self._timelines[(scope, target)][index - 1]
        return None


def rate_for(
    rates: Iterable[R],
    *,
    day: date,
    user_id: str | None,
    project_id: str | None,
    organisation_id: str | None,
) -> R | None:
    """The rate that prices work done on `day` by this person on this project for this
    client: the most specific scope that has a rate in effect wins, even when a less
    specific scope has a newer one (a person's negotiated rate is not overridden by a
    workspace-wide price rise)."""
    return RateBook(rates).rate_for(
        day=day, user_id=user_id, project_id=project_id, organisation_id=organisation_id
    )


# --- access ----------------------------------------------------------------------------


def require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Problem(403, "admin-only", f"Only workspace admins manage {what}.")


def require_self_or_admin(principal: Principal, user_id: str) -> None:
    """A person may read their own availability and days off; others' only admins."""
    if not principal.is_admin and (principal.is_client or user_id != principal.subject):
        raise Problem(403, "forbidden", "You may only see your own availability.")


def _not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"No such {what}.")


def _conflict(detail: str) -> Problem:
    return Problem(409, "conflict", detail)


# --- rates -----------------------------------------------------------------------------


async def list_rates(
    uow: UnitOfWork, principal: Principal, scope: str | None, scope_id: str | None
) -> list[Rate]:
    require_admin(principal, "rates")
    return await repository.rates(
        uow.session, principal.workspace_id, scope=scope, scope_id=scope_id
    )


async def get_rate(uow: UnitOfWork, principal: Principal, rate_id: str) -> Rate:
    require_admin(principal, "rates")
    found = await repository.one(uow.session, Rate, principal.workspace_id, rate_id)
    if found is None:
        raise _not_found("rate")
    return found


async def create_rate(uow: UnitOfWork, principal: Principal, body: RateCreate) -> Rate:
    """Ids in `scope_id` are not checked against the projections, which may lag behind
    identity and tickets; a rate for an id that never appears simply never applies."""
    require_admin(principal, "rates")
    if await repository.rate_clash(
        uow.session,
        principal.workspace_id,
        scope=body.scope,
        scope_id=body.scope_id,
        effective_from=body.effective_from,
    ):
        raise _conflict("A rate of this scope already starts on that day; change it instead.")
    rate = Rate(id=new_id(), workspace_id=principal.workspace_id, **body.model_dump())
    uow.session.add(rate)
    await uow.session.flush()
    return rate


async def update_rate(
    uow: UnitOfWork, principal: Principal, rate_id: str, body: RateUpdate
) -> Rate:
    rate = await get_rate(uow, principal, rate_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    effective_from = changes.get("effective_from", rate.effective_from)
    if await repository.rate_clash(
        uow.session,
        principal.workspace_id,
        scope=rate.scope,
        scope_id=rate.scope_id,
        effective_from=effective_from,
        excluding=rate.id,
    ):
        raise _conflict("A rate of this scope already starts on that day.")
    _apply(rate, changes)
    await uow.session.flush()
    return rate


async def delete_rate(uow: UnitOfWork, principal: Principal, rate_id: str) -> None:
    await uow.session.delete(await get_rate(uow, principal, rate_id))
    await uow.session.flush()


# --- availability ----------------------------------------------------------------------


async def list_availability(
    uow: UnitOfWork, principal: Principal, user_id: str | None
) -> list[Availability]:
    if user_id is None and not principal.is_admin:
        user_id = principal.subject
    if user_id is not None:
        require_self_or_admin(principal, user_id)
    return await repository.availabilities(uow.session, principal.workspace_id, user_id)


async def _availability(uow: UnitOfWork, principal: Principal, row_id: str) -> Availability:
    require_admin(principal, "availability")
    found = await repository.one(uow.session, Availability, principal.workspace_id, row_id)
    if found is None:
        raise _not_found("availability")
    return found


async def create_availability(
    uow: UnitOfWork, principal: Principal, body: AvailabilityCreate
) -> Availability:
    require_admin(principal, "availability")
    if await repository.availability_clash(
        uow.session, principal.workspace_id, body.user_id, body.effective_from
    ):
        raise _conflict("This person's availability already changes on that day.")
    row = Availability(id=new_id(), workspace_id=principal.workspace_id, **body.model_dump())
    uow.session.add(row)
    await uow.session.flush()
    return row


async def update_availability(
    uow: UnitOfWork, principal: Principal, row_id: str, body: AvailabilityUpdate
) -> Availability:
    row = await _availability(uow, principal, row_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    weekly = changes.get("weekly_minutes", row.weekly_minutes)
    days = changes.get("working_days", row.working_days)
    if weekly > 0 and not days:
        raise Problem(422, "validation-error", "Weekly minutes need at least one working day.")
    if await repository.availability_clash(
        uow.session,
        principal.workspace_id,
        row.user_id,
        changes.get("effective_from", row.effective_from),
        excluding=row.id,
    ):
        raise _conflict("This person's availability already changes on that day.")
    _apply(row, changes)
    await uow.session.flush()
    return row


async def delete_availability(uow: UnitOfWork, principal: Principal, row_id: str) -> None:
    await uow.session.delete(await _availability(uow, principal, row_id))
    await uow.session.flush()


# --- days off --------------------------------------------------------------------------


async def list_days_off(
    uow: UnitOfWork,
    principal: Principal,
    user_id: str | None,
    start: date | None,
    end: date | None,
) -> list[DayOff]:
    if user_id is None and not principal.is_admin:
        user_id = principal.subject
    if user_id is not None:
        require_self_or_admin(principal, user_id)
    return await repository.days_off(
        uow.session, principal.workspace_id, user_id=user_id, start=start, end=end
    )


async def create_day_off(uow: UnitOfWork, principal: Principal, body: DayOffCreate) -> DayOff:
    require_admin(principal, "days off")
    if await repository.day_off_exists(uow.session, principal.workspace_id, body.user_id, body.day):
        raise _conflict("This person is already off that day.")
    row = DayOff(id=new_id(), workspace_id=principal.workspace_id, **body.model_dump())
    try:
        async with uow.session.begin_nested():
            uow.session.add(row)
    except IntegrityError as error:  # the same day, written by a concurrent request
        raise _conflict("This person is already off that day.") from error
    return row


async def delete_day_off(uow: UnitOfWork, principal: Principal, row_id: str) -> None:
    require_admin(principal, "days off")
    found = await repository.one(uow.session, DayOff, principal.workspace_id, row_id)
    if found is None:
        raise _not_found("day off")
    await uow.session.delete(found)
    await uow.session.flush()


# --- retainers -------------------------------------------------------------------------


async def list_retainers(
    uow: UnitOfWork, principal: Principal, organisation_id: str | None
) -> list[Retainer]:
    require_admin(principal, "retainers")
    return await repository.retainers(uow.session, principal.workspace_id, organisation_id)


async def _retainer(uow: UnitOfWork, principal: Principal, row_id: str) -> Retainer:
    require_admin(principal, "retainers")
    found = await repository.one(uow.session, Retainer, principal.workspace_id, row_id)
    if found is None:
        raise _not_found("retainer")
    return found


async def create_retainer(uow: UnitOfWork, principal: Principal, body: RetainerCreate) -> Retainer:
    require_admin(principal, "retainers")
    if await repository.retainer_clash(
        uow.session, principal.workspace_id, body.organisation_id, body.effective_from
    ):
        raise _conflict("This client's retainer already changes that month.")
    row = Retainer(id=new_id(), workspace_id=principal.workspace_id, **body.model_dump())
    uow.session.add(row)
    await uow.session.flush()
    return row


async def update_retainer(
    uow: UnitOfWork, principal: Principal, row_id: str, body: RetainerUpdate
) -> Retainer:
    row = await _retainer(uow, principal, row_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if await repository.retainer_clash(
        uow.session,
        principal.workspace_id,
        row.organisation_id,
        changes.get("effective_from", row.effective_from),
        excluding=row.id,
    ):
        raise _conflict("This client's retainer already changes that month.")
    _apply(row, changes)
    await uow.session.flush()
    return row


async def delete_retainer(uow: UnitOfWork, principal: Principal, row_id: str) -> None:
    await uow.session.delete(await _retainer(uow, principal, row_id))
    await uow.session.flush()


def _apply(row: Any, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)


# --- billing export --------------------------------------------------------------------


@dataclass(frozen=True)
class _Priced:
    work: BillableWork
    rate: Rate | None


async def billing(
    uow: UnitOfWork,
    principal: Principal,
    organisation_id: str,
    start: date,
    end: date,
    group: BillingGroup,
) -> Billing:
    """What to invoice a client for a period: billable entries (approved ones only when the
    workspace requires approval), each priced at the rate in effect on its day.

    Entries of a timer left running past the limit are held back (`flagged_minutes`) until
    someone reviews them; billable work no rate applies to is listed without an amount and
    counted in `unrated_minutes`, so a missing rate shows instead of billing zero.
    """
    require_admin(principal, "billing")
    if end < start:
        raise Problem(400, "bad-request", "`to` is before `from`.")
    if (end - start).days >= MAX_BILLING_DAYS:
        raise Problem(400, "bad-request", f"A billing period is at most {MAX_BILLING_DAYS} days.")
    session, workspace_id = uow.session, principal.workspace_id
    approved_only = await repository.approval_required(session, workspace_id)
    work = await repository.billable_work(
        session,
        workspace_id,
        organisation_id,
        start,
        end,
        approved_only=approved_only,
        per_day=group == "item_person",
    )
    book = RateBook(await repository.rates(session, workspace_id))
    priced = [
        _Priced(
            w,
            book.rate_for(
                day=w.worked_on,
                user_id=w.user_id,
                project_id=w.project_id,
                organisation_id=w.organisation_id,
            ),
        )
        for w in work
    ]
    lines: list[BillingEntryLine] | list[BillingGroupLine] = (
        [_entry_line(p) for p in priced] if group == "entry" else _group_lines(priced)
    )
    return Billing(
        organisation_id=organisation_id,
        organisation_name=await repository.organisation_name(session, workspace_id, organisation_id)
        or "",
        from_=start,
        to=end,
        group=group,
        approval_required=approved_only,
        lines=lines,
        totals=_totals(lines),
        unrated_minutes=sum(p.work.minutes for p in priced if p.rate is None),
        flagged_minutes=await repository.flagged_minutes(
            session, workspace_id, organisation_id, start, end, approved_only=approved_only
        ),
    )


def _entry_line(priced: _Priced) -> BillingEntryLine:
    work, rate = priced.work, priced.rate
    assert work.entry_id is not None
    return BillingEntryLine(
        date=work.worked_on,
        entry_id=work.entry_id,
        item_id=work.item_id,
        item_number=work.item_number,
        item_title=work.item_title,
        project_id=work.project_id,
        project_name=work.project_name,
        user_id=work.user_id,
        person_name=work.person_name,
        activity_type=work.activity_type,
        note=work.note,
        minutes=work.minutes,
        hours=hours(work.minutes),
        hourly_rate=None if rate is None else rate.hourly_rate,
        currency=None if rate is None else rate.currency,
        amount=None if rate is None else amount(rate.hourly_rate, work.minutes),
    )


def _group_lines(priced: Sequence[_Priced]) -> list[BillingGroupLine]:
    """Days of one person on one item at one rate fold into a line; the amount is priced
    once from the line's total minutes, so the line reads exactly as hours times rate."""
    folded: dict[tuple[str, str, str | None], list[_Priced]] = {}
    for p in priced:
        key = (p.work.item_id, p.work.user_id, None if p.rate is None else p.rate.id)
        folded.setdefault(key, []).append(p)
    lines = []
    for parts in folded.values():
        first, rate = parts[0].work, parts[0].rate
        minutes = sum(p.work.minutes for p in parts)
        lines.append(
            BillingGroupLine(
                item_id=first.item_id,
                item_number=first.item_number,
                item_title=first.item_title,
                project_id=first.project_id,
                project_name=first.project_name,
                user_id=first.user_id,
                person_name=first.person_name,
                first_date=min(p.work.worked_on for p in parts),
                last_date=max(p.work.worked_on for p in parts),
                minutes=minutes,
                hours=hours(minutes),
                hourly_rate=None if rate is None else rate.hourly_rate,
                currency=None if rate is None else rate.currency,
                amount=None if rate is None else amount(rate.hourly_rate, minutes),
            )
        )
    return sorted(
        lines,
        key=lambda line: (
            line.item_number or 0,
            line.item_title,
            line.person_name,
            line.user_id,
            line.first_date,
        ),
    )


def _totals(lines: Sequence[BillingEntryLine] | Sequence[BillingGroupLine]) -> list[BillingTotal]:
    """Sums of the lines' rounded amounts: the invoice total equals the sum of its lines."""
    sums: dict[str, tuple[int, Decimal]] = {}
    for line in lines:
        if line.currency is None or line.amount is None:
            continue
        minutes, money = sums.get(line.currency, (0, Decimal("0.00")))
        sums[line.currency] = (minutes + line.minutes, money + line.amount)
    return [
        BillingTotal(currency=currency, minutes=minutes, hours=hours(minutes), amount=money)
        for currency, (minutes, money) in sorted(sums.items())
    ]
