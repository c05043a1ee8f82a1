"""The notifications service's edge dependencies: the unit of work and the verified caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from kit.auth import Principal, authenticated
from kit.http.deps import unit_of_work
from kit.http.problems import Problem
from kit.uow import UnitOfWork

UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
Caller = Annotated[Principal, Depends(authenticated)]


def require_admin(caller: Principal) -> None:
    if not caller.is_admin:
        raise Problem(403, "forbidden", "Only workspace admins manage mail.")
