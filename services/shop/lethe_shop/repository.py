"""The only code that touches the shop's collections, in three parts: the catalogue
(:mod:`repo_catalogue`), orders (:mod:`repo_orders`) and what is kept per person
(:mod:`repo_people`); the records of staff's legal-hold reads and of retention runs are
here. Every query on a hot path is ``_id``-led (docs/architecture.md, "Every query"), and nothing
depends on an update being atomic: documents are inserted once and deleted, and what
several writers change is a step log.
"""

from __future__ import annotations

from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, Document, IndexSpec, RetiredIndex
from lethe_common.privacy import RECEIPT_INDEXES
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import Page, page
from lethe_shop.repo_catalogue import PRODUCTS, CatalogueStore
from lethe_shop.repo_orders import ORDERS, OrderStore
from lethe_shop.repo_people import DOWNLOAD_LOG, ENTITLEMENTS, HANDOFFS, PeopleStore

LEGAL_HOLD_READS = "legal_hold_reads"
RETENTION_AUDIT = "retention_audit"
READS = "read"

INDEXES: list[IndexSpec | RetiredIndex] = [
    # Only an insert meets it (a product's sku cannot be changed), so it arbitrates.
    IndexSpec(PRODUCTS, (("sku", 1),), unique=True),
    # Indexes of the earlier layout; everything is found by _id now.
    RetiredIndex(ORDERS, "account_id_1"),
    RetiredIndex(ORDERS, "subject_key_1"),
    RetiredIndex(ORDERS, "retain_until_1"),
    RetiredIndex(ORDERS, "_outbox_due_1"),
    RetiredIndex(HANDOFFS, "order_id_1"),
    RetiredIndex(ENTITLEMENTS, "account_id_1"),
    RetiredIndex(DOWNLOAD_LOG, "account_id_1"),
    *RECEIPT_INDEXES,
]


class ShopRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._db = db
        self.catalogue = CatalogueStore(db)
        self.orders = OrderStore(db, outbox)
        self.people = PeopleStore(db)

    # -- legal-hold reads: ``read/<time>/<lhr id>``, newest first by one range ---------------
    def insert_legal_hold_read(self, doc: Document) -> None:
        self._db[LEGAL_HOLD_READS].insert_one({**doc, "_id": key(READS, timekey(doc["at"]), doc["read_id"])})

    def legal_hold_reads(self, after: str, limit: int) -> Page:
        return page(self._db[LEGAL_HOLD_READS], under(READS), after=after, limit=limit, descending=True)

    # -- retention runs (counts and times only) -----------------------------------------------
    def record_retention_run(self, doc: Document) -> None:
        self._db[RETENTION_AUDIT].insert_one(doc)
