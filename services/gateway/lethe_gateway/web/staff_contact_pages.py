"""Back office, role support: contact and callback requests, open and closed; closing one."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import SUPPORT
from lethe_gateway.routes.admin import (
    ContactStatus,
    close_contact_request,
    list_contact_requests,
)
from lethe_gateway.web.forms import csrf_ok
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.privacy_frame import when
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.staff_gate import staff_account
from lethe_gateway.web.staff_lists import ID_RE, Place, done_message, list_page, page_limit

router = APIRouter()
CONTACTS = "/staff/contacts"
CONTACT_STATUSES = ("open", "closed")


# -- contact and callback requests -----------------------------------------------------------
async def _contacts_page(
    request: Request,
    staff: pb.Account,
    place: Place,
    *,
    notice: str = "",
    message: str = "",
    status_code: int = 200,
) -> Response:
    listed = await list_page(
        request,
        staff,
        CONTACTS,
        place,
        lambda r: list_contact_requests(
            request, r, staff, cast(ContactStatus, place.status), place.limit, place.token
        ),
    )
    if isinstance(listed, Response):
        return listed
    items, paging = listed
    return render(
        request,
        "staff_support_contacts.html",
        account=staff,
        status_code=status_code,
        contacts=items,
        status=place.status,
        statuses=CONTACT_STATUSES,
        notice=notice,
        message=message,
        when=when,
        **paging,
    )


@router.get(CONTACTS)
async def contacts_page(
    request: Request, status: str = "open", page_token: str = "", limit: str = "", done: str = ""
) -> Response:
    staff = await staff_account(request, SUPPORT)
    if isinstance(staff, Response):
        return staff
    place = Place(status if status in CONTACT_STATUSES else "open", page_token, page_limit(limit))
    if place.token != page_token:
        return RedirectResponse(place.href(CONTACTS), status_code=303)
    t = translator(language(request))
    notice = done_message(t, "staff.support.contacts", done, ("closed",))
    return await _contacts_page(request, staff, place, notice=notice)


@router.post(CONTACTS + "/{contact_id}/close")
async def contact_close(request: Request, contact_id: str) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, SUPPORT)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    if not ID_RE.fullmatch(contact_id):
        return problem(request, staff, t("staff.support.gone"), 404)
    place = Place.of_form(form, "open")
    try:
        await attempt(close_contact_request(request, staff, contact_id), t("error.unavailable"))
    except Refused as no:
        text = {409: "staff.support.contacts.already", 404: "staff.support.gone"}.get(no.status)
        return await _contacts_page(
            request, staff, place, message=t(text) if text else no.message, status_code=no.status
        )
    return RedirectResponse(place.href(CONTACTS, done="closed"), status_code=303)
