"""The account page: rectify name and phone, change the e-mail address (with the password
if it was last entered more than 10 minutes ago), ask for portal
access and see the organisation once approved, and the newsletter switch.

Every action is a form posting to its own address, which calls the JSON API's route
function (``routes.me``, ``routes.newsletter``) and answers with a redirect back to
``/account`` (post/redirect/get), or with the page and its errors.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.auth import SESSION_COOKIE
from lethe_gateway.cookies import read_cookie
from lethe_gateway.deps import require_portal_access
from lethe_gateway.newsletter_schemas import PortalSubscribeBody, SubscriptionOut
from lethe_gateway.routes.consents import consent_texts
from lethe_gateway.routes.me import ask_portal_access, patch_me, portal_organisation
from lethe_gateway.routes.newsletter import my_subscription, subscribe_me, unsubscribe_me
from lethe_gateway.schemas import ProfilePatch
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.render import expired, render
from lethe_gateway.web.session import page_account
from lethe_gateway.web.step_up import PASSWORD_FIELD, confirm_password, refusal_on_form

router = APIRouter()

# What a redirect back to /account says, by the ``done`` query value.
DONE = {
    "profile": "profile.saved",
    "email": "profile.email.sent",
    "portal": "profile.portal.asked",
    "subscribed": "profile.newsletter.sent",
    "unsubscribed": "profile.newsletter.left",
}


def _login(path: str) -> Response:
    return RedirectResponse(f"/login?next={path}", status_code=303)


def forget_session(request: Request) -> None:
    """Like every state-changing JSON request: this process's remembered answer for the
    session goes, so the next ``GET /api/v1/me`` shows the change at once."""
    token = read_cookie(request, SESSION_COOKIE)
    if token:
        request.app.state.sessions.forget(token)


async def newsletter_text(request: Request) -> tuple[str, dict[str, str]]:
    """The current newsletter consent text in the page's language, and its version."""
    lang = language(request)
    texts = await attempt(consent_texts(request), translator(lang)("error.unavailable"))
    text = next(x for x in texts if x.purpose == "newsletter")
    return text.version, text.texts.get(lang) or text.texts["en"]


async def _account_page(
    request: Request,
    account: pb.Account,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
    step_up: bool = False,
) -> Response:
    t = translator(language(request))
    notice = t(DONE[request.query_params.get("done", "")]) if request.query_params.get("done") in DONE else ""
    subscription: SubscriptionOut | None = None
    text: dict[str, str] = {}
    version = ""
    newsletter_error = ""
    try:
        subscription = await attempt(my_subscription(request, account), t("error.unavailable"))
        if subscription.status not in ("pending", "active"):
            version, text = await newsletter_text(request)
    except Refused as refused:
        newsletter_error = refused.message
    context: dict[str, Any] = {
        "values": {"name": account.name, "phone": account.phone, "email": "", **(values or {})},
        "errors": errors or {},
        "message": message,
        "notice": notice,
        "access": account.portal_access,
        "subscription": subscription,
        "newsletter_version": version,
        "newsletter_text": text,
        "newsletter_error": newsletter_error,
        "step_up": step_up,  # the e-mail form's password field is required
    }
    return render(request, "profile_account.html", account=account, status_code=status_code, **context)


