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


@lru_cache(maxsize=1)
def get_settings() -> AutomationSettings:
    return AutomationSettings()
