"""Staff routes: the catalogue (role admin), order fulfilment and the legal-hold reading
(role accounting).

Blocked orders (completed, or cancelled after payment) are in no list; they
are read one at a time through the legal-hold route, with a reason, and every
such read is recorded. Staff lists come in pages (``?limit=&page_token=``, the
next page in the ``Link`` header).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from lethe.identity.v1 import identity_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe_gateway.deps import Accounting, Admin, as_staff, rpc_timeout, shop
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
        pb.ListProductsRequest(include_inactive=True), metadata=as_staff(admin), timeout=rpc_timeout(request)
    )
    return [ProductOut.of(p) for p in reply.products]


@router.post("/products", status_code=201, response_model=ProductOut)
async def create_product(body: ProductIn, request: Request, admin: Admin) -> ProductOut:
    product, _ = product_message(body)
    reply = await shop(request).CreateProduct(
        pb.ProductInput(actor_account_id=admin.id, product=product),
        metadata=as_staff(admin),
        timeout=rpc_timeout(request),
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
        metadata=as_staff(admin),
        timeout=rpc_timeout(request),
    )
    return ProductOut.of(reply)


@router.get("/orders", response_model=list[StaffOrderOut])
async def orders(
    request: Request,
    response: Response,
    staff: Accounting,
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
            actor_account_id=staff.id, status=status, page_size=limit, page_token=page_token
        ),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [StaffOrderOut.of(o) for o in reply.orders]


@router.get("/orders/{order_id}", response_model=StaffOrderOut)
async def staff_order(order_id: OrderId, request: Request, staff: Accounting) -> StaffOrderOut:
    """One order in fulfilment (404 for a blocked one: read it through the legal hold; 409
    while its customer restricted processing)."""
    return await order_for_staff(request, staff, order_id)


async def order_for_staff(request: Request, staff: identity_pb2.Account, order_id: str) -> StaffOrderOut:
    reply = await shop(request).GetOrderForStaff(
        pb.StaffOrderRef(actor_account_id=staff.id, order_id=order_id),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return StaffOrderOut.of(reply)


@router.post("/orders/{order_id}/status", response_model=StaffOrderOut)
async def move_order(order_id: OrderId, body: MoveIn, request: Request, staff: Accounting) -> StaffOrderOut:
    """One step along placed → paid → shipped → delivered → completed, or cancelled."""
    reply = await shop(request).MoveOrder(
        pb.MoveOrderRequest(actor_account_id=staff.id, order_id=order_id, status=body.status),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return StaffOrderOut.of(reply)


@router.get("/legal-hold/orders/{order_id}", response_model=StaffOrderOut)
async def read_blocked_order(
    order_id: OrderId,
    request: Request,
    staff: Accounting,
    reason: Annotated[str, Query(min_length=3, max_length=300)],
) -> StaffOrderOut:
    """A blocked order, for accounting or an inspection; the read and its reason are audited."""
    reply = await shop(request).ReadBlockedOrder(
        pb.LegalHoldRequest(actor_account_id=staff.id, order_id=order_id, reason=reason),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return StaffOrderOut.of(reply)


@router.get("/legal-hold/reads", response_model=list[LegalHoldReadOut])
async def legal_hold_reads(
    request: Request,
    response: Response,
    staff: Accounting,
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[LegalHoldReadOut]:
    """Who read which blocked order, when and why; newest first, one page (the next one is
    in the ``Link`` header)."""
    reply = await shop(request).ListLegalHoldReads(
        pb.StaffRequest(actor_account_id=staff.id, page_size=limit, page_token=page_token),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [LegalHoldReadOut.of(r) for r in reply.reads]
