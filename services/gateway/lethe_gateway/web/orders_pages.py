"""Orders and downloads (issue 16): the person's own orders, one order, the files they may fetch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from lethe_gateway.routes.shop import (
    downloads,
    my_order,
    my_orders,
)
from lethe_gateway.web.buyer import buyer
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import problem, render
from lethe_gateway.web.shop_pages import money

router = APIRouter()


# -- orders and downloads ---------------------------------------------------------------------
@router.get("/orders")
async def orders_page(request: Request) -> Response:
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    t = translator(language(request))
    try:
        orders = await attempt(my_orders(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    return render(request, "orders_list.html", account=account, orders=orders, money=money)


@router.get("/orders/{order_id}")
async def order_page(order_id: str, request: Request) -> Response:
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    t = translator(language(request))
    try:
        order = await attempt(my_order(order_id[:100], request, account), t("error.unavailable"))
    except Refused as refused:
        if refused.status < 500:
            return problem(request, account, t("orders.order.missing"), 404)
        return problem(request, account, refused.message, refused.status)
    notice = t("orders.order.placed") if request.query_params.get("placed") else ""
    return render(request, "orders_order.html", account=account, order=order, money=money, notice=notice)


@router.get("/downloads")
async def downloads_page(request: Request) -> Response:
    account = await buyer(request)
    if isinstance(account, Response):
        return account
    t = translator(language(request))
    try:
        offers = await attempt(downloads(request, account), t("error.unavailable"))
    except Refused as refused:
        return problem(request, account, refused.message, refused.status)
    return render(request, "orders_downloads.html", account=account, offers=offers)
