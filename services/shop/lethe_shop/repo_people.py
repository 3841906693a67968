"""What the shop keeps per person besides orders, each found by ``_id``.

- ``carts/<account id>``: the cart, replaced whole by its owner (the last PUT wins, by
  design); an erasure deletes it.
- ``entitlements/<ent id>`` (derived from order and product), ``download_log/<dlg id>``,
  ``supplier_handoffs/<hof id>`` (derived from the order): inserted once, deleted by
  erasure, cancellation or retention; never updated.
- ``person_index/<owner>/<kind>/<item>``: each of those by account id and by subject_key
  (``ent``, ``downloads``, ``handoffs``, ``erasure_waits``), written before the item and
  removed after it.
- ``erasure_waits/<request id>``: an erasure that waits for open orders; inserted once,
  deleted (counted) by whoever finishes it. ``queues/erasure-waits/...`` and
  ``queues/letters/...`` (hand-off records by the end of their retention) are the sweep's.
- ``restrictions/<owner>/<time>/<request>``: a person's restriction and its lifts, one per
  request, by the time consent published it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Coll, Db, Document
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import page
from lethe_shop.repo_orders import PERSON_INDEX, QUEUES, owners

CARTS = "carts"
ENTITLEMENTS = "entitlements"
DOWNLOAD_LOG = "download_log"
HANDOFFS = "supplier_handoffs"
ERASURE_WAITS = "erasure_waits"
RESTRICTIONS = "restrictions"
ENT_KIND, DOWNLOADS_KIND, HANDOFFS_KIND, WAITS_KIND = ("ent", "downloads", "handoffs", "erasure_waits")
LETTERS_QUEUE = "letters"
WAITS_QUEUE = "erasure-waits"


def _by_ids(collection: Coll, ids: Iterable[str]) -> list[Document]:
    wanted = list(dict.fromkeys(ids))
    return list(collection.find({"_id": {"$in": wanted}})) if wanted else []


class PeopleStore:
    def __init__(self, db: Db) -> None:
        self._db = db
        self._index = OwnerIndex(db[PERSON_INDEX])
        self._queues = TimeQueue(db[QUEUES])

    # -- the index ----------------------------------------------------------------------------
    def _items(self, people: Iterable[str], kind: str) -> list[str]:
        found: dict[str, None] = {}
        for owner in people:
            if owner:
                found.update(dict.fromkeys(self._index.items(owner, kind)))
        return list(found)

    def _unindex(self, people: Iterable[str], kind: str, items: Iterable[str]) -> None:
        for item in items:
            for owner in people:
                if owner:
                    self._index.remove(owner, kind, item)

    def _delete_indexed(self, collection: str, people: list[str], kind: str) -> int:
        """Delete every item of ``kind`` of a person, then their index entries."""
        items = self._items(people, kind)
        if not items:
            return 0
        deleted = int(self._db[collection].delete_many({"_id": {"$in": items}}).deleted_count)
        self._unindex(people, kind, items)
        return deleted

    # -- carts ----------------------------------------------------------------------------------
    def cart(self, account_id: str) -> Document | None:
        return self._db[CARTS].find_one({"_id": account_id})

    def put_cart(self, cart: Document) -> None:
        """Replace the cart (its owner is its only writer; the last PUT wins)."""
        try:
            self._db[CARTS].replace_one({"_id": cart["_id"]}, cart, upsert=True)
        except DuplicateKeyError:  # two first PUTs at once: the cart exists now
            self._db[CARTS].replace_one({"_id": cart["_id"]}, cart, upsert=True)

    def delete_cart(self, account_id: str) -> int:
        if not account_id:
            return 0
        return int(self._db[CARTS].delete_one({"_id": account_id}).deleted_count)

    # -- entitlements -----------------------------------------------------------------------------
    def add_entitlement(self, doc: Document) -> None:
        self._index.add_many(owners(doc), ENT_KIND, doc["_id"])
        with contextlib.suppress(DuplicateKeyError):
            self._db[ENTITLEMENTS].insert_one(doc)

    def entitlement(self, entitlement_id: str) -> Document | None:
        return self._db[ENTITLEMENTS].find_one({"_id": entitlement_id})

    def entitlements_of(self, people: list[str]) -> list[Document]:
        return _by_ids(self._db[ENTITLEMENTS], self._items(people, ENT_KIND))

    def revoke_entitlements(self, entitlement_ids: list[str], people: list[str]) -> int:
        if not entitlement_ids:
            return 0
        deleted = self._db[ENTITLEMENTS].delete_many({"_id": {"$in": entitlement_ids}})
        self._unindex(people, ENT_KIND, entitlement_ids)
        return int(deleted.deleted_count)

    def delete_entitlements_of(self, people: list[str]) -> int:
        return self._delete_indexed(ENTITLEMENTS, people, ENT_KIND)

    # -- download history -------------------------------------------------------------------------
    def log_download(self, doc: Document) -> None:
        self._index.add_many(owners(doc), DOWNLOADS_KIND, doc["_id"])
        self._db[DOWNLOAD_LOG].insert_one(doc)

    def downloads_of(self, people: list[str]) -> list[Document]:
        return _by_ids(self._db[DOWNLOAD_LOG], self._items(people, DOWNLOADS_KIND))

    def delete_downloads_of(self, people: list[str]) -> int:
        return self._delete_indexed(DOWNLOAD_LOG, people, DOWNLOADS_KIND)

    # -- supplier hand-offs ---------------------------------------------------------------------
    def insert_handoff(self, doc: Document) -> bool:
        """Record a hand-off once (its id is the order's); index and retention entry first."""
        self._index.add_many(owners(doc), HANDOFFS_KIND, doc["_id"])
        self._queues.schedule(LETTERS_QUEUE, doc["retain_until"], doc["_id"])
        try:
            self._db[HANDOFFS].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def handoff(self, handoff_id: str) -> Document | None:
        return self._db[HANDOFFS].find_one({"_id": handoff_id})

    def handoffs_of(self, people: list[str]) -> list[Document]:
        return _by_ids(self._db[HANDOFFS], self._items(people, HANDOFFS_KIND))

    def delete_handoff(self, doc: Document) -> bool:
        deleted = bool(self._db[HANDOFFS].delete_one({"_id": doc["_id"]}).deleted_count)
        self._unindex(owners(doc), HANDOFFS_KIND, [doc["_id"]])
        return deleted

    def due_letters(self, now: datetime, limit: int = 200) -> list[Document]:
        return self._queues.due(LETTERS_QUEUE, now, limit)

    def remove_entry(self, entry_id: str) -> bool:
        return self._queues.remove(entry_id)

    # -- erasures waiting for open orders ---------------------------------------------------------
    def add_wait(self, doc: Document) -> None:
        """Index it by person and by time (for the sweep), then insert it; a repeat of the
        same request changes nothing."""
        self._index.add_many(owners(doc), WAITS_KIND, doc["_id"])
        self._queues.schedule(WAITS_QUEUE, doc["opened_at"], doc["_id"])
        with contextlib.suppress(DuplicateKeyError):
            self._db[ERASURE_WAITS].insert_one(doc)

    def wait(self, request_id: str) -> Document | None:
        return self._db[ERASURE_WAITS].find_one({"_id": request_id})

    def waits_of(self, people: list[str]) -> list[Document]:
        return _by_ids(self._db[ERASURE_WAITS], self._items(people, WAITS_KIND))

    def schedule_wait_check(self, wait: Document, at: datetime) -> None:
        self._queues.schedule(WAITS_QUEUE, at, wait["_id"])

    def due_waits(self, now: datetime, limit: int = 200) -> list[Document]:
        return self._queues.due(WAITS_QUEUE, now, limit)

    def delete_wait(self, doc: Document) -> bool:
        """True for the one caller that deleted it; its index and queue entries go after."""
        deleted = bool(self._db[ERASURE_WAITS].delete_one({"_id": doc["_id"]}).deleted_count)
        self._unindex(owners(doc), WAITS_KIND, [doc["_id"]])
        self._queues.remove_item(WAITS_QUEUE, doc["opened_at"], doc["_id"])
        return deleted

    # -- restriction (Art. 18) -----------------------------------------------------------------
    def record_restriction(self, owner: str, request_id: str, restricted: bool, at: datetime) -> None:
        """One entry per request and owner, keyed by the time consent published the request
        (``<owner>/<time>/<request>``); the same request again adds nothing. The latest by
        that time holds, whichever order the events were handled in."""
        with contextlib.suppress(DuplicateKeyError):
            self._db[RESTRICTIONS].insert_one(
                {"_id": key(owner, timekey(at), request_id), "restricted": restricted, "at": at}
            )

    def restricted(self, people: Iterable[str]) -> bool:
        """Whether the latest restriction entry of any of ``people`` restricts."""
        for owner in people:
            if not owner:
                continue
            latest = page(self._db[RESTRICTIONS], under(owner), limit=1, descending=True).items
            if latest and latest[0].get("restricted"):
                return True
        return False

    def delete_restrictions(self, people: list[str]) -> None:
        for owner in people:
            if owner:
                self._db[RESTRICTIONS].delete_many({"_id": under(owner)})
