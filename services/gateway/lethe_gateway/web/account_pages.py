"""Register, activate from the mail's link (or confirm a changed address), log in and out.

The account page itself is in ``profile_pages.py``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe_gateway.routes.accounts import register as register_account
from lethe_gateway.routes.accounts import verify as verify_account
from lethe_gateway.routes.consents import consent_texts
from lethe_gateway.routes.session import login as log_in
from lethe_gateway.routes.session import logout as log_out
from lethe_gateway.schemas import LoginBody, RegisterBody, VerifyBody
from lethe_gateway.web.checkout_pages import drop_checkout
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.profile_pages import forget_session
from lethe_gateway.web.render import expired, render
from lethe_gateway.web.session import page_account
from lethe_gateway.web.site_pages import local_path

router = APIRouter()


async def _account_text(request: Request) -> tuple[str, dict[str, str]]:
    lang = language(request)
    texts = await attempt(consent_texts(request), translator(lang)("error.unavailable"))
    text = next(x for x in texts if x.purpose == "account")
    return text.version, text.texts.get(lang) or text.texts["en"]


@router.get("/register")
async def register_page(request: Request) -> Response:
    account = await page_account(request)
    if account is not None:
        return RedirectResponse("/account", status_code=303)
    return await _register_form(request, {}, {}, "")


async def _register_form(
    request: Request, values: dict[str, str], errors: dict[str, str], message: str, status_code: int = 200
) -> Response:
    try:
        version, text = await _account_text(request)
    except Refused as refused:
        return render(
            request,
            "message.html",
            status_code=refused.status,
            title=refused.message,
            message=refused.message,
            kind="error",
        )
    return render(
        request,
        "register.html",
        values={"email": "", "name": "", "phone": "", **values},
        errors=errors,
        message=message,
        consent_version=version,
        consent_text=text,
        status_code=status_code,
    )


@router.post("/register")
async def register_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    values = {name: field(form, name) for name in ("email", "name", "phone")}
    errors: dict[str, str] = {}
    if "@" not in values["email"]:  # the rest of the address is identity's to judge
        errors["email"] = t("field.email")
    if field(form, "consent") != "yes":
        errors["consent"] = t("field.consent")
    try:
        body = RegisterBody(
            email=values["email"],
            password=str(form.get("password", "")),
            name=values["name"],
            phone=values["phone"] or None,
            account_consent_version=field(form, "consent_version"),
        )
    except ValidationError as exc:
        messages = {"email": t("field.email"), "password": t("field.password")}
        errors.update(field_errors(exc, messages, t("field.required")))
    if errors:
        return await _register_form(request, values, errors, t("error.field"), status_code=422)
    try:
        await attempt(register_account(body, request), t("error.unavailable"))
    except Refused as refused:
        return await _register_form(request, values, {}, refused.message, status_code=refused.status)
    return render(request, "register.html", sent=True, values=values, errors={}, message="")


@router.get("/verify-email")
async def verify_page(request: Request, token: str = "") -> Response:
    return render(request, "verify.html", token=token[:512], errors={}, message="")


@router.post("/verify-email")
async def verify_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    token = field(form, "token")
    password = str(form.get("password", ""))
    try:
        body = VerifyBody(token=token, password=password)
        await attempt(verify_account(body, request), t("error.unavailable"))
    except ValidationError:
        return render(
            request,
            "verify.html",
            token=token,
            errors={"password": t("field.required")},
            message=t("error.field"),
            status_code=422,
        )
    except Refused as refused:
        # 401: an activation link, which needs the password (a changed address does not).
        return render(
            request,
            "verify.html",
            token=token,
            errors={"password": refused.message} if refused.status == 401 else {},
            message=refused.message,
            status_code=refused.status,
        )
    forget_session(request)  # as the JSON route does: GET /api/v1/me shows the new address at once
    # Without a password only a changed address can have been confirmed.
    return render(
        request, "verify.html", token=token, done="changed" if not password else True, errors={}, message=""
    )


@router.get("/login")
async def login_page(request: Request, next: str = "/account") -> Response:  # noqa: A002 - the form's name
    notice = translator(language(request))("logout.done") if request.query_params.get("out") else ""
    return render(
        request,
        "login.html",
        values={"email": ""},
        errors={},
        message="",
        notice=notice,
        next=local_path(next, "/account"),
    )


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    values = {"email": field(form, "email")}
    target = local_path(field(form, "next"), "/account")
    try:
        body = LoginBody(
            email=values["email"],
            password=str(form.get("password", "")),
            remember_me=field(form, "remember_me") == "yes",
        )
    except ValidationError as exc:
        errors = field_errors(exc, {"email": t("field.email")}, t("field.required"))
        return render(
            request,
            "login.html",
            values=values,
            errors=errors,
            message=t("error.field"),
            notice="",
            next=target,
            status_code=422,
        )
    response = RedirectResponse(target, status_code=303)
    try:
        await attempt(log_in(body, request, response), t("error.unavailable"))
    except Refused as refused:
        message = t("login.failed") if refused.status in (401, 403, 404) else refused.message
        return render(
            request,
            "login.html",
            values=values,
            errors={},
            message=message,
            notice="",
            next=target,
            status_code=refused.status,
        )
    return response


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    """Log out with the session cookie alone (issue 18): no CSRF field is needed to end
    one's own session; at worst another site can log a person out."""
    ended = await log_out(request, await page_account(request))
    response = RedirectResponse("/login?out=1", status_code=303)
    drop_checkout(request, response)  # addresses waiting for a payment go with the session
    for name, value in ended.raw_headers:
        if name == b"set-cookie":
            response.raw_headers.append((name, value))
    return response
