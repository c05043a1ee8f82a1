"""Calendar arithmetic of the reports: periods, working days, a person's available minutes.

Availability is a handful of rows per person (weekly minutes on given weekdays, from a
date on) plus days off, so it is expanded here day by day rather than in SQL, where a
portable calendar (generate_series on PostgreSQL, a recursive CTE on SQLite) would cost
more than it saves. Time entries, which are many, are only ever summed in SQL.

Minutes are kept as exact fractions until a figure is shown: 40 h over three working days
is 800 min a day, but 37.5 h over four is 562.5, and a month of those must not drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

Period = Literal["week", "month"]
ONE_DAY = timedelta(days=1)


def period_start(day: date, period: Period) -> date:
    """Weeks start on Monday (ISO 8601), as PostgreSQL's `date_trunc('week', …)` does."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: date, period: Period) -> date:
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Bucket:
    """One period of a report, clipped to the report's range: `start` names it (a Monday
    or a first of the month, possibly before the range), `first`..`last` are the days of it
    the report covers."""

    start: date
    first: date
    last: date


def buckets(first: date, last: date, period: Period) -> list[Bucket]:
    found = []
    start = period_start(first, period)
    while start <= last:
        end = next_period(start, period) - ONE_DAY
        found.append(Bucket(start, max(start, first), min(end, last)))
        start = next_period(start, period)
    return found


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def month_end(month: date) -> date:
    return next_period(month.replace(day=1), "month") - ONE_DAY


def weekdays(first: date, last: date) -> int:
    """Monday to Friday between the two days, both included (0 when `last` < `first`)."""
    return sum(1 for day in days(first, last) if day.weekday() < 5)


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def round_minutes(minutes: Fraction | int) -> int:
    """Half-up, as the figures people check by hand are rounded."""
    return int(_decimal(Fraction(minutes)).quantize(Decimal(1), ROUND_HALF_UP))


def to_hours(minutes: int | Fraction) -> Decimal:
    """Two places, half-up: 20 min → 0.33 h."""
    return _decimal(Fraction(minutes) / 60).quantize(Decimal("0.01"), ROUND_HALF_UP)


def percent(part: int, whole: int) -> Decimal | None:
    """One decimal place; none when there is nothing to compare with."""
    if whole <= 0:
        return None
    return (Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Contract:
    """A person's weekly availability from a date on (a copy of an `Availability` row)."""

    effective_from: date
    weekly_minutes: int
    working_days: tuple[int, ...]


class Schedule:
    """When one person is available: the contract in effect on a day (the latest starting
    on or before it), spread evenly over its working days, and nothing on a day off or
    before their first contract."""

    def __init__(self, contracts: Iterable[Contract], days_off: Iterable[date]) -> None:
        self._contracts = sorted(contracts, key=lambda c: c.effective_from)
        self._days_off = frozenset(days_off)

    def minutes_on(self, day: date) -> Fraction:
        if day in self._days_off:
            return Fraction(0)
        contract = None
        for candidate in self._contracts:
            if candidate.effective_from > day:
                break
            contract = candidate
        if contract is None or day.weekday() not in contract.working_days:
            return Fraction(0)
        return Fraction(contract.weekly_minutes, len(contract.working_days))

    def minutes_between(self, first: date, last: date) -> Fraction:
        return sum((self.minutes_on(day) for day in days(first, last)), Fraction(0))


def spread(total: int, parts: int) -> list[int]:
    """`total` in `parts` near-equal whole parts that add up exactly (the first ones get the
    remainder), so a report's weeks sum to its total."""
    if parts <= 0:
        return []
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]
