"""The checkout (issue 16): addresses, the payment provider's card page and the return.

Every page needs a logged-in account with a verified address, as the routes do
(``routes.shop.require_verified``). The checkout never sees a card: the person goes from
the summary page to the payment provider's own card page (a link, a GET navigation; the
CSP's form-action allows only this origin), and the provider sends the browser back to
``/checkout/return`` with a single-use token, which the order is placed with.

Between the address form and the provider's return the addresses have to live somewhere,
and the gateway keeps no state (and the cart holds only lines). They stay with the
person: a short-lived first-party cookie (``lethe_checkout``: HttpOnly, SameSite=Lax,
path /checkout, 30 minutes, removed once the order is placed) that holds the addresses,
the cart's lines they were entered for, a random checkout id and a hash of the account's
id (another account on the same device ignores it). The id goes to the
provider inside the return address and must come back equal to the cookie's, so that no
other site can make a browser place an order by linking to the return address; the
order's Idempotency-Key is derived from it, so a reload or a second return of the same
checkout never orders twice, and a declined card can be retried on the same key with a
new token, as ``place_order`` describes. Everything in the cookie is the person's own
input and is checked again by the order's body model on return.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import secrets
import zlib
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2
from lethe_gateway.cookies import drop_cookie, put_cookie, read_cookie
from lethe_gateway.routes.shop import (
    get_cart,
    place_order,
    put_cart,
)
from lethe_gateway.shop_schemas import AddressIn, CartIn, CartOut, LineIn, OrderIn
from lethe_gateway.web.buyer import buyer, cart_lines
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.shop_pages import money

router = APIRouter()

CHECKOUT_COOKIE = "lethe_checkout"
CHECKOUT_PATH = "/checkout"
CHECKOUT_MAX_AGE = 30 * 60
MAX_COOKIE_CHARS = 3800  # browsers keep at least 4096 bytes a cookie, name and attributes included
ADDRESS_FIELDS = ("name", "company", "street", "extra", "postcode", "city", "country", "phone", "vat_id")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_]{1,100}$")


# -- the checkout's cookie --------------------------------------------------------------------
def _who(account: identity_pb2.Account) -> str:
    """Whose checkout a cookie holds: on a shared device, nobody else's addresses show."""
    return hashlib.sha256(f"lethe-checkout:{account.id}".encode()).hexdigest()[:24]


def _read_checkout(request: Request, account: identity_pb2.Account) -> dict[str, Any] | None:
    raw = read_cookie(request, CHECKOUT_COOKIE, CHECKOUT_PATH)
    if not raw or len(raw) > MAX_COOKIE_CHARS:
        return None
    try:
        value = json.loads(zlib.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))))
    except (ValueError, binascii.Error, zlib.error):
        return None
    if not isinstance(value, dict) or not _NONCE.fullmatch(str(value.get("id", ""))):
        return None
    return value if value.get("who") == _who(account) else None


def _encode_checkout(value: dict[str, Any]) -> str:
    packed = zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def _set_checkout(request: Request, response: Response, encoded: str) -> None:
    # SameSite=Lax: sent on the provider's redirect back, a top-level GET navigation
    put_cookie(request, response, CHECKOUT_COOKIE, encoded, max_age=CHECKOUT_MAX_AGE, path=CHECKOUT_PATH)


def drop_checkout(request: Request, response: Response) -> None:
    drop_cookie(request, response, CHECKOUT_COOKIE, path=CHECKOUT_PATH)


def _same_lines(saved: dict[str, Any], cart: CartOut) -> bool:
    return [list(line) for line in cart_lines(cart)] == saved.get("lines")


def _physical(cart: CartOut) -> bool:
    return any(line.kind == "physical" for line in cart.lines)


# -- the checkout -----------------------------------------------------------------------------
def _address_values(form: FormData | None, prefix: str, saved: dict[str, str] | None) -> dict[str, str]:
    if form is not None:
        return {name: field(form, f"{prefix}_{name}") for name in ADDRESS_FIELDS}
    return {name: str((saved or {}).get(name, "")) for name in ADDRESS_FIELDS}


