"""A forgotten password (a mailed single-use link) and a change of password.

``POST /accounts/password-reset`` answers the same for every address, so nobody learns
whether an address has an account. Using the link ends every session of the account; a
change made while logged in ends every other session (this one stays). Both send the
person a notice by mail. Passwords and tokens go to the identity service and nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.auth import SESSION_COOKIE, clear_session_cookies
from lethe_gateway.cookies import read_cookie
from lethe_gateway.deps import LoggedIn, identity, rpc_timeout
from lethe_gateway.schemas import Accepted, EmailBody, PasswordChangeBody, PasswordResetBody, PasswordSet

router = APIRouter(tags=["accounts"])

RESET_REQUESTED = (
    "if this address belongs to an active account, we sent a link to set a new password; "
    "it works once, for a limited time"
)
RESET_DONE = "your new password is set; every session of your account has ended, so please log in again"
CHANGED = "your new password is set; every other session of your account has ended"


@router.post("/accounts/password-reset", status_code=202, response_model=Accepted)
async def request_password_reset(body: EmailBody, request: Request) -> Accepted:
    """Forgotten password: a single-use link to set a new one goes to the address if an
    active account holds it. The answer is the same for every address."""
    await identity(request).RequestPasswordReset(
        pb.RequestPasswordResetRequest(email=body.email), timeout=rpc_timeout(request)
    )
    return Accepted(message=RESET_REQUESTED)


@router.post(
    "/accounts/password-reset/complete",
    response_model=PasswordSet,
    responses={410: {"description": "the link is unknown, used, superseded by a newer one or expired"}},
)
async def complete_password_reset(
    body: PasswordResetBody, request: Request, response: Response
) -> PasswordSet:
    """Set a new password with the token from the mail. Every session of the account ends
    (this client's too: its session cookies are removed); a notice goes to the address."""
    await identity(request).ResetPassword(
        pb.ResetPasswordRequest(token=body.token, new_password=body.new_password),
        timeout=rpc_timeout(request),
    )
    session = read_cookie(request, SESSION_COOKIE)
    if session:
        request.app.state.sessions.forget(session)
        clear_session_cookies(request, response)
    return PasswordSet(message=RESET_DONE)


@router.put(
    "/me/password",
    response_model=PasswordSet,
    responses={
        403: {"description": "the current password is wrong"},
        429: {
            "description": "too many wrong current passwords; the Retry-After header says how long to wait"
        },
    },
)
async def change_password(body: PasswordChangeBody, request: Request, account: LoggedIn) -> PasswordSet:
    """Change the password: the current one is needed. Every other session of the account
    ends, this one stays; a notice goes to the address."""
    await identity(request).ChangePassword(
        pb.ChangePasswordRequest(
            account_id=account.id,
            current_password=body.current_password,
            new_password=body.new_password,
            keep_session_token=read_cookie(request, SESSION_COOKIE),
        ),
        timeout=rpc_timeout(request),
    )
    return PasswordSet(message=CHANGED)
