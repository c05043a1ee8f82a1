"""Preference bodies. A kind is a short lowercase name (the known ones are listed by
`GET /preferences`; automation rules may send their own kinds, which are settable too)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Channel = Literal["both", "in_app", "mail", "off"]
"""`both`: in the app, and by mail (at once for follower mail, else when still unread after the
forwarding delay); `in_app`: never mailed; `mail`: mailed only; `off`: nothing at all."""

Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,39}$")]

FORWARD_MAX_MINUTES = 7 * 24 * 60


class PreferencesUpdate(BaseModel):
    """Partial: only what is sent changes. `channels` merges into the stored choices; a kind
    set to its default is simply forgotten. `forward_after_minutes: null` restores the default."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[Kind, Channel] = Field(default_factory=dict, max_length=100)
    forward_after_minutes: int | None = Field(default=None, ge=1, le=FORWARD_MAX_MINUTES)


class KindPreference(BaseModel):
    kind: str
    channel: Channel
    default: Channel
    noisy: bool = Field(description="Announcements many people want muted (e.g. access granted).")
    description: str


class Preferences(BaseModel):
    channels: list[KindPreference]
    forward_after_minutes: int
    forward_after_minutes_is_default: bool
