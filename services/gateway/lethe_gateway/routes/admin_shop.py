"""Staff routes (role admin): the catalogue, order fulfilment, and the legal-hold reading.

Blocked orders (completed, or cancelled after payment) are in no list; they
are read one at a time through the legal-hold route, with a reason, and every
such read is recorded. Staff lists come in pages (``?limit=&page_token=``, the
next page in the ``Link`` header).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from lethe.shop.v1 import shop_pb2 as pb
from lethe_gateway.deps import Admin, rpc_timeout, shop
from lethe_gateway.paging import DEFAULT_LIMIT, PageLimit, PageToken, link_next_page
from lethe_gateway.shop_schemas import (
    LegalHoldReadOut,
    MoveIn,
    ProductIn,
    ProductOut,
    ProductPatch,
    StaffOrderOut,
    product_message,
)

router = APIRouter(prefix="/admin", tags=["admin"])
OrderId = Annotated[str, Path(pattern=r"^ord_[0-9a-f]{32}$")]
ProductId = Annotated[str, Path(pattern=r"^prd_[0-9a-f]{32}$")]


@router.get("/products", response_model=list[ProductOut])
async def all_products(request: Request, admin: Admin) -> list[ProductOut]:
    """Every product, inactive ones too."""
    reply = await shop(request).ListProducts(
        pb.ListProductsRequest(include_inactive=True), timeout=rpc_timeout(request)
    )
    return [ProductOut.of(p) for p in reply.products]


@router.post("/products", status_code=201, response_model=ProductOut)
async def create_product(body: ProductIn, request: Request, admin: Admin) -> ProductOut:
    product, _ = product_message(body)
    reply = await shop(request).CreateProduct(
        pb.ProductInput(actor_account_id=admin.id, product=product), timeout=rpc_timeout(request)
    )
    return ProductOut.of(reply)


@router.patch("/products/{product_id}", response_model=ProductOut)
async def change_product(
    product_id: ProductId, body: ProductPatch, request: Request, admin: Admin
) -> ProductOut:
    """Change some fields; ``active: false`` takes a product out of the shop."""
    product, fields = product_message(body, product_id)
    reply = await shop(request).UpdateProduct(
        pb.UpdateProductRequest(actor_account_id=admin.id, product=product, fields=fields),
        timeout=rpc_timeout(request),
    )
    return ProductOut.of(reply)


@router.get("/orders", response_model=list[StaffOrderOut])
async def orders(
    request: Request,
    response: Response,
    admin: Admin,
    status: Annotated[
        str, Query(pattern=r"^[a-z]{0,20}$", description="one status; all open ones if empty")
    ] = "",
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[StaffOrderOut]:
    """Orders in fulfilment, newest first, one page (the next one is in the ``Link``
    header); never blocked ones, never those of a person who restricted."""
    reply = await shop(request).ListOrdersForStaff(
        pb.StaffOrdersRequest(
            actor_account_id=admin.id, status=status, page_size=limit, page_token=page_token
        ),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [StaffOrderOut.of(o) for o in reply.orders]


@router.post("/orders/{order_id}/status", response_model=StaffOrderOut)
async def move_order(order_id: OrderId, body: MoveIn, request: Request, admin: Admin) -> StaffOrderOut:
    """One step along placed → paid → shipped → delivered → completed, or cancelled."""
    reply = await shop(request).MoveOrder(
        pb.MoveOrderRequest(actor_account_id=admin.id, order_id=order_id, status=body.status),
        timeout=rpc_timeout(request),
    )
    return StaffOrderOut.of(reply)


@router.get("/legal-hold/orders/{order_id}", response_model=StaffOrderOut)
async def read_blocked_order(
    order_id: OrderId,
    request: Request,
    admin: Admin,
    reason: Annotated[str, Query(min_length=3, max_length=300)],
) -> StaffOrderOut:
    """A blocked order, for accounting or an inspection; the read and its reason are audited."""
    reply = await shop(request).ReadBlockedOrder(
        pb.LegalHoldRequest(actor_account_id=admin.id, order_id=order_id, reason=reason),
        timeout=rpc_timeout(request),
    )
    return StaffOrderOut.of(reply)


@router.get("/legal-hold/reads", response_model=list[LegalHoldReadOut])
async def legal_hold_reads(
    request: Request,
    response: Response,
    admin: Admin,
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[LegalHoldReadOut]:
    """Who read which blocked order, when and why; newest first, one page (the next one is
    in the ``Link`` header)."""
    reply = await shop(request).ListLegalHoldReads(
        pb.StaffRequest(actor_account_id=admin.id, page_size=limit, page_token=page_token),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [LegalHoldReadOut.of(r) for r in reply.reads]
