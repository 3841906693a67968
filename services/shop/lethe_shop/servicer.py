"""The shop gRPC servicer: it translates messages and delegates, nothing more."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from lethe.common.v1 import audit_pb2, subject_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.audit_api import list_entries
from lethe_common.errors import InvalidArgument
from lethe_common.privacy_api import (
    declared_holdings,
    describe_inventory,
    erase_subject,
    export_subject,
    find_subject_traces,
    wire_time,
)
from lethe_common.staff import (
    ACCOUNTING,
    ADMIN,
    AssertionVerifier,
    StaffActor,
    require_recent_password,
    staff_call,
)
from lethe_common.trace_search import ServiceTraceSearch
from lethe_shop.catalogue import EDITABLE
from lethe_shop.checkout import (
    ADDRESS_FIELDS,
    Customer,
    OrderRequest,
    checked_address,
    checked_customer,
    checked_idempotency_key,
    checked_lines,
    checked_note,
)
from lethe_shop.config import SERVICE
from lethe_shop.downloads import Offer
from lethe_shop.inventory import INVENTORY
from lethe_shop.models import totals_of
from lethe_shop.payment import BadNotification
from lethe_shop.retention import LEGAL_HOLD_READ
from lethe_shop.wiring import ShopParts

PRODUCT_FIELDS = (
    "name",
    "description",
    "kind",
    "price_cents",
    "currency",
    "vat_rate_bp",
    "term_months",
    "files",
    "active",
)


def product_message(doc: Mapping[str, Any]) -> pb.Product:
    return pb.Product(id=doc["_id"], sku=doc["sku"], **{f: doc[f] for f in PRODUCT_FIELDS})


def line_message(line: Mapping[str, Any]) -> pb.Line:
    return pb.Line(
        **{
            f: line[f]
            for f in (
                "product_id",
                "sku",
                "name",
                "kind",
                "quantity",
                "unit_cents",
                "vat_rate_bp",
                "net_cents",
                "vat_cents",
                "gross_cents",
                "term_months",
            )
        }
    )


def totals_message(totals: Mapping[str, Any]) -> pb.Totals:
    return pb.Totals(**totals)


def address_message(address: Mapping[str, str] | None) -> pb.Address | None:
    return pb.Address(**address) if address else None


def order_message(order: Mapping[str, Any]) -> pb.Order:
    payment = order["payment"]
    return pb.Order(
        id=order["_id"],
        status=order["status"],
        placed_at=wire_time(order["placed_at"]),
        lines=[line_message(line) for line in order["lines"]],
        totals=totals_message(order["totals"]),
        billing=address_message(order["billing"]),
        delivery=address_message(order.get("delivery")),
        delivery_note=order.get("delivery_note", ""),
        payment=pb.Payment(
            provider=payment["provider"], reference=payment["reference"], status=payment["status"]
        ),
        history=[pb.StatusChange(status=h["status"], at=wire_time(h["at"])) for h in order["history"]],
        blocked=bool(order.get("blocked")),
        retain_until=wire_time(order.get("retain_until")),
        account_id=order["account_id"],
    )


def cart_message(lines: list[dict[str, Any]]) -> pb.Cart:
    return pb.Cart(lines=[line_message(line) for line in lines], totals=totals_message(totals_of(lines)))


def offer_message(offer: Offer) -> pb.Download:
    return pb.Download(
        product_id=offer.entitlement["product_id"],
        product_name=offer.entitlement["product_name"],
        file=offer.file,
        size_bytes=offer.size_bytes,
        entitled_until=wire_time(offer.entitlement["until"]),
        token=offer.token,
        link_expires_at=wire_time(offer.link_expires_at),
    )


def _product_fields(product: pb.Product, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: list(product.files) if name == "files" else getattr(product, name) for name in names}


def _address(address: pb.Address, what: str) -> dict[str, str]:
    return checked_address({f: getattr(address, f) for f in ADDRESS_FIELDS}, what)


class ShopServicer(shop_pb2_grpc.ShopServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        parts: ShopParts,
        pepper: str,
        *,
        traces: ServiceTraceSearch,
        verifier: AssertionVerifier,
    ) -> None:
        self._traces = traces
        self._parts = parts
        self._pepper = pepper
        self._verifier = verifier

    def _customer(self, customer: pb.Customer) -> Customer:
        return checked_customer(customer.account_id, customer.email, self._pepper)

    def _staff(self, context: Any, actor_account_id: str, role: str) -> StaffActor:
        """The staff member the verified assertion names, if they hold ``role``; the
        request's own actor id, when given, must be theirs."""
        return staff_call(self._verifier, context, actor_account_id, role)

    # -- catalogue --------------------------------------------------------------------------
    def ListProducts(self, request: pb.ListProductsRequest, context: Any) -> pb.ProductList:
        if request.include_inactive:
            self._staff(context, "", ADMIN)
        return pb.ProductList(
            products=[product_message(p) for p in self._parts.catalogue.products(request.include_inactive)]
        )

    def CreateProduct(self, request: pb.ProductInput, context: Any) -> pb.Product:
        actor = self._staff(context, request.actor_account_id, ADMIN)
        product = request.product
        return product_message(
            self._parts.catalogue.create(
                product.sku, _product_fields(product, PRODUCT_FIELDS), actor_id=actor.account_id
            )
        )

    def UpdateProduct(self, request: pb.UpdateProductRequest, context: Any) -> pb.Product:
        actor = self._staff(context, request.actor_account_id, ADMIN)
        fields = tuple(request.fields)
        if not set(fields) <= set(EDITABLE):
            raise InvalidArgument(f"only these fields can be changed: {', '.join(EDITABLE)}")
        return product_message(
            self._parts.catalogue.update(
                actor.account_id, request.product.id, _product_fields(request.product, fields)
            )
        )

    # -- carts ------------------------------------------------------------------------------
    def GetCart(self, request: pb.Customer, context: Any) -> pb.Cart:
        return cart_message(self._parts.carts.get(self._customer(request)))

    def PutCart(self, request: pb.PutCartRequest, context: Any) -> pb.Cart:
        customer = self._customer(request.customer)
        return cart_message(
            self._parts.carts.put(customer, [(line.product_id, line.quantity) for line in request.lines])
        )

    # -- orders -----------------------------------------------------------------------------
    def PlaceOrder(self, request: pb.PlaceOrderRequest, context: Any) -> pb.Order:
        customer = self._customer(request.customer)
        order_request = OrderRequest(
            customer=customer,
            idempotency_key=checked_idempotency_key(request.idempotency_key),
            lines=checked_lines((line.product_id, line.quantity) for line in request.lines),
            billing=_address(request.billing, "billing"),
            delivery=_address(request.delivery, "delivery") if request.HasField("delivery") else None,
            delivery_note=checked_note(request.delivery_note),
            payment_token=request.payment_token,
        )
        return order_message(self._parts.orders.place(order_request))

    def ListOrders(self, request: pb.Customer, context: Any) -> pb.OrderList:
        return pb.OrderList(
            orders=[order_message(o) for o in self._parts.orders.own(self._customer(request))]
        )

    def GetOrder(self, request: pb.OrderRef, context: Any) -> pb.Order:
        return order_message(self._parts.orders.own_one(self._customer(request.customer), request.order_id))

    def PaymentNotification(self, request: pb.PaymentNotificationRequest, context: Any) -> pb.Ack:
        try:
            return pb.Ack(message=self._parts.orders.payment_notification(request.body, request.signature))
        except BadNotification as exc:
            raise InvalidArgument(str(exc)) from None

    # -- downloads --------------------------------------------------------------------------
    def ListDownloads(self, request: pb.Customer, context: Any) -> pb.DownloadList:
        offers = self._parts.downloads.offers(self._customer(request))
        return pb.DownloadList(downloads=[offer_message(o) for o in offers])

    def FetchDownload(self, request: pb.FetchDownloadRequest, context: Any) -> Iterator[pb.FileChunk]:
        opened = self._parts.downloads.open(self._customer(request.customer), request.token)
        first = True
        for block in opened.chunks():
            if first:
                yield pb.FileChunk(
                    file=opened.name,
                    content_type=opened.content_type,
                    size_bytes=opened.size_bytes,
                    data=block,
                )
                first = False
            else:
                yield pb.FileChunk(data=block)
        if first:  # an empty file still names itself
            yield pb.FileChunk(file=opened.name, content_type=opened.content_type, size_bytes=0)

    # -- staff ------------------------------------------------------------------------------
    def ListOrdersForStaff(self, request: pb.StaffOrdersRequest, context: Any) -> pb.OrderList:
        self._staff(context, request.actor_account_id, ACCOUNTING)
        orders, next_token = self._parts.staff.page(request.status, request.page_size, request.page_token)
        return pb.OrderList(orders=[order_message(o) for o in orders], next_page_token=next_token)

    def GetOrderForStaff(self, request: pb.StaffOrderRef, context: Any) -> pb.Order:
        self._staff(context, request.actor_account_id, ACCOUNTING)
        return order_message(self._parts.staff.one(request.order_id))

    def MoveOrder(self, request: pb.MoveOrderRequest, context: Any) -> pb.Order:
        actor = self._staff(context, request.actor_account_id, ACCOUNTING)
        return order_message(self._parts.staff.move(actor.account_id, request.order_id, request.status))

    def ReadBlockedOrder(self, request: pb.LegalHoldRequest, context: Any) -> pb.Order:
        actor = self._staff(context, request.actor_account_id, ACCOUNTING)
        require_recent_password(actor)
        return order_message(
            self._parts.retention.read_blocked(actor.account_id, request.order_id, request.reason)
        )

    def ListLegalHoldReads(self, request: pb.StaffRequest, context: Any) -> pb.LegalHoldReadList:
        self._staff(context, request.actor_account_id, ACCOUNTING)
        reads, next_token = self._parts.retention.reads(request.page_size, request.page_token)
        return pb.LegalHoldReadList(
            reads=[
                pb.LegalHoldRead(
                    id=r.id,
                    actor_account_id=r.actor_account_id,
                    order_id=r.order_id,
                    reason=r.reason,
                    at=r.at,
                )
                for r in reads
            ],
            next_page_token=next_token,
        )

    def ListAuditEntries(self, request: audit_pb2.AuditListRequest, context: Any) -> audit_pb2.AuditEntryList:
        """The shop's audit trail: admin reads all of it, accounting the legal-hold reads."""
        role = ACCOUNTING if request.action == LEGAL_HOLD_READ else ADMIN
        self._staff(context, request.actor_account_id, role)
        return list_entries(SERVICE, self._parts.repo.audit, request)

    # -- privacy ----------------------------------------------------------------------------
    def DescribeInventory(
        self, request: subject_pb2.DescribeInventoryRequest, context: Any
    ) -> subject_pb2.DescribeInventoryResponse:
        return describe_inventory(SERVICE, INVENTORY)

    def ExportSubjectData(
        self, request: subject_pb2.ExportSubjectDataRequest, context: Any
    ) -> subject_pb2.ExportSubjectDataResponse:
        data = self._parts.erasure.export(export_subject(request.subject))
        return subject_pb2.ExportSubjectDataResponse(
            service=SERVICE,
            inventory=declared_holdings(INVENTORY),
            data_json=json.dumps(data, ensure_ascii=False),
            purposes=[
                "to sell, charge, deliver and give downloads of what the person ordered",
                "to keep invoices and business letters as commercial and tax law require",
            ],
            lawful_bases=[
                "Art. 6(1)(b) GDPR: the purchase contract",
                "Art. 6(1)(c) GDPR: retention of invoices and booking documents (HGB §257, AO §147)",
            ],
            retention="open orders until fulfilled; then blocked and deleted at the end of the "
            "retention period (invoices 8 years, business letters 6 years, from the "
            "end of the calendar year)",
            recipients=[
                "payment provider: amount and order reference (card data goes to the "
                "provider directly, never to us)",
                "supplier: name, delivery address and items of physical orders",
            ],
        )

    def EraseSubject(
        self, request: subject_pb2.EraseSubjectRequest, context: Any
    ) -> subject_pb2.EraseSubjectResponse:
        return erase_subject(SERVICE, request, self._parts.erasure.erase)

    def FindSubjectTraces(
        self, request: subject_pb2.FindSubjectTracesRequest, context: Any
    ) -> subject_pb2.FindSubjectTracesResponse:
        return find_subject_traces(SERVICE, request, self._traces)
