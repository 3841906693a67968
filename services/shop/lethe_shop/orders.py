"""Orders: placing one (priced by the server, paid by a provider token), the customer's own
view, and what the payment provider says about the charge.

Placing is idempotent: the Idempotency-Key names one order the customer means to place,
and each try to pay for it is an attempt with an order id of its own
(:mod:`lethe_shop.attempts`): a retry meets the current attempt's unique ``_id``. The order
is written before the charge; a declined or invalid token voids and removes it (nothing
was bought) and ends the attempt, so the same key with another card's token begins a new
attempt, charged under its own provider key; an unreachable provider leaves it unpaid for
the retry to charge (the charge's own idempotency key is the order id, so nobody pays
twice).

The charge's answer and the provider's signed notification may arrive at the same moment
in two API replicas. Each appends what it learnt to the order's step log, decided on the
steps it read: exactly one records the charge (``order.placed``) and exactly one makes
the order paid (``order.paid``); the other finds nothing left to do.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from lethe_common.mongo import Document
from lethe_common.store.keys import timekey
from lethe_common.store.steps import Step
from lethe_common.validation import object_id
from lethe_shop.attempts import (
    CARD_DECLINED,
    INVALID_TOKEN,
    attempt_step,
    declined_step,
    key_state,
    refusal,
)
from lethe_shop.catalogue import Catalogue
from lethe_shop.checkout import Customer, OrderRequest, key_log_id
from lethe_shop.models import (
    CANCELLED,
    PAID,
    PLACED,
    aware,
    has_physical,
    line_of,
    to_millis,
    totals_of,
)
from lethe_shop.order_book import Loaded, OrderBook
from lethe_shop.order_state import OrderState, fold, payment_step, void_reason, void_step
from lethe_shop.payment import (
    BadNotification,
    Charge,
    InvalidPaymentToken,
    PaymentDeclined,
    PaymentProvider,
    ProviderUnavailable,
)
from lethe_shop.repo_orders import OPEN_QUEUE, person_item_order, status_queue
from lethe_shop.repository import ShopRepository

log = logging.getLogger(__name__)
CONTACT_FIELDS = ("billing_phone", "delivery_phone", "delivery_note")
ROUNDS = 5  # attempts found declined while placing, before the request is answered 503


def split_contacts(
    order_id: str, billing: dict[str, str], delivery: dict[str, str] | None, note: str
) -> tuple[dict[str, str], dict[str, str] | None, Document | None]:
    """Billing and delivery without phones, and the phones and note as their own document
    (what an erasure deletes from an order that must be kept)."""
    contacts = {
        "billing_phone": billing.get("phone", ""),
        "delivery_phone": (delivery or {}).get("phone", ""),
        "delivery_note": note,
    }
    bare_billing = {k: v for k, v in billing.items() if k != "phone"}
    bare_delivery = {k: v for k, v in delivery.items() if k != "phone"} if delivery else None
    kept = {k: v for k, v in contacts.items() if v}
    return bare_billing, bare_delivery, ({"_id": order_id, **kept} if kept else None)


class Orders:
    def __init__(
        self,
        repo: ShopRepository,
        book: OrderBook,
        catalogue: Catalogue,
        provider: PaymentProvider,
        notify_url: str,
    ) -> None:
        self._store = repo.orders
        self._book = book
        self._catalogue = catalogue
        self._provider = provider
        self._notify_url = notify_url

    # -- placing ------------------------------------------------------------------------------
    def place(self, request: OrderRequest, now: datetime | None = None) -> Document:
        try:
            self._provider.check_token(request.payment_token)
        except InvalidPaymentToken:
            raise refusal(INVALID_TOKEN) from None
        placed_at = to_millis(now or datetime.now(UTC))
        lines = self._lines(request)
        for _ in range(ROUNDS):
            placed = self._place_attempt(self._attempt(request), request, lines, placed_at)
            if placed is not None:
                return placed
        raise Unavailable("the order is being changed; send the request again")

    def _attempt(self, request: OrderRequest) -> str:
        """The order id of the key's current attempt, begun here if the key holds none."""
        account_id, key = request.customer.subject.account_id, request.idempotency_key
        token, now = request.token_fingerprint(), datetime.now(UTC)
        steps = self._store.append_key_step(
            key_log_id(account_id, key),
            lambda steps: attempt_step(key_state(steps), account_id, key, token, now),
        )
        return key_state(steps).current

    def _place_attempt(
        self, order_id: str, request: OrderRequest, lines: list[Document], placed_at: datetime
    ) -> Document | None:
        """Write the attempt's order if it is not there yet, and charge it unless it was
        charged; None if the attempt turned out declined meanwhile (decide again)."""
        order, contacts = self._new_order(request, lines, order_id, placed_at)
        self._index(order)
        if self._store.insert(order):
            steps = self._store.steps(order_id)
            if fold(order, steps).voided:  # written again after its decline: never charged
                self._end_void(request, Loaded(order, steps, None))
                return None
            if contacts:  # by the request that placed it only: a late retry never restores
                self._store.insert_contacts(contacts)  # what an erasure deleted
        else:
            loaded = self._replayed(order, request)
            if loaded is None:  # removed a moment ago (declined)
                return None
            if loaded.state.voided:
                self._end_void(request, loaded)
                return None
            state = loaded.state
            if state.payment_status != "not_charged" or state.status != PLACED:
                return loaded.view()  # the first request went through: its order, unchanged
            order = loaded.order
        return self._charge(order, request)

    def _lines(self, request: OrderRequest) -> list[Document]:
        products = self._catalogue.priced([product_id for product_id, _ in request.lines])
        lines = [line_of(products[product_id], quantity) for product_id, quantity in request.lines]
        if has_physical(lines) and request.delivery is None:
            raise InvalidArgument("physical goods need a delivery address")
        return lines

    def _new_order(
        self, request: OrderRequest, lines: list[Document], order_id: str, now: datetime
    ) -> tuple[Document, Document | None]:
        physical = has_physical(lines)
        customer = request.customer
        billing, delivery, contacts = split_contacts(
            order_id,
            request.billing,
            request.delivery if physical else None,
            request.delivery_note if physical else "",
        )
        return {
            "_id": order_id,
            **customer.subject.fields(),  # never the e-mail address: nothing needs it (issue 14)
            "fingerprint": request.fingerprint(),
            "placed_at": now,
            "lines": lines,
            "totals": totals_of(lines),
            "billing": billing,
            "delivery": delivery,
            "provider": self._provider.name,
        }, contacts

    def _index(self, order: Document) -> None:
        """Where the order will be found, written before it: the person's index and the
        staff lists of open and of placed orders."""
        self._store.index_for_person(order)
        self._store.schedule(OPEN_QUEUE, order["placed_at"], order["_id"])
        self._store.schedule(status_queue(PLACED), order["placed_at"], order["_id"])

    def _unindex(self, order: Document) -> None:
        self._store.unindex_for_person(order)
        self._store.unschedule(OPEN_QUEUE, order["placed_at"], order["_id"])
        self._store.unschedule(status_queue(PLACED), order["placed_at"], order["_id"])

    def _replayed(self, mine: Document, request: OrderRequest) -> Loaded | None:
        """The order this request met, unless it is gone; a void one as it is."""
        loaded = self._book.load(mine["_id"])
        if loaded is None or loaded.order["placed_at"] != mine["placed_at"]:
            self._unindex(mine)  # entries for a time that is not the order's
        if loaded is None or loaded.state.voided:
            return loaded
        if loaded.order["fingerprint"] != request.fingerprint():
            raise FailedPrecondition(
                "this Idempotency-Key was used for a different order; use a new key for a new order",
                reason="idempotency_key_reused",
            )
        return loaded

    def _charge(self, order: Document, request: OrderRequest) -> Document:
        totals = order["totals"]
        try:
            charge = self._provider.charge(
                request.payment_token,
                totals["gross_cents"],
                totals["currency"],
                order["_id"],
                self._notify_url,
            )
        except PaymentDeclined:
            self._void(order, request, CARD_DECLINED)
            raise refusal(CARD_DECLINED) from None
        except InvalidPaymentToken:
            self._void(order, request, INVALID_TOKEN)
            raise refusal(INVALID_TOKEN) from None
        except (ProviderUnavailable, BadNotification):
            raise Unavailable(
                "the payment provider did not answer; send the same request "
                "again with the same Idempotency-Key"
            ) from None
        loaded = self.record_charge(order["_id"], charge)
        log.info("order placed", extra={"order_id": order["_id"], "payment": charge.status})
        return loaded.view()

    def _void(self, order: Document, request: OrderRequest, reason: str) -> None:
        """Nothing was bought: void the order (unless a charge was recorded), then end the
        attempt and remove the order."""
        loaded = self._book.load(order["_id"])
        if loaded is None:
            return
        now = datetime.now(UTC)
        loaded, _ = self._book.append(loaded, lambda state: void_step(state, now, reason))
        if loaded.state.voided:
            self._end_void(request, loaded)

    def _end_void(self, request: OrderRequest, loaded: Loaded) -> None:
        """A void order's attempt is over: the key's log says so first (then a new attempt
        may begin), then the order goes; its void step stays. Whoever finds it void does
        this (again): both writes are idempotent."""
        log_id = key_log_id(request.customer.subject.account_id, request.idempotency_key)
        reason, now = void_reason(loaded.steps), datetime.now(UTC)
        self._store.append_key_step(
            log_id, lambda steps: declined_step(key_state(steps), loaded.id, reason, now)
        )
        self._store.remove_void(loaded.order)

    # -- what the provider says -------------------------------------------------------------
    def record_charge(self, order_id: str, charge: Charge) -> Loaded:
        """Append what the charge's answer or notification adds (see ``payment_step``); a
        payment for an order cancelled meanwhile goes back at once."""
        loaded = self._book.load(order_id)
        if loaded is None:
            raise NotFound("no such order")
        order, now = loaded.order, datetime.now(UTC)
        if charge.status == "succeeded" and loaded.state.status == PLACED:
            self._book.before_status(order, PAID, blocked=False)
        refund_entries: list[str] = []

        def decide(state: OrderState) -> Step | None:
            step = payment_step(order, state, charge.reference, charge.status, self._provider.name, now)
            if step is not None and state.status == CANCELLED and not refund_entries:
                refund_entries.append(self._book.schedule_refund(order))
            return step

        loaded, _ = self._book.append(loaded, decide)
        if loaded.state.refund_due:
            entry = refund_entries[0] if refund_entries else self._book.schedule_refund(order)
            loaded = self._book.settle_refund(loaded, entry)
        elif refund_entries:
            self._book.remove_entry(refund_entries[0])
        return loaded

    def payment_notification(self, body: bytes, signature: str) -> str:
        """Take the provider's signed notification; BadNotification if it is not genuine."""
        charge = self._provider.notification(body, signature)
        try:
            object_id(charge.order_id, "reference")
            self.record_charge(charge.order_id, charge)
        except (InvalidArgument, NotFound):
            log.warning("payment notification for no known order")
        return "received"

    # -- the customer's own ---------------------------------------------------------------------
    def own(self, customer: Customer) -> list[Document]:
        """The customer's orders, newest first; blocked ones are for accounting only."""
        account_id = customer.subject.account_id
        items = [person_item_order(item) for item in self._store.person_items(account_id)]
        loaded = self._book.load_many(order_id for _, order_id in items)
        own = []
        for placed, order_id in reversed(items):
            found = loaded.get(order_id)
            if found is None or found.order["account_id"] != account_id:
                continue
            if timekey(aware(found.order["placed_at"])) != placed:
                continue  # an entry of a retried request, for a time that is not the order's
            state = found.state
            if not state.blocked and not state.voided:
                own.append(found.view())
        return own

    def own_one(self, customer: Customer, order_id: str) -> Document:
        object_id(order_id, "order id")
        loaded = self._book.load(order_id)
        if loaded is None or loaded.order["account_id"] != customer.subject.account_id:
            raise NotFound("no such order")  # another's order: the same answer as none
        state = loaded.state
        if state.blocked or state.voided:
            raise NotFound("no such order")
        return loaded.view()
