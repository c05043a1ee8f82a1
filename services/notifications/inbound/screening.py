"""Loop and noise protection: what is never answered and never becomes a ticket."""

from __future__ import annotations

from services.notifications.inbound.parsing import ParsedMail

NOISY_PRECEDENCE = frozenset({"bulk", "list", "junk"})


def noise(
    mail: ParsedMail, *, mail_from: str, own_domain: str, own_addresses: set[str]
) -> str | None:
    """Why this mail is an automatic one, or None for a person's mail."""
    headers = mail.headers
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto[:80]}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in NOISY_PRECEDENCE:
        return f"Precedence: {precedence}"
    if "x-loop" in headers:
        return "X-Loop header present"
    if headers.get("x-auto-response-suppress", "").strip().lower() in ("all", "oof", "autoreply"):
        return f"X-Auto-Response-Suppress: {headers['x-auto-response-suppress'][:40]}"
    if mail.content_type == "multipart/report":
        return "delivery or read report"
    if mail_from.strip() in ("", "<>"):
        return "null envelope sender (a bounce)"
    sender = mail.sender_email
    if sender in own_addresses or sender.endswith(f"@{own_domain}"):
        return "sent from our own address"
    local = sender.split("@", 1)[0]
    if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply"):
        return f"sent by {local}"
    return None
