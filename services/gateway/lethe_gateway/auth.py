"""Sessions and CSRF at the edge.

The session is the opaque token in the ``lethe_session`` cookie; the identity
service checks it (``Authenticate``) for every state-changing request, and for safe
ones at most every ``LETHE_GATEWAY_SESSION_CACHE_SECONDS`` (session_cache.py). A state-changing
request that carries a valid session must also carry ``X-CSRF-Token`` equal
to the ``lethe_csrf`` cookie (double submit); the token is derived from the
session token, so a cookie planted by someone else does not pass either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, cast

import grpc
from fastapi import Depends, HTTPException, Request, Response

from lethe.consent.v1 import consent_pb2, consent_pb2_grpc
from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe.shop.v1 import shop_pb2_grpc
from lethe_gateway.session_cache import MISS, SessionCache

SESSION_COOKIE = "lethe_session"
CSRF_COOKIE = "lethe_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSET = object()


def identity(request: Request) -> identity_pb2_grpc.IdentityServiceStub:
    return request.app.state.identity


def consent(request: Request) -> consent_pb2_grpc.ConsentServiceStub:
    return request.app.state.consent


def newsletter(request: Request) -> newsletter_pb2_grpc.NewsletterServiceStub:
    return request.app.state.newsletter


def shop(request: Request) -> shop_pb2_grpc.ShopServiceStub:
    return request.app.state.shop


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


def csrf_token_for(session_token: str) -> str:
    mac = hmac.new(session_token.encode(), b"lethe-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _check_csrf(request: Request, session_token: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    expected = csrf_token_for(session_token)
    sent_b, cookie_b, expected_b = (v.encode("utf-8", "replace") for v in (sent, cookie, expected))
    if not (sent and hmac.compare_digest(sent_b, cookie_b)
            and hmac.compare_digest(sent_b, expected_b)):
        raise HTTPException(403, f"this request needs the {CSRF_HEADER} header "
                                 f"with the value of the {CSRF_COOKIE} cookie")


async def _authenticate(request: Request, token: str) -> pb.Account | None:
    try:
        return await identity(request).Authenticate(  # type: ignore[no-any-return]
            pb.AuthenticateRequest(session_token=token), timeout=rpc_timeout(request))
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
            raise
    return None


async def session_account(request: Request) -> pb.Account | None:
    """The logged-in account, or None; enforces CSRF for state-changing requests.

    Every /api/v1 router depends on this, so no state-changing route can skip
    the CSRF check when a session is present.
    """
    cached = getattr(request.state, "account", _UNSET)
    if cached is not _UNSET:
        return cast("pb.Account | None", cached)
    token = request.cookies.get(SESSION_COOKIE, "")
    account: pb.Account | None = None
    if token:
        sessions: SessionCache = request.app.state.sessions
        safe = request.method in SAFE_METHODS
        remembered = sessions.get(token) if safe else MISS
        if remembered is MISS:
            account = await _authenticate(request, token)
            if safe:
                sessions.put(token, account)
            else:
                sessions.forget(token)
        else:
            account = cast("pb.Account | None", remembered)
    request.state.account = account
    if account is not None and request.method not in SAFE_METHODS:
        _check_csrf(request, token)
    return account


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


def _secure(request: Request) -> bool:
    setting = request.app.state.config.cookie_secure
    return setting == "true" or (setting == "auto" and request.url.scheme == "https")


def set_session_cookies(request: Request, response: Response, session_token: str,
                        max_age: int) -> None:
    """Session cookie (no expiry) unless ``max_age`` says how long it may persist."""
    persist = max_age if max_age > 0 else None
    secure = _secure(request)
    response.set_cookie(SESSION_COOKIE, session_token, max_age=persist, path="/",
                        httponly=True, samesite="lax", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf_token_for(session_token), max_age=persist, path="/",
                        httponly=False, samesite="lax", secure=secure)


def clear_session_cookies(request: Request, response: Response) -> None:
    secure = _secure(request)
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", httponly=http_only, samesite="lax", secure=secure)
