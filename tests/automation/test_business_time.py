"""Business-time arithmetic, property-tested: adding then subtracting round-trips, pauses
exclude exactly the paused intervals, DST days count the real time open, holidays are
closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.automation.sla.business_time import BusinessCalendar, CalendarError

OFFICE = [[(540, 720), (780, 1020)]] * 5 + [[], []]
"""Monday to Friday 09:00-12:00 and 13:00-17:00 (a lunch break), closed at weekends."""

ZONES = ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]

moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
minutes = st.integers(min_value=1, max_value=60 * 24 * 30)


def calendar(zone: str = "Europe/Paris", holidays: list[date] | None = None) -> BusinessCalendar:
    return BusinessCalendar.build(zone, OFFICE, holidays or [])


def trim(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@settings(max_examples=300, deadline=None)
@given(start=moments, amount=minutes, zone=st.sampled_from(ZONES))
def test_adding_then_subtracting_round_trips(start: datetime, amount: int, zone: str) -> None:
    office = calendar(zone)
    start = trim(start)
    later = office.add(start, timedelta(minutes=amount))
    assert office.subtract(later, timedelta(minutes=amount)) == office.normalize(start)
    assert office.between(start, later) == timedelta(minutes=amount)


@settings(max_examples=200, deadline=None)
@given(
    start=moments,
    amount=minutes,
    zone=st.sampled_from(ZONES),
    country=st.sampled_from(["FR", "US", "DE", "GB"]),
)
def test_national_holidays_round_trip_and_are_closed(
    start: datetime, amount: int, zone: str, country: str
) -> None:
    office = BusinessCalendar.build(zone, OFFICE, country=country)
    start = trim(start)
    later = office.add(start, timedelta(minutes=amount))
    assert office.subtract(later, timedelta(minutes=amount)) == office.normalize(start)
    assert office.between(start, later) == timedelta(minutes=amount)


@settings(max_examples=300, deadline=None)
@given(
    start=moments,
    span=st.integers(min_value=0, max_value=60 * 24 * 40),
    pauses=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=60 * 24 * 40),
            st.integers(min_value=1, max_value=60 * 24 * 5),
        ),
        max_size=6,
    ),
)
def test_pauses_exclude_exactly_the_paused_business_time(
    start: datetime, span: int, pauses: list[tuple[int, int]]
) -> None:
    office = calendar()
    start = trim(start)
    end = start + timedelta(minutes=span)
    intervals = sorted(
        (start + timedelta(minutes=a), start + timedelta(minutes=a + length))
        for a, length in pauses
    )
    # Paused business time, counted minute by minute from the merged intervals' union.
    paused = timedelta(0)
    merged: list[tuple[datetime, datetime]] = []
    for a, b in intervals:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    for a, b in merged:
        paused += office.between(max(a, start), min(b, end))
    pause_list: list[tuple[datetime, datetime | None]] = list(intervals)
    assert office.elapsed(start, end, pause_list) == office.between(start, end) - paused


@settings(max_examples=200, deadline=None)
@given(start=moments, target=minutes, pause_at=minutes, pause_for=minutes)
def test_a_due_time_is_the_target_plus_the_paused_time(
    start: datetime, target: int, pause_at: int, pause_for: int
) -> None:
    office = calendar()
    start = trim(start)
    pause = (start + timedelta(minutes=pause_at), start + timedelta(minutes=pause_at + pause_for))
    due = office.due(start, timedelta(minutes=target), [pause])
    assert due is not None
    assert office.elapsed(start, due, [pause]) == timedelta(minutes=target)
    still_paused = office.due(start, timedelta(minutes=target), [(pause[0], None)])
    if office.between(start, pause[0]) >= timedelta(minutes=target):
        assert still_paused == office.add(start, timedelta(minutes=target))
    else:
        assert still_paused is None


def test_the_night_clocks_go_forward_is_an_hour_shorter() -> None:
    night = [[(60, 240)]] * 7  # 01:00-04:00 local, every day
    paris = BusinessCalendar.build("Europe/Paris", night)
    paris_zone = ZoneInfo("Europe/Paris")
    spring = datetime(2026, 3, 29, tzinfo=paris_zone)  # 02:00 becomes 03:00
    autumn = datetime(2026, 10, 25, tzinfo=paris_zone)  # 03:00 becomes 02:00 again
    ordinary = datetime(2026, 3, 28, tzinfo=paris_zone)
    day = timedelta(hours=20)
    assert paris.between(ordinary, ordinary + day) == timedelta(hours=3)
    assert paris.between(spring, spring + day) == timedelta(hours=2)
    assert paris.between(autumn, autumn + day) == timedelta(hours=4)


@settings(max_examples=100, deadline=None)
@given(start=moments, amount=minutes)
def test_round_trip_holds_across_dst_in_a_zone_open_through_the_change(
    start: datetime, amount: int
) -> None:
    night = [[(0, 300), (1320, 1440)]] * 7  # 00:00-05:00 and 22:00-24:00, spanning the change
    office = BusinessCalendar.build("America/New_York", night)
    start = trim(start)
    later = office.add(start, timedelta(minutes=amount))
    assert office.subtract(later, timedelta(minutes=amount)) == office.normalize(start)
    assert office.between(start, later) == timedelta(minutes=amount)


def test_holidays_are_closed_and_skipped() -> None:
    christmas = date(2026, 12, 25)  # a Friday
    office = calendar(holidays=[christmas])
    thursday_close = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # 17:00 in Paris
    assert office.add(thursday_close, timedelta(minutes=30)) == datetime(
        2026, 12, 28, 8, 30, tzinfo=UTC
    )  # Monday 09:30 in Paris
    day = datetime(2026, 12, 25, tzinfo=UTC)
    assert office.between(day - timedelta(hours=1), day + timedelta(hours=23)) == timedelta(0)
    national = BusinessCalendar.build("Europe/Paris", OFFICE, country="FR")
    bastille = datetime(2026, 7, 14, tzinfo=UTC)  # a Tuesday
    assert national.between(bastille - timedelta(hours=2), bastille + timedelta(hours=22)) == (
        timedelta(0)
    )


def test_a_calendar_never_open_is_refused() -> None:
    with pytest.raises(CalendarError):
        BusinessCalendar.build("UTC", [[]] * 7)
    everything_off = BusinessCalendar(ZoneInfo("UTC"), [[(0, 60)]] * 7, lambda _day: True)
    with pytest.raises(CalendarError):
        everything_off.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1))
