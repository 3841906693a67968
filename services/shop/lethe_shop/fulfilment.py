"""What payment sets going, in the worker: the supplier hand-off and the download rights.

Physical goods go to the supplier with what delivery needs and nothing more:
the recipient's name and delivery address and the items. Each hand-off is
recorded (recipient, time, fields passed): the person's data export lists it,
as Art. 15(1)(c) asks (who received their data). Both steps are idempotent,
so the event may arrive twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lethe_common.mongo import Document
from lethe_common.subject import Subject
from lethe_shop.http_json import call, error_code
from lethe_shop.models import CANCELLED, entitlement_id, handoff_id, has_physical
from lethe_shop.order_book import Loaded, OrderBook
from lethe_shop.order_state import handoff_step
from lethe_shop.repo_orders import owners
from lethe_shop.repository import ShopRepository
from lethe_shop.retention import RetentionRules

log = logging.getLogger(__name__)

RECIPIENT_FIELDS = ("name", "company", "street", "extra", "postcode", "city", "country")


class HandOffRefused(RuntimeError):
    """The supplier refused the delivery; the consumer retries and then parks the event."""


@dataclass(frozen=True)
class Supplier:
    name: str
    url: str
    api_key: str
    timeout: float


def delivery_data(order: Document) -> dict[str, Any]:
    """Exactly what the supplier receives: name, delivery address, items."""
    delivery = order["delivery"]
    return {
        "reference": order["_id"],
        "recipient": {field: delivery[field] for field in RECIPIENT_FIELDS if delivery.get(field)},
        "items": [
            {"sku": line["sku"], "name": line["name"], "quantity": line["quantity"]}
            for line in order["lines"]
            if line["kind"] == "physical"
        ],
    }


class Fulfilment:
    """The handler of ``order.paid``, in the worker. The event goes out once, from the step
    that made the order paid, but may arrive twice: every step here is idempotent.

    A cancellation may land at any moment. The hand-off is claimed by a step in the
    order's log, which never follows a cancellation, so goods leave only for an order
    that was not cancelled first; download rights are granted and then the order is read
    again, and revoked if it was cancelled meanwhile (the cancellation revokes after its
    step, so one of the two always sees the other).
    """

    def __init__(
        self,
        repo: ShopRepository,
        book: OrderBook,
        supplier: Supplier,
        rules: RetentionRules,
        entitlement_days: int,
    ) -> None:
        self._people = repo.people
        self._book = book
        self._supplier = supplier
        self._rules = rules
        self._entitlement_days = entitlement_days

    def order_paid(self, order_id: str) -> None:
        loaded = self._book.load(order_id)
        if loaded is None or not self._live(loaded):
            return  # gone, never paid, or cancelled (and refunded) meanwhile
        order = loaded.order
        self._grant_downloads(loaded)
        if order.get("delivery") and has_physical(order["lines"]):
            now = datetime.now(UTC)
            loaded, _ = self._book.append(loaded, lambda state: handoff_step(state, now))
            if loaded.state.handed_off:
                self._hand_off(order)
        again = self._book.load(order_id)
        if again is None or again.state.status == CANCELLED:
            self._revoke(order)

    @staticmethod
    def _live(loaded: Loaded) -> bool:
        state = loaded.state
        return state.paid_at is not None and state.status != CANCELLED and not state.voided

    def _grant_downloads(self, loaded: Loaded) -> None:
        order, paid_at = loaded.order, loaded.state.paid_at
        assert paid_at is not None
        for line in order["lines"]:
            if line["kind"] == "physical":
                continue
            months = line.get("term_months") or 0
            until = paid_at + (
                timedelta(days=31 * months) if months else timedelta(days=self._entitlement_days)
            )
            self._people.add_entitlement(
                {
                    "_id": entitlement_id(order["_id"], line["product_id"]),
                    **Subject.from_doc(order).fields(),
                    "order_id": order["_id"],
                    "product_id": line["product_id"],
                    "product_name": line["name"],
                    "granted_at": paid_at,
                    "until": until,
                }
            )

    def _revoke(self, order: Document) -> None:
        self._people.revoke_entitlements(
            [
                entitlement_id(order["_id"], line["product_id"])
                for line in order["lines"]
                if line["kind"] != "physical"
            ],
            owners(order),
        )

    def _hand_off(self, order: Document) -> None:
        data = delivery_data(order)
        status, answer = call(
            "POST",
            f"{self._supplier.url}/v1/deliveries",
            self._supplier.api_key,
            self._supplier.timeout,
            data,
            idempotency_key=f"delivery-{order['_id']}",
        )
        if status not in (200, 201):
            raise HandOffRefused(f"the supplier refused the delivery ({error_code(answer)})")
        now = datetime.now(UTC)
        self._people.insert_handoff(
            {
                "_id": handoff_id(order["_id"]),
                "order_id": order["_id"],
                **Subject.from_doc(order).fields(),
                "recipient": self._supplier.name,
                "purpose": "delivery of the ordered goods (Art. 6(1)(b) GDPR)",
                "fields": sorted([*(f"recipient.{f}" for f in data["recipient"]), "items"]),
                "supplier_reference": str(answer.get("id", ""))[:64],
                "at": now,
                "retain_until": self._rules.letter_until(now),
            }
        )
        log.info("handed to the supplier", extra={"order_id": order["_id"]})
