"""Paid and completed orders written in bulk, exactly as placing, paying and fulfilling
them leave them.

For tests and benchmarks only (off every hot path): each order's documents by
``insert_many``, without the payment provider, the supplier, gRPC or events. What is
written is what the domain writes for the same outcome, decided by the domain's own
functions (``line_of``, ``totals_of``, ``split_contacts``, ``payment_step``,
``move_step``): the placed order and its contacts, its steps, the person's index
entries by account id and subject_key, the queue entries still standing at the end,
the download right the worker grants on ``order.paid``, and the staff audit trail's
entries of the moves (as :class:`~lethe_common.audit.AuditTrail` records them). The steps are those of the
sandbox's usual path: the charge's answer (``pending``), then its notification (paid).

The one difference: steps that announce an event carry no ``_events`` marks (nothing is
published, so no outbox intent refers to them; only the outbox relay reads the marks).
The Idempotency-Key's log (``order_keys``, :mod:`lethe_shop.attempts`) is not written: a
seeded order's key is random and never sent again, and a request with it would meet the
order anyway (it is the key's first attempt).

Only orders without physical goods: those would need the supplier's hand-off (its claim
step and its record with the supplier's reference).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from lethe_common import tokens
from lethe_common.audit import AUDIT, AuditRecord, AuditTrail
from lethe_common.mongo import Coll, Db, Document
from lethe_common.store.index import TimeQueue
from lethe_common.store.keys import key
from lethe_common.store.steps import Step, StepLog
from lethe_common.subject import Subject
from lethe_shop.checkout import Customer, OrderRequest, checked_address, order_id_for
from lethe_shop.models import (
    COMPLETED,
    DELIVERED,
    PAID,
    aware,
    entitlement_id,
    line_of,
    to_millis,
    totals_of,
)
from lethe_shop.order_state import fold, move_step, payment_step
from lethe_shop.orders import split_contacts
from lethe_shop.repo_orders import (
    OPEN_QUEUE,
    ORDER_CONTACTS,
    ORDER_STEPS,
    ORDERS,
    ORDERS_KIND,
    PERSON_INDEX,
    QUEUES,
    RETENTION_QUEUE,
    order_item,
    owners,
    status_queue,
)
from lethe_shop.repo_people import ENT_KIND, ENTITLEMENTS
from lethe_shop.retention import RetentionRules
from lethe_shop.staff import ORDER_MOVED

BATCH = 3000
PROVIDER = "sandbox"  # SandboxProvider.name: the order's "provider" and the payment steps' "by"
# The defaults of SHOP_RETENTION_INVOICE_YEARS, SHOP_RETENTION_LETTER_YEARS and
# SHOP_DOWNLOAD_ENTITLEMENT_DAYS.
DEFAULT_RULES = RetentionRules(invoice_years=8, letter_years=6)
ENTITLEMENT_DAYS = 365
# Every collection a seeded order touches, in the order written: index entries first,
# the order next, then what hangs on it (as the domain writes them).
COLLECTIONS = (PERSON_INDEX, QUEUES, ORDERS, ORDER_CONTACTS, ORDER_STEPS, ENTITLEMENTS, AUDIT)
DEMO_ADDRESS = {"street": "Hauptstraße 1", "postcode": "10115", "city": "Berlin", "country": "DE"}


@dataclass(frozen=True)
class Buyer:
    """Who places the order. ``address`` is the billing address as the API takes it
    (``checkout.ADDRESS_FIELDS``; a ``phone`` goes to the order's contacts); missing
    required fields come from a demo address, and ``name`` unless it names one."""

    subject: Subject
    email: str
    name: str = "Seeded Buyer"
    address: Mapping[str, str] = field(default_factory=dict)

    def billing(self) -> dict[str, str]:
        return checked_address({**DEMO_ADDRESS, "name": self.name, **self.address}, "billing")

    def customer(self) -> Customer:
        return Customer(self.subject, self.email)


class _Inserts:
    """Stands in for a collection: keeps what is inserted, to be written in bulk."""

    def __init__(self, docs: list[Document]) -> None:
        self.docs = docs

    def insert_one(self, doc: Document) -> None:
        self.docs.append(doc)


@dataclass
class _Order:
    """One order being built: its documents by collection, and its steps so far."""

    order: Document
    docs: dict[str, list[Document]]
    steps: list[Document] = field(default_factory=list)

    def append(self, step: Step | None) -> None:
        """Step ``n`` as ``StepLog.append`` inserts it (without the events' marks)."""
        if step is None:
            raise ValueError("the domain decided no step here")
        number = len(self.steps)
        doc = {**step.fields, "_id": StepLog.step_id(self.order["_id"], number), "n": number}
        self.steps.append(doc)
        self.docs[ORDER_STEPS].append(doc)

    def queue(self, queue: str, at: datetime, item: str) -> None:
        """An entry as ``TimeQueue.schedule`` inserts it."""
        self.docs[QUEUES].append({"_id": TimeQueue.entry_id(queue, at, item), "item": item, "at": at})

    def index(self, kind: str, item: str) -> None:
        """The person's entries as ``OwnerIndex.add_many`` inserts them."""
        for owner in dict.fromkeys(owners(self.order)):
            self.docs[PERSON_INDEX].append({"_id": key(owner, kind, item)})


def _line(product: Mapping[str, Any]) -> dict[str, Any]:
    if product["kind"] == "physical":
        raise ValueError(
            "only downloads and subscriptions are seeded (physical goods need the supplier's hand-off)"
        )
    if not product.get("active", True):
        raise ValueError("the product is not in the shop (inactive)")
    return line_of(product, 1)


def _placed(buyer: Buyer, line: dict[str, Any], placed_at: datetime) -> _Order:
    """What ``Orders.place`` writes before the charge: the person's index entry, the
    order, its contacts (a billing phone); the ``open`` entry stays while it is open."""
    billing = buyer.billing()
    customer = buyer.customer()
    request = OrderRequest(customer, tokens.new_id("seed"), [(line["product_id"], 1)], billing, None, "", "")
    order_id = order_id_for(customer.subject.account_id, request.idempotency_key)
    bare_billing, delivery, contacts = split_contacts(order_id, billing, None, "")
    order = {
        "_id": order_id,
        **customer.subject.fields(),
        "fingerprint": request.fingerprint(),
        "placed_at": placed_at,
        "lines": [line],
        "totals": totals_of([line]),
        "billing": bare_billing,
        "delivery": delivery,
        "provider": PROVIDER,
    }
    built = _Order(order, {name: [] for name in COLLECTIONS})
    built.index(ORDERS_KIND, order_item(order))
    built.docs[ORDERS].append(order)
    if contacts:
        built.docs[ORDER_CONTACTS].append(contacts)
    return built


def _paid(built: _Order, answered_at: datetime, paid_at: datetime, entitlement_days: int) -> None:
    """The charge's answer (pending), the notification (paid), and the download right the
    worker grants on ``order.paid`` (with its index entries)."""
    order, reference = built.order, f"ch_{secrets.token_hex(12)}"  # as the sandbox names it
    built.append(payment_step(order, fold(order, built.steps), reference, "pending", PROVIDER, answered_at))
    built.append(payment_step(order, fold(order, built.steps), reference, "succeeded", PROVIDER, paid_at))
    for line in order["lines"]:
        months = line.get("term_months") or 0
        until = paid_at + (timedelta(days=31 * months) if months else timedelta(days=entitlement_days))
        right = entitlement_id(order["_id"], line["product_id"])
        built.index(ENT_KIND, right)
        built.docs[ENTITLEMENTS].append(
            {
                "_id": right,
                **Subject.from_doc(order).fields(),
                "order_id": order["_id"],
                "product_id": line["product_id"],
                "product_name": line["name"],
                "granted_at": paid_at,
                "until": until,
            }
        )


def _move(
    built: _Order, seen: str, wanted: str, staff_id: str, at: datetime, retain_until: datetime | None = None
) -> None:
    """A staff move's step, as ``StaffOrders.move`` decides it, and its audit entry."""
    built.append(
        move_step(built.order, fold(built.order, built.steps), seen, wanted, staff_id, at, retain_until)
    )
    trail = AuditTrail(cast(Coll, _Inserts(built.docs[AUDIT])))
    order = built.order
    trail.record(
        AuditRecord(
            staff_id, ORDER_MOVED, target=order["_id"], subject_key=order["subject_key"], detail=wanted
        ),
        at,
    )


def _times(at: datetime, gap: timedelta, count: int) -> list[datetime]:
    """``count`` moments ``gap`` apart from ``at``, to the millisecond as the store keeps them."""
    start = to_millis(aware(at))
    return [to_millis(start + gap * n) for n in range(count)]


def open_order_docs(
    buyer: Buyer,
    product: Mapping[str, Any],
    at: datetime,
    *,
    gap: timedelta = timedelta(seconds=1),
    entitlement_days: int = ENTITLEMENT_DAYS,
) -> dict[str, list[Document]]:
    """The documents of one order placed at ``at`` and paid, waiting for fulfilment."""
    placed, answered, paid = _times(at, gap, 3)
    built = _placed(buyer, _line(product), placed)
    order = built.order
    # In the staff lists of open and of paid orders (status-placed went with the payment).
    built.queue(OPEN_QUEUE, placed, order["_id"])
    built.queue(status_queue(PAID), placed, order["_id"])
    _paid(built, answered, paid, entitlement_days)
    return built.docs


def completed_order_docs(
    buyer: Buyer,
    product: Mapping[str, Any],
    at: datetime,
    *,
    staff_id: str,
    gap: timedelta = timedelta(seconds=1),
    rules: RetentionRules = DEFAULT_RULES,
    entitlement_days: int = ENTITLEMENT_DAYS,
) -> dict[str, list[Document]]:
    """The documents of one order placed at ``at``, paid, delivered and completed by
    ``staff_id``: blocked, in no staff list, in the retention queue until the end of its
    retention; its download right stays."""
    placed, answered, paid, delivered, completed = _times(at, gap, 5)
    built = _placed(buyer, _line(product), placed)
    order = built.order
    retain_until = rules.invoice_until(completed)
    built.queue(RETENTION_QUEUE, retain_until, f"{order['_id']}.{tokens.new_id('ret')}")
    _paid(built, answered, paid, entitlement_days)
    _move(built, PAID, DELIVERED, staff_id, delivered)
    _move(built, DELIVERED, COMPLETED, staff_id, completed, retain_until)
    return built.docs


def _write(db: Db, orders: list[dict[str, list[Document]]]) -> None:
    for collection in COLLECTIONS:
        docs = [doc for built in orders for doc in built[collection]]
        for start in range(0, len(docs), BATCH):
            db[collection].insert_many(docs[start : start + BATCH], ordered=False)


def _ids(orders: list[dict[str, list[Document]]]) -> list[str]:
    return [str(built[ORDERS][0]["_id"]) for built in orders]


def seed_completed_orders(
    db: Db,
    buyers: list[Buyer],
    product: Mapping[str, Any],
    at: datetime,
    *,
    staff_id: str = "",
    gap: timedelta = timedelta(seconds=1),
    rules: RetentionRules = DEFAULT_RULES,
    entitlement_days: int = ENTITLEMENT_DAYS,
) -> list[str]:
    """Write one completed (blocked) order of ``product`` per buyer, placed at ``at`` and
    each step ``gap`` after the one before; their order ids, in the order given."""
    staff_id = staff_id or tokens.new_id("acc")
    orders = [
        completed_order_docs(
            buyer, product, at, staff_id=staff_id, gap=gap, rules=rules, entitlement_days=entitlement_days
        )
        for buyer in buyers
    ]
    _write(db, orders)
    return _ids(orders)


def seed_open_orders(
    db: Db,
    buyers: list[Buyer],
    product: Mapping[str, Any],
    at: datetime,
    *,
    gap: timedelta = timedelta(seconds=1),
    entitlement_days: int = ENTITLEMENT_DAYS,
) -> list[str]:
    """Write one paid order of ``product`` per buyer, placed at ``at``, waiting in the staff
    lists (``open`` and ``status-paid``); their order ids, in the order given."""
    orders = [
        open_order_docs(buyer, product, at, gap=gap, entitlement_days=entitlement_days) for buyer in buyers
    ]
    _write(db, orders)
    return _ids(orders)
