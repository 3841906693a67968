"""The privacy notice, the imprint and the contact and callback form.

The privacy notice is generated, never written by hand: for each service what it declares
in its data inventory (``lethe_<service>.inventory``, answered by its ``DescribeInventory``
RPC, the same declaration its data export carries), and the consent texts currently in
force with their versions (``routes.consents.consent_texts``). The contact form calls the
JSON API's own route (``routes.contact``) and shows what identity declares for contact
requests: purpose, lawful basis, retention.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from lethe.common.v1 import subject_pb2
from lethe_gateway.deps import analytics, consent, identity, newsletter, rpc_timeout, shop
from lethe_gateway.inventory import described as gateway_inventory
from lethe_gateway.privacy_schemas import ConsentTextOut
from lethe_gateway.routes.consents import consent_texts
from lethe_gateway.routes.contact import contact as send_contact
from lethe_gateway.schemas import ContactBody
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.render import expired, render
from lethe_gateway.web.session import page_account

router = APIRouter()
SERVICES = ("identity", "consent", "shop", "newsletter", "analytics")
CONTACT_COLLECTION = "contact_requests"  # identity's collection of contact and callback requests


async def inventory(request: Request, service: str) -> subject_pb2.DescribeInventoryResponse:
    """What one service declares it keeps (its ``DescribeInventory``; it names no one)."""
    stubs = {
        "identity": identity,
        "consent": consent,
        "shop": shop,
        "newsletter": newsletter,
        "analytics": analytics,
    }
    stub: Any = stubs[service](request)
    reply: subject_pb2.DescribeInventoryResponse = await stub.DescribeInventory(
        subject_pb2.DescribeInventoryRequest(), timeout=rpc_timeout(request)
    )
    return reply


@router.get("/privacy-notice")
async def privacy_notice(request: Request) -> Response:
    account = await page_account(request)
    t = translator(language(request))
    try:
        declared = await asyncio.gather(
            *(attempt(inventory(request, s), t("error.unavailable")) for s in SERVICES)
        )
        texts: list[ConsentTextOut] = await attempt(consent_texts(request), t("error.unavailable"))
    except Refused as refused:
        return render(
            request,
            "message.html",
            account=account,
            status_code=refused.status,
            title=t("info.notice.title"),
            message=refused.message,
            kind="error",
        )
    return render(
        request,
        "info_notice.html",
        account=account,
        services=[
            *zip(SERVICES, declared, strict=True),
            ("gateway", gateway_inventory(request.app.state.config.access_log_days)),
        ],
        texts=texts,
    )


@router.get("/imprint")
async def imprint(request: Request) -> Response:
    return render(request, "info_imprint.html", account=await page_account(request))


async def _contact_form(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    message: str,
    status_code: int = 200,
    sent: bool = False,
) -> Response:
    account = await page_account(request)
    holding: subject_pb2.DeclaredHolding | None = None
    try:
        declared = await attempt(inventory(request, "identity"), "")
        holding = next((h for h in declared.inventory if h.collection == CONTACT_COLLECTION), None)
    except Refused:
        holding = None  # the form works without the declaration; the notice says it all
    defaults = {"name": account.name, "email": account.email, "phone": account.phone} if account else {}
    return render(
        request,
        "info_contact.html",
        account=account,
        values={"name": "", "email": "", "phone": "", "message": "", "kind": "contact", **defaults, **values},
        errors=errors,
        message=message,
        holding=holding,
        sent=sent,
        status_code=status_code,
    )


@router.get("/contact")
async def contact_page(request: Request) -> Response:
    return await _contact_form(request, {}, {}, "")


@router.post("/contact")
async def contact_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    t = translator(language(request))
    values = {name: field(form, name) for name in ("name", "email", "phone", "message", "kind")}
    values["kind"] = values["kind"] if values["kind"] in ("contact", "callback") else "contact"
    errors: dict[str, str] = {}
    if "@" not in values["email"]:
        errors["email"] = t("field.email")
    try:
        body = ContactBody(
            name=values["name"],
            email=values["email"],
            phone=values["phone"] or None,
            message=values["message"],
            kind=values["kind"],  # type: ignore[arg-type]  # checked just above
            website=field(form, "website"),
        )
    except ValidationError as exc:
        messages = {
            "email": t("field.email"),
            "phone": t("info.contact.phone.invalid"),
            "message": t("info.contact.message.invalid"),
        }
        errors.update(field_errors(exc, messages, t("field.required")))
    if errors:
        return await _contact_form(request, values, errors, t("error.field"), status_code=422)
    try:
        await attempt(send_contact(body, request), t("error.unavailable"))
    except Refused as refused:
        # Identity refuses a callback without a number: the message belongs to that field.
        at_phone = refused.status < 500 and values["kind"] == "callback" and not values["phone"]
        errors = {"phone": refused.message} if at_phone else {}
        return await _contact_form(request, values, errors, refused.message, status_code=refused.status)
    return await _contact_form(request, {}, {}, "", sent=True)
