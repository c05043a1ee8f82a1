"""Settings of the timetracking service alone, read from `DESKLINE_TIMETRACKING_*`.

Process-wide settings (bus, database, Redis) are the kit's `Settings`.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TimetrackingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_TIMETRACKING_", extra="ignore")

    timer_flag_after_hours: float = Field(
        default=12.0, description="A timer running longer is flagged, not billed."
    )


@lru_cache(maxsize=1)
def get_settings() -> TimetrackingSettings:
    return TimetrackingSettings()