@router.get("/account")
async def account_page(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _login("/account")
    return await _account_page(request, account)


@router.post("/account/profile")
async def profile_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    account = await page_account(request)
    if account is None:
        return _login("/account")
    t = translator(language(request))
    values = {"name": field(form, "name"), "phone": field(form, "phone")}
    try:
        body = ProfilePatch(name=values["name"], phone=values["phone"])
    except ValidationError as exc:
        errors = field_errors(exc, {"name": t("profile.field.name"), "phone": t("profile.field.phone")}, "")
        return await _account_page(
            request, account, values=values, errors=errors, message=t("error.field"), status_code=422
        )
    try:
        await attempt(patch_me(body, request, account), t("error.unavailable"))
    except Refused as refused:
        # Identity judges the values; its message names the field it refused.
        at = [
            name for name in ("phone", "name") if refused.status == 422 and refused.message.startswith(name)
        ]
        return await _account_page(
            request,
            account,
            values=values,
            errors={at[0]: refused.message} if at else {},
            message=refused.message,
            status_code=refused.status,
        )
    forget_session(request)
    return RedirectResponse("/account?done=profile", status_code=303)


@router.post("/account/email")
async def email_submit(request: Request) -> Response:
    """A new address needs the password entered within 10 minutes: the form's password
    field, optional until then, is checked first (``step_up.py``)."""
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    account = await page_account(request)
    if account is None:
        return _login("/account")
    t = translator(language(request))
    values = {"email": field(form, "email")}
    try:
        if "@" not in values["email"]:  # the rest of the address is identity's to judge
            raise ValueError
        body = ProfilePatch(email=values["email"])
    except (ValidationError, ValueError):
        return await _account_page(
            request,
            account,
            values=values,
            errors={"email": t("field.email")},
            message=t("error.field"),
            status_code=422,
        )
    try:
        await confirm_password(request, account, str(form.get(PASSWORD_FIELD, "")))
        await attempt(patch_me(body, request, account), t("error.unavailable"))
    except Refused as refused:
        errors, message, step_up = refusal_on_form(refused, t)
        return await _account_page(
            request,
            account,
            values=values,
            errors=errors if step_up else {"email": refused.message},
            message=message,
            status_code=refused.status,
            step_up=step_up,
        )
    forget_session(request)
    return RedirectResponse("/account?done=email", status_code=303)


@router.post("/account/portal-access")
async def portal_access_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    account = await page_account(request)
    if account is None:
        return _login("/account")
    t = translator(language(request))
    try:
        await attempt(ask_portal_access(request, account), t("error.unavailable"))
    except Refused as refused:
        return await _account_page(request, account, message=refused.message, status_code=refused.status)
    forget_session(request)
    return RedirectResponse("/account?done=portal", status_code=303)


@router.get("/account/organisation")
async def organisation_page(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _login("/account/organisation")
    t = translator(language(request))
    try:
        member = await attempt(require_portal_access(account), t("error.unavailable"))
        organisation = await attempt(portal_organisation(request, member), t("error.unavailable"))
    except Refused as refused:
        message = t("profile.organisation.none") if refused.status == 403 else refused.message
        return render(
            request,
            "message.html",
            account=account,
            status_code=refused.status,
            title=t("profile.organisation.title"),
            message=message,
            kind="error",
        )
    return render(request, "profile_organisation.html", account=account, organisation=organisation)


@router.post("/account/newsletter")
async def newsletter_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    account = await page_account(request)
    if account is None:
        return _login("/account")
    t = translator(language(request))
    if field(form, "consent") != "yes":
        return await _account_page(
            request,
            account,
            errors={"newsletter_consent": t("profile.newsletter.consent.needed")},
            message=t("error.field"),
            status_code=422,
        )
    try:
        body = PortalSubscribeBody(consent_version=field(form, "consent_version"))
        await attempt(subscribe_me(body, request, account), t("error.unavailable"))
    except ValidationError:
        return await _account_page(request, account, message=t("error.csrf"), status_code=422)
    except Refused as refused:
        return await _account_page(request, account, message=refused.message, status_code=refused.status)
    return RedirectResponse("/account?done=subscribed", status_code=303)


@router.post("/account/newsletter/leave")
async def newsletter_leave(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    account = await page_account(request)
    if account is None:
        return _login("/account")
    t = translator(language(request))
    try:
        await attempt(unsubscribe_me(request, account), t("error.unavailable"))
    except Refused as refused:
        return await _account_page(request, account, message=refused.message, status_code=refused.status)
    return RedirectResponse("/account?done=unsubscribed", status_code=303)
