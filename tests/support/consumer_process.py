"""The probe consumer as its own OS process, so a test can kill it for real."""

from __future__ import annotations

import argparse
import asyncio

from kit.bus.rabbit import RabbitBus
from kit.logging import configure_logging
from kit.settings import Settings
from tests.support.pair import CONSUMER, ObservedBus, runtime


async def main(kill_after: int | None) -> None:
    settings = Settings()
    configure_logging(json=True)
    bus = ObservedBus(
        RabbitBus(settings.bus_url, namespace=settings.namespace, watchdog_interval=0.5),
        kill_after_effect=kill_after,
    )
    consumer = runtime(CONSUMER, settings, bus)
    await consumer.start()
    await bus.start()
    await consumer.supervisor.failed.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kill-after", type=int, default=None)
    asyncio.run(main(parser.parse_args().kill_after))
