"""The automation service's edge dependencies: the unit of work and the verified caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from kit.auth import Principal, authenticated
from kit.http.deps import unit_of_work
from kit.uow import UnitOfWork

UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
Caller = Annotated[Principal, Depends(authenticated)]
