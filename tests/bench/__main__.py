"""`make bench`: every benchmark prints its figure beside a baseline measured in the same run."""

from __future__ import annotations

import sys

import uvloop

from tests.bench import (
    automation_rules,
    bus_throughput,
    idle_memory,
    integrations_webhooks,
    notifications_mail,
    tickets_items,
    timetracking_reports,
)

BENCHES = {
    "bus": bus_throughput.run,
    "integrations": integrations_webhooks.run,
    "memory": idle_memory.run,
    "notifications": notifications_mail.run,
    "tickets": tickets_items.run,
    "timetracking": timetracking_reports.run,
    "automation": automation_rules.run,
}


async def main(names: list[str]) -> None:
    """All benchmarks, or those named: `python -m tests.bench tickets`."""
    for name in names or list(BENCHES):
        await BENCHES[name]()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1:]))
