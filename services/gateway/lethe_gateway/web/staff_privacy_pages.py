"""Back-office pages of the privacy role: the privacy-request queue and one request with
what staff do to it (move it on, decide an objection, run the proof of erasure).

The queue is the consent service's staff list (``routes.admin_privacy.list_requests``),
which comes soonest due first across all pages (the service reads its staff queue, keyed by
due date), a page at a time: the route function puts the next page's token in its
response's ``X-Next-Page-Token`` header, and the page links to it. An overdue request says
so in words; for an erasure or a restriction the services that have sent no receipt yet are
named. The forms post back and, when done, redirect (303) to the request with a message;
the consent service checks the role from the staff assertion and records every action in
its audit trail.
"""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import PRIVACY
from lethe_gateway.paging import DEFAULT_LIMIT
from lethe_gateway.privacy_schemas import (
    ObjectionDecisionBody,
    PrivacyRequestOut,
    RequestKind,
    StaffUpdateBody,
)
from lethe_gateway.routes.admin_privacy import (
    Status,
    decide_objection,
    list_requests,
    privacy_request_for_staff,
    update_request,
    verify_erasure,
)
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.privacy_frame import label_in, when
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.staff_gate import staff_account

router = APIRouter()

QUEUE = "/staff/privacy"
STATUSES = ("open", "in_progress", "deferred", "complete", "rejected")
MOVES = ("in_progress", "deferred", "complete", "rejected")  # what staff may set (StaffUpdateBody)
KINDS = ("access", "erasure", "restriction", "restriction_lift", "objection")
FAN_OUT = ("erasure", "restriction", "restriction_lift")  # asked of every service: receipts
CLOSED = ("complete", "rejected")
NEEDS_REASON = ("deferred", "rejected")
EXTENSIONS = (0, 1, 2)  # months (Art. 12(3) GDPR: two further months at most)
DONE = ("status", "decided", "verified")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{0,400}")  # as the JSON API's PageToken
REQUEST_ID_RE = re.compile(r"pr_[0-9a-f]{32}")  # as the JSON API's RequestId


# -- the queue ---------------------------------------------------------------------------------
def _queue_href(status: str = "", kind: str = "", overdue: bool = False, page_token: str = "") -> str:
    query = {"status": status, "kind": kind, "overdue": "1" if overdue else "", "page_token": page_token}
    kept = {name: value for name, value in query.items() if value}
    return f"{QUEUE}?{urlencode(kept)}" if kept else QUEUE


@router.get(QUEUE)
async def queue_page(
    request: Request, status: str = "", kind: str = "", overdue: str = "", page_token: str = ""
) -> Response:
    staff = await staff_account(request, PRIVACY)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    wanted_status = status if status in STATUSES else ""
    wanted_kind = kind if kind in KINDS else ""
    only_overdue = overdue == "1"
    token = page_token if TOKEN_RE.fullmatch(page_token) else ""
    if (wanted_status, wanted_kind, token) != (status, kind, page_token):
        return RedirectResponse(_queue_href(wanted_status, wanted_kind, only_overdue, token), status_code=303)
    response = Response()
    try:
        requests = await attempt(
            list_requests(
                request,
                response,
                staff,
                cast(Status, wanted_status) or None,
                cast(RequestKind, wanted_kind) or None,
                only_overdue,
                DEFAULT_LIMIT,
                token,
            ),
            t("error.unavailable"),
        )
    except Refused as no:
        if no.status == 422 and token:  # a page token that is not ours: start again
            return RedirectResponse(_queue_href(wanted_status, wanted_kind, only_overdue), status_code=303)
        return problem(request, staff, no.message, no.status)
    next_token = response.headers.get("X-Next-Page-Token", "")
    return render(
        request,
        "staff_privacy.html",
        account=staff,
        requests=requests,
        status=wanted_status,
        kind=wanted_kind,
        overdue=only_overdue,
        statuses=STATUSES,
        kinds=KINDS,
        fan_out=FAN_OUT,
        next_href=_queue_href(wanted_status, wanted_kind, only_overdue, next_token) if next_token else "",
        first_href=_queue_href(wanted_status, wanted_kind, only_overdue) if token else "",
        label=label_in(t),
        when=when,
    )


# -- one request ---------------------------------------------------------------------------------
def _expected(found: PrivacyRequestOut) -> list[str]:
    """The services a fan-out request asks, in their order: those that answered, then the
    rest it still waits for."""
    return list(dict.fromkeys([*(r.service for r in found.receipts), *found.awaiting_services]))


