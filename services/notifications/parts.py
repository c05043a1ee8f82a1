"""The mail machinery of one running service (sender, processor), made once per runtime and
shared by its HTTP app and its background tasks."""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

from kit.runtime import ServiceRuntime
from services.notifications.inbound.intake import Intake
from services.notifications.inbound.processor import Processor
from services.notifications.inbound.ratelimit import RateLimit
from services.notifications.inbound.service import Processing
from services.notifications.keys import Keys, keys_for
from services.notifications.outbound.sender import Sender
from services.notifications.settings import NotificationsSettings, get_settings


@dataclass(frozen=True)
class MailParts:
    settings: NotificationsSettings
    keys: Keys
    sender: Sender
    processor: Processor
    processing: Processing
    limiter: RateLimit
    intake: Intake
    """Shared by the SMTP listener and the HTTP endpoint: mail from both commits together."""


_parts: WeakKeyDictionary[ServiceRuntime, MailParts] = WeakKeyDictionary()


def mail_parts(runtime: ServiceRuntime) -> MailParts:
    found = _parts.get(runtime)
    if found is None:
        settings = get_settings()
        keys = keys_for(settings.secret_key(runtime.settings.var_dir))
        sender = Sender(runtime.unit_of_work, settings, keys, runtime.settings.var_dir)
        kit = runtime.settings
        public_url = settings.public_url or f"http://{kit.host}:{kit.port}/api/notifications"
        how = Processing(settings, keys, public_url.rstrip("/"))
        limiter = RateLimit(runtime.redis, kit.key_prefix, settings)
        processor = Processor(runtime.unit_of_work, how)
        intake = Intake(runtime.unit_of_work, processor.wake)
        found = MailParts(settings, keys, sender, processor, how, limiter, intake)
        _parts[runtime] = found
    return found
