"""Privacy requests without an account (issue 16): the form, and the pages the privacy
mails link to (``/privacy-requests/confirm?token=`` and ``/privacy-requests/<id>?token=``,
the follow page with every service's receipt and the proof of erasure).

Every action calls the JSON API's own route function (``routes.privacy``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.privacy_schemas import (
    ConfirmBody,
    PrivacyRequestBody,
)
from lethe_gateway.routes.privacy import (
    confirm_request,
    file_request,
    follow_request,
)
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.privacy_frame import page
from lethe_gateway.web.render import expired, problem
from lethe_gateway.web.session import page_account

router = APIRouter()

REQUEST_KINDS = ("access", "erasure", "restriction", "restriction_lift", "objection")
MAX_TOKEN = 128


# -- without an account ---------------------------------------------------------------------
def _request_form(
    request: Request,
    account: pb.Account | None,
    values: dict[str, str],
    errors: dict[str, str],
    message: str,
    status_code: int = 200,
    sent: bool = False,
) -> Response:
    return page(
        request,
        "privacy_request_form.html",
        account,
        status_code=status_code,
        kinds=REQUEST_KINDS,
        values=values,
        errors=errors,
        message=message,
        sent=sent,
    )


@router.get("/privacy/request")
async def request_page(request: Request) -> Response:
    account = await page_account(request)
    return _request_form(request, account, {"email": "", "kind": "", "purpose": "", "reason": ""}, {}, "")


@router.post("/privacy/request")
async def request_submit(request: Request) -> Response:
    form = await request.form()
    account = await page_account(request)
    if not csrf_ok(request, form):
        return expired(request, account)
    t = translator(language(request))
    values = {name: field(form, name) for name in ("email", "kind", "purpose", "reason")}
    errors: dict[str, str] = {}
    if "@" not in values["email"]:  # the rest of the address is consent's to judge
        errors["email"] = t("field.email")
    if values["kind"] == "objection" and not values["purpose"]:
        errors["purpose"] = t("privacy.objection.purpose.missing")
    try:
        body = PrivacyRequestBody(
            email=values["email"],
            kind=values["kind"],  # type: ignore[arg-type]  # the model checks it
            purpose=values["purpose"] or None,
            reason=values["reason"],
        )
    except ValidationError as exc:
        messages = {
            "email": t("field.email"),
            "kind": t("privacy.request.kind.missing"),
            "purpose": t("privacy.objection.purpose.missing"),
            "reason": t("privacy.reason.long"),
        }
        errors.update(field_errors(exc, messages, t("field.required")))
    if errors:
        return _request_form(request, account, values, errors, t("error.field"), 422)
    try:
        await attempt(file_request(body, request), t("error.unavailable"))
    except Refused as refused:
        return _request_form(request, account, values, {}, refused.message, refused.status)
    return _request_form(request, account, values, {}, "", 202, sent=True)


@router.get("/privacy-requests/confirm")
async def confirm_page(request: Request, token: str = "") -> Response:
    """The confirmation link of a privacy mail: a button, so that a mail scanner opening
    the link confirms nothing."""
    account = await page_account(request)
    return page(request, "privacy_confirm.html", account, token=token[:MAX_TOKEN], message="")


@router.post("/privacy-requests/confirm")
async def confirm_submit(request: Request) -> Response:
    form = await request.form()
    account = await page_account(request)
    if not csrf_ok(request, form):
        return expired(request, account)
    t = translator(language(request))
    token = field(form, "token")
    try:
        body = ConfirmBody(token=token)
        confirmed = await attempt(confirm_request(body, request), t("error.unavailable"))
    except ValidationError:
        return page(request, "privacy_confirm.html", account, 422, token="", message=t("privacy.link.broken"))
    except Refused as refused:
        return page(
            request, "privacy_confirm.html", account, refused.status, token=token, message=refused.message
        )
    return page(request, "privacy_confirm.html", account, token=token, message="", confirmed=confirmed)


@router.get("/privacy-requests/{request_id}")
async def follow_page(request: Request, request_id: str, token: str = "") -> Response:
    """The follow link of a privacy mail: the request's status, every service's receipt and
    the proof of erasure's result, for whoever holds the token (no log-in)."""
    account = await page_account(request)
    t = translator(language(request))
    if not token:
        return problem(request, account, t("privacy.link.broken"), 404)
    try:
        found = await attempt(follow_request(request_id, token[:MAX_TOKEN], request), t("error.unavailable"))
    except Refused as refused:
        message = t("privacy.link.broken") if refused.status in (404, 410, 422) else refused.message
        return problem(request, account, message, refused.status)
    return page(request, "privacy_follow.html", account, found=found)
