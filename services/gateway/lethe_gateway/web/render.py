"""Jinja2 pages: every template gets the language, the translator, the visitor's
analytics choice, the logged-in account (or None) and a CSRF token for its forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.deps import global_privacy_control
from lethe_gateway.web.analytics import count_page_view
from lethe_gateway.web.forms import CSRF_FIELD, analytics_choice, csrf_token, set_csrf_cookie
from lethe_gateway.web.i18n import language, translator

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    request: Request,
    template: str,
    *,
    account: pb.Account | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = language(request)
    token, new_token = csrf_token(request)
    page = TEMPLATES.get_template(template).render(
        lang=lang,
        t=translator(lang),
        account=account,
        path=request.url.path,
        choice=analytics_choice(request),
        gpc=global_privacy_control(request),
        csrf_field=CSRF_FIELD,
        csrf_token=token,
        **context,
    )
    response = HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})
    if new_token:
        set_csrf_cookie(request, response, token)
    count_page_view(request, response, account)
    return response


def message(
    request: Request,
    *,
    title: str,
    text: str,
    status_code: int,
    account: pb.Account | None = None,
    kind: str = "error",
) -> HTMLResponse:
    """A page that only says something: a refusal, a broken link, a done deed."""
    return render(
        request,
        "message.html",
        account=account,
        status_code=status_code,
        title=title,
        message=text,
        kind=kind,
    )


def problem(request: Request, account: pb.Account | None, text: str, status: int) -> HTMLResponse:
    """An error page in the page's frame (the account's navigation stays)."""
    title = translator(language(request))("error.title")
    return message(request, account=account, title=title, text=text, status_code=status)


def expired(request: Request, account: pb.Account | None = None) -> HTMLResponse:
    """A form without its CSRF field (or with another's): 403, nothing was done."""
    return problem(request, account, translator(language(request))("error.csrf"), 403)
