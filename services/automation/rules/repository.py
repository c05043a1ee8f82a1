"""Queries of rules, their versions, the execution log and the commands rules issued."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.automation.models import (
    Execution,
    IssuedCommand,
    Job,
    MailSent,
    RoundRobin,
    Rule,
    RuleRevision,
    RuleVersion,
)


async def rule(session: AsyncSession, workspace_id: str, rule_id: str) -> Rule | None:
    row = await session.get(Rule, rule_id)
    if row is None or row.workspace_id != workspace_id or row.deleted:
        return None
    return row


async def rules_page(
    session: AsyncSession, workspace_id: str, after: tuple[int, str] | None, limit: int
) -> list[Rule]:
    query = select(Rule).where(Rule.workspace_id == workspace_id, Rule.deleted.is_(False))
    if after is not None:
        position, rule_id = after
        query = query.where(
            (Rule.position > position) | ((Rule.position == position) & (Rule.id > rule_id))
        )
    return list(await session.scalars(query.order_by(Rule.position, Rule.id).limit(limit)))


async def enabled_rules(session: AsyncSession, workspace_id: str) -> list[Rule]:
    return list(
        await session.scalars(
            select(Rule).where(
                Rule.workspace_id == workspace_id, Rule.enabled.is_(True), Rule.deleted.is_(False)
            )
        )
    )


async def next_position(session: AsyncSession, workspace_id: str) -> int:
    highest = await session.scalar(
        select(func.max(Rule.position)).where(
            Rule.workspace_id == workspace_id, Rule.deleted.is_(False)
        )
    )
    return 0 if highest is None else int(highest) + 1


async def versions(session: AsyncSession, workspace_id: str, rule_id: str) -> list[RuleVersion]:
    return list(
        await session.scalars(
            select(RuleVersion)
            .where(RuleVersion.workspace_id == workspace_id, RuleVersion.rule_id == rule_id)
            .order_by(RuleVersion.version)
        )
    )


async def revision(session: AsyncSession, workspace_id: str) -> int:
    found = await session.scalar(
        select(RuleRevision.revision).where(RuleRevision.workspace_id == workspace_id)
    )
    return int(found or 0)


async def bump_revision(session: AsyncSession, workspace_id: str) -> None:
    """Row-locks the workspace's revision, which also serialises its concurrent rule edits."""
    bumped = await session.execute(
        update(RuleRevision)
        .where(RuleRevision.workspace_id == workspace_id)
        .values(revision=RuleRevision.revision + 1)
    )
    if getattr(bumped, "rowcount", 0) == 0:
        session.add(RuleRevision(workspace_id=workspace_id, revision=1))
        await session.flush()


async def issued(session: AsyncSession, command_id: str) -> IssuedCommand | None:
    return await session.get(IssuedCommand, command_id)


async def executions_page(
    session: AsyncSession,
    workspace_id: str,
    *,
    rule_id: str | None,
    item_id: str | None,
    before: str | None,
    limit: int,
) -> list[Execution]:
    query = select(Execution).where(Execution.workspace_id == workspace_id)
    if rule_id:
        query = query.where(Execution.rule_id == rule_id)
    if item_id:
        query = query.where(Execution.item_id == item_id)
    if before:
        query = query.where(Execution.id < before)
    return list(await session.scalars(query.order_by(Execution.id.desc()).limit(limit)))


async def mails_since(
    session: AsyncSession, workspace_id: str, item_id: str | None, since: datetime
) -> tuple[int, int]:
    """Rule-sent mails in the window: of the item, and of the whole workspace."""
    in_workspace = await session.scalar(
        select(func.count())
        .select_from(MailSent)
        .where(MailSent.workspace_id == workspace_id, MailSent.at >= since)
    )
    on_item = 0
    if item_id is not None:
        on_item = int(
            await session.scalar(
                select(func.count())
                .select_from(MailSent)
                .where(MailSent.item_id == item_id, MailSent.at >= since)
            )
            or 0
        )
    return on_item, int(in_workspace or 0)


async def round_robin(session: AsyncSession, workspace_id: str, team_id: str) -> RoundRobin:
    """Locked for the rest of the transaction, so two events never pick the same next member."""
    row = await session.scalar(
        select(RoundRobin)
        .where(RoundRobin.workspace_id == workspace_id, RoundRobin.team_id == team_id)
        .with_for_update()
    )
    if row is None:
        row = RoundRobin(workspace_id=workspace_id, team_id=team_id, last_user_id=None)
        session.add(row)
    return row


async def drop_pending_ticks(session: AsyncSession, rule_id: str) -> None:
    await session.execute(
        delete(Job).where(
            Job.subject_id == rule_id, Job.kind == "rule_tick", Job.fired_at.is_(None)
        )
    )


async def add_all(session: AsyncSession, rows: Sequence[object]) -> None:
    session.add_all(rows)