async def _checkout_form(
    request: Request,
    account: identity_pb2.Account,
    values: dict[str, Any],
    errors: dict[str, str],
    message: str,
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    if not cart.lines:
        return RedirectResponse("/cart", status_code=303)
    return render(
        request,
        "orders_checkout.html",
        account=account,
        cart=cart,
        money=money,
        physical=_physical(cart),
        values=values,
        errors=errors,
        message=message,
        fields=ADDRESS_FIELDS,
        status_code=status_code,
    )


@router.get("/checkout")
async def checkout_page(request: Request) -> Response:
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    saved = _read_checkout(request, account) or {}
    values = {
        "billing": _address_values(None, "billing", saved.get("billing") or {"name": account.name}),
        "delivery": _address_values(None, "delivery", saved.get("delivery")),
        "same": not saved.get("delivery"),
        "note": str(saved.get("note", "")),
    }
    notice = (
        translator(language(request))("orders.checkout.changed")
        if request.query_params.get("changed")
        else ""
    )
    return await _checkout_form(request, account, values, {}, notice)


def _address(prefix: str, values: dict[str, str], errors: dict[str, str], t: Any) -> dict[str, str] | None:
    """The address as the order's body model takes it, or None with its field errors."""
    cleaned = {**values, "country": values["country"].upper()}
    try:
        return AddressIn(**cleaned).model_dump()
    except ValidationError as exc:
        messages = {"country": t("orders.field.country"), "postcode": t("orders.field.postcode")}
        problems = field_errors(exc, messages, t("field.required"))
        errors.update({f"{prefix}_{name}": message for name, message in problems.items()})
        return None


@router.post("/checkout")
async def checkout_submit(request: Request) -> Response:
    """The addresses: checked by the order's own body model, then kept in the checkout
    cookie until the provider sends the person back."""
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
    if not cart.lines:
        return RedirectResponse("/cart", status_code=303)
    physical, same = _physical(cart), field(form, "delivery_same") == "yes"
    billing_values = _address_values(form, "billing", None)
    delivery_values = _address_values(form, "delivery", None)
    note = field(form, "delivery_note")
    values = {"billing": billing_values, "delivery": delivery_values, "same": same, "note": note}
    errors: dict[str, str] = {}
    billing = _address("billing", billing_values, errors, t)
    delivery: dict[str, str] | None = None
    if physical:
        delivery = billing if same else _address("delivery", delivery_values, errors, t)
        if len(note) > 500:
            errors["delivery_note"] = t("orders.field.note")
    if errors:
        return await _checkout_form(request, account, values, errors, t("error.field"), 422)
    saved = _read_checkout(request, account)
    encoded = _encode_checkout(
        {
            "id": saved["id"] if saved else secrets.token_urlsafe(24),
            "who": _who(account),
            "lines": [list(line) for line in cart_lines(cart)],
            "billing": billing,
            "delivery": delivery,
            "note": note if physical else "",
        }
    )
    if len(encoded) > MAX_COOKIE_CHARS:
        return await _checkout_form(request, account, values, {}, t("orders.checkout.too_long"), 422)
    response = RedirectResponse("/checkout/pay", status_code=303)
    _set_checkout(request, response, encoded)
    return response


def _provider_link(request: Request, saved: dict[str, Any], cart: CartOut) -> str:
    """The provider's hosted card page, which sends the browser back with a token."""
    base = str(request.app.state.config.payment_page_url)
    back = f"{str(request.base_url).rstrip('/')}/checkout/return?{urlencode({'checkout': saved['id']})}"
    query = {
        "return_url": back,
        "amount": str(cart.totals.gross_cents),
        "currency": cart.totals.currency,
        "reference": f"Lethe {saved['id'][:8]}",
    }
    return f"{base}/v1/checkout?{urlencode(query)}" if base else ""


async def _pay_page(
    request: Request, account: identity_pb2.Account, message: str = "", status_code: int = 200
) -> Response:
    t = translator(language(request))
    saved = _read_checkout(request, account)
    if saved is None:
        return RedirectResponse("/checkout", status_code=303)
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    if not cart.lines:
        return RedirectResponse("/cart", status_code=303)
    if not _same_lines(saved, cart):
        return RedirectResponse("/checkout?changed=1", status_code=303)
    link = _provider_link(request, saved, cart)
    return render(
        request,
        "orders_pay.html",
        account=account,
        cart=cart,
        money=money,
        saved=saved,
        provider_link=link,
        message=message or ("" if link else t("orders.pay.unavailable")),
        notice=t("orders.pay.cancelled") if request.query_params.get("cancelled") else "",
        status_code=status_code,
    )


@router.get("/checkout/pay")
async def pay_page(request: Request) -> Response:
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    return await _pay_page(request, account)


@router.get("/checkout/return")
async def checkout_return(request: Request, checkout: str = "", payment_token: str = "") -> Response:
    """The provider's redirect back: place the order with the token, then show it.

    Placing an order on a GET is what a provider's return asks for; it takes the checkout
    cookie (set by this site's own CSRF-checked form) with the same random id as the
    address the provider was given, so no other site can trigger it."""
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    t = translator(language(request))
    saved = _read_checkout(request, account)
    if saved is None or not secrets.compare_digest(str(saved["id"]), checkout[:64]):
        return problem(request, account, t("orders.return.expired"), 409)
    if request.query_params.get("payment_cancelled"):
        return RedirectResponse("/checkout/pay?cancelled=1", status_code=303)
    if not _TOKEN.fullmatch(payment_token):
        return await _pay_page(request, account, t("orders.return.invalid"), 400)
    try:
        cart = await attempt(get_cart(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    if not cart.lines or not _same_lines(saved, cart):
        return await _pay_page(request, account, t("orders.return.changed"), 409)
    try:
        body = OrderIn(
            lines=[LineIn(product_id=pid, quantity=qty) for pid, qty in cart_lines(cart)],
            billing=AddressIn(**saved.get("billing") or {}),
            delivery=AddressIn(**saved["delivery"]) if saved.get("delivery") else None,
            delivery_note=str(saved.get("note", "")),
            payment_token=payment_token,
        )
    except (ValidationError, TypeError):
        return RedirectResponse("/checkout?changed=1", status_code=303)
    try:
        order = await attempt(
            place_order(body, request, account, idempotency_key=f"web-checkout-{saved['id']}"),
            t("error.unavailable"),
        )
    except Refused as refused:
        if refused.status == 402:
            return await _pay_page(request, account, t("orders.return.declined"), 402)
        if refused.status in (400, 422):  # the provider knows no such token, or it was used
            return await _pay_page(request, account, t("orders.return.invalid"), 400)
        return await _pay_page(request, account, refused.message, refused.status)
    response = RedirectResponse(f"/orders/{order.id}?placed=1", status_code=303)
    drop_checkout(request, response)
    with contextlib.suppress(Refused):  # the lines are bought; emptying the cart is a courtesy
        await attempt(put_cart(CartIn(lines=[]), request, account), "")
    return response
