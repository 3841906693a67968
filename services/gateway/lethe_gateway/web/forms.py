"""Forms without JavaScript: the CSRF field, the consent choice cookie, field errors.

A form carries ``csrf_token``, which must equal the ``lethe_csrf`` cookie (double submit);
with a session, that cookie is the session's own token (``auth.csrf_token_for``), so a
form of another site can post neither. A visitor without a session gets a random one the
first time a page with a form is shown: a strictly necessary cookie.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from lethe_gateway.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for
from lethe_gateway.cookies import CHOICE_COOKIE, put_cookie, read_cookie
from lethe_gateway.deps import global_privacy_control

CSRF_FIELD = "csrf_token"
CHOICE_MAX_AGE = 180 * 24 * 3600


def csrf_token(request: Request) -> tuple[str, bool]:
    """The token a form carries, and whether the cookie must be set with the page."""
    existing = read_cookie(request, CSRF_COOKIE)
    if existing:
        return existing, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    put_cookie(request, response, CSRF_COOKIE, token, httponly=False)


def csrf_ok(request: Request, form: FormData) -> bool:
    sent = str(form.get(CSRF_FIELD, "")).encode()
    cookie = read_cookie(request, CSRF_COOKIE).encode()
    if not (sent and hmac.compare_digest(sent, cookie)):
        return False
    session = read_cookie(request, SESSION_COOKIE)
    return not session or hmac.compare_digest(sent, csrf_token_for(session).encode())


def analytics_choice(request: Request) -> str:
    """ "accepted", "declined" or "" (not chosen); Sec-GPC: 1 is a decline."""
    if global_privacy_control(request):
        return "declined"
    choice = read_cookie(request, CHOICE_COOKIE)
    return choice if choice in ("accepted", "declined") else ""


def set_choice_cookie(request: Request, response: Response, choice: str) -> None:
    put_cookie(request, response, CHOICE_COOKIE, choice, max_age=CHOICE_MAX_AGE)


def field(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()
