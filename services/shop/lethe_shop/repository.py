"""The only code that touches the shop's collections.

Orders are one document each (lines, addresses, payment reference, status
history, retention state) with their events in the same document (outbox), so
every status change and its announcement are one atomic write. An order's id
is derived from the customer and their idempotency key, so a retried request
meets the first order's unique ``_id`` instead of creating a second one.

FerretDB 1.24 runs conditional updates as a read followed by a write; two staff
moving the same order at the same instant can both pass the condition there
(not on MongoDB). The worst case is a doubled history entry, never lost data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox, outbox_index
from lethe_common.mongo import Db, Document, IndexSpec
from lethe_common.privacy import RECEIPT_INDEXES, RECEIPTS_SENT, subject_filter
from lethe_shop.models import OPEN_STATUSES

PRODUCTS = "products"
CARTS = "carts"
ORDERS = "orders"
HANDOFFS = "supplier_handoffs"
ENTITLEMENTS = "entitlements"
DOWNLOAD_LOG = "download_log"
LEGAL_HOLD_READS = "legal_hold_reads"
RETENTION_AUDIT = "retention_audit"
ERASURE_WAITS = "erasure_waits"

INDEXES = [
    IndexSpec(PRODUCTS, (("sku", ASCENDING),), unique=True),
    IndexSpec(ORDERS, (("account_id", ASCENDING),)),
    IndexSpec(ORDERS, (("subject_key", ASCENDING),)),
    IndexSpec(ORDERS, (("retain_until", ASCENDING),)),
    IndexSpec(HANDOFFS, (("order_id", ASCENDING),)),
    IndexSpec(ENTITLEMENTS, (("account_id", ASCENDING),)),
    IndexSpec(DOWNLOAD_LOG, (("account_id", ASCENDING),)),
    outbox_index(ORDERS),
    *RECEIPT_INDEXES,
]
OUTBOX_COLLECTIONS = (ORDERS, RECEIPTS_SENT)
HIDDEN = {"_outbox": 0, "_outbox_due": 0}


class ShopRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._db = db
        self._outbox = outbox

    # -- catalogue --------------------------------------------------------------------------
    def products(self, include_inactive: bool) -> list[Document]:
        query: Document = {} if include_inactive else {"active": True}
        return list(self._db[PRODUCTS].find(query, sort=[("name", ASCENDING)]))

    def products_by_id(self, ids: Iterable[str]) -> dict[str, Document]:
        return {doc["_id"]: doc for doc in self._db[PRODUCTS].find({"_id": {"$in": list(ids)}})}

    def _insert_new(self, collection: str, doc: Document) -> bool:
        """Insert ``doc``; False when its ``_id`` (or another unique key) exists already."""
        try:
            self._db[collection].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def insert_product(self, doc: Document) -> bool:
        return self._insert_new(PRODUCTS, doc)

    def update_product(self, product_id: str, changes: Document) -> Document | None:
        return self._db[PRODUCTS].find_one_and_update(
            {"_id": product_id}, {"$set": changes}, return_document=ReturnDocument.AFTER)

    def has_products(self) -> bool:
        return self._db[PRODUCTS].find_one({}, projection={"_id": 1}) is not None

    # -- carts ------------------------------------------------------------------------------
    def cart(self, account_id: str) -> Document | None:
        return self._db[CARTS].find_one({"_id": account_id})

    def put_cart(self, account_id: str, subject_key: str, lines: list[Document],
                 now: datetime) -> None:
        self._db[CARTS].replace_one({"_id": account_id}, {
            "_id": account_id, "subject_key": subject_key, "lines": lines, "updated_at": now},
            upsert=True)

    def delete_carts(self, account_id: str, subject_key: str) -> int:
        return self._db[CARTS].delete_many(
            subject_filter(account_id, subject_key, id_field="_id")).deleted_count

    # -- orders -----------------------------------------------------------------------------
    def insert_order(self, doc: Document) -> bool:
        """False when an order with this id (the same idempotency key) exists already."""
        return self._insert_new(ORDERS, doc)

    def order(self, order_id: str) -> Document | None:
        return self._db[ORDERS].find_one({"_id": order_id}, projection=HIDDEN)

    def delete_unpaid_order(self, order_id: str) -> None:
        self._db[ORDERS].delete_one({"_id": order_id, "payment.status": "not_charged"})

    def update_order(self, order_id: str, condition: Document, update: Document,
                     *events: Envelope) -> Document | None:
        """Apply ``update`` if the order still matches ``condition``; the new order or None."""
        doc = self._db[ORDERS].find_one_and_update(
            {"_id": order_id, **condition}, self._outbox.stage(update, *events),
            return_document=ReturnDocument.AFTER)  # FerretDB: no projection here
        if doc is not None and events:
            self._outbox.publish_staged(self._db[ORDERS], order_id, *events)
        if doc is not None:
            for field in HIDDEN:
                doc.pop(field, None)
        return doc

    def orders_of_account(self, account_id: str) -> list[Document]:
        """The customer's own orders, blocked ones excepted (those are for accounting only)."""
        return list(self._db[ORDERS].find({"account_id": account_id, "blocked": {"$ne": True}},
                                          projection=HIDDEN, sort=[("placed_at", DESCENDING)]))

    def orders_of_person(self, account_id: str, subject_key: str) -> list[Document]:
        """Every order of the person, blocked ones included (export, erasure)."""
        return list(self._db[ORDERS].find(subject_filter(account_id, subject_key),
                                          projection=HIDDEN, sort=[("placed_at", ASCENDING)]))

    def orders_for_staff(self, statuses: Iterable[str], limit: int = 200) -> list[Document]:
        """Orders in fulfilment: never blocked ones, never those of a restricted person."""
        return list(self._db[ORDERS].find(
            {"status": {"$in": list(statuses)}, "blocked": {"$ne": True},
             "restricted": {"$ne": True}},
            projection=HIDDEN, sort=[("placed_at", DESCENDING)], limit=limit))

    def blocked_order(self, order_id: str) -> Document | None:
        return self._db[ORDERS].find_one({"_id": order_id, "blocked": True}, projection=HIDDEN)

    def open_order_count(self, account_id: str, subject_key: str) -> int:
        return self._db[ORDERS].count_documents(
            {**subject_filter(account_id, subject_key), "status": {"$in": list(OPEN_STATUSES)}})

    def strip_blocked_orders(self, account_id: str, subject_key: str) -> int:
        """What retention does not need goes now: phone numbers and the delivery note."""
        return self._db[ORDERS].update_many(
            {**subject_filter(account_id, subject_key), "blocked": True},
            {"$unset": {"billing.phone": "", "delivery.phone": "", "delivery_note": ""}},
        ).modified_count

    def delete_unpaid_cancelled(self, account_id: str, subject_key: str) -> int:
        return self._db[ORDERS].delete_many(
            {**subject_filter(account_id, subject_key), "status": "cancelled",
             "blocked": {"$ne": True}}).deleted_count

    def set_restricted(self, account_id: str, subject_key: str, restricted: bool) -> int:
        return self._db[ORDERS].update_many(subject_filter(account_id, subject_key),
                                            {"$set": {"restricted": restricted}}).matched_count

    # -- supplier hand-offs -------------------------------------------------------------------
    def insert_handoff(self, doc: Document) -> bool:
        return self._insert_new(HANDOFFS, doc)

    def handoffs_of(self, account_id: str, subject_key: str) -> list[Document]:
        return list(self._db[HANDOFFS].find(subject_filter(account_id, subject_key),
                                            sort=[("at", ASCENDING)]))

    # -- entitlements and downloads ------------------------------------------------------------
    def add_entitlement(self, doc: Document) -> None:
        self._db[ENTITLEMENTS].replace_one({"_id": doc["_id"]}, doc, upsert=True)

    def entitlements_of(self, account_id: str) -> list[Document]:
        return list(self._db[ENTITLEMENTS].find({"account_id": account_id},
                                                sort=[("granted_at", ASCENDING)]))

    def entitlement(self, entitlement_id: str) -> Document | None:
        return self._db[ENTITLEMENTS].find_one({"_id": entitlement_id})

    def revoke_entitlements(self, order_id: str) -> int:
        return self._db[ENTITLEMENTS].delete_many({"order_id": order_id}).deleted_count

    def log_download(self, doc: Document) -> None:
        self._db[DOWNLOAD_LOG].insert_one(doc)

    def downloads_of(self, account_id: str, subject_key: str) -> list[Document]:
        return list(self._db[DOWNLOAD_LOG].find(subject_filter(account_id, subject_key),
                                                sort=[("at", ASCENDING)]))

    def entitlements_of_person(self, account_id: str, subject_key: str) -> list[Document]:
        return list(self._db[ENTITLEMENTS].find(subject_filter(account_id, subject_key)))

    def delete_downloads_and_entitlements(self, account_id: str, subject_key: str) -> int:
        person = subject_filter(account_id, subject_key)
        return (self._db[DOWNLOAD_LOG].delete_many(person).deleted_count
                + self._db[ENTITLEMENTS].delete_many(person).deleted_count)

    # -- retention -------------------------------------------------------------------------------
    def insert_legal_hold_read(self, doc: Document) -> None:
        self._db[LEGAL_HOLD_READS].insert_one(doc)

    def legal_hold_reads(self, limit: int = 500) -> list[Document]:
        return list(self._db[LEGAL_HOLD_READS].find({}, sort=[("at", DESCENDING)], limit=limit))

    def delete_expired(self, now: datetime) -> dict[str, int]:
        """Blocked orders and hand-off records whose retention ended before ``now``."""
        return {
            "orders": self._db[ORDERS].delete_many(
                {"blocked": True, "retain_until": {"$lt": now}}).deleted_count,
            "supplier_handoffs": self._db[HANDOFFS].delete_many(
                {"retain_until": {"$lt": now}}).deleted_count,
        }

    def record_retention_run(self, doc: Document) -> None:
        self._db[RETENTION_AUDIT].insert_one(doc)

    def retention_runs(self, limit: int = 100) -> list[Document]:
        return list(self._db[RETENTION_AUDIT].find({}, sort=[("at", DESCENDING)], limit=limit))

    # -- erasures waiting for open orders ------------------------------------------------------------
    def add_erasure_wait(self, doc: Document) -> None:
        self._db[ERASURE_WAITS].replace_one({"_id": doc["_id"]}, doc, upsert=True)

    def erasure_waits(self, account_id: str = "", subject_key: str = "",
                      limit: int = 200) -> list[Document]:
        """The person's waiting erasures; everyone's when neither is given."""
        query = subject_filter(account_id, subject_key) if account_id or subject_key else {}
        return list(self._db[ERASURE_WAITS].find(query, limit=limit))

    def delete_erasure_wait(self, request_id: str) -> None:
        self._db[ERASURE_WAITS].delete_one({"_id": request_id})
