"""The cart (issue 16): the JSON API's cart routes as pages; every change is a form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2
from lethe_gateway.routes.shop import (
    get_cart,
    put_cart,
)
from lethe_gateway.shop_schemas import CartIn, LineIn
from lethe_gateway.web.buyer import buyer, cart_lines
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.shop_pages import money

router = APIRouter()


# -- the cart ---------------------------------------------------------------------------------
@router.get("/cart")
async def cart_page(request: Request) -> Response:
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    t = translator(language(request))
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    notice = {"added": t("orders.cart.added"), "saved": t("orders.cart.saved")}.get(
        request.query_params.get("done", ""), ""
    )
    return render(
        request, "orders_cart.html", account=account, cart=cart, money=money, notice=notice, message=""
    )


async def _save_cart(
    request: Request, account: identity_pb2.Account, lines: list[tuple[str, int]], done: str
) -> Response:
    """Put the cart's new lines through the JSON API's route; the shop judges them."""
    t = translator(language(request))
    try:
        body = CartIn(lines=[LineIn(product_id=pid, quantity=qty) for pid, qty in lines])
    except ValidationError:
        return await _cart_error(request, account, t("orders.cart.invalid"), 422)
    try:
        await attempt(put_cart(body, request, account), t("error.unavailable"))
    except Refused as refused:
        return await _cart_error(request, account, refused.message, refused.status)
    return RedirectResponse(f"/cart?done={done}", status_code=303)


async def _cart_error(request: Request, account: identity_pb2.Account, message: str, status: int) -> Response:
    t = translator(language(request))
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    return render(
        request,
        "orders_cart.html",
        account=account,
        cart=cart,
        money=money,
        notice="",
        message=message,
        status_code=status,
    )


def _quantity(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else None


@router.post("/cart/add")
async def cart_add(request: Request) -> Response:
    form = await request.form()
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    if not csrf_ok(request, form):
        return expired(request, account)
    t = translator(language(request))
    product_id, quantity = field(form, "product_id"), _quantity(field(form, "quantity") or "1")
    if quantity is None or quantity < 1:
        return await _cart_error(request, account, t("orders.cart.invalid"), 422)
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    lines = cart_lines(cart)
    if any(pid == product_id for pid, _ in lines):
        lines = [(pid, qty + quantity if pid == product_id else qty) for pid, qty in lines]
    else:
        lines.append((product_id, quantity))
    return await _save_cart(request, account, lines, "added")


@router.post("/cart")
async def cart_update(request: Request) -> Response:
    """New quantities for every line (``quantity-<product id>``); 0 removes a line."""
    form = await request.form()
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    if not csrf_ok(request, form):
        return expired(request, account)
    t = translator(language(request))
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    lines: list[tuple[str, int]] = []
    for pid, qty in cart_lines(cart):
        sent = field(form, f"quantity-{pid}")
        new = _quantity(sent) if sent else qty
        if new is None:
            return await _cart_error(request, account, t("orders.cart.invalid"), 422)
        if new > 0:
            lines.append((pid, new))
    return await _save_cart(request, account, lines, "saved")


@router.post("/cart/remove")
async def cart_remove(request: Request) -> Response:
    form = await request.form()
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    if not csrf_ok(request, form):
        return expired(request, account)
    t = translator(language(request))
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    gone = field(form, "product_id")
    return await _save_cart(request, account, [(p, q) for p, q in cart_lines(cart) if p != gone], "saved")
