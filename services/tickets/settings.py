"""Settings of the tickets service alone, read from `DESKLINE_TICKETS_*`.

Process-wide settings (bus, database, Redis) are the kit's `Settings`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TicketsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_TICKETS_", extra="ignore")

    attachment_max_bytes: int = Field(
        default=25 * 1024 * 1024, description="Largest attachment accepted."
    )
    attachment_dir: Path | None = Field(
        default=None,
        description="Root of the local-disk attachment storage; default `<var_dir>/attachments`.",
    )


@lru_cache(maxsize=1)
def get_settings() -> TicketsSettings:
    return TicketsSettings()
