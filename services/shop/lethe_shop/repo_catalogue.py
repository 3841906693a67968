"""The catalogue in the store.

- ``products/<prd id>``: a product as created, inserted once (the unique ``sku`` index
  refuses a second product with the same sku: an insert, so it arbitrates).
- ``product_edits/<prd id>/<n>``: staff's changes as steps; a product is its document
  with its edits applied in order. Two staff changing one product at once both keep
  their change (a step each) instead of one replace undoing the other.

The whole catalogue is read as two ``_id`` ranges (every product, every edit): the
shop window lists every product, and the catalogue is small.
"""

from __future__ import annotations

from collections.abc import Iterable

from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Db, Document
from lethe_common.store.paging import scan
from lethe_common.store.steps import Decide, StepLog

PRODUCTS = "products"
PRODUCT_EDITS = "product_edits"
EVERYTHING = {"$gte": ""}


def apply_edits(product: Document, edits: Iterable[Document]) -> Document:
    """The product after its edits, first to last."""
    current = dict(product)
    for edit in edits:
        current.update(edit["changes"])
        current["updated_at"] = edit["at"]
    return current


class CatalogueStore:
    def __init__(self, db: Db) -> None:
        self._products = db[PRODUCTS]
        self._edits = StepLog(db[PRODUCT_EDITS])
        self._edit_docs = db[PRODUCT_EDITS]

    def insert(self, doc: Document) -> bool:
        """False when the id or the sku exists already."""
        try:
            self._products.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def all(self) -> list[Document]:
        """Every product with its edits applied."""
        edits: dict[str, list[Document]] = {}
        for edit in scan(self._edit_docs, EVERYTHING):
            edits.setdefault(str(edit["_id"]).rsplit("/", 1)[0], []).append(edit)
        return [
            apply_edits(product, edits.get(product["_id"], []))
            for product in scan(self._products, EVERYTHING)
        ]

    def by_id(self, product_ids: Iterable[str]) -> dict[str, Document]:
        ids = list(dict.fromkeys(product_ids))
        if not ids:
            return {}
        found = self._products.find({"_id": {"$in": ids}})
        return {doc["_id"]: apply_edits(doc, self._edits.steps(doc["_id"])) for doc in found}

    def get(self, product_id: str) -> Document | None:
        return self._products.find_one({"_id": product_id})

    def edit(self, product_id: str, decide: Decide) -> Document | None:
        """Append the edit ``decide`` names; the product as it is after it."""
        self._edits.append_after(product_id, decide)
        return self.by_id([product_id]).get(product_id)
