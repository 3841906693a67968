"""Back-office pages of the support role: portal-access decisions, contact and callback
requests, organisations and their e-mail domains.

Every page calls the JSON API's own route functions (``routes.admin``) with the staff
account fresh from identity, so identity checks the role from the staff assertion and
records each action in its audit trail. Lists come a page at a time: the route function
puts the next page's token in its response's ``X-Next-Page-Token`` header, and the page
links to it. Forms post back and, when done, redirect (303) to the list with a message.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import SUPPORT
from lethe_gateway.paging import DEFAULT_LIMIT
from lethe_gateway.routes.admin import (
    ContactStatus,
    PortalStatus,
    close_contact_request,
    create_organisation,
    decide_portal_access,
    list_contact_requests,
    list_organisations,
    list_portal_requests,
    update_organisation,
)
from lethe_gateway.schemas import DecisionBody, OrganisationBody, OrganisationPatch
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.privacy_frame import when
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.staff_gate import staff_account

router = APIRouter()
T = TypeVar("T")

PORTAL = "/staff/portal-requests"
CONTACTS = "/staff/contacts"
ORGANISATIONS = "/staff/organisations"
PORTAL_STATUSES = ("pending", "approved", "rejected")
CONTACT_STATUSES = ("open", "closed")
MAX_LIMIT = 200
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{0,400}")  # as the JSON API's PageToken
ID_RE = re.compile(r"[a-z]{2,4}_[0-9a-f]{32}")  # as the JSON API's RecordId
TAKEN_RE = re.compile(r"the domain (\S+) already belongs")


# -- paging ----------------------------------------------------------------------------------
def _limit(text: str) -> int:
    """Items per page: ``?limit=`` (1 to 200), else the JSON API's default."""
    try:
        return min(max(int(text), 1), MAX_LIMIT)
    except ValueError:
        return DEFAULT_LIMIT


def _href(path: str, **query: str | int) -> str:
    """A page's address; empty values and the default page size are left out."""
    kept = {
        k: v for k, v in query.items() if v not in ("", None) and not (k == "limit" and v == DEFAULT_LIMIT)
    }
    return f"{path}?{urlencode(kept)}" if kept else path


async def _listed(call: Callable[[Response], Awaitable[list[T]]]) -> tuple[list[T], str]:
    """A route function's page and the next page's token (from its response headers)."""
    response = Response()
    items = await call(response)
    return items, response.headers.get("X-Next-Page-Token", "")


class Place:
    """Where in a list a page (or the form sent from it) is: its status, page and size."""

    def __init__(self, status: str, token: str, limit: int) -> None:
        self.status = status
        self.token = token if TOKEN_RE.fullmatch(token) else ""
        self.limit = limit

    @classmethod
    def of_form(cls, form: FormData, status: str) -> Place:
        return cls(status, field(form, "page_token"), _limit(field(form, "limit")))

    def keep(self) -> dict[str, str]:
        """The hidden fields that bring a form back to this place."""
        found = {"page_token": self.token, "limit": str(self.limit) if self.limit != DEFAULT_LIMIT else ""}
        return {k: v for k, v in found.items() if v}

    def href(self, path: str, **more: str) -> str:
        return _href(path, status=self.status, page_token=self.token, limit=self.limit, **more)


async def _list_page(
    request: Request,
    staff: pb.Account,
    path: str,
    place: Place,
    call: Callable[[Response], Awaitable[list[Any]]],
) -> tuple[list[Any], dict[str, Any]] | Response:
    """One page of a list and its paging context, or the page to show instead."""
    t = translator(language(request))
    try:
        items, next_token = await attempt(_listed(call), t("error.unavailable"))
    except Refused as no:
        if no.status == 422 and place.token:  # a page token that is not ours: start again
            return RedirectResponse(_href(path, status=place.status, limit=place.limit), status_code=303)
        return problem(request, staff, no.message, no.status)
    status = place.status
    paging = {
        "next_href": _href(path, status=status, page_token=next_token, limit=place.limit)
        if next_token
        else "",
        "first_href": _href(path, status=status, limit=place.limit) if place.token else "",
        "keep": place.keep(),
    }
    return items, paging


