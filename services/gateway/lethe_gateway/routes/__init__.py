"""The JSON API under /api/v1, one router per area; every router checks sessions and CSRF."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lethe_gateway.auth import session_account
from lethe_gateway.routes import (
    accounts,
    admin,
    admin_privacy,
    consents,
    contact,
    me,
    privacy,
    session,
)


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(session_account)])
    for module in (accounts, session, me, consents, privacy, contact, admin, admin_privacy):
        router.include_router(module.router)
    return router
