"""Log-in and log-out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.auth import (
    SESSION_COOKIE,
    MaybeAccount,
    clear_session_cookies,
    identity,
    rpc_timeout,
    set_session_cookies,
)
from lethe_gateway.schemas import AccountOut, LoginBody

router = APIRouter(tags=["session"])


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/session", response_model=AccountOut)
async def login(body: LoginBody, request: Request, response: Response) -> AccountOut:
    """Log in. A new session id every time (no fixation); a running session is ended."""
    stub = identity(request)
    reply = await stub.Login(pb.LoginRequest(
        email=body.email, password=body.password, remember_me=body.remember_me,
        client_address=client_address(request)), timeout=rpc_timeout(request))
    old = request.cookies.get(SESSION_COOKIE, "")
    if old:
        await stub.Logout(pb.LogoutRequest(session_token=old), timeout=rpc_timeout(request))
    set_session_cookies(request, response, reply.session_token, int(reply.cookie_max_age_seconds))
    return AccountOut.of(reply.account)


@router.delete("/session", status_code=204)
async def logout(request: Request, current: MaybeAccount) -> Response:
    """Log out: the session is revoked on the server, the cookies are removed."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and current is not None:
        await identity(request).Logout(pb.LogoutRequest(session_token=token),
                                       timeout=rpc_timeout(request))
    response = Response(status_code=204)
    clear_session_cookies(request, response)
    return response
