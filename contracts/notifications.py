"""Events produced by the notifications service (mail in and out, the in-app feed)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import EventData
from contracts.registry import registry
from contracts.tickets import CommandOrigin

SOURCE = "notifications"


@registry.event(
    "notifications.requester.discovered.v1",
    source=SOURCE,
    summary="A mail came from an unknown sender; the sender becomes a client with this id.",
)
class RequesterDiscovered(EventData):
    """Notifications mints the user id (no synchronous call on the mail path); identity
    adopts it, creating an unclaimed client account that can later be claimed."""

    user_id: UUID
    workspace_id: UUID
    email: str = Field(min_length=3, max_length=320)
    display_name: str = ""
    client_organisation_id: UUID | None = None


class MailAttachment(BaseModel):
    """A file of an inbound mail, fetched by the consumer from notifications (a signed,
    unguessable URL) rather than carried in the event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=127)
    size: int = Field(ge=0)
    url: str = Field(min_length=1, description="GET it for the bytes (no credentials needed).")


@registry.event(
    "notifications.email.received.v1",
    source=SOURCE,
    summary="An inbound mail was accepted and threaded: a new request, or a reply to an item.",
)
class EmailReceived(EventData):
    """Notifications has stored the raw mail, dropped auto-replies and loops, stripped the
    quoted history, and resolved the sender (minting a client id if unknown) and, for a
    reply, the item (from the reply token or Message-ID/References)."""

    message_id: str = Field(min_length=1, description="The mail's Message-ID.")
    workspace_id: UUID
    sender_user_id: UUID
    sender_email: str
    sender_name: str = ""
    subject: str = ""
    body_html: str = Field(description="The new text only (quotes stripped), sanitised HTML.")
    project_id: UUID | None = Field(
        default=None, description="Chosen by the inbound address (e.g. support+campaigns@)."
    )
    reply_to_item_id: UUID | None = Field(
        default=None, description="Set when the mail answers an item's notification."
    )
    attachments: list[MailAttachment] = Field(
        default_factory=list, description="Files of the mail, to become item attachments."
    )


RecipientRole = Literal["requester", "assignees", "followers", "staff_followers"]


class MessageRecipient(BaseModel):
    """One addressee of a rule's message: a person, an address, or a role on the item."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: UUID | None = None
    email: str | None = Field(default=None, max_length=320)
    role: RecipientRole | None = Field(
        default=None, description="Resolved by notifications from its projection of the item."
    )


@registry.event(
    "notifications.command.send_message.v1",
    source=SOURCE,
    summary="Send a mail and/or an in-app notification to chosen people (e.g. from a rule).",
    command=True,
)
class SendMessage(EventData):
    """The sender (automation) renders the text; notifications resolves the recipients,
    applies their preferences, brands the mail and sends it once per (command, recipient).
    A `private` message is never delivered to a client, whatever the recipient list says."""

    workspace_id: UUID
    item_id: UUID | None = None
    recipients: list[MessageRecipient] = Field(min_length=1)
    channel: Literal["mail", "in_app", "both"] = "both"
    subject: str = Field(min_length=1, max_length=998)
    body_html: str = Field(min_length=1)
    visibility: Literal["public", "private"] = "private"
    kind: str = Field(default="rule", description="Notification kind, for preferences.")
    origin: CommandOrigin = Field(default_factory=CommandOrigin)
