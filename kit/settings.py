"""Process-wide settings, read from `DESKLINE_*` environment variables (or `.env`).

The defaults are the embedded mode: in-memory bus, one SQLite file per service
under `var/`, an in-process Redis stand-in. Setting the URLs switches to real
infrastructure without any code path branching on the mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

SERVICE_NAMES = (
    "identity",
    "tickets",
    "notifications",
    "automation",
    "timetracking",
    "integrations",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKLINE_", env_file=".env", extra="ignore")

    bus_url: str = Field(default="memory://", description="memory:// or amqp://user:pass@host/")
    database_url: str | None = Field(
        default=None,
        description="Server URL; each service uses its own database `<name>_<service>`.",
    )
    redis_url: str | None = Field(default=None, description="Unset: in-process stand-in.")
    namespace: str = Field(default="deskline", description="Prefix of every exchange and queue.")
    redis_prefix: str | None = Field(default=None, description="Default: `<namespace>:`.")
    var_dir: Path = Path("var")

    host: str = "127.0.0.1"
    port: int = 8000
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="Proxies (the gateway) trusted for X-Forwarded-*."
    )
    # A little over the largest attachment, so its own limit answers first (multipart adds bytes).
    max_body_bytes: int = 26 * 1024 * 1024
    log_json: bool | None = Field(default=None, description="Default: JSON unless on a TTY.")
    log_level: str = "INFO"
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="uvloop (faster sockets) where installed, or the standard asyncio loop",
    )

    prefetch: int = Field(default=128, ge=1)
    retry_delays: list[float] = Field(default=[1.0, 10.0, 60.0, 300.0])
    delivery_limit: int = Field(default=20, ge=1, description="Redeliveries before dead-letter.")
    bus_connect_backoff_max: float = 10.0
    consumer_watchdog_interval: float = 2.0

    outbox_batch_size: int = Field(default=500, ge=1)
    outbox_poll_interval: float = Field(default=1.0, gt=0)
    outbox_linger: float = Field(
        default=0.01,
        ge=0,
        description="Seconds a relay woken by a commit waits for more commits to share a batch.",
    )

    jwt_public_key: str | None = Field(default=None, description="PEM or JWKS JSON of identity.")
    jwt_public_key_url: str | None = Field(default=None, description="Identity's JWKS URL.")
    jwt_issuer: str = "deskline-identity"
    jwt_audience: str = "deskline"

    @property
    def jwks_url(self) -> str:
        """Identity's JWKS; by default this very process, as in the one-process mode."""
        if self.jwt_public_key_url:
            return self.jwt_public_key_url
        return f"http://{self.host}:{self.port}/api/identity/.well-known/jwks.json"

    @property
    def key_prefix(self) -> str:
        return self.redis_prefix if self.redis_prefix is not None else f"{self.namespace}:"

    @property
    def uses_amqp(self) -> bool:
        return self.bus_url.startswith(("amqp://", "amqps://"))

    def database_url_for(self, service: str) -> str:
        """One database per service: an explicit per-service URL wins, else a suffixed name.

        `DESKLINE_<SERVICE>_DATABASE_URL` lets an operator put a service anywhere;
        otherwise `postgresql+asyncpg://h/deskline` becomes `.../deskline_<service>`.
        """
        explicit = os.environ.get(f"DESKLINE_{service.upper()}_DATABASE_URL")
        if explicit:
            return explicit
        if self.database_url is None:
            path = (self.var_dir / f"{service}.sqlite3").resolve()
            return f"sqlite+aiosqlite:///{path}"
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            base = Path(url.database or "deskline.sqlite3")
            return str(url.set(database=str(base.with_name(f"{base.stem}_{service}{base.suffix}"))))
        return url.set(database=f"{url.database or 'deskline'}_{service}").render_as_string(
            hide_password=False
        )
