"""Entering the password again on a page (the step-up), for staff and customers alike.

A dangerous action needs the password entered within the last 10 minutes: a staff action
(the service that owns it checks the staff assertion), erasure of one's own account and a
new e-mail address (identity checks the session). The refusal's code is :data:`STEP_UP`;
the page then asks for the password, and its form posts it with the action: it is checked
first (``POST /api/v1/session/password-check``'s route), then the action is tried again.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.routes.session import check_password
from lethe_gateway.schemas import PasswordCheckBody
from lethe_gateway.web.outcome import Refused, attempt

STEP_UP = "reauthentication_required"  # a service's answer: enter the password again
PASSWORD_FIELD = "password"  # noqa: S105 (a form field's name)
MAX_PASSWORD = 1024


class WrongPassword(Refused):
    """The password a step-up form carried is not the person's (or too many were wrong)."""


async def confirm_password(request: Request, account: pb.Account, password: str) -> bool:
    """Check the password a form carried, if any: ``True`` once it was right (entered now
    for this session), ``False`` without one; :class:`WrongPassword` if it is wrong."""
    if not password:
        return False
    try:
        await attempt(
            check_password(PasswordCheckBody(password=password[:MAX_PASSWORD]), request, account), ""
        )
    except Refused as no:
        raise WrongPassword(no.status, no.message, code=no.code) from no
    return True


def refusal_on_form(no: Refused, t: Callable[..., str]) -> tuple[dict[str, str], str, bool]:
    """What a customer's form shows for a refusal: its field errors, the message, and
    whether the password field is now required (asked again, or entered wrong)."""
    if isinstance(no, WrongPassword):
        text = no.message if no.status == 429 else t("password.reauth.wrong")
        return {PASSWORD_FIELD: text}, text, True
    if no.code == STEP_UP:
        return {}, t("password.reauth.needed"), True
    return {}, no.message, False
