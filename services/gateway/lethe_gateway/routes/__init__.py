"""The JSON API under /api/v1, one router per area.

Every router checks sessions and CSRF, except the newsletter's link routes,
whose only credential is the signed token in the link (see
:mod:`lethe_gateway.routes.newsletter_links`), and the payment provider's
notifications, whose credential is their signature (see
:mod:`lethe_gateway.routes.payments`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lethe_gateway.auth import session_account
from lethe_gateway.body_limit import BodyLimit
from lethe_gateway.routes import (
    accounts,
    admin,
    admin_newsletter,
    admin_privacy,
    admin_shop,
    admin_staff,
    admin_traffic,
    consents,
    contact,
    data_export,
    me,
    newsletter,
    newsletter_links,
    password,
    payments,
    privacy,
    session,
    shop,
)

API_PREFIX = "/api/v1"


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    with_session = APIRouter(dependencies=[Depends(session_account)])
    for module in (
        accounts,
        session,
        password,
        me,
        consents,
        privacy,
        data_export,
        newsletter,
        shop,
        contact,
        admin,
        admin_privacy,
        admin_newsletter,
        admin_shop,
        admin_traffic,
        admin_staff,
    ):
        with_session.include_router(module.router)
    router.include_router(with_session)
    router.include_router(newsletter_links.router)
    router.include_router(payments.router)
    return router


def body_limits() -> dict[str, BodyLimit]:
    """The routes whose request bodies have a size limit of their own instead of the
    gateway's default (``LETHE_GATEWAY_MAX_BODY_BYTES``), by exact path."""
    return {
        f"{API_PREFIX}/payments/notifications": BodyLimit(
            payments.MAX_NOTIFICATION_BYTES, payments.TOO_LARGE
        ),
        f"{API_PREFIX}/admin/newsletter/campaigns": BodyLimit(admin_newsletter.MAX_CAMPAIGN_BODY_BYTES),
        f"{API_PREFIX}/admin/consent-texts": BodyLimit(admin_privacy.MAX_TEXT_BODY_BYTES),
    }
