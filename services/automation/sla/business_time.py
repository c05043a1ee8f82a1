"""Business-time arithmetic on a calendar: opening hours per weekday in a time zone, minus
holidays, with pauses.

Every opening window is converted to UTC on its own day, boundary by boundary, so a day
that gains or loses an hour (DST) counts exactly the real time it is open: an opening from
01:00 to 04:00 on the night clocks go forward lasts two hours. All results are aware UTC
datetimes; inputs may be in any zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_data

from kit.db.times import in_utc

MINUTES_PER_DAY = 1440
SEARCH_LIMIT_DAYS = 366 * 3
"""A calendar open less than once in three years (every day a holiday) cannot place a time."""

Window = tuple[int, int]
"""Opening hours of a day as minutes from local midnight, `0 <= open < close <= 1440`."""

Span = tuple[datetime, datetime]


class CalendarError(ValueError):
    """The calendar cannot answer (never open, or open too rarely to find a time)."""


def _no_holiday(_day: date) -> bool:
    return False


@dataclass
class BusinessCalendar:
    zone: ZoneInfo
    week: Sequence[Sequence[Window]]
    """Seven entries, Monday first."""
    is_holiday: Callable[[date], bool] = _no_holiday
    _days: dict[date, list[Span]] = field(default_factory=dict, repr=False)
    _before: dict[date, timedelta] = field(default_factory=dict, repr=False)
    """Business time from an arbitrary first day to the start of each day: `between` is a
    difference of two of these, whatever the span, instead of a walk over its days."""
    _first: date = field(default=date.min, repr=False)
    _last: date = field(default=date.min, repr=False)

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise CalendarError("a week has seven days")
        for windows in self.week:
            for start, end in windows:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise CalendarError(f"opening {start}-{end} is not within one day")
        if not any(self.week):
            raise CalendarError("the calendar is never open")

    @classmethod
    def build(
        cls,
        time_zone: str,
        week: Sequence[Sequence[Window]],
        holidays: Sequence[date] = (),
        country: str | None = None,
        subdivision: str | None = None,
    ) -> BusinessCalendar:
        manual = frozenset(holidays)
        national = holiday_data.country_holidays(country, subdiv=subdivision) if country else None

        def is_holiday(day: date) -> bool:
            return day in manual or (national is not None and day in national)

        return cls(ZoneInfo(time_zone), week, is_holiday)

    # --- windows ----------------------------------------------------------------------------

    def day_spans(self, day: date) -> list[Span]:
        """The day's opening windows in UTC, in order; none on a holiday."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        spans: list[Span] = []
        if not self.is_holiday(day):
            midnight = datetime(day.year, day.month, day.day)
            for start, end in self.week[day.weekday()]:
                opens = self._utc(midnight + timedelta(minutes=start))
                closes = self._utc(midnight + timedelta(minutes=end))
                if closes > opens:
                    spans.append((opens, closes))
        if len(self._days) > 50_000:
            self._days.clear()
        self._days[day] = spans
        return spans

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def spans_after(self, start: datetime) -> Iterator[Span]:
        """Opening windows from `start` on, the first clipped to begin at `start`."""
        start = in_utc(start)
        day = self._local_day(start) - timedelta(days=1)
        for _ in range(SEARCH_LIMIT_DAYS):
            for opens, closes in self.day_spans(day):
                if closes > start:
                    yield max(opens, start), closes
            day += timedelta(days=1)
        raise CalendarError("no opening hours found within three years")

    def spans_before(self, end: datetime) -> Iterator[Span]:
        """Opening windows before `end`, latest first, the first clipped to end at `end`."""
        end = in_utc(end)
        day = self._local_day(end) + timedelta(days=1)
        for _ in range(SEARCH_LIMIT_DAYS):
            for opens, closes in reversed(self.day_spans(day)):
                if opens < end:
                    yield opens, min(closes, end)
            day -= timedelta(days=1)
        raise CalendarError("no opening hours found within three years")

    # --- arithmetic -------------------------------------------------------------------------

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment `amount` of business time after `start` (an opening, for zero)."""
        if amount < timedelta(0):
            return self.subtract(start, -amount)
        remaining = amount
        for opens, closes in self.spans_after(start):
            span = closes - opens
            if remaining <= span:
                return opens + remaining
            remaining -= span
        raise AssertionError("unreachable: spans_after raises when exhausted")

    def subtract(self, end: datetime, amount: timedelta) -> datetime:
        """The moment `amount` of business time before `end`."""
        if amount < timedelta(0):
            return self.add(end, -amount)
        remaining = amount
        for opens, closes in self.spans_before(end):
            span = closes - opens
            if remaining <= span:
                return closes - remaining
            remaining -= span
        raise AssertionError("unreachable: spans_before raises when exhausted")

    def normalize(self, moment: datetime) -> datetime:
        """The first business instant at or after `moment`."""
        return self.add(moment, timedelta(0))

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in `[start, end)`; zero when `end` is not after `start`."""
        start, end = in_utc(start), in_utc(end)
        if end <= start:
            return timedelta(0)
        return self._up_to(end) - self._up_to(start)

    def _up_to(self, moment: datetime) -> timedelta:
        day = self._local_day(moment)
        total = self._before_day(day)
        for opens, closes in self.day_spans(day):
            if moment <= opens:
                break
            total += min(closes, moment) - opens
        return total

    def _before_day(self, day: date) -> timedelta:
        known = self._before
        if not known:
            known[day] = timedelta(0)
            self._first = self._last = day
            return known[day]
        found = known.get(day)
        if found is not None:
            return found
        first, last = self._first, self._last
        while day > last:
            known[last + timedelta(days=1)] = known[last] + self._open_on(last)
            last += timedelta(days=1)
        while day < first:
            known[first - timedelta(days=1)] = known[first] - self._open_on(
                first - timedelta(days=1)
            )
            first -= timedelta(days=1)
        self._first, self._last = first, last
        return known[day]

    def _open_on(self, day: date) -> timedelta:
        return sum((b - a for a, b in self.day_spans(day)), timedelta(0))

    # --- with pauses ------------------------------------------------------------------------

    def elapsed(
        self, start: datetime, end: datetime, pauses: Sequence[tuple[datetime, datetime | None]]
    ) -> timedelta:
        """Business time in `[start, end)` outside every pause (a pause may still be open)."""
        total = timedelta(0)
        for a, b in running_segments(start, end, pauses):
            total += self.between(a, end if b is None else b)
        return total

    def due(
        self,
        start: datetime,
        target: timedelta,
        pauses: Sequence[tuple[datetime, datetime | None]],
    ) -> datetime | None:
        """When `target` business time outside the pauses has run from `start`; None while a
        pause that is still open stops the clock before it gets there."""
        remaining = target
        for a, b in running_segments(start, None, pauses):
            if b is None:
                return self.add(a, remaining)
            used = self.between(a, b)
            if remaining <= used:
                return self.add(a, remaining)
            remaining -= used
        return None


