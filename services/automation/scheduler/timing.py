"""When a timed rule next runs: a cron expression, or a daily minute, in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]

from services.automation.rules.schemas import Trigger


def next_run(trigger: Trigger, after: datetime) -> datetime:
    """The first run strictly after `after` (UTC)."""
    zone = ZoneInfo(trigger.time_zone)
    local = after.astimezone(zone)
    if trigger.kind == "schedule" and trigger.cron:
        found: datetime = croniter(trigger.cron, local).get_next(datetime)
        return found.astimezone(UTC)
    day = local.date()
    for _ in range(3):
        midnight = datetime(day.year, day.month, day.day)
        candidate = (midnight + timedelta(minutes=trigger.at_minute)).replace(tzinfo=zone)
        if candidate.astimezone(UTC) > after.astimezone(UTC):
            return candidate.astimezone(UTC)
        day += timedelta(days=1)
    raise AssertionError("a daily run is always found within three days")
