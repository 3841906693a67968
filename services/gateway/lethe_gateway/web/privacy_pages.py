"""The privacy centre (issue 16), for a logged-in person: consents with their history and
exact texts, the data export, erasure, restriction and its lifting, objection, and their
requests with every service's receipt. The pages a privacy mail links to, and the request
without an account, are in ``privacy_request_pages.py``.

Every action calls the JSON API's own route function (``routes.consents``,
``routes.privacy``, ``routes.data_export``); this module only turns forms into those calls
and their answers into pages.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.privacy_schemas import (
    ConsentsOut,
    ConsentTextOut,
    ErasureBody,
    GrantBody,
    ObjectionBody,
    OpenedOut,
)
from lethe_gateway.routes.consents import consent_texts, grant, my_consents, withdraw
from lethe_gateway.routes.data_export import data_export
from lethe_gateway.routes.privacy import (
    erase_me,
    lift_restriction,
    my_requests,
    object_to,
    restrict_me,
)
from lethe_gateway.web.analytics import forget_visitor
from lethe_gateway.web.forms import csrf_ok, field, set_choice_cookie
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.privacy_frame import page
from lethe_gateway.web.render import expired, problem
from lethe_gateway.web.session import page_account
from lethe_gateway.web.step_up import PASSWORD_FIELD, confirm_password, refusal_on_form

router = APIRouter()


# Purposes processed on legitimate interest, which a person may object to (Art. 21) beside
# the consent purposes the consent service lists; the consent service judges every purpose.
OBJECTABLE_INTERESTS = ("access_logs", "contact_requests")
EXPORT_HEADERS = ("content-disposition", "cache-control", "x-export-complete")


def _to_login(path: str) -> Response:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


def follow_link(opened: OpenedOut) -> str:
    return f"/privacy-requests/{opened.request.id}?token={quote(opened.follow_token, safe='')}"


def _text_in(text: ConsentTextOut | None, lang: str) -> dict[str, str]:
    if text is None:
        return {"title": "", "body": ""}
    return text.texts.get(lang) or text.texts.get("en") or {"title": text.purpose, "body": ""}


def _consent_view(lang: str, texts: list[ConsentTextOut], mine: ConsentsOut) -> list[dict[str, Any]]:
    """Per purpose: the current text, the person's state and the history of that purpose."""
    states = {s.purpose: s for s in mine.states}
    return [
        {
            "purpose": text.purpose,
            "version": text.version,
            "text": _text_in(text, lang),
            "state": states.get(text.purpose),
            "history": [
                {"record": r, "text": _text_in(r.text, lang)}
                for r in mine.history
                if r.purpose == text.purpose
            ],
        }
        for text in texts
    ]


