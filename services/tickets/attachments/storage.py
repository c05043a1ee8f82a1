"""Where attachment bytes live, behind a small interface so an object store can replace the disk.

The database row is the truth about an attachment; storage only holds bytes under an opaque key
the service mints. Keys never contain anything the user sent (their filename is display data in
the row), so no upload can name a path, overwrite another file or collide with one.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import IO, Protocol

import anyio
import anyio.to_thread

from kit.settings import Settings
from services.tickets.settings import get_settings

CHUNK_SIZE = 64 * 1024
"""Read size when serving: small enough to keep memory flat, large enough to keep thread hops
rare."""

WRITE_BUFFER = 1024 * 1024
"""Incoming chunks (often a few KiB each) are gathered up to this size before a write, so a
large upload costs a few dozen thread hops, not thousands."""

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}$")


class StoredObjectMissing(LookupError):
    """The row names a key the storage does not hold (lost disk, manual cleanup)."""


class AttachmentStorage(Protocol):
    async def put(self, key: str, data: bytes | AsyncIterable[bytes]) -> None:
        """Store all of `data` under `key`, or nothing at all if `data` fails midway."""
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes in chunks; raises `StoredObjectMissing` before the first chunk, so
        a caller can still answer 404 rather than break a response already started."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a key already gone is not an error (deletes are retried)."""
        ...


def new_key() -> str:
    """Random rather than time-ordered, so objects spread evenly over the two shard levels
    (65,536 directories) and a key reveals nothing about when or by whom it was written."""
    digest = uuid.uuid4().hex
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


class LocalStorage:
    """Files under one root directory; every blocking call runs in a worker thread so a slow
    disk never stalls the event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        """Only keys of `new_key`'s shape are accepted: a tampered or corrupt row can never point
        the storage outside its root."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes | AsyncIterable[bytes]) -> None:
        """Written to a hidden temporary file beside the target, flushed to disk, then renamed:
        a reader sees the whole object or none, and a failed or cancelled upload leaves
        nothing behind."""
        target = self.path(key)
        handle, temporary = await anyio.to_thread.run_sync(_create_temporary, target)
        try:
            if isinstance(data, bytes):
                await anyio.to_thread.run_sync(handle.write, data)
            else:
                buffer = bytearray()
                async for chunk in data:
                    buffer += chunk
                    if len(buffer) >= WRITE_BUFFER:
                        await anyio.to_thread.run_sync(handle.write, bytes(buffer))
                        buffer.clear()
                if buffer:
                    await anyio.to_thread.run_sync(handle.write, bytes(buffer))
            await anyio.to_thread.run_sync(_publish, handle, temporary, target)
        except BaseException:
            # Shielded: a cancelled upload must still remove its partial file.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_discard, handle, temporary)
            raise

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self.path(key)
        try:
            handle = await anyio.to_thread.run_sync(path.open, "rb")
        except FileNotFoundError as error:
            raise StoredObjectMissing(key) from error
        return _chunks(handle)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.path(key).unlink(missing_ok=True))


def storage_for(settings: Settings) -> AttachmentStorage:
    """The configured storage, resolved on every use rather than once at start-up: cheap (no
    I/O), and it lets an operator or a test point one process at another directory."""
    root = get_settings().attachment_dir or settings.var_dir / "attachments"
    return LocalStorage(root)


def _create_temporary(target: Path) -> tuple[IO[bytes], Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as the target: the rename stays on one file system, hence atomic. The
    # leading dot keeps it out of the key space, so it can never be served.
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.part"
    return temporary.open("xb"), temporary


def _publish(handle: IO[bytes], temporary: Path, target: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(temporary, target)
    # The rename itself is durable only once the directory entry is flushed too.
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _discard(handle: IO[bytes], temporary: Path) -> None:
    handle.close()
    temporary.unlink(missing_ok=True)


async def _chunks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK_SIZE):
            yield chunk
    finally:
        handle.close()
