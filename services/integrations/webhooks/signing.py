"""Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

The `standardwebhooks` package computes each signature. While a rotated-out secret is
still in its overlap window, the message carries a signature by each secret (space
separated, as the specification allows), so receivers can switch secrets at their pace.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(secrets_in_use: Sequence[str], msg_id: str, at: datetime, body: str) -> str:
    return " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets_in_use)


def headers(secrets_in_use: Sequence[str], msg_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(secrets_in_use, msg_id, at, body),
        "content-type": "application/json",
        "user-agent": "Deskline-Webhooks/1",
    }
