"""The shop for customers: catalogue, cart, orders, downloads.

Anyone sees the catalogue; everything else needs a logged-in account whose
address is verified. A customer only ever reaches their own orders and files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import grpc
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse

from lethe.identity.v1 import identity_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe_gateway.deps import LoggedIn, rpc_timeout, shop
from lethe_gateway.shop_schemas import (
    CartIn,
    CartOut,
    DownloadOut,
    OrderIn,
    OrderOut,
    ProductOut,
)

router = APIRouter(tags=["shop"])
OrderId = Annotated[str, Path(pattern=r"^ord_[0-9a-f]{32}$")]
DOWNLOAD_TIMEOUT_SECONDS = 600.0


async def require_verified(account: LoggedIn) -> identity_pb2.Account:
    if not account.email_verified:
        raise HTTPException(403, "please verify your e-mail address before you buy")
    return account


Verified = Annotated[identity_pb2.Account, Depends(require_verified)]


def customer(account: identity_pb2.Account) -> pb.Customer:
    return pb.Customer(account_id=account.id, email=account.email)


@router.get("/products", response_model=list[ProductOut])
async def products(request: Request) -> list[ProductOut]:
    reply = await shop(request).ListProducts(pb.ListProductsRequest(), timeout=rpc_timeout(request))
    return [ProductOut.of(p) for p in reply.products]


@router.get("/cart", response_model=CartOut)
async def get_cart(request: Request, account: Verified) -> CartOut:
    reply = await shop(request).GetCart(customer(account), timeout=rpc_timeout(request))
    return CartOut.of(reply)


@router.put("/cart", response_model=CartOut)
async def put_cart(body: CartIn, request: Request, account: Verified) -> CartOut:
    """Replace the cart's lines; the answer prices them."""
    reply = await shop(request).PutCart(
        pb.PutCartRequest(
            customer=customer(account),
            lines=[pb.LineInput(product_id=line.product_id, quantity=line.quantity) for line in body.lines],
        ),
        timeout=rpc_timeout(request),
    )
    return CartOut.of(reply)


@router.post("/orders", status_code=201, response_model=OrderOut)
async def place_order(
    body: OrderIn,
    request: Request,
    account: Verified,
    idempotency_key: Annotated[
        str,
        Header(
            min_length=8,
            max_length=100,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="a new random key per order; a retry with the same key "
            "returns the first order. A declined payment (402) "
            "keeps no order: the same key with a new card's token "
            "pays; the declined token is declined again",
        ),
    ],
) -> OrderOut:
    """Place and pay an order. Prices and totals are the catalogue's, never the client's.

    The Idempotency-Key names one order. A retry with it (the same or another token)
    returns that order once it is charged, and never charges twice; the same key for a
    different order is 409 `idempotency_key_reused`. A declined card is 402
    `payment_declined` and no order is kept, so the customer who fixes the card sends the
    same key with the new card's token: that is a new payment attempt, charged by itself.
    The declined token sent again is declined again (402), without a second order.
    """
    reply = await shop(request).PlaceOrder(
        pb.PlaceOrderRequest(
            customer=customer(account),
            idempotency_key=idempotency_key,
            lines=[pb.LineInput(product_id=line.product_id, quantity=line.quantity) for line in body.lines],
            billing=body.billing.message(),
            delivery=body.delivery.message() if body.delivery else None,
            delivery_note=body.delivery_note,
            payment_token=body.payment_token,
        ),
        timeout=rpc_timeout(request),
    )
    return OrderOut.of(reply)


@router.get("/orders", response_model=list[OrderOut])
async def my_orders(request: Request, account: Verified) -> list[OrderOut]:
    reply = await shop(request).ListOrders(customer(account), timeout=rpc_timeout(request))
    return [OrderOut.of(o) for o in reply.orders]


@router.get("/orders/{order_id}", response_model=OrderOut)
async def my_order(order_id: OrderId, request: Request, account: Verified) -> OrderOut:
    reply = await shop(request).GetOrder(
        pb.OrderRef(customer=customer(account), order_id=order_id), timeout=rpc_timeout(request)
    )
    return OrderOut.of(reply)


@router.get("/downloads", response_model=list[DownloadOut])
async def downloads(request: Request, account: Verified) -> list[DownloadOut]:
    """Files of bought downloads and active subscriptions, each with a fresh signed link."""
    reply = await shop(request).ListDownloads(customer(account), timeout=rpc_timeout(request))
    return [DownloadOut.of(d) for d in reply.downloads]


@router.get("/downloads/file", response_class=StreamingResponse)
async def download_file(
    request: Request,
    account: Verified,
    token: Annotated[str, Query(min_length=1, max_length=400, pattern=r"^[A-Za-z0-9_.-]+$")],
) -> StreamingResponse:
    """One file, for its buyer only, while the link and the entitlement last."""
    call = shop(request).FetchDownload(
        pb.FetchDownloadRequest(customer=customer(account), token=token), timeout=DOWNLOAD_TIMEOUT_SECONDS
    )
    first = await call.read()  # errors (expired, not yours) surface here, before any byte
    if first is grpc.aio.EOF:
        raise HTTPException(404, "no such download")

    async def body() -> AsyncIterator[bytes]:
        yield first.data
        while (chunk := await call.read()) is not grpc.aio.EOF:
            yield chunk.data

    return StreamingResponse(
        body(),
        media_type=first.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{first.file}"',
            "Content-Length": str(first.size_bytes),
            "Cache-Control": "no-store",
        },
    )
