"""Forgotten password, the mailed link to set a new one, and the change in the profile.

Each form posts to its own address and calls the JSON API's route function
(``routes.password``), so the rules live once: the answer to a forgotten password is the
same for every address, a link works once, a change needs the current password. Errors
are shown at their fields; every form works without JavaScript.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.routes.password import change_password, complete_password_reset, request_password_reset
from lethe_gateway.schemas import EmailBody, PasswordChangeBody, PasswordResetBody
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import expired, render
from lethe_gateway.web.session import page_account

router = APIRouter()

MAX_TOKEN = 512  # longer is no token of ours; the page only carries it back


def _new_password_errors(request: Request, new: str, repeat: str) -> dict[str, str]:
    """What the form itself can say of the new password: its length, and that both match.
    Everything else (the policy) is the identity service's to judge."""
    t = translator(language(request))
    errors: dict[str, str] = {}
    if len(new) < 10:
        errors["new_password"] = t("password.field.short")
    if not repeat:
        errors["repeat_password"] = t("field.required")
    elif repeat != new:
        errors["repeat_password"] = t("password.field.mismatch")
    return errors


# -- forgotten password ------------------------------------------------------------------
@router.get("/forgot-password")
async def forgot_page(request: Request) -> Response:
    return render(request, "password_forgot.html", values={"email": ""}, errors={}, message="")


@router.post("/forgot-password")
async def forgot_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    values = {"email": field(form, "email")}

    def refused(errors: dict[str, str], message: str, status_code: int) -> Response:
        return render(
            request,
            "password_forgot.html",
            values=values,
            errors=errors,
            message=message,
            status_code=status_code,
        )

    try:
        if "@" not in values["email"]:  # the rest of the address is identity's to judge
            raise ValueError
        body = EmailBody(email=values["email"])
    except (ValidationError, ValueError):
        return refused({"email": t("field.email")}, t("error.field"), 422)
    try:
        await attempt(request_password_reset(body, request), t("error.unavailable"))
    except Refused as no:
        at = {"email": t("field.email")} if no.status == 422 else {}
        return refused(at, t("error.field") if at else no.message, no.status)
    # The same answer for every address: whether it has an account is not told.
    return render(request, "password_forgot.html", sent=True, values=values, errors={}, message="")


# -- the mailed link ---------------------------------------------------------------------
@router.get("/reset-password")
async def reset_page(request: Request, token: str = "") -> Response:
    return render(request, "password_reset.html", token=token[:MAX_TOKEN], errors={}, message="")


@router.post("/reset-password")
async def reset_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    token = field(form, "token")[:MAX_TOKEN]
    new, repeat = str(form.get("new_password", "")), str(form.get("repeat_password", ""))

    def again(
        errors: dict[str, str], message: str, status_code: int, *, done: bool = False, gone: bool = False
    ) -> Response:
        return render(
            request,
            "password_reset.html",
            token=token,
            errors=errors,
            message=message,
            status_code=status_code,
            done=done,
            gone=gone,
        )

    errors = _new_password_errors(request, new, repeat)
    if errors:
        return again(errors, t("error.field"), 422)
    try:
        body = PasswordResetBody(token=token, new_password=new)
    except ValidationError:
        return again({}, "", 410, gone=True)  # no token of ours: a broken link
    response = again({}, "", 200, done=True)
    try:
        await attempt(complete_password_reset(body, request, response), t("error.unavailable"))
    except Refused as no:
        if no.status == 410:
            return again({}, "", 410, gone=True)
        if no.status == 422:  # the policy: identity says what to change
            return again({"new_password": no.message}, t("error.field"), 422)
        return again({}, no.message, no.status)
    return response


# -- the change in the profile -----------------------------------------------------------
def _login() -> Response:
    return RedirectResponse("/login?next=/account/password", status_code=303)


def _change_page(
    request: Request,
    account: pb.Account,
    *,
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    notice = t("password.change.done") if request.query_params.get("done") else ""
    return render(
        request,
        "password_change.html",
        account=account,
        errors=errors or {},
        message=message,
        notice=notice,
        status_code=status_code,
    )


@router.get("/account/password")
async def change_page(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _login()
    return _change_page(request, account)


@router.post("/account/password")
async def change_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    account = await page_account(request)
    if account is None:
        return _login()
    t = translator(language(request))
    current = str(form.get("current_password", ""))
    new, repeat = str(form.get("new_password", "")), str(form.get("repeat_password", ""))
    errors = _new_password_errors(request, new, repeat)
    if not current:
        errors["current_password"] = t("field.required")
    try:
        body = PasswordChangeBody(current_password=current, new_password=new)
    except ValidationError:
        errors.setdefault("new_password", t("password.field.short"))
    if errors:
        return _change_page(request, account, errors=errors, message=t("error.field"), status_code=422)
    try:
        await attempt(change_password(body, request, account), t("error.unavailable"))
    except Refused as no:
        if no.status == 403:
            wrong = t("password.change.wrong")
            return _change_page(
                request,
                account,
                errors={"current_password": wrong},
                message=t("error.field"),
                status_code=403,
            )
        if no.status == 422:  # the policy: identity says what to change
            return _change_page(
                request,
                account,
                errors={"new_password": no.message},
                message=t("error.field"),
                status_code=422,
            )
        return _change_page(request, account, message=no.message, status_code=no.status)
    return RedirectResponse("/account/password?done=1", status_code=303)