# -- the overview ---------------------------------------------------------------------------
@router.get("/privacy")
async def overview(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _to_login("/privacy")
    return page(request, "privacy_overview.html", account)


# -- consents -------------------------------------------------------------------------------
async def _consents_page(
    request: Request, account: pb.Account, notice: str = "", message: str = "", status_code: int = 200
) -> Response:
    lang = language(request)
    t = translator(lang)
    try:
        texts = await attempt(consent_texts(request), t("error.unavailable"))
        mine = await attempt(my_consents(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    return page(
        request,
        "privacy_consents.html",
        account,
        status_code=status_code,
        purposes=_consent_view(lang, texts, mine),
        notice=notice,
        message=message,
    )


@router.get("/privacy/consents")
async def consents_page(request: Request, done: str = "") -> Response:
    account = await page_account(request)
    if account is None:
        return _to_login("/privacy/consents")
    t = translator(language(request))
    notice = t(f"privacy.consents.done.{done}") if done in ("granted", "withdrawn") else ""
    return await _consents_page(request, account, notice=notice)


@router.post("/privacy/consents")
async def consents_submit(request: Request) -> Response:
    form = await request.form()
    account = await page_account(request)
    if not csrf_ok(request, form):
        return expired(request, account)
    if account is None:
        return _to_login("/privacy/consents")
    t = translator(language(request))
    action, purpose = field(form, "action"), field(form, "purpose")
    try:
        if action == "grant":
            body = GrantBody(purpose=purpose, version=field(form, "version"))
            await attempt(grant(body, request, account), t("error.unavailable"))
        elif action == "withdraw" and purpose == "account":
            # Withdrawing the account consent erases the account: the erase page says what that means.
            return RedirectResponse("/privacy/erase", status_code=303)
        elif action == "withdraw":
            await attempt(withdraw(purpose, request, account), t("error.unavailable"))
        else:
            raise Refused(400, t("error.field"))
    except ValidationError:
        return await _consents_page(request, account, message=t("error.field"), status_code=422)
    except Refused as refused:
        return await _consents_page(request, account, message=refused.message, status_code=refused.status)
    done = "granted" if action == "grant" else "withdrawn"
    response = RedirectResponse(f"/privacy/consents?done={done}#purpose-{purpose}", status_code=303)
    if purpose == "analytics":  # this browser follows the ledger at once
        set_choice_cookie(request, response, "accepted" if action == "grant" else "declined")
        if action == "withdraw":
            await forget_visitor(request, response)
    return response


# -- the export -----------------------------------------------------------------------------
@router.get("/privacy/export")
async def export_download(request: Request) -> Response:
    """The JSON API's document, saved by the browser as a file."""
    account = await page_account(request)
    if account is None:
        return _to_login("/privacy/export")
    headers = Response()
    try:
        document = await attempt(
            data_export(request, headers, account), translator(language(request))("error.unavailable")
        )
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    return JSONResponse(
        document.model_dump(mode="json"),
        headers={name: value for name, value in headers.headers.items() if name in EXPORT_HEADERS},
    )


# -- erasure, restriction, objection ----------------------------------------------------------
def _opened(request: Request, account: pb.Account | None, opened: OpenedOut) -> Response:
    return page(
        request,
        "privacy_opened.html",
        account,
        status_code=202,
        opened=opened.request,
        follow=follow_link(opened),
    )


@router.get("/privacy/erase")
async def erase_page(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _to_login("/privacy/erase")
    return page(
        request, "privacy_erase.html", account, errors={}, values={"reason": ""}, message="", step_up=False
    )


@router.post("/privacy/erase")
async def erase_submit(request: Request) -> Response:
    """Erasure needs the password entered within 10 minutes: the form's password field,
    optional until then, is checked first (``step_up.py``)."""
    form = await request.form()
    account = await page_account(request)
    if not csrf_ok(request, form):
        return expired(request, account)
    if account is None:
        return _to_login("/privacy/erase")
    t = translator(language(request))
    values = {"reason": field(form, "reason"), "confirm": field(form, "confirm")}
    errors: dict[str, str] = {}
    if field(form, "confirm") != "yes":
        errors["confirm"] = t("privacy.erase.confirm.missing")
    try:
        body = ErasureBody(reason=values["reason"])
    except ValidationError as exc:
        errors.update(field_errors(exc, {"reason": t("privacy.reason.long")}, t("field.required")))
    if errors:
        return page(
            request,
            "privacy_erase.html",
            account,
            status_code=422,
            errors=errors,
            values=values,
            message=t("error.field"),
            step_up=False,
        )
    try:
        await confirm_password(request, account, str(form.get(PASSWORD_FIELD, "")))
        opened = await attempt(erase_me(body, request, account), t("error.unavailable"))
    except Refused as refused:
        errors, message, step_up = refusal_on_form(refused, t)
        return page(
            request,
            "privacy_erase.html",
            account,
            status_code=refused.status,
            errors=errors,
            values=values,
            message=message,
            step_up=step_up,
        )
    response = _opened(request, None, opened)  # the account is being erased: no more account pages
    await forget_visitor(request, response)
    return response


@router.get("/privacy/restriction")
async def restriction_page(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _to_login("/privacy/restriction")
    return page(request, "privacy_restriction.html", account, errors={}, values={"reason": ""}, message="")


@router.post("/privacy/restriction")
async def restriction_submit(request: Request) -> Response:
    form = await request.form()
    account = await page_account(request)
    if not csrf_ok(request, form):
        return expired(request, account)
    if account is None:
        return _to_login("/privacy/restriction")
    t = translator(language(request))
    values = {"reason": field(form, "reason")}
    try:
        if field(form, "action") == "lift":
            opened = await attempt(lift_restriction(request, account), t("error.unavailable"))
        else:
            body = ErasureBody(reason=values["reason"])
            opened = await attempt(restrict_me(body, request, account), t("error.unavailable"))
    except ValidationError as exc:
        errors = field_errors(exc, {"reason": t("privacy.reason.long")}, t("field.required"))
        return page(
            request,
            "privacy_restriction.html",
            account,
            status_code=422,
            errors=errors,
            values=values,
            message=t("error.field"),
        )
    except Refused as refused:
        return page(
            request,
            "privacy_restriction.html",
            account,
            status_code=refused.status,
            errors={},
            values=values,
            message=refused.message,
        )
    return _opened(request, account, opened)


async def _objectable(request: Request) -> list[str]:
    texts = await attempt(consent_texts(request), translator(language(request))("error.unavailable"))
    return [x.purpose for x in texts if x.purpose != "account"] + list(OBJECTABLE_INTERESTS)


async def _objection_form(
    request: Request,
    account: pb.Account | None,
    values: dict[str, str],
    errors: dict[str, str],
    message: str,
    status_code: int = 200,
) -> Response:
    try:
        purposes = await _objectable(request)
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    return page(
        request,
        "privacy_objection.html",
        account,
        status_code=status_code,
        purposes=purposes,
        values=values,
        errors=errors,
        message=message,
    )


@router.get("/privacy/objection")
async def objection_page(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _to_login("/privacy/objection")
    return await _objection_form(request, account, {"purpose": "", "reason": ""}, {}, "")


@router.post("/privacy/objection")
async def objection_submit(request: Request) -> Response:
    form = await request.form()
    account = await page_account(request)
    if not csrf_ok(request, form):
        return expired(request, account)
    if account is None:
        return _to_login("/privacy/objection")
    t = translator(language(request))
    values = {"purpose": field(form, "purpose"), "reason": field(form, "reason")}
    try:
        body = ObjectionBody(purpose=values["purpose"], reason=values["reason"])
        opened = await attempt(object_to(body, request, account), t("error.unavailable"))
    except ValidationError as exc:
        messages = {"purpose": t("privacy.objection.purpose.missing"), "reason": t("field.required")}
        errors = field_errors(exc, messages, t("field.required"))
        return await _objection_form(request, account, values, errors, t("error.field"), 422)
    except Refused as refused:
        return await _objection_form(request, account, values, {}, refused.message, refused.status)
    return _opened(request, account, opened)


# -- the person's requests ------------------------------------------------------------------
@router.get("/privacy/requests")
async def requests_page(request: Request) -> Response:
    account = await page_account(request)
    if account is None:
        return _to_login("/privacy/requests")
    try:
        found = await attempt(
            my_requests(request, account), translator(language(request))("error.unavailable")
        )
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    return page(request, "privacy_requests.html", account, requests=found)
