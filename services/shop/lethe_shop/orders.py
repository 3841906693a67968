"""Orders: placing one (priced by the server, paid by a provider token), the customer's own
view, the provider's notifications, and staff moving orders along to completion.

Placing is idempotent: the order's id comes from the customer and their
Idempotency-Key, so a retry meets the first order. The order is written before
the charge; a declined or invalid token removes it again (nothing was bought),
an unreachable provider leaves it unpaid for the retry to charge (the charge's
own idempotency key is the order id, so nobody pays twice).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.validation import object_id
from lethe_shop.catalogue import Catalogue
from lethe_shop.checkout import Customer, OrderRequest, order_id_for
from lethe_shop.models import (
    CANCELLED,
    COMPLETED,
    OPEN_STATUSES,
    PAID,
    PLACED,
    STATUSES,
    check_move,
    has_physical,
    line_of,
    totals_of,
)
from lethe_shop.payment import (
    BadNotification,
    Charge,
    InvalidPaymentToken,
    PaymentDeclined,
    PaymentProvider,
    ProviderUnavailable,
)
from lethe_shop.repository import ShopRepository
from lethe_shop.retention import RetentionRules

log = logging.getLogger(__name__)
SERVICE = "shop"


def _event(name: str, order: Document, **extra: Any) -> Envelope:
    return Envelope(type=name, source=SERVICE, subject_key=order["subject_key"],
                    payload={"order_id": order["_id"], "account_id": order["account_id"], **extra})


def _history(status: str, at: datetime, by: str) -> Document:
    return {"$push": {"history": {"status": status, "at": at, "by": by}}}


class Orders:
    def __init__(self, repo: ShopRepository, catalogue: Catalogue, provider: PaymentProvider,
                 rules: RetentionRules, notify_url: str,
                 order_closed: Callable[[str, str], object]) -> None:
        self._repo = repo
        self._catalogue = catalogue
        self._provider = provider
        self._rules = rules
        self._notify_url = notify_url
        self._order_closed = order_closed
        self._locks = [threading.Lock() for _ in range(64)]

    # -- customers --------------------------------------------------------------------------
    def place(self, request: OrderRequest, now: datetime | None = None) -> Document:
        now = now or datetime.now(UTC)
        order = self._new_order(request, now)
        if not self._repo.insert_order(order):
            order = self._replayed(order["_id"], request)
            if order["payment"]["status"] != "not_charged":
                return order  # the first request went through: its order, unchanged
        return self._charge(order, request.payment_token)

    def _new_order(self, request: OrderRequest, now: datetime) -> Document:
        products = self._catalogue.priced([product_id for product_id, _ in request.lines])
        lines = [line_of(products[product_id], quantity) for product_id, quantity in request.lines]
        totals = totals_of(lines)
        physical = has_physical(lines)
        if physical and request.delivery is None:
            raise InvalidArgument("physical goods need a delivery address")
        customer = request.customer
        return {
            "_id": order_id_for(customer.account_id, request.idempotency_key),
            "account_id": customer.account_id, "subject_key": customer.subject_key,
            "email": customer.email, "fingerprint": request.fingerprint(),
            "status": PLACED, "placed_at": now, "lines": lines, "totals": totals,
            "billing": request.billing, "delivery": request.delivery if physical else None,
            "delivery_note": request.delivery_note if physical else "",
            "payment": {"provider": self._provider.name, "reference": "", "status": "not_charged"},
            "history": [{"status": PLACED, "at": now, "by": customer.account_id}],
            "blocked": False, "restricted": False,
        }

    def _replayed(self, order_id: str, request: OrderRequest) -> Document:
        order = self._repo.order(order_id)
        if order is None:  # removed a moment ago (declined): the client may retry
            raise Unavailable("the order is being changed; send the request again")
        if order["fingerprint"] != request.fingerprint():
            raise FailedPrecondition("this Idempotency-Key was used for a different order; "
                                     "use a new key for a new order",
                                     reason="idempotency_key_reused")
        return order

    def _charge(self, order: Document, token: str) -> Document:
        totals = order["totals"]
        try:
            charge = self._provider.charge(token, totals["gross_cents"], totals["currency"],
                                           order["_id"], self._notify_url)
        except PaymentDeclined:
            self._repo.delete_unpaid_order(order["_id"])
            raise FailedPrecondition("the payment was declined; no order was placed",
                                     reason="payment_declined") from None
        except InvalidPaymentToken:
            self._repo.delete_unpaid_order(order["_id"])
            raise InvalidArgument("the payment token is not valid or was used already; "
                                  "get a new one from the payment provider") from None
        except (ProviderUnavailable, BadNotification):
            raise Unavailable("the payment provider did not answer; send the same request "
                              "again with the same Idempotency-Key") from None
        recorded = self._record_charge(order["_id"], charge)
        log.info("order placed", extra={"order_id": order["_id"], "payment": charge.status})
        return recorded

    def _record_charge(self, order_id: str, charge: Charge) -> Document:
        """The provider's reference, once, with ``order.placed``; then paid if it succeeded.

        The answer to the charge and the provider's notification race for the same order;
        one lock per order in this process lets one of them write at a time. On MongoDB the
        update conditions alone would arbitrate; FerretDB 1.24 runs an update as a read and
        a replace, so two at once could lose one (measured: 10 of 80 orders stayed unpaid).
        """
        with self._locks[hash(order_id) % len(self._locks)]:
            return self._record_charge_locked(order_id, charge)

    def _record_charge_locked(self, order_id: str, charge: Charge) -> Document:
        order = self._repo.order(order_id)
        if order is None:
            raise NotFound("no such order")
        if order["payment"]["status"] == "not_charged":
            payment = {**order["payment"], "reference": charge.reference, "status": "pending"}
            order = self._repo.update_order(
                order_id, {"payment.status": "not_charged"}, {"$set": {"payment": payment}},
                _event("order.placed", order, currency=order["totals"]["currency"],
                       gross_cents=order["totals"]["gross_cents"])) or self._repo.order(order_id)
        if order is not None and charge.status == "succeeded":
            return self._mark_paid(order, charge.reference)
        if order is not None and charge.status == "failed":
            order = self._repo.update_order(order_id, {"status": PLACED},
                                            {"$set": {"payment.status": "failed"}}) or order
        if order is None:
            raise NotFound("no such order")
        return order

    def _mark_paid(self, order: Document, reference: str) -> Document:
        if order["status"] != PLACED or order["payment"]["reference"] != reference:
            return order
        now = datetime.now(UTC)
        paid = self._repo.update_order(
            order["_id"], {"status": PLACED, "payment.reference": reference},
            {"$set": {"status": PAID, "paid_at": now, "payment.status": "succeeded"},
             **_history(PAID, now, self._provider.name)},
            _event("order.paid", order))
        return paid or self._repo.order(order["_id"]) or order

    def payment_notification(self, body: bytes, signature: str) -> str:
        """Take the provider's signed notification; BadNotification if it is not genuine."""
        charge = self._provider.notification(body, signature)
        try:
            object_id(charge.order_id, "reference")
            self._record_charge(charge.order_id, charge)
        except (InvalidArgument, NotFound):
            log.warning("payment notification for no known order")
        return "received"

    def own(self, customer: Customer) -> list[Document]:
        return self._repo.orders_of_account(customer.account_id)

    def own_one(self, customer: Customer, order_id: str) -> Document:
        object_id(order_id, "order id")
        order = self._repo.order(order_id)
        if order is None or order["account_id"] != customer.account_id or order["blocked"]:
            raise NotFound("no such order")  # another's order: the same answer as none
        return order

    # -- staff ------------------------------------------------------------------------------
    def for_staff(self, status: str) -> list[Document]:
        if status and status not in STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}")
        return self._repo.orders_for_staff([status] if status else OPEN_STATUSES)

    def move(self, actor_id: str, order_id: str, wanted: str,
             now: datetime | None = None) -> Document:
        """Staff move an order one step; completion (or cancelling a paid one) blocks it."""
        object_id(actor_id, "actor_account_id")
        object_id(order_id, "order id")
        now = now or datetime.now(UTC)
        order = self._repo.order(order_id)
        if order is None or order["blocked"]:
            raise NotFound("no such order in fulfilment")
        if order.get("restricted"):
            raise FailedPrecondition("the customer restricted the processing of their data; "
                                     "the order waits until the restriction is lifted")
        check_move(order["status"], wanted, order["lines"])
        changes: Document = {"status": wanted, f"{wanted}_at": now}
        events: list[Envelope] = []
        if wanted == CANCELLED and order["payment"]["status"] in ("pending", "succeeded"):
            changes["payment.status"] = self._refund(order)
        paid = order["status"] != PLACED
        if wanted == COMPLETED or (wanted == CANCELLED and paid):
            changes.update(blocked=True, blocked_at=now,
                           retain_until=self._rules.invoice_until(now))
        if wanted == COMPLETED:
            events.append(_event("order.completed", order))
        moved = self._repo.update_order(order_id, {"status": order["status"]},
                                        {"$set": changes, **_history(wanted, now, actor_id)},
                                        *events)
        if moved is None:
            raise FailedPrecondition("the order changed meanwhile; load it again")
        if wanted == CANCELLED:
            self._repo.revoke_entitlements(order_id)
        if moved["status"] not in OPEN_STATUSES:
            self._order_closed(moved["account_id"], moved["subject_key"])
        return moved

    def _refund(self, order: Document) -> str:
        try:
            return self._provider.refund(order["payment"]["reference"], order["_id"]).status
        except (ProviderUnavailable, BadNotification):
            raise Unavailable("the payment provider did not take the refund; the order is "
                              "not cancelled, try again shortly") from None
