"""Events produced by the automation service (SLA clocks) that notifications and
integrations act on. Rule actions travel as the owning service's commands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.envelope import EventData
from contracts.registry import registry
from contracts.tickets import ItemSnapshot

SOURCE = "automation"

SlaTarget = Literal["first_response", "next_response", "resolution"]


class _SlaClockEvent(EventData):
    workspace_id: UUID
    item: ItemSnapshot
    policy_id: UUID
    policy_name: str
    target: SlaTarget
    due_at: datetime = Field(description="When the target falls due, in wall-clock time (UTC).")


@registry.event(
    "automation.sla.warning.v1",
    source=SOURCE,
    summary="An SLA target of an item falls due soon (in business time).",
)
class SlaWarning(_SlaClockEvent):
    business_minutes_left: int = Field(ge=0)


@registry.event(
    "automation.sla.breached.v1",
    source=SOURCE,
    summary="An SLA target of an item was missed.",
)
class SlaBreached(_SlaClockEvent):
    breached_at: datetime


@registry.event(
    "automation.sla.met.v1",
    source=SOURCE,
    summary="An SLA target of an item was met (responded or resolved in time), or missed late.",
)
class SlaMet(_SlaClockEvent):
    met_at: datetime
    business_minutes_used: int = Field(ge=0)
    breached: bool = Field(description="True when it was met only after its due time.")
