"""What the cart, checkout and order pages share: who may see them (a logged-in account
with a verified address, as ``routes.shop.require_verified`` asks) and how they refuse."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2
from lethe_gateway.routes.shop import require_verified
from lethe_gateway.shop_schemas import CartOut
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import problem
from lethe_gateway.web.session import page_account


async def buyer(request: Request) -> identity_pb2.Account | Response:
    """The logged-in, verified account, or the page to show instead."""
    account = await page_account(request)
    if account is None:
        # a GET comes back to itself after the log-in (the provider's return with its token too)
        query = f"?{request.url.query}" if request.url.query else ""
        target = f"{request.url.path}{query}" if request.method == "GET" else "/cart"
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    t = translator(language(request))
    try:
        await attempt(require_verified(account), t("error.unavailable"))
    except Refused:
        return problem(request, account, t("orders.unverified"), 403)
    return account


def cart_lines(cart: CartOut) -> list[tuple[str, int]]:
    return [(line.product_id, line.quantity) for line in cart.lines]
