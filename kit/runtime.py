"""One service's live resources: its database, its outbox relay, its consumers on the bus.

The same runtime runs whether the service is alone in its process or beside
the five others; only the launcher decides which.
"""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from kit.auth import TokenVerifier
from kit.bus.base import Bus, Subscription
from kit.consumers import transactional
from kit.db.engine import create_engine
from kit.logging import get_logger
from kit.module import ServiceModule
from kit.outbox import OutboxRelay
from kit.settings import Settings
from kit.supervisor import Supervisor
from kit.uow import UnitOfWork

log = get_logger(__name__)


class ServiceRuntime:
    def __init__(
        self,
        module: ServiceModule,
        settings: Settings,
        *,
        bus: Bus,
        redis: Redis,
        supervisor: Supervisor,
    ) -> None:
        self.module = module
        self.name = module.name
        self.settings = settings
        self.bus = bus
        self.redis = redis
        self.supervisor = supervisor
        self.database_url = settings.database_url_for(module.name)
        self.engine = create_engine(self.database_url)
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False)
        self.token_verifier = TokenVerifier.from_settings(settings)
        self.relay = OutboxRelay(
            module.name,
            self.engine,
            bus,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval,
            linger=settings.outbox_linger,
        )
        self.subscriptions = [
            Subscription(
                service=module.name,
                name=consumer.name,
                patterns=tuple(consumer.patterns),
                handler=transactional(module.name, consumer, self.unit_of_work),
                prefetch=consumer.prefetch,
            )
            for consumer in module.consumers
        ]
        for subscription in self.subscriptions:
            bus.subscribe(subscription)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, on_commit=self.relay.wake)

    async def start(self) -> None:
        self.supervisor.spawn(f"{self.name}:outbox-relay", self.relay.run())
        for name, coroutine in self.module.background(self):
            self.supervisor.spawn(f"{self.name}:{name}", coroutine)
        log.info("service started", service=self.name, database=self.engine.url.render_as_string())

    async def stop(self) -> None:
        await self.engine.dispose()

    async def readiness(self) -> dict[str, bool]:
        checks = {
            "bus": self.bus.is_connected(),
            "consumers": self.bus.consumers_alive(),
            "background": self.supervisor.alive,
        }
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = True
        except Exception as error:  # readiness reports, it does not raise
            log.warning("database not ready", service=self.name, error=repr(error))
            checks["database"] = False
        return checks
