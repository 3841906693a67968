"""Back office, role support: customer organisations and their e-mail domains (create,
rename, change domains; a domain another organisation holds is refused at the field)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import SUPPORT
from lethe_gateway.routes.admin import (
    create_organisation,
    list_organisations,
    update_organisation,
)
from lethe_gateway.schemas import OrganisationBody, OrganisationPatch
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.privacy_frame import when
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.staff_gate import staff_account
from lethe_gateway.web.staff_lists import ID_RE, Place, done_message, list_href, list_page, page_limit

router = APIRouter()
ORGANISATIONS = "/staff/organisations"
TAKEN_RE = re.compile(r"the domain (\S+) already belongs")


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
    listed = await list_page(
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
    place = Place("", page_token, page_limit(limit))
    if place.token != page_token:
        return RedirectResponse(place.href(ORGANISATIONS), status_code=303)
    t = translator(language(request))
    notice = done_message(t, "staff.support.org", done, ("created", "changed"))
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
    place = Place("", field(form, "page_token"), page_limit(field(form, "limit")))
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
    return RedirectResponse(list_href(ORGANISATIONS, limit=place.limit, done="created"), status_code=303)


@router.post(ORGANISATIONS)
async def organisation_create(request: Request) -> Response:
    return await _organisation_submit(request, "")


@router.post(ORGANISATIONS + "/{organisation_id}")
async def organisation_update(request: Request, organisation_id: str) -> Response:
    return await _organisation_submit(request, organisation_id)
