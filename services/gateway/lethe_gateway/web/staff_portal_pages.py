"""Back office, role support: portal-access requests, decided by approving or rejecting
(with a reason). Each decision is identity's, checked and recorded there (routes.admin)."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import SUPPORT
from lethe_gateway.routes.admin import (
    PortalStatus,
    decide_portal_access,
    list_portal_requests,
)
from lethe_gateway.schemas import DecisionBody
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.privacy_frame import when
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.staff_gate import staff_account
from lethe_gateway.web.staff_lists import ID_RE, Place, done_message, list_page, page_limit

router = APIRouter()
PORTAL = "/staff/portal-requests"
PORTAL_STATUSES = ("pending", "approved", "rejected")


# -- portal-access requests ------------------------------------------------------------------
async def _portal_page(
    request: Request,
    staff: pb.Account,
    place: Place,
    *,
    notice: str = "",
    message: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    listed = await list_page(
        request,
        staff,
        PORTAL,
        place,
        lambda r: list_portal_requests(
            request, r, staff, cast(PortalStatus, place.status), place.limit, place.token
        ),
    )
    if isinstance(listed, Response):
        return listed
    items, paging = listed
    return render(
        request,
        "staff_support_portal.html",
        account=staff,
        status_code=status_code,
        requests=items,
        status=place.status,
        statuses=PORTAL_STATUSES,
        notice=notice,
        message=message,
        values=values or {},
        errors=errors or {},
        when=when,
        **paging,
    )


@router.get(PORTAL)
async def portal_requests_page(
    request: Request, status: str = "pending", page_token: str = "", limit: str = "", done: str = ""
) -> Response:
    staff = await staff_account(request, SUPPORT)
    if isinstance(staff, Response):
        return staff
    place = Place(status if status in PORTAL_STATUSES else "pending", page_token, page_limit(limit))
    if place.token != page_token:
        return RedirectResponse(place.href(PORTAL), status_code=303)
    t = translator(language(request))
    notice = done_message(t, "staff.support.portal", done, ("approved", "rejected"))
    return await _portal_page(request, staff, place, notice=notice)


@router.post(PORTAL + "/{account_id}")
async def portal_decide(request: Request, account_id: str) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, SUPPORT)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    if not ID_RE.fullmatch(account_id):
        return problem(request, staff, t("staff.support.gone"), 404)
    place = Place.of_form(form, "pending")
    decision, reason = field(form, "decision"), field(form, "reason")

    async def again(status_code: int, message: str, error: str = "") -> Response:
        return await _portal_page(
            request,
            staff,
            place,
            message=message,
            values={account_id: reason},
            errors={account_id: error} if error else {},
            status_code=status_code,
        )

    if decision not in ("approve", "reject"):
        return await again(422, t("staff.support.portal.decision.missing"))
    if decision == "reject" and not reason:
        return await again(422, t("error.field"), t("staff.support.portal.reason.missing"))
    try:
        body = DecisionBody(approve=decision == "approve", reason=reason)
    except ValidationError:
        return await again(422, t("error.field"), t("staff.support.portal.reason.invalid"))
    try:
        await attempt(decide_portal_access(body, request, staff, account_id), t("error.unavailable"))
    except Refused as no:
        if no.status == 409:
            restricted = "restricted" in no.message
            return await again(409, no.message if restricted else t("staff.support.portal.taken"))
        if no.status == 404:
            return await again(404, t("staff.support.gone"))
        if no.status == 422:
            return await again(422, t("error.field"), t("staff.support.portal.reason.invalid"))
        return await again(no.status, no.message)
    done = "approved" if body.approve else "rejected"
    return RedirectResponse(place.href(PORTAL, done=done), status_code=303)
