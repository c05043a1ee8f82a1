"""Hot statements sent straight through the asyncpg connection of a session's transaction.

SQLAlchemy's per-execution work (cache-key lookup, parameter processing, result set-up, the
greenlet hop) costs as much as a small statement's round trip. A statement run on every
request is therefore compiled once per dialect here and then handed to the driver with its
parameters already in order, on the very connection (and transaction) the session uses, so
it commits or rolls back with everything else.

Bind processing stays SQLAlchemy's: each parameter goes through its type's own
`bind_processor` (JSON serialisation, float coercion), exactly as a Core execution would.
Where the driver path does not apply — SQLite, or a session whose transaction has not sent
its first statement yet (SQLAlchemy opens the driver's transaction lazily) — the statement
runs through SQLAlchemy as usual, so callers need no second code path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

_Binder = tuple[str, Any, Callable[[Any], Any] | None]
"""A positional parameter: its name, its compiled-in value (a literal), its bind processor."""


class DriverStatement:
    """A Core statement with named bind parameters, run on the driver when it can be."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[int, tuple[str, list[_Binder]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, list[_Binder]]:
        known = self._compiled.get(id(dialect))
        if known is None:
            compiled = cast(ClauseElement, self.statement).compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            assert compiled.positiontup is not None
            binders: list[_Binder] = [
                (
                    name,
                    compiled.binds[name].effective_value,
                    compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
                )
                for name in compiled.positiontup
            ]
            known = (compiled.string, binders)
            self._compiled[id(dialect)] = known
        return known

    async def _driver(self, session: AsyncSession) -> Any | None:
        """The asyncpg connection of the session's open transaction, else None."""
        bind = session.get_bind()
        if bind.dialect.driver != "asyncpg" or not session.in_transaction():
            return None
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is None or not driver.is_in_transaction():
            return None  # BEGIN not sent yet: let SQLAlchemy open the transaction
        if session.new or session.dirty or session.deleted:
            await session.flush()  # what autoflush would have written before this statement
        return driver

    def _arguments(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        sql, binders = self._for(dialect)
        arguments = []
        for name, literal, process in binders:
            value = params.get(name, literal)
            # As SQLAlchemy does: None too goes through the processor (JSON has its own null).
            arguments.append(value if process is None else process(value))
        return sql, arguments

    async def scalar(self, session: AsyncSession, params: Mapping[str, Any]) -> Any:
        """The first column of the first row (None when there is no row)."""
        driver = await self._driver(session)
        if driver is None:
            return (await session.execute(self.statement, dict(params))).scalar()
        sql, arguments = self._arguments(session.get_bind().dialect, params)
        return await driver.fetchval(sql, *arguments)

    async def execute(self, session: AsyncSession, params: Mapping[str, Any]) -> None:
        """Run it for its effect."""
        driver = await self._driver(session)
        if driver is None:
            await session.execute(self.statement, dict(params))
            return
        sql, arguments = self._arguments(session.get_bind().dialect, params)
        await driver.execute(sql, *arguments)
