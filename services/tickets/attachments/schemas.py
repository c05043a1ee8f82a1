"""Attachment metadata as the API shows it, and the form fields sent beside an upload."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Visibility = Literal["public", "private"]


class AttachmentCreate(BaseModel):
    """The non-file fields of the multipart upload (the file itself is streamed, never held
    in a model)."""

    model_config = ConfigDict(extra="ignore")

    comment_id: str | None = Field(default=None, min_length=1, max_length=36)
    visibility: Visibility = "public"


class Attachment(BaseModel):
    id: str
    item_id: str
    comment_id: str | None
    filename: str = Field(description="Display name, cleaned of paths and control characters.")
    content_type: str
    size: int
    visibility: Visibility
    uploaded_by: str | None
    created_at: datetime


UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "comment_id": {
                            "type": "string",
                            "description": "Attach to this comment of the item; a private "
                            "note's attachments are private.",
                        },
                        "visibility": {
                            "type": "string",
                            "enum": ["public", "private"],
                            "default": "public",
                            "description": "Clients may upload public attachments only.",
                        },
                    },
                },
                "encoding": {"file": {"contentType": "application/octet-stream"}},
            }
        },
    }
}
"""The request body FastAPI cannot infer, since the endpoint reads the stream itself."""
