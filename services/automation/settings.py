"""Settings of the automation service alone, read from `DESKLINE_AUTOMATION_*`.

Process-wide settings (bus, database, Redis) are the kit's `Settings`.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AutomationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_AUTOMATION_", extra="ignore")

    max_rule_chain_depth: int = Field(
        default=10, description="Rule-caused changes stop at this depth."
    )
    mail_cap_per_item: int = Field(default=10, description="Rule mails per item per window.")
    mail_cap_per_workspace: int = Field(
        default=500, description="Rule mails per workspace per window."
    )
    mail_cap_window_minutes: int = Field(default=60)
    scheduler_interval: float = Field(
        default=1.0, description="Seconds between the scheduler's looks for due jobs."
    )
    scheduler_batch: int = Field(default=100, description="Jobs fired per transaction.")
    schedule_items_limit: int = Field(
        default=1000, description="Items one run of a scheduled rule evaluates at most."
    )


@lru_cache(maxsize=1)
def get_settings() -> AutomationSettings:
    return AutomationSettings()
