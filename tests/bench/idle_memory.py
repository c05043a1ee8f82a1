"""Peak resident memory of `deskline run` (all six services, embedded defaults) when idle."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from tests.support.harness import free_port

SAMPLE_SECONDS = 5.0


async def run() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as var_dir:
        env = {**os.environ, "DESKLINE_VAR_DIR": var_dir, "DESKLINE_LOG_JSON": "true"}
        for key in ("DESKLINE_BUS_URL", "DESKLINE_DATABASE_URL", "DESKLINE_REDIS_URL"):
            env.pop(key, None)
        deskline = Path(sys.executable).with_name("deskline")
        process = await asyncio.create_subprocess_exec(
            str(deskline),
            "run",
            "--port",
            str(port),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient() as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).is_success:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("deskline run did not start within 60 s")
                    await asyncio.sleep(0.2)
            watched = psutil.Process(process.pid)
            peak = 0
            end = time.monotonic() + SAMPLE_SECONDS
            while time.monotonic() < end:
                peak = max(peak, watched.memory_info().rss)
                await asyncio.sleep(0.1)
            baseline = psutil.Process().memory_info().rss
        finally:
            process.terminate()
            await process.wait()
    print("deskline run, idle:")
    print(f"  peak RSS of the six-service process   : {peak / 2**20:8.1f} MB (target < 300 MB)")
    print(f"  this benchmark's own Python (baseline): {baseline / 2**20:8.1f} MB")