async def _request_page(
    request: Request,
    staff: pb.Account,
    request_id: str,
    *,
    notice: str = "",
    message: str = "",
    form: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    if not REQUEST_ID_RE.fullmatch(request_id):
        return problem(request, staff, t("staff.privacy.gone"), 404)
    try:
        found = await attempt(privacy_request_for_staff(request, staff, request_id), t("error.unavailable"))
    except Refused as no:
        text = t("staff.privacy.gone") if no.status in (404, 422) else no.message
        return problem(request, staff, text, 404 if no.status == 422 else no.status)
    return render(
        request,
        "staff_privacy_request.html",
        account=staff,
        status_code=status_code,
        r=found,
        expected=_expected(found),
        movable=found.status not in CLOSED,
        moves=MOVES,
        extensions=EXTENSIONS,
        notice=notice,
        message=message,
        form=form,
        values=values or {},
        errors=errors or {},
        label=label_in(t),
        when=when,
    )


@router.get(QUEUE + "/{request_id}")
async def request_page(request: Request, request_id: str, done: str = "") -> Response:
    staff = await staff_account(request, PRIVACY)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    notice = t(f"staff.privacy.done.{done}") if done in DONE else ""
    return await _request_page(request, staff, request_id, notice=notice)


def _done(request_id: str, what: str) -> Response:
    return RedirectResponse(f"{QUEUE}/{request_id}?done={what}", status_code=303)


async def _posted(request: Request, request_id: str) -> tuple[pb.Account, dict[str, str]] | Response:
    """The staff member and the form's fields, or the page to show instead."""
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, PRIVACY)
    if isinstance(staff, Response):
        return staff
    if not REQUEST_ID_RE.fullmatch(request_id):
        return problem(request, staff, translator(language(request))("staff.privacy.gone"), 404)
    return staff, {name: field(form, name) for name in ("status", "reason", "extend", "decision")}


@router.post(QUEUE + "/{request_id}/status")
async def status_submit(request: Request, request_id: str) -> Response:
    posted = await _posted(request, request_id)
    if isinstance(posted, Response):
        return posted
    staff, values = posted
    t = translator(language(request))
    errors: dict[str, str] = {}
    extend = int(values["extend"]) if values["extend"] in ("1", "2") else 0
    if values["status"] not in MOVES:
        errors["status"] = t("staff.privacy.field.status")
    if not values["reason"] and (values["status"] in NEEDS_REASON or extend):
        errors["reason"] = t("staff.privacy.field.reason_needed")
    body: StaffUpdateBody | None = None
    if not errors:
        try:
            body = StaffUpdateBody(
                status=values["status"],  # type: ignore[arg-type]  # checked above
                reason=values["reason"],
                extend_months=extend,
            )
        except ValidationError:
            errors["reason"] = t("staff.privacy.field.reason_long")
    if body is None:
        return await _request_page(
            request,
            staff,
            request_id,
            message=t("error.field"),
            form="status",
            values=values,
            errors=errors,
            status_code=422,
        )
    try:
        await attempt(update_request(body, request_id, request, staff), t("error.unavailable"))
    except Refused as no:
        return await _request_page(
            request,
            staff,
            request_id,
            message=no.message,
            form="status",
            values=values,
            status_code=no.status,
        )
    return _done(request_id, "status")


@router.post(QUEUE + "/{request_id}/decision")
async def decision_submit(request: Request, request_id: str) -> Response:
    posted = await _posted(request, request_id)
    if isinstance(posted, Response):
        return posted
    staff, values = posted
    t = translator(language(request))
    errors: dict[str, str] = {}
    if values["decision"] not in ("uphold", "reject"):
        errors["decision"] = t("staff.privacy.field.decision")
    body: ObjectionDecisionBody | None = None
    try:
        body = ObjectionDecisionBody(uphold=values["decision"] == "uphold", reason=values["reason"])
    except ValidationError:
        errors["reason"] = t("staff.privacy.field.decision_reason")
    if errors or body is None:
        return await _request_page(
            request,
            staff,
            request_id,
            message=t("error.field"),
            form="decision",
            values=values,
            errors=errors,
            status_code=422,
        )
    try:
        await attempt(decide_objection(body, request_id, request, staff), t("error.unavailable"))
    except Refused as no:
        return await _request_page(
            request,
            staff,
            request_id,
            message=no.message,
            form="decision",
            values=values,
            status_code=no.status,
        )
    return _done(request_id, "decided")


@router.post(QUEUE + "/{request_id}/verification")
async def verification_submit(request: Request, request_id: str) -> Response:
    posted = await _posted(request, request_id)
    if isinstance(posted, Response):
        return posted
    staff, _ = posted
    t = translator(language(request))
    try:
        await attempt(verify_erasure(request_id, request, staff), t("error.unavailable"))
    except Refused as no:
        return await _request_page(request, staff, request_id, message=no.message, status_code=no.status)
    return _done(request_id, "verified")
