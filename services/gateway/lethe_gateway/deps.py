"""What routes depend on: the backends' stubs, the caller's address and time budget, and
who is logged in (``LoggedIn``, ``PortalMember``, and staff by role: ``Support``, ``Privacy``,
``Accounting``, ``Marketing``, ``Admin``), as FastAPI dependencies.

Sessions and CSRF themselves are checked in auth.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from lethe.analytics.v1 import analytics_pb2_grpc
from lethe.consent.v1 import consent_pb2, consent_pb2_grpc
from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.staff import ACCOUNTING, ADMIN, MARKETING, METADATA_KEY, PRIVACY, SUPPORT, holds
from lethe_gateway.auth import fresh_session_account, session_account


def identity(request: Request) -> identity_pb2_grpc.IdentityServiceStub:
    return request.app.state.identity


def consent(request: Request) -> consent_pb2_grpc.ConsentServiceStub:
    return request.app.state.consent


def newsletter(request: Request) -> newsletter_pb2_grpc.NewsletterServiceStub:
    return request.app.state.newsletter


def shop(request: Request) -> shop_pb2_grpc.ShopServiceStub:
    return request.app.state.shop


def analytics(request: Request) -> analytics_pb2_grpc.AnalyticsServiceStub:
    return request.app.state.analytics


def person(account: pb.Account) -> consent_pb2.Person:
    """The logged-in person as the consent service files them."""
    return consent_pb2.Person(
        account_id=account.id,
        email=account.email,
        name=account.name,
        former_subject_keys=list(account.former_subject_keys),
    )


def global_privacy_control(request: Request) -> bool:
    """The browser sends the Global Privacy Control signal (``Sec-GPC: 1``)."""
    return request.headers.get("Sec-GPC", "").strip() == "1"


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def rpc_timeout(request: Request) -> float:
    return float(request.app.state.config.rpc_timeout_seconds)


def verify_timeout(request: Request) -> float:
    """The proof of erasure reads every store: it may take far longer than other calls."""
    return float(request.app.state.config.verify_timeout_seconds)


MaybeAccount = Annotated["pb.Account | None", Depends(session_account)]


async def require_account(account: MaybeAccount) -> pb.Account:
    if account is None:
        raise HTTPException(401, "please log in")
    return account


LoggedIn = Annotated[pb.Account, Depends(require_account)]


class StaffWith:
    """A dependency: the logged-in account, fresh from identity, if it holds one of ``roles``
    (admin holds all). Each service checks the role again from the staff assertion."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    async def __call__(self, request: Request, account: LoggedIn) -> pb.Account:
        current = await fresh_session_account(request)
        if current is None:
            raise HTTPException(401, "please log in")
        if not holds(current.roles, self.roles):
            raise HTTPException(403, f"this needs the {' or '.join(self.roles)} role")
        return current


def as_staff(account: pb.Account) -> tuple[tuple[str, str], ...]:
    """gRPC metadata of a staff call: identity's assertion, forwarded unchanged."""
    return ((METADATA_KEY, account.staff_assertion),)


async def require_portal_access(account: LoggedIn) -> pb.Account:
    if account.portal_access.status != "approved":
        raise HTTPException(403, "this part of the portal needs approved portal access")
    return account


Admin = Annotated[pb.Account, Depends(StaffWith(ADMIN))]
Support = Annotated[pb.Account, Depends(StaffWith(SUPPORT))]
Privacy = Annotated[pb.Account, Depends(StaffWith(PRIVACY))]
Accounting = Annotated[pb.Account, Depends(StaffWith(ACCOUNTING))]
Marketing = Annotated[pb.Account, Depends(StaffWith(MARKETING))]
PortalMember = Annotated[pb.Account, Depends(require_portal_access)]
