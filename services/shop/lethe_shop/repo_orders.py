"""Orders in the store: the placed order, its contacts, its steps, and how orders are found.

- ``orders/<order id>``: the placed order, inserted once and never updated. Its id is
  derived from the account, the Idempotency-Key and the key's attempt, so the insert is
  the idempotency check (a retry meets DuplicateKeyError). Deleted when void (its steps
  stay: the void step), or when retention ends.
  Orders placed before issue 14 also hold the customer's e-mail address (``email``), which
  nothing reads: an erasure replaces such an order once by itself without that field
  (:meth:`OrderStore.drop_email`), the one exception to "never updated".
- ``order_keys/<account id>/<key hash>/<n>``: what an Idempotency-Key named, its payment
  attempts and their declines (:mod:`lethe_shop.attempts`), appended by unique insert;
  deleted by erasure.
- ``order_contacts/<order id>``: phone numbers and the delivery note, the part an erasure
  deletes from a blocked order: a delete, never an update of the order.
- ``order_steps/<order id>/<n>``: everything that happened to the order
  (:mod:`lethe_shop.order_state`), appended by unique insert.
- ``person_index/<owner>/orders/<placed time>.<order id>``: a person's orders by account
  id and by subject_key, newest last (:class:`OwnerIndex`).
- ``queues/<queue>/<time>/<item>`` (:class:`TimeQueue`): ``open`` and ``status-<status>``
  (orders in fulfilment by the time placed, for staff lists), ``retention`` (blocked orders
  by the end of their retention), ``refunds`` (cancelled orders whose money goes back).

Index entries are written before what they point to and removed after it; readers
re-check the order and skip (or remove) an entry that no longer fits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, Document
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import timekey
from lethe_common.store.paging import Page
from lethe_common.store.steps import Decide, StepLog
from lethe_common.subject import Subject
from lethe_shop.models import STATUSES

ORDERS = "orders"
ORDER_CONTACTS = "order_contacts"
ORDER_STEPS = "order_steps"
ORDER_KEYS = "order_keys"
PERSON_INDEX = "person_index"
QUEUES = "queues"
ORDERS_KIND = "orders"
OPEN_QUEUE = "open"
RETENTION_QUEUE = "retention"
REFUND_QUEUE = "refunds"


def status_queue(status: str) -> str:
    return f"status-{status}"


def owners(doc: Document) -> list[str]:
    """Whom a document of a person is found by: the subject_key and the account id."""
    return Subject.from_doc(doc).owners()


def order_item(order: Document) -> str:
    """A person-index item: the time placed first, so a person's orders sort by it."""
    return f"{timekey(order['placed_at'])}.{order['_id']}"


def person_item_order(item: str) -> tuple[str, str]:
    """(time placed, order id) of a person-index item."""
    placed, order_id = item.rsplit(".", 1)
    return placed, order_id


def queue_item_order(item: str) -> str:
    """The order id of a queue item (``<order id>`` or ``<order id>.<nonce>``)."""
    return item.split(".", 1)[0]