def running_segments(
    start: datetime,
    end: datetime | None,
    pauses: Sequence[tuple[datetime, datetime | None]],
) -> Iterator[tuple[datetime, datetime | None]]:
    """`[start, end)` less the pauses, as ordered segments; the last one is open (`None`)
    when `end` is None and no open pause cuts it."""
    cursor: datetime | None = in_utc(start)
    limit = in_utc(end) if end is not None else None
    for pause_start, pause_end in merge_pauses(pauses):
        if cursor is None:
            return
        if limit is not None and pause_start >= limit:
            break
        if pause_end is not None and pause_end <= cursor:
            continue
        if pause_start > cursor:
            yield cursor, pause_start
        cursor = None if pause_end is None else max(cursor, pause_end)
    if cursor is None:
        return
    if limit is None:
        yield cursor, None
    elif limit > cursor:
        yield cursor, limit


def merge_pauses(
    pauses: Sequence[tuple[datetime, datetime | None]],
) -> list[tuple[datetime, datetime | None]]:
    """Pauses sorted and merged where they overlap or touch; at most the last is open."""
    ordered = sorted(
        ((in_utc(a), None if b is None else in_utc(b)) for a, b in pauses), key=lambda p: p[0]
    )
    merged: list[tuple[datetime, datetime | None]] = []
    for a, b in ordered:
        if b is not None and b <= a:
            continue
        if merged:
            last_a, last_b = merged[-1]
            if last_b is None:
                break
            if a <= last_b:
                merged[-1] = (last_a, None if b is None else max(last_b, b))
                continue
        merged.append((a, b))
    return merged
