"""The JSON API under /api/v1, one router per area.

Every router checks sessions and CSRF, except the newsletter's link routes,
whose only credential is the signed token in the link (see
:mod:`lethe_gateway.routes.newsletter_links`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lethe_gateway.auth import session_account
from lethe_gateway.routes import (
    accounts,
    admin,
    admin_newsletter,
    admin_privacy,
    consents,
    contact,
    me,
    newsletter,
    newsletter_links,
    privacy,
    session,
)


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    with_session = APIRouter(dependencies=[Depends(session_account)])
    for module in (accounts, session, me, consents, privacy, newsletter, contact, admin,
                   admin_privacy, admin_newsletter):
        with_session.include_router(module.router)
    router.include_router(with_session)
    router.include_router(newsletter_links.router)
    return router
