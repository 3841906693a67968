"""The shop's rules as plain values and functions: prices, statuses, retention dates."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from lethe_common.errors import FailedPrecondition, InvalidArgument

KINDS = ("physical", "download", "subscription")
MAX_QUANTITY = 1000
MAX_LINES = 50

PLACED, PAID, SHIPPED, DELIVERED, COMPLETED, CANCELLED = (
    "placed",
    "paid",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
)
STATUSES = (PLACED, PAID, SHIPPED, DELIVERED, COMPLETED, CANCELLED)
OPEN_STATUSES = (PLACED, PAID, SHIPPED, DELIVERED)
FINAL_STATUSES = (COMPLETED, CANCELLED)
# Where staff may move an order from each status. Payment moves placed → paid;
# an order without physical goods goes from paid straight to delivered.
STAFF_MOVES: dict[str, tuple[str, ...]] = {
    PLACED: (CANCELLED,),
    PAID: (SHIPPED, DELIVERED, CANCELLED),
    SHIPPED: (DELIVERED,),
    DELIVERED: (COMPLETED,),
}


def passed(current: str, status: str) -> bool:
    """Whether an order in ``current`` can never be in ``status`` again: statuses only move
    forward, and completed and cancelled are final."""
    if current == status:
        return False
    return current in FINAL_STATUSES or STATUSES.index(current) > STATUSES.index(status)


def derived_id(prefix: str, *parts: str) -> str:
    """An id like ``ord_<32 hex>`` that the same parts always give (idempotent writes)."""
    return f"{prefix}_{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:32]}"


def entitlement_id(order_id: str, product_id: str) -> str:
    """The right to download what one line of a paid order bought."""
    return derived_id("ent", order_id, product_id)


def handoff_id(order_id: str) -> str:
    return derived_id("hof", order_id, "supplier")


def line_of(product: Mapping[str, Any], quantity: int) -> dict[str, Any]:
    """One order line at the catalogue's price: net, VAT (rounded half up), gross, in cents."""
    if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidArgument(f"quantity must be between 1 and {MAX_QUANTITY}")
    if product["kind"] != "physical" and quantity != 1:
        raise InvalidArgument("downloads and subscriptions are bought one at a time")
    net = product["price_cents"] * quantity
    vat = (net * product["vat_rate_bp"] + 5000) // 10000
    return {
        "product_id": product["_id"],
        "sku": product["sku"],
        "name": product["name"],
        "kind": product["kind"],
        "quantity": quantity,
        "unit_cents": product["price_cents"],
        "vat_rate_bp": product["vat_rate_bp"],
        "net_cents": net,
        "vat_cents": vat,
        "gross_cents": net + vat,
        "term_months": product.get("term_months", 0),
        "currency": product["currency"],
    }


def totals_of(lines: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The order's sums; every line must be in the same currency."""
    lines = list(lines)
    currencies = {line["currency"] for line in lines}
    if len(currencies) > 1:
        raise InvalidArgument("all products of one order must be priced in the same currency")
    return {
        "currency": currencies.pop() if currencies else "",
        "net_cents": sum(line["net_cents"] for line in lines),
        "vat_cents": sum(line["vat_cents"] for line in lines),
        "gross_cents": sum(line["gross_cents"] for line in lines),
    }


def has_physical(lines: Iterable[Mapping[str, Any]]) -> bool:
    return any(line["kind"] == "physical" for line in lines)


def aware(value: datetime) -> datetime:
    """A time read back from the store (naive, in UTC) as an aware one."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_millis(moment: datetime) -> datetime:
    """``moment`` as the store keeps it (to the millisecond), so a key made of it matches
    the time read back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def end_of_retention(created: datetime, years: int) -> datetime:
    """The last second of the retention period: it starts at the end of the calendar year
    the document was made in (HGB §257(5), AO §147(4)) and lasts ``years`` full years."""
    return datetime(created.astimezone(UTC).year + years, 12, 31, 23, 59, 59, tzinfo=UTC)


def check_move(current: str, wanted: str, lines: Iterable[Mapping[str, Any]]) -> None:
    """Raise unless staff may move an order from ``current`` to ``wanted``: InvalidArgument
    for a status that does not exist, FailedPrecondition for one the order cannot take now."""
    if wanted not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}")
    if wanted not in STAFF_MOVES.get(current, ()):
        raise FailedPrecondition(f"an order that is {current} cannot become {wanted}")
    physical = has_physical(lines)
    if current == PAID and wanted == SHIPPED and not physical:
        raise FailedPrecondition("an order without physical goods is not shipped; mark it delivered")
    if current == PAID and wanted == DELIVERED and physical:
        raise FailedPrecondition("an order with physical goods is shipped before it is delivered")
