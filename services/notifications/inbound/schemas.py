"""Shapes of the inbound-mail API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class InboundMail(BaseModel):
    """A stored inbound mail and its recorded outcome."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str
    mail_from: str
    recipient: str
    size: int
    received_at: datetime
    status: str
    reason: str | None
    message_id: str | None
    subject: str
    sender_user_id: str | None
    item_id: str | None
    processed_at: datetime | None


class InboundAccepted(BaseModel):
    id: str
    status: str = "received"


class InboundPage(BaseModel):
    items: list[InboundMail]
    next_cursor: str | None
