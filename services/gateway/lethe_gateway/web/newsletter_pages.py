"""The newsletter for anyone: subscribe (double opt-in, the consent text in full), the
confirm page the confirmation mail links to (``/newsletter/confirm?token=``), and an
unsubscribe page. The portal's switch for a logged-in person is on the account page
(``profile_pages.py``).

A GET with a token only shows a button: link scanners fetch every link in a mail and must
change nothing. The JSON API's link routes (``/api/v1/newsletter/confirm`` and
``/unsubscribe``, which also take RFC 8058 one-click POSTs from mail clients) stay as they are;
both call the same functions (``routes.newsletter_links``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from lethe_gateway.newsletter_schemas import SubscribeBody
from lethe_gateway.routes.newsletter import subscribe
from lethe_gateway.routes.newsletter_links import check_unsubscribe_link, confirm_link, unsubscribe_link
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.profile_pages import newsletter_text
from lethe_gateway.web.render import expired, render

router = APIRouter()
TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,400}$")  # the link routes' own pattern (newsletter_links)


async def _subscribe_form(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    message: str,
    status_code: int = 200,
    sent: bool = False,
) -> Response:
    t = translator(language(request))
    try:
        version, text = await newsletter_text(request)
    except Refused as refused:
        return render(
            request,
            "message.html",
            status_code=refused.status,
            title=t("newsletter.title"),
            message=refused.message,
            kind="error",
        )
    return render(
        request,
        "newsletter_subscribe.html",
        values={"email": "", "name": "", **values},
        errors=errors,
        message=message,
        consent_version=version,
        consent_text=text,
        sent=sent,
        status_code=status_code,
    )


@router.get("/newsletter")
async def subscribe_page(request: Request) -> Response:
    return await _subscribe_form(request, {}, {}, "")


@router.post("/newsletter")
async def subscribe_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    values = {"email": field(form, "email"), "name": field(form, "name")}
    errors: dict[str, str] = {}
    if "@" not in values["email"]:  # the rest of the address is the service's to judge
        errors["email"] = t("field.email")
    if field(form, "consent") != "yes":
        errors["consent"] = t("newsletter.consent.needed")
    try:
        body = SubscribeBody(
            email=values["email"], name=values["name"], consent_version=field(form, "consent_version")
        )
    except ValidationError as exc:
        errors.update(
            field_errors(
                exc, {"email": t("field.email"), "name": t("newsletter.field.name")}, t("error.csrf")
            )
        )
    if errors:
        return await _subscribe_form(request, values, errors, t("error.field"), status_code=422)
    try:
        await attempt(subscribe(body, request), t("error.unavailable"))
    except Refused as refused:
        return await _subscribe_form(request, values, {}, refused.message, status_code=refused.status)
    return await _subscribe_form(request, values, {}, "", sent=True)


def _link_page(request: Request, action: str, token: str, **context: Any) -> Response:
    return render(request, "newsletter_link.html", action=action, token=token, **context)


@router.get("/newsletter/confirm")
async def confirm_page(request: Request, token: str = "") -> Response:
    if not TOKEN.match(token):
        return _link_page(request, "confirm", "", status_code=422)
    return _link_page(request, "confirm", token)


@router.post("/newsletter/confirm")
async def confirm_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    token = field(form, "token")
    if not TOKEN.match(token):
        return _link_page(request, "confirm", "", status_code=422)
    try:
        await attempt(confirm_link(request, token), t("error.unavailable"))
    except Refused as refused:
        return _link_page(request, "confirm", token, message=refused.message, status_code=refused.status)
    return _link_page(request, "confirm", token, done=True)


@router.get("/newsletter/unsubscribe")
async def unsubscribe_page(request: Request, token: str = "") -> Response:
    if not TOKEN.match(token):
        return _link_page(request, "unsubscribe", "", status_code=422)
    t = translator(language(request))
    try:
        await attempt(check_unsubscribe_link(request, token), t("error.unavailable"))
    except Refused as refused:
        return _link_page(request, "unsubscribe", token, message=refused.message, status_code=refused.status)
    return _link_page(request, "unsubscribe", token)


@router.post("/newsletter/unsubscribe")
async def unsubscribe_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    token = field(form, "token")
    if not TOKEN.match(token):
        return _link_page(request, "unsubscribe", "", status_code=422)
    try:
        await attempt(unsubscribe_link(request, token), t("error.unavailable"))
    except Refused as refused:
        return _link_page(request, "unsubscribe", token, message=refused.message, status_code=refused.status)
    return _link_page(request, "unsubscribe", token, done=True)
