"""`make bench`: every benchmark prints its figure beside a baseline measured in the same run."""

from __future__ import annotations

import uvloop

from tests.bench import bus_throughput, idle_memory


async def main() -> None:
    await bus_throughput.run()
    await idle_memory.run()


if __name__ == "__main__":
    uvloop.run(main())
