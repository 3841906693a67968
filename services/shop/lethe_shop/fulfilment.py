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
from lethe_shop.http_json import call, error_code
from lethe_shop.models import CANCELLED, derived_id, has_physical
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
        "items": [{"sku": line["sku"], "name": line["name"], "quantity": line["quantity"]}
                  for line in order["lines"] if line["kind"] == "physical"],
    }


class Fulfilment:
    def __init__(self, repo: ShopRepository, supplier: Supplier, rules: RetentionRules,
                 entitlement_days: int) -> None:
        self._repo = repo
        self._supplier = supplier
        self._rules = rules
        self._entitlement_days = entitlement_days

    def order_paid(self, order_id: str) -> None:
        order = self._repo.order(order_id)
        if order is None or not order.get("paid_at") or order["status"] == CANCELLED:
            return  # gone, never paid, or cancelled (and refunded) meanwhile
        self._grant_downloads(order)
        if order.get("delivery") and has_physical(order["lines"]):
            self._hand_off(order)

    def _grant_downloads(self, order: Document) -> None:
        paid_at: datetime = order["paid_at"]
        for line in order["lines"]:
            if line["kind"] == "physical":
                continue
            months = line.get("term_months") or 0
            until = paid_at + (timedelta(days=31 * months) if months
                               else timedelta(days=self._entitlement_days))
            self._repo.add_entitlement({
                "_id": derived_id("ent", order["_id"], line["product_id"]),
                "account_id": order["account_id"], "subject_key": order["subject_key"],
                "order_id": order["_id"], "product_id": line["product_id"],
                "product_name": line["name"], "granted_at": paid_at, "until": until})

    def _hand_off(self, order: Document) -> None:
        data = delivery_data(order)
        status, answer = call("POST", f"{self._supplier.url}/v1/deliveries", self._supplier.api_key,
                              self._supplier.timeout, data, idempotency_key=f"delivery-{order['_id']}")
        if status not in (200, 201):
            raise HandOffRefused(f"the supplier refused the delivery ({error_code(answer)})")
        now = datetime.now(UTC)
        self._repo.insert_handoff({
            "_id": derived_id("hof", order["_id"], "supplier"),
            "order_id": order["_id"], "account_id": order["account_id"],
            "subject_key": order["subject_key"], "recipient": self._supplier.name,
            "purpose": "delivery of the ordered goods (Art. 6(1)(b) GDPR)",
            "fields": sorted([*(f"recipient.{f}" for f in data["recipient"]), "items"]),
            "supplier_reference": str(answer.get("id", ""))[:64], "at": now,
            "retain_until": self._rules.letter_until(now)})
        log.info("handed to the supplier", extra={"order_id": order["_id"]})


