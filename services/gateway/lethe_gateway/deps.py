"""What routes depend on: the backends' stubs, the caller's address and time budget, and
who is logged in (``LoggedIn``, ``Admin``, ``PortalMember``), as FastAPI dependencies.

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
from lethe_gateway.auth import session_account


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
    return consent_pb2.Person(account_id=account.id, email=account.email, name=account.name)


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


async def require_admin(account: LoggedIn) -> pb.Account:
    if "admin" not in account.roles:
        raise HTTPException(403, "this needs the admin role")
    return account


async def require_portal_access(account: LoggedIn) -> pb.Account:
    if account.portal_access.status != "approved":
        raise HTTPException(403, "this part of the portal needs approved portal access")
    return account


Admin = Annotated[pb.Account, Depends(require_admin)]
PortalMember = Annotated[pb.Account, Depends(require_portal_access)]
