"""Back-office pages of the accounting role: orders in fulfilment, moving them along, and
reading a blocked order under legal hold, with the list of such reads.

- ``/staff/orders``: the orders in fulfilment, newest first, a status at a time, in pages;
  ``/staff/orders/{id}``: one of them with a button for each step the shop allows next
  (placed → paid → shipped → delivered → completed, or cancelled). A step the shop refuses
  (409: someone moved it first, or it cannot take that step) is shown with the reason.
- ``/staff/legal-hold``: a blocked order (completed, or cancelled after payment) is shown
  only after its id and a reason are given, and with the password entered within the
  last 10 minutes (the shop says ``reauthentication_required`` otherwise; the form then
  asks for it). Every read is an entry of the shop's audit trail.
- ``/staff/legal-hold/reads``: who read which blocked order, when and why.

Every page calls the JSON API's route functions (``routes.admin_shop``) with the staff
account fresh from identity, so the shop checks the role from the staff assertion itself.
Forms work without JavaScript: they post back and redirect (303) when done.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as idpb
from lethe_common.staff import ACCOUNTING
from lethe_gateway.paging import DEFAULT_LIMIT
from lethe_gateway.routes.admin_shop import (
    legal_hold_reads,
    move_order,
    order_for_staff,
    orders,
    read_blocked_order,
)
from lethe_gateway.shop_schemas import MoveIn, StaffOrderOut
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.privacy_frame import when
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.shop_pages import money
from lethe_gateway.web.staff_gate import after_step_up, staff_account
from lethe_gateway.web.step_up import STEP_UP, WrongPassword

router = APIRouter()
ORDERS = "/staff/orders"
LEGAL_HOLD = "/staff/legal-hold"
READS = "/staff/legal-hold/reads"
# The list's filter: every open order, or one status of them.
LIST_STATUSES = ("", "placed", "paid", "shipped", "delivered")
CLOSED = ("completed", "cancelled")
MOVES = ("paid", "shipped", "delivered", "completed", "cancelled")  # as MoveIn
ORDER_ID = re.compile(r"ord_[0-9a-f]{32}")
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,400}")  # as the JSON API's PageToken
REASON_LENGTH = (3, 300)


def next_steps(order: StaffOrderOut) -> list[str]:
    """The steps staff may take next, as the shop's rules allow them (``check_move``): paid
    orders with physical goods are shipped, others delivered at once; only placed and paid
    ones may be cancelled. The shop decides again on every move."""
    physical = any(line.kind == "physical" for line in order.lines)
    steps = {
        "placed": ["cancelled"],
        "paid": ["shipped" if physical else "delivered", "cancelled"],
        "shipped": ["delivered"],
        "delivered": ["completed"],
    }
    return [] if order.blocked else steps.get(order.status, [])


def _href(path: str, **query: str) -> str:
    kept = {name: value for name, value in query.items() if value}
    return f"{path}?{urlencode(kept)}" if kept else path


# -- orders in fulfilment --------------------------------------------------------------------
@router.get(ORDERS)
async def orders_page(
    request: Request, status: str = "", page_token: str = "", done: str = "", order: str = ""
) -> Response:
    staff = await staff_account(request, ACCOUNTING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    shown = status if status in LIST_STATUSES else ""
    token = page_token if TOKEN.fullmatch(page_token) else ""
    if (shown, token) != (status, page_token):
        return RedirectResponse(_href(ORDERS, status=shown, page_token=token), status_code=303)
    response = Response()
    try:
        listed = await attempt(
            orders(request, response, staff, shown, DEFAULT_LIMIT, token), t("error.unavailable")
        )
    except Refused as no:
        if no.status == 422 and token:  # a page token that is not the shop's: start again
            return RedirectResponse(_href(ORDERS, status=shown), status_code=303)
        return problem(request, staff, no.message, no.status)
    next_token = response.headers.get("X-Next-Page-Token", "")
    notice = ""
    if done in CLOSED and ORDER_ID.fullmatch(order):
        notice = t(f"staff.orders.closed.{done}", id=order)
    return render(
        request,
        "staff_orders.html",
        account=staff,
        orders=listed,
        status=shown,
        statuses=LIST_STATUSES,
        notice=notice,
        next_href=_href(ORDERS, status=shown, page_token=next_token) if next_token else "",
        first_href=_href(ORDERS, status=shown) if token else "",
        money=money,
        when=when,
    )


async def _order_page(
    request: Request,
    staff: idpb.Account,
    order_id: str,
    *,
    notice: str = "",
    message: str = "",
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    try:
        order = await attempt(order_for_staff(request, staff, order_id), t("error.unavailable"))
    except Refused as no:
        text = t("staff.orders.gone") if no.status == 404 else no.message
        return problem(request, staff, f"{message} {text}".strip(), status_code if message else no.status)
    return render(
        request,
        "staff_order.html",
        account=staff,
        status_code=status_code,
        order=order,
        steps=next_steps(order),
        notice=notice,
        message=message,
        money=money,
        when=when,
    )


@router.get(ORDERS + "/{order_id}")
async def order_page(request: Request, order_id: str, done: str = "") -> Response:
    staff = await staff_account(request, ACCOUNTING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    if not ORDER_ID.fullmatch(order_id):
        return problem(request, staff, t("staff.orders.gone"), 404)
    notice = t("staff.orders.moved", status=t(f"orders.status.{done}")) if done in MOVES else ""
    return await _order_page(request, staff, order_id, notice=notice)


@router.post(ORDERS + "/{order_id}/status")
async def order_move(request: Request, order_id: str) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, ACCOUNTING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    if not ORDER_ID.fullmatch(order_id):
        return problem(request, staff, t("staff.orders.gone"), 404)
    try:
        body = MoveIn(status=field(form, "status"))  # type: ignore[arg-type]  # checked by the model
    except ValidationError:
        return await _order_page(
            request, staff, order_id, message=t("staff.orders.no_such_step"), status_code=422
        )
    try:
        moved = await attempt(move_order(order_id, body, request, staff), t("error.unavailable"))
    except Refused as no:
        if no.status == 409:
            why = t("staff.orders.conflict") if no.code == "conflict" else no.message
            text = t("staff.orders.refused", status=t(f"orders.status.{body.status}"), why=why)
            return await _order_page(request, staff, order_id, message=text, status_code=409)
        text = t("staff.orders.gone") if no.status == 404 else no.message
        return problem(request, staff, text, no.status)
    if moved.blocked or moved.status in CLOSED:  # out of fulfilment: back to the list
        return RedirectResponse(_href(ORDERS, done=moved.status, order=moved.id), status_code=303)
    return RedirectResponse(_href(f"{ORDERS}/{order_id}", done=moved.status), status_code=303)


# -- legal hold ------------------------------------------------------------------------------
def _hold_form(
    request: Request,
    staff: idpb.Account,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    step_up: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff_legal_hold.html",
        account=staff,
        status_code=status_code,
        values=values or {"order_id": "", "reason": ""},
        errors=errors or {},
        message=message,
        step_up=step_up,
        order=None,
        money=money,
        when=when,
    )


@router.get(LEGAL_HOLD)
async def legal_hold_page(request: Request) -> Response:
    staff = await staff_account(request, ACCOUNTING)
    if isinstance(staff, Response):
        return staff
    return _hold_form(request, staff)


@router.post(LEGAL_HOLD)
async def legal_hold_read(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, ACCOUNTING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    values = {"order_id": field(form, "order_id"), "reason": field(form, "reason")}
    password = str(form.get("password", ""))
    errors = {}
    if not ORDER_ID.fullmatch(values["order_id"]):
        errors["order_id"] = t("staff.orders.hold.field.order_id")
    if not REASON_LENGTH[0] <= len(values["reason"]) <= REASON_LENGTH[1]:
        errors["reason"] = t("staff.orders.hold.field.reason")
    if errors:
        return _hold_form(
            request, staff, values=values, errors=errors, message=t("error.field"), status_code=422
        )
    try:
        actor = await after_step_up(request, staff, password, ACCOUNTING)
        if isinstance(actor, Response):
            return actor
        order = await attempt(
            read_blocked_order(values["order_id"], request, actor, values["reason"]), t("error.unavailable")
        )
    except Refused as no:
        if isinstance(no, WrongPassword):
            errors = {"password": t("staff.orders.hold.wrong_password")}
            return _hold_form(
                request,
                staff,
                values=values,
                errors=errors,
                message=t("error.field"),
                step_up=True,
                status_code=403,
            )
        if no.code == STEP_UP:
            text = t("staff.orders.hold.step_up")
            return _hold_form(request, staff, values=values, message=text, step_up=True, status_code=403)
        if no.status == 404:
            errors = {"order_id": t("staff.orders.hold.not_blocked")}
            return _hold_form(
                request, staff, values=values, errors=errors, message=t("error.field"), status_code=404
            )
        if no.status == 422:
            return _hold_form(request, staff, values=values, message=no.message, status_code=422)
        return problem(request, staff, no.message, no.status)
    return render(
        request,
        "staff_legal_hold.html",
        account=actor,
        values=values,
        errors={},
        message="",
        step_up=False,
        order=order,
        money=money,
        when=when,
    )


@router.get(READS)
async def legal_hold_reads_page(request: Request, page_token: str = "") -> Response:
    staff = await staff_account(request, ACCOUNTING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    token = page_token if TOKEN.fullmatch(page_token) else ""
    if token != page_token:
        return RedirectResponse(READS, status_code=303)
    response = Response()
    try:
        reads = await attempt(
            legal_hold_reads(request, response, staff, DEFAULT_LIMIT, token), t("error.unavailable")
        )
    except Refused as no:
        if no.status == 422 and token:
            return RedirectResponse(READS, status_code=303)
        return problem(request, staff, no.message, no.status)
    next_token = response.headers.get("X-Next-Page-Token", "")
    return render(
        request,
        "staff_legal_hold_reads.html",
        account=staff,
        reads=reads,
        next_href=_href(READS, page_token=next_token) if next_token else "",
        first_href=READS if token else "",
        when=when,
    )
