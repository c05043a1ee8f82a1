"""Mail decided by other services' events and commands."""

from __future__ import annotations

from kit.consumers import Consumer
from services.notifications.outbound.notices import (
    on_comment_added,
    on_item_created,
    on_send_message,
    on_status_changed,
)

CONSUMERS = [
    Consumer("mail-comments", ["tickets.comment.added.v1"], on_comment_added),
    Consumer("mail-status", ["tickets.item.status_changed.v1"], on_status_changed),
    Consumer("mail-acknowledgements", ["tickets.item.created.v1"], on_item_created),
    Consumer("mail-messages", ["notifications.command.send_message.v1"], on_send_message),
]
