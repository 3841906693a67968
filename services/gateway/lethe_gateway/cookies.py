"""Every cookie the gateway sets, named, read, set and removed in one place.

Over TLS each cookie's name takes the ``__Host-`` prefix: the browser then keeps it only
if it is Secure, has Path=/ and no Domain, so neither a sub-domain nor a plain-HTTP page
can set or shadow it (``lethe_session`` becomes ``__Host-lethe_session``). A cookie scoped
to a narrower path cannot be ``__Host-``; it takes ``__Secure-``. Over plain HTTP (the
dev stack on 127.0.0.1) the bare names are used: a browser refuses a prefixed cookie
that is not Secure.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

SameSite = Literal["lax", "strict", "none"]
CHOICE_COOKIE = "lethe_consent_choice"  # "accepted" or "declined": the visitor's analytics choice


def secure(request: Request) -> bool:
    """LETHE_GATEWAY_COOKIE_SECURE: true/false force it; auto follows the request's scheme
    (https also when a trusted proxy says so through X-Forwarded-Proto)."""
    setting = request.app.state.config.cookie_secure
    return bool(setting == "true" or (setting == "auto" and request.url.scheme == "https"))


def cookie_name(request: Request, base: str, path: str = "/") -> str:
    if not secure(request):
        return base
    return ("__Host-" if path == "/" else "__Secure-") + base


def read_cookie(request: Request, base: str, path: str = "/") -> str:
    return request.cookies.get(cookie_name(request, base, path), "")


def put_cookie(
    request: Request,
    response: Response,
    base: str,
    value: str,
    *,
    max_age: int | None = None,
    httponly: bool = True,
    path: str = "/",
    samesite: SameSite = "lax",
) -> None:
    response.set_cookie(
        cookie_name(request, base, path),
        value,
        max_age=max_age,
        path=path,
        httponly=httponly,
        samesite=samesite,
        secure=secure(request),
    )


def drop_cookie(
    request: Request, response: Response, base: str, *, httponly: bool = True, path: str = "/"
) -> None:
    response.delete_cookie(
        cookie_name(request, base, path), path=path, httponly=httponly, samesite="lax", secure=secure(request)
    )