class OrderStore:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._orders = db[ORDERS]
        self._contacts = db[ORDER_CONTACTS]
        self._steps = StepLog(db[ORDER_STEPS], outbox)
        self._keys = StepLog(db[ORDER_KEYS])
        self._index = OwnerIndex(db[PERSON_INDEX])
        self.queues = TimeQueue(db[QUEUES])

    # -- the placed order -------------------------------------------------------------------
    def insert(self, order: Document) -> bool:
        """False when an order with this id (the same Idempotency-Key) exists already."""
        try:
            self._orders.insert_one(order)
        except DuplicateKeyError:
            return False
        return True

    def insert_contacts(self, contacts: Document) -> None:
        with contextlib.suppress(DuplicateKeyError):
            self._contacts.insert_one(contacts)

    def get(self, order_id: str) -> Document | None:
        return self._orders.find_one({"_id": order_id})

    def get_many(self, order_ids: Iterable[str]) -> dict[str, Document]:
        ids = list(dict.fromkeys(order_ids))
        if not ids:
            return {}
        return {doc["_id"]: doc for doc in self._orders.find({"_id": {"$in": ids}})}

    def contacts(self, order_ids: Iterable[str]) -> dict[str, Document]:
        ids = list(dict.fromkeys(order_ids))
        if not ids:
            return {}
        return {doc["_id"]: doc for doc in self._contacts.find({"_id": {"$in": ids}})}

    def delete_contacts(self, order_id: str) -> bool:
        return bool(self._contacts.delete_one({"_id": order_id}).deleted_count)

    def drop_email(self, order: Document) -> bool:
        """Replace an order that still holds the customer's e-mail address (written before
        orders stopped holding it) with the same document without it; True if one was.

        The erasure handler is this field's only writer, and every writer of it writes the
        same thing (the order as read, minus ``email``). The filter names the address read,
        so the replace matches nothing once the order is gone (a void, cancelled or expired
        order deleted meanwhile is never written back) or was written anew without it. No
        atomic read-modify-write is needed: a repeat or a concurrent replace is harmless.
        """
        if "email" not in order:
            return False
        bare = {k: v for k, v in order.items() if k != "email"}
        done = self._orders.replace_one({"_id": order["_id"], "email": order["email"]}, bare)
        return bool(done.matched_count)

    def delete(self, order: Document) -> bool:
        """Remove an order: the document first (then nothing finds it), then what hangs on
        it, then the person's index entries. True for the one caller that deleted it."""
        deleted = bool(self._orders.delete_one({"_id": order["_id"]}).deleted_count)
        self.delete_remains(order["_id"])
        self._unlist(order)
        return deleted

    def remove_void(self, order: Document) -> bool:
        """Remove a void order as :meth:`delete` does, but keep its steps: the void step
        stays, so an order written again under this id is void at once and never charged."""
        deleted = bool(self._orders.delete_one({"_id": order["_id"]}).deleted_count)
        self._contacts.delete_one({"_id": order["_id"]})
        self._unlist(order)
        return deleted

    def _unlist(self, order: Document) -> None:
        for owner in owners(order):
            self._index.remove(owner, ORDERS_KIND, order_item(order))
        for queue in (OPEN_QUEUE, *(status_queue(status) for status in STATUSES)):
            self.queues.remove_item(queue, order["placed_at"], order["_id"])

    def delete_remains(self, order_id: str) -> None:
        """Contacts and steps of an order whose document is gone."""
        self._contacts.delete_one({"_id": order_id})
        self._steps.delete(order_id)

    # -- steps ------------------------------------------------------------------------------
    def steps(self, order_id: str) -> list[Document]:
        return self._steps.steps(order_id)

    def append(self, order_id: str, decide: Decide) -> tuple[list[Document], Document | None]:
        """Append the step ``decide`` names (see StepLog.append_after); return every step
        as of the append (the new one last) and the new step, or None if none was due."""
        appended = self._steps.append_next(order_id, decide)
        steps = appended.previous
        return ([*steps, appended.step] if appended.step else steps), appended.step

    # -- what an Idempotency-Key named ------------------------------------------------------
    def append_key_step(self, log_id: str, decide: Decide) -> list[Document]:
        """Append the step ``decide`` names to the key's log (decided again if another
        writer appended first); every step as of the append."""
        appended = self._keys.append_next(log_id, decide)
        steps = appended.previous
        return [*steps, appended.step] if appended.step else steps

    def delete_keys_of(self, account_id: str) -> int:
        """Every key's log of the account: one range."""
        return self._keys.delete(account_id) if account_id else 0

    # -- a person's orders ------------------------------------------------------------------
    def index_for_person(self, order: Document) -> None:
        self._index.add_many(owners(order), ORDERS_KIND, order_item(order))

    def unindex_for_person(self, order: Document) -> None:
        for owner in owners(order):
            self._index.remove(owner, ORDERS_KIND, order_item(order))

    def person_items(self, owner: str) -> list[str]:
        """Every person-index item of ``owner``, oldest first."""
        return self._index.items(owner, ORDERS_KIND) if owner else []

    # -- queues -----------------------------------------------------------------------------
    def schedule(self, queue: str, at: datetime, item: str, **data: Any) -> str:
        return self.queues.schedule(queue, at, item, **data)

    def unschedule(self, queue: str, at: datetime, item: str) -> bool:
        return self.queues.remove_item(queue, at, item)

    def remove_entry(self, entry_id: str) -> bool:
        return self.queues.remove(entry_id)

    def queue_page(self, queue: str, after: str, limit: int) -> Page:
        """Newest first."""
        return self.queues.page(queue, after=after, limit=limit, descending=True)

    def due(self, queue: str, now: datetime, limit: int = 200) -> list[Document]:
        return self.queues.due(queue, now, limit)
