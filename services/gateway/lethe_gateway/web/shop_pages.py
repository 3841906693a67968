"""The start page with the catalogue, and a product's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from lethe_gateway.routes.shop import products
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import render
from lethe_gateway.web.session import page_account

router = APIRouter()


def money(cents: int, currency: str, lang: str) -> str:
    whole, rest = divmod(cents, 100)
    if lang == "de":
        return f"{whole:,}".replace(",", ".") + f",{rest:02d} {currency}"
    return f"{currency} {whole:,}.{rest:02d}"


@router.get("/")
async def home(request: Request) -> Response:
    account = await page_account(request)
    t = translator(language(request))
    try:
        listed = await attempt(products(request), t("error.unavailable"))
    except Refused as refused:
        return render(
            request,
            "message.html",
            account=account,
            status_code=refused.status,
            title=t("error.title"),
            message=refused.message,
            kind="error",
        )
    return render(request, "home.html", account=account, products=listed, money=money)


@router.get("/products/{product_id}")
async def product_page(product_id: str, request: Request) -> Response:
    account = await page_account(request)
    t = translator(language(request))
    try:
        listed = await attempt(products(request), t("error.unavailable"))
    except Refused as refused:
        return render(
            request,
            "message.html",
            account=account,
            status_code=refused.status,
            title=t("error.title"),
            message=refused.message,
            kind="error",
        )
    product = next((p for p in listed if p.id == product_id and p.active), None)
    return render(
        request,
        "product.html",
        account=account,
        product=product,
        money=money,
        status_code=200 if product else 404,
    )
