"""Who may see a back-office page: a logged-in account holding one of the page's roles.

The account is asked of identity afresh (never the session cache), so a role revoked a
moment ago counts at once and the staff assertion the page forwards is current. Each
service checks the role again itself; this only decides what the page shows.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import holds
from lethe_gateway.auth import SESSION_COOKIE, _authenticate
from lethe_gateway.cookies import read_cookie
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.render import message
from lethe_gateway.web.step_up import confirm_password


async def staff_account(request: Request, *roles: str) -> pb.Account | Response:
    """The staff member, or the page to show instead: log in (303), or 403."""
    token = read_cookie(request, SESSION_COOKIE)
    account = await _authenticate(request, token) if token else None
    if token:
        request.app.state.sessions.forget(token)
    request.state.account = account
    if account is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if not holds(account.roles, roles):
        t = translator(language(request))
        names = " / ".join(t(f"staff.role.{role}") for role in roles)
        return message(
            request,
            account=account,
            status_code=403,
            title=t("staff.forbidden.title"),
            text=t("staff.forbidden", roles=names),
        )
    return account


async def after_step_up(
    request: Request, staff: pb.Account, password: str, *roles: str
) -> pb.Account | Response:
    """Whom to act as. A dangerous action's form may carry the password (the step-up): it
    is checked first (:class:`WrongPassword` if wrong), then the account is read again, so
    the assertion forwarded carries the new time. Without one, ``staff`` as it is."""
    if not await confirm_password(request, staff, password):
        return staff
    return await staff_account(request, *roles)
