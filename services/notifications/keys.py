"""The service's secret put to its two uses: signing reply tokens, encrypting SMTP passwords.

Both keys are derived from one configured secret (separate derivations, so neither use can
stand in for the other)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken


class Keys:
    def __init__(self, secret: str) -> None:
        self._signing = hashlib.sha256(b"deskline-reply-token\0" + secret.encode()).digest()
        fernet_key = hashlib.sha256(b"deskline-smtp-credentials\0" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(fernet_key))

    def reply_token(self, workspace_id: str, item_id: str, user_id: str) -> str:
        """A token bound to one recipient of one item's mail: a reply through it is theirs.

        Short enough for a local part (`<slug>+r<token>@…`): 20 base32 characters of an
        HMAC-SHA256 (100 bits), case-insensitive as mail systems may fold case."""
        message = f"{workspace_id}:{item_id}:{user_id}".encode()
        digest = hmac.new(self._signing, message, hashlib.sha256).digest()
        return base64.b32encode(digest[:15]).decode().lower().rstrip("=")[:20]

    def verify(self, token: str, workspace_id: str, item_id: str, user_id: str) -> bool:
        return hmac.compare_digest(token.lower(), self.reply_token(workspace_id, item_id, user_id))

    def attachment_signature(self, mail_id: str, index: int) -> str:
        """Signs the URL of one file of one inbound mail (what lets tickets fetch it)."""
        message = f"attachment:{mail_id}:{index}".encode()
        return hmac.new(self._signing, message, hashlib.sha256).hexdigest()[:40]

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str | None:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            return None


@lru_cache(maxsize=8)
def keys_for(secret: str) -> Keys:
    return Keys(secret)
