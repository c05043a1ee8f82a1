"""One queue for every event a trigger is built from."""

from __future__ import annotations

from kit.consumers import Consumer
from services.integrations.triggers.catalog import BUILDERS
from services.integrations.triggers.service import take_in

CONSUMERS = [Consumer("triggers", sorted(BUILDERS), take_in)]
