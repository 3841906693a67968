"""Sessions and CSRF at the edge.

The session is the opaque token in the ``lethe_session`` cookie; the identity
service checks it (``Authenticate``) for every state-changing request, and for safe
ones at most every ``LETHE_GATEWAY_SESSION_CACHE_SECONDS`` (session_cache.py). A state-changing
request that carries a valid session must also carry ``X-CSRF-Token`` equal
to the ``lethe_csrf`` cookie (double submit); the token is derived from the
session token, so a cookie planted by someone else does not pass either. The one
exception is log-out (``DELETE /api/v1/session``): ending one's own session needs the
session cookie alone.

A customer's own dangerous actions (erasure of the account, a new e-mail address) need the
password entered within the last 10 minutes (:func:`require_recent_password`), like the
staff step-up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import cast

import grpc
from fastapi import HTTPException, Request, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_gateway.cookies import cookie_name, drop_cookie, put_cookie, read_cookie
from lethe_gateway.session_cache import MISS, SessionCache

SESSION_COOKIE = "lethe_session"
CSRF_COOKIE = "lethe_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSET = object()
# Log-out needs no CSRF token: a client (or a page) that lost its CSRF cookie can still end
# its own session, and a forged log-out changes nobody's data. Nothing else is exempt.
LOGOUT = ("DELETE", "/api/v1/session")


def needs_csrf(method: str, path: str) -> bool:
    """Whether a request with a valid session must carry the CSRF token."""
    return method not in SAFE_METHODS and (method, path) != LOGOUT


def csrf_token_for(session_token: str) -> str:
    mac = hmac.new(session_token.encode(), b"lethe-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _check_csrf(request: Request, session_token: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    cookie = read_cookie(request, CSRF_COOKIE)
    expected = csrf_token_for(session_token)
    sent_b, cookie_b, expected_b = (v.encode("utf-8", "replace") for v in (sent, cookie, expected))
    if not (sent and hmac.compare_digest(sent_b, cookie_b) and hmac.compare_digest(sent_b, expected_b)):
        raise HTTPException(
            403,
            f"this request needs the {CSRF_HEADER} header with the value of the "
            f"{cookie_name(request, CSRF_COOKIE)} cookie",
        )


async def _authenticate(request: Request, token: str) -> pb.Account | None:
    try:
        stub: identity_pb2_grpc.IdentityServiceStub = request.app.state.identity
        return await stub.Authenticate(  # type: ignore[no-any-return]
            pb.AuthenticateRequest(session_token=token),
            timeout=float(request.app.state.config.rpc_timeout_seconds),
        )
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
    token = read_cookie(request, SESSION_COOKIE)
    account: pb.Account | None = None
    if token:
        sessions: SessionCache = request.app.state.sessions
        safe = request.method in SAFE_METHODS
        remembered = sessions.get(token) if safe else MISS
        if remembered is MISS:
            account = await _authenticate(request, token)
            request.state.account_is_fresh = True
            if safe:
                sessions.put(token, account)
            else:
                sessions.forget(token)
        else:
            account = cast("pb.Account | None", remembered)
    request.state.account = account
    if account is not None and needs_csrf(request.method, str(request.scope.get("path", ""))):
        _check_csrf(request, token)
    return account


async def fresh_session_account(request: Request) -> pb.Account | None:
    """The logged-in account as identity sees it now, never from the session cache: staff
    requests need a current staff assertion, and a role revoked a moment ago must count."""
    await session_account(request)  # the CSRF check, and whether a session is there at all
    if getattr(request.state, "account_is_fresh", False):
        return cast("pb.Account | None", request.state.account)
    token = read_cookie(request, SESSION_COOKIE)
    account = await _authenticate(request, token) if token else None
    sessions: SessionCache = request.app.state.sessions
    if token:
        sessions.forget(token)
    request.state.account = account
    request.state.account_is_fresh = True
    return account


REAUTHENTICATE = (
    "reauthentication_required: the password was last entered more than 10 minutes ago; "
    "send it to POST /api/v1/session/password-check, then try again"
)


async def require_recent_password(request: Request) -> None:
    """Erasure of one's own account and a new e-mail address: identity answers
    PERMISSION_DENIED ``reauthentication_required`` (HTTP 403) unless this session's password
    was entered (at log-in, or ``POST /session/password-check`` since) within 10 minutes."""
    stub: identity_pb2_grpc.IdentityServiceStub = request.app.state.identity
    await stub.RequireRecentPassword(
        pb.RequireRecentPasswordRequest(session_token=read_cookie(request, SESSION_COOKIE)),
        timeout=float(request.app.state.config.rpc_timeout_seconds),
    )


def set_session_cookies(request: Request, response: Response, session_token: str, max_age: int) -> None:
    """Session cookie (no expiry) unless ``max_age`` says how long it may persist."""
    persist = max_age if max_age > 0 else None
    put_cookie(request, response, SESSION_COOKIE, session_token, max_age=persist)
    put_cookie(request, response, CSRF_COOKIE, csrf_token_for(session_token), max_age=persist, httponly=False)


def clear_session_cookies(request: Request, response: Response) -> None:
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        drop_cookie(request, response, name, httponly=http_only)
