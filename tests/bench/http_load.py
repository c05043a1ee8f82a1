"""A lean HTTP/1.1 load client for open-loop benchmarks: a fixed pool of keep-alive
connections, each carrying one request at a time.

httpx costs the benchmark process several milliseconds of CPU per request once the server
slows down (its pool opens a connection per waiting request and scans them all), and on
two cores that CPU is taken from the system being measured. Here a request that finds
every connection busy waits for one — the wait counts in its latency, as it should in an
open loop — and a request costs little more than its bytes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LoadClient:
    def __init__(self, host: str, port: int, connections: int) -> None:
        self._host, self._port = host, port
        self._size = connections
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )
        self._open: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> LoadClient:
        for _ in range(self._size):
            self._idle.put_nowait(None)  # opened on first use
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._open:
            writer.close()

    async def post_json(self, path: str, payload: Any, headers: dict[str, str]) -> Answer:
        body = json.dumps(payload).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{head}\r\n"
        ).encode() + body
        connection = await self._idle.get()
        try:
            if connection is None:
                connection = await asyncio.open_connection(self._host, self._port)
                self._open.append(connection[1])
            reader, writer = connection
            writer.write(request)
            answer = await _read_answer(reader)
        except BaseException:
            if connection is not None:
                connection[1].close()
            self._idle.put_nowait(None)  # a fresh connection next time
            raise
        self._idle.put_nowait(connection)
        return answer


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
            raise ValueError("chunked answers are not expected from the services measured")
    return Answer(status, await reader.readexactly(length) if length else b"")
