"""Who is looking at a page: the session cookie's account, or None.

A page's GET never changes anything, so this uses the JSON API's own session lookup
(``auth.session_account``, with its short cache for safe methods). A form's POST is
checked for its CSRF field first (``forms.csrf_ok``) by the page itself, then looks up
the account the same way, as if it were safe: the CSRF header that the JSON API asks
for is the form field here.
"""

from __future__ import annotations

from starlette.requests import Request

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.auth import SAFE_METHODS, SESSION_COOKIE, _authenticate
from lethe_gateway.cookies import read_cookie


async def page_account(request: Request) -> pb.Account | None:
    cached = getattr(request.state, "account", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = read_cookie(request, SESSION_COOKIE)
    account = await _authenticate(request, token) if token else None
    if token and request.method not in SAFE_METHODS:
        # A form may end the session (log-out, erasure): the JSON API's short cache of
        # this session must not answer for it afterwards.
        request.app.state.sessions.forget(token)
    request.state.account = account
    return account
