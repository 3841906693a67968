"""Log-in, log-out, and entering the password again (the step-up).

Log-out needs the session cookie alone, no CSRF token (auth.py). The step-up
(``POST /session/password-check``) serves staff and customers alike: dangerous staff
actions, erasure of one's own account and a new e-mail address need the password entered
within the last 10 minutes; otherwise 403 ``reauthentication_required``, and the client
sends the password here and tries again.
"""

from __future__ import annotations

import logging

import grpc
from fastapi import APIRouter, Request, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.auth import SESSION_COOKIE, clear_session_cookies, set_session_cookies
from lethe_gateway.cookies import CHOICE_COOKIE, read_cookie
from lethe_gateway.deps import (
    LoggedIn,
    MaybeAccount,
    client_address,
    global_privacy_control,
    identity,
    rpc_timeout,
)
from lethe_gateway.routes.consents import honour_gpc, record_analytics_choice
from lethe_gateway.schemas import AccountOut, LoginBody, PasswordCheckBody

log = logging.getLogger(__name__)
router = APIRouter(tags=["session"])


@router.post("/session", response_model=AccountOut)
async def login(body: LoginBody, request: Request, response: Response) -> AccountOut:
    """Log in. A new session id every time (no fixation); a running session is ended."""
    stub = identity(request)
    reply = await stub.Login(
        pb.LoginRequest(
            email=body.email,
            password=body.password,
            remember_me=body.remember_me,
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    old = read_cookie(request, SESSION_COOKIE)
    if old:
        await stub.Logout(pb.LogoutRequest(session_token=old), timeout=rpc_timeout(request))
    set_session_cookies(request, response, reply.session_token, int(reply.cookie_max_age_seconds))
    await _honour_gpc(request, reply.account)
    await _record_choice_made_before(request, reply.account)
    return AccountOut.of(reply.account)


@router.delete("/session", status_code=204)
async def logout(request: Request, current: MaybeAccount) -> Response:
    """Log out: the session is revoked on the server, the cookies are removed. The session
    cookie alone is enough (no X-CSRF-Token needed)."""
    token = read_cookie(request, SESSION_COOKIE)
    if token and current is not None:
        await identity(request).Logout(pb.LogoutRequest(session_token=token), timeout=rpc_timeout(request))
    response = Response(status_code=204)
    clear_session_cookies(request, response)
    return response


@router.post(
    "/session/password-check",
    status_code=204,
    responses={
        403: {"description": "the password is wrong"},
        429: {"description": "too many wrong passwords; the Retry-After header says how long to wait"},
    },
)
async def check_password(body: PasswordCheckBody, request: Request, account: LoggedIn) -> Response:
    """Step-up: enter the password again before a dangerous action (a staff action, erasure
    of one's own account, a new e-mail address); counts as entered now for this session."""
    await identity(request).ConfirmPassword(
        pb.ConfirmPasswordRequest(session_token=read_cookie(request, SESSION_COOKIE), password=body.password),
        timeout=rpc_timeout(request),
    )
    return Response(status_code=204)


async def _record_choice_made_before(request: Request, account: pb.Account) -> None:
    """The analytics choice this browser made before logging in (the cookie banner) goes
    into the person's ledger; GPC was recorded just before. An outage does not stop the log-in."""
    choice = read_cookie(request, CHOICE_COOKIE)
    if choice not in ("accepted", "declined") or global_privacy_control(request):
        return
    try:
        await record_analytics_choice(request, account, choice)
    except grpc.aio.AioRpcError as exc:
        log.warning("the analytics choice was not recorded at log-in", extra={"grpc_code": exc.code().name})


async def _honour_gpc(request: Request, account: pb.Account) -> None:
    """Sec-GPC: 1 at log-in refuses analytics; a consent outage does not stop the log-in."""
    try:
        await honour_gpc(request, account)
    except grpc.aio.AioRpcError as exc:
        log.warning("GPC signal not recorded at log-in", extra={"grpc_code": exc.code().name})
