"""Rules, their versions, the execution log and dry runs (workspace admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from services.automation.dependencies import Caller, UoW
from services.automation.models import Execution as ExecutionRow
from services.automation.models import Rule as RuleRow
from services.automation.models import RuleVersion as VersionRow
from services.automation.rules import service
from services.automation.rules.schemas import (
    Definition,
    DryRun,
    DryRunRequest,
    Execution,
    ExecutionPage,
    Rule,
    RuleCreate,
    RulePage,
    RuleUpdate,
    RuleVersion,
)

router = APIRouter(tags=["rules"])


def rule_out(row: RuleRow) -> Rule:
    definition = Definition.model_validate(row.definition)
    return Rule(
        id=row.id,
        name=row.name,
        version=row.version,
        enabled=row.enabled,
        position=row.position,
        trigger=definition.trigger,
        conditions=definition.conditions,
        actions=definition.actions,
        scope=definition.scope,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def version_out(row: VersionRow) -> RuleVersion:
    return RuleVersion.model_validate(row, from_attributes=True)


def execution_out(row: ExecutionRow) -> Execution:
    return Execution.model_validate(row, from_attributes=True)


@router.get("/rules", response_model=RulePage)
async def list_rules(
    principal: Caller,
    uow: UoW,
    cursor: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=200),
) -> RulePage:
    """In evaluation order (position), a page at a time (`next_cursor`)."""
    rows, next_cursor = await service.list_rules(uow, principal, cursor, limit)
    return RulePage(items=[rule_out(r) for r in rows], next_cursor=next_cursor)


@router.post("/rules", status_code=201, response_model=Rule)
async def create_rule(body: RuleCreate, principal: Caller, uow: UoW) -> Rule:
    row = await service.create_rule(uow, principal, body)
    await uow.commit()
    return rule_out(row)


@router.post("/rules/dry-run", response_model=DryRun)
async def dry_run(body: DryRunRequest, principal: Caller, uow: UoW) -> DryRun:
    """What a rule (saved or a draft) would do to open items now; changes nothing."""
    return await service.dry_run(uow, principal, body)


@router.get("/rules/{rule_id}", response_model=Rule)
async def read_rule(rule_id: str, principal: Caller, uow: UoW) -> Rule:
    return rule_out(await service.get_rule(uow, principal, rule_id))


@router.patch("/rules/{rule_id}", response_model=Rule)
async def update_rule(rule_id: str, body: RuleUpdate, principal: Caller, uow: UoW) -> Rule:
    """Every edit is a new version; the previous ones stay readable."""
    row = await service.update_rule(uow, principal, rule_id, body)
    await uow.commit()
    return rule_out(row)


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: str, principal: Caller, uow: UoW) -> Response:
    await service.delete_rule(uow, principal, rule_id)
    await uow.commit()
    return Response(status_code=204)


@router.get("/rules/{rule_id}/versions", response_model=list[RuleVersion])
async def rule_versions(rule_id: str, principal: Caller, uow: UoW) -> list[RuleVersion]:
    return [version_out(v) for v in await service.rule_versions(uow, principal, rule_id)]


@router.get("/executions", response_model=ExecutionPage)
async def list_executions(
    principal: Caller,
    uow: UoW,
    rule_id: str | None = Query(default=None, max_length=36),
    item_id: str | None = Query(default=None, max_length=36),
    cursor: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=200),
) -> ExecutionPage:
    """Newest first: every evaluation of a rule, what it checked and did, or why not."""
    rows, next_cursor = await service.executions(
        uow, principal, rule_id=rule_id, item_id=item_id, cursor=cursor, limit=limit
    )
    return ExecutionPage(items=[execution_out(r) for r in rows], next_cursor=next_cursor)
