"""The processor: a background task turning stored mails into outcomes, one transaction per
mail (an exception in one mail is recorded on it and never stops the others)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.inbound import repository
from services.notifications.inbound.service import Processing, process

log = get_logger(__name__)

WORKERS = 4
BATCH = 64


class Processor:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], how: Processing) -> None:
        self._unit_of_work = unit_of_work
        self._how = how
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                handled = await self.process_pending()
            except Exception as error:  # the database may be away: try again, do not die
                log.error("mail.processor.batch_failed", error=repr(error))
                handled = 0
            if handled:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._how.settings.inbound_poll_interval)

    async def process_pending(self) -> int:
        async with self._unit_of_work() as uow:
            ids = await repository.pending_ids(uow.session, BATCH)
        if not ids:
            return 0
        queue: asyncio.Queue[str] = asyncio.Queue()
        for mail_id in ids:
            queue.put_nowait(mail_id)
        await asyncio.gather(*(self._work(queue) for _ in range(min(WORKERS, len(ids)))))
        return len(ids)

    async def _work(self, queue: asyncio.Queue[str]) -> None:
        while not queue.empty():
            mail_id = queue.get_nowait()
            try:
                await self._one(mail_id)
            except Exception as error:
                log.exception("mail.inbound.process_failed", mail_id=mail_id)
                await self._record_failure(mail_id, error)

    async def _one(self, mail_id: str) -> None:
        async with self._unit_of_work() as uow:
            row = await repository.claim(uow.session, mail_id)
            if row is None:
                return  # another worker has it, or it is done
            await process(uow, row, self._how)
            await uow.commit()

    async def _record_failure(self, mail_id: str, error: Exception) -> None:
        async with self._unit_of_work() as uow:
            row = await repository.claim(uow.session, mail_id)
            if row is None:
                return
            row.status, row.reason = "failed", f"processing error: {error!r}"[:2000]
            row.processed_at = datetime.now(UTC)
            await uow.commit()
