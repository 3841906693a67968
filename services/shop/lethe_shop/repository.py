"""The only code that touches the shop's collections, in three parts: the catalogue
(:mod:`repo_catalogue`), orders (:mod:`repo_orders`) and what is kept per person
(:mod:`repo_people`); the staff audit trail (:mod:`lethe_common.audit`: moves, legal-hold
reads, catalogue changes), the legal-hold reads of the earlier layout and the records of
retention runs are here. Every query on a hot path is ``_id``-led (docs/architecture.md,
"Every query"), and nothing depends on an update being atomic: documents are inserted
once and deleted, and what several writers change is a step log.
"""

from __future__ import annotations

from datetime import datetime

from lethe_common.audit import AUDIT, AuditTrail
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, Document, IndexSpec, RetiredIndex
from lethe_common.privacy import RECEIPT_INDEXES
from lethe_common.store.keys import timekey, under
from lethe_common.store.paging import Page, page, scan
from lethe_shop.repo_catalogue import PRODUCTS, CatalogueStore
from lethe_shop.repo_orders import ORDERS, OrderStore
from lethe_shop.repo_people import DOWNLOAD_LOG, ENTITLEMENTS, HANDOFFS, PeopleStore

# The legal-hold reads as recorded before the staff audit trail (``read/<time>/<lhr id>``):
# no code writes them any more; they are listed after the trail's and swept like it.
LEGAL_HOLD_READS = "legal_hold_reads"
RETENTION_AUDIT = "retention_audit"
READS = "read"
# A page token that points at the first of the earlier layout's reads.
EARLIER_READS = READS + "0"

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
        self.audit = AuditTrail(db[AUDIT])

    # -- legal-hold reads of the earlier layout: ``read/<time>/<lhr id>``, newest first ------
    def earlier_legal_hold_reads(self, after: str, limit: int) -> Page:
        """A page of them; ``after`` is a key of theirs or :data:`EARLIER_READS` (the first)."""
        return page(self._db[LEGAL_HOLD_READS], under(READS), after=after, limit=limit, descending=True)

    def sweep_earlier_legal_hold_reads(self, cutoff: datetime) -> int:
        """Delete the earlier layout's reads made before ``cutoff`` (the audit retention)."""
        old = {"$gte": f"{READS}/", "$lt": f"{READS}/{timekey(cutoff)}"}
        gone = 0
        for doc in list(scan(self._db[LEGAL_HOLD_READS], old)):
            gone += int(self._db[LEGAL_HOLD_READS].delete_one({"_id": doc["_id"]}).deleted_count)
        return gone

    # -- retention runs (counts and times only) -----------------------------------------------
    def record_retention_run(self, doc: Document) -> None:
        self._db[RETENTION_AUDIT].insert_one(doc)