def _done(t: Callable[..., str], prefix: str, done: str, allowed: Sequence[str]) -> str:
    return t(f"{prefix}.done.{done}") if done in allowed else ""


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
    listed = await _list_page(
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
    place = Place(status if status in PORTAL_STATUSES else "pending", page_token, _limit(limit))
    if place.token != page_token:
        return RedirectResponse(place.href(PORTAL), status_code=303)
    t = translator(language(request))
    notice = _done(t, "staff.support.portal", done, ("approved", "rejected"))
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
    listed = await _list_page(
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
    place = Place(status if status in CONTACT_STATUSES else "open", page_token, _limit(limit))
    if place.token != page_token:
        return RedirectResponse(place.href(CONTACTS), status_code=303)
    t = translator(language(request))
    notice = _done(t, "staff.support.contacts", done, ("closed",))
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


# -- organisations ---------------------------------------------------------------------------
def _domains(text: str) -> list[str]:
    """The domains of the form's field: separated by commas or put on lines of their own."""
    return [d for d in re.split(r"[,\s]+", text) if d]


async def _organisations_page(
    request: Request,
    staff: pb.Account,
    place: Place,
    *,
    notice: str = "",
    message: str = "",
    values: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    listed = await _list_page(
        request,
        staff,
        ORGANISATIONS,
        place,
        lambda r: list_organisations(request, r, staff, place.limit, place.token),
    )
    if isinstance(listed, Response):
        return listed
    items, paging = listed
    return render(
        request,
        "staff_support_organisations.html",
        account=staff,
        status_code=status_code,
        organisations=items,
        notice=notice,
        message=message,
        values=values or {},
        errors=errors or {},
        when=when,
        **paging,
    )


@router.get(ORGANISATIONS)
async def organisations_page(
    request: Request, page_token: str = "", limit: str = "", done: str = ""
) -> Response:
    staff = await staff_account(request, SUPPORT)
    if isinstance(staff, Response):
        return staff
    place = Place("", page_token, _limit(limit))
    if place.token != page_token:
        return RedirectResponse(place.href(ORGANISATIONS), status_code=303)
    t = translator(language(request))
    notice = _done(t, "staff.support.org", done, ("created", "changed"))
    return await _organisations_page(request, staff, place, notice=notice)


def _organisation_errors(t: Callable[..., str], no: Refused) -> tuple[dict[str, str], str]:
    """Identity's refusal of an organisation's name or domains: at which field, and what to say."""
    if no.status == 409 and no.code == "already_exists":
        taken = TAKEN_RE.search(no.message)
        text = t("staff.support.org.taken", domain=taken[1]) if taken else t("staff.support.org.taken.some")
        return {"domains": text}, t("error.field")
    if no.status == 409:
        return {}, t("staff.support.org.busy")
    if no.status == 422:
        if no.message.startswith("name"):
            return {"name": t("staff.support.org.field.name")}, t("error.field")
        return {"domains": t("staff.support.org.invalid_domain")}, t("error.field")
    if no.status == 404:
        return {}, t("staff.support.org.gone")
    return {}, no.message


async def _organisation_submit(request: Request, organisation_id: str) -> Response:
    """Create (``organisation_id`` empty) or change an organisation from its form."""
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, SUPPORT)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    if organisation_id and not ID_RE.fullmatch(organisation_id):
        return problem(request, staff, t("staff.support.org.gone"), 404)
    place = Place("", field(form, "page_token"), _limit(field(form, "limit")))
    key = organisation_id or "new"
    values = {"name": field(form, "name"), "domains": field(form, "domains")}

    async def again(status_code: int, message: str, errors: dict[str, str]) -> Response:
        return await _organisations_page(
            request,
            staff,
            place,
            message=message,
            values={key: values},
            errors={key: errors} if errors else {},
            status_code=status_code,
        )

    try:
        if organisation_id:
            patch = OrganisationPatch(name=values["name"], domains=_domains(values["domains"]))
        else:
            body = OrganisationBody(name=values["name"], domains=_domains(values["domains"]))
    except ValidationError as exc:
        names = {str(p["loc"][0]) for p in exc.errors() if p.get("loc")}
        errors = {n: t(f"staff.support.org.field.{n}") for n in names if n in ("name", "domains")}
        return await again(422, t("error.field"), errors)
    try:
        if organisation_id:
            await attempt(
                update_organisation(patch, request, staff, organisation_id),
                t("error.unavailable"),
            )
        else:
            await attempt(create_organisation(body, request, staff), t("error.unavailable"))
    except Refused as no:
        errors, message = _organisation_errors(t, no)
        return await again(no.status, message, errors)
    if organisation_id:
        return RedirectResponse(
            place.href(ORGANISATIONS, done="changed") + f"#org-{organisation_id}", status_code=303
        )
    return RedirectResponse(_href(ORGANISATIONS, limit=place.limit, done="created"), status_code=303)


@router.post(ORGANISATIONS)
async def organisation_create(request: Request) -> Response:
    return await _organisation_submit(request, "")


@router.post(ORGANISATIONS + "/{organisation_id}")
async def organisation_update(request: Request, organisation_id: str) -> Response:
    return await _organisation_submit(request, organisation_id)
