"""Pages every visitor has: the cookie choice and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from lethe_gateway.cookies import put_cookie
from lethe_gateway.routes.consents import record_analytics_choice
from lethe_gateway.web.analytics import forget_visitor
from lethe_gateway.web.forms import csrf_ok, field, set_choice_cookie
from lethe_gateway.web.i18n import LANGUAGE_COOKIE, LANGUAGES, language, translator
from lethe_gateway.web.render import render
from lethe_gateway.web.session import page_account

router = APIRouter()


def local_path(target: str, default: str = "/") -> str:
    """Only a path of this site: never an address elsewhere (no open redirect)."""
    return (
        target if target.startswith("/") and not target.startswith("//") and "\\" not in target else default
    )


@router.get("/cookies")
async def cookie_settings(request: Request) -> Response:
    account = await page_account(request)
    notice = translator(language(request))("cookies.saved") if request.query_params.get("saved") else ""
    return render(request, "cookies.html", account=account, notice=notice)


@router.post("/cookies")
async def choose_cookies(request: Request) -> Response:
    form = await request.form()
    account = await page_account(request)
    t = translator(language(request))
    choice = field(form, "choice")
    if not csrf_ok(request, form) or choice not in ("accepted", "declined"):
        return render(
            request,
            "message.html",
            account=account,
            status_code=400,
            title=t("error.title"),
            message=t("error.csrf"),
            kind="error",
        )
    if account is not None:  # the ledger holds a logged-in person's choice
        await record_analytics_choice(request, account, choice)
    target = local_path(field(form, "next"))
    response = RedirectResponse(target + ("?saved=1" if target == "/cookies" else ""), status_code=303)
    set_choice_cookie(request, response, choice)
    if choice == "declined":
        await forget_visitor(request, response)
    return response


@router.post("/language")
async def switch_language(request: Request) -> Response:
    form = await request.form()
    chosen = field(form, "to")
    response = RedirectResponse(local_path(field(form, "next")), status_code=303)
    if csrf_ok(request, form) and chosen in LANGUAGES:
        put_cookie(request, response, LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600)
    return response
