"""The caller's own notification preferences."""

from __future__ import annotations

from fastapi import APIRouter

from services.notifications.dependencies import Caller, UoW
from services.notifications.preferences import service
from services.notifications.preferences.schemas import Preferences, PreferencesUpdate

router = APIRouter(tags=["preferences"])


@router.get("/preferences", response_model=Preferences)
async def read_preferences(principal: Caller, uow: UoW) -> Preferences:
    """Every known kind with the caller's channel and its default, and the forwarding delay."""
    return await service.read(uow, principal)


@router.patch("/preferences", response_model=Preferences)
async def update_preferences(body: PreferencesUpdate, principal: Caller, uow: UoW) -> Preferences:
    """E.g. `{"channels": {"access_granted": "off"}, "forward_after_minutes": 15}`."""
    preferences = await service.update(uow, principal, body)
    await uow.commit()
    return preferences
