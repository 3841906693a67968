"""Contact and callback requests, their closing, and who restricted processing.

==================  ========================================  ================================
collection          ``_id``                                   what
==================  ========================================  ================================
contact_requests    ``cr_<time-ordered>``                     the request, written once
contact_closures    the request's id                          a unique insert: exactly one
                                                              member of staff closes it
restrictions        ``<subject_key>/<time>/<request id>``     restriction and lift events by
                                                              event time: the latest one holds
owned               ``<subject_key>/contact/<id>``            a person's requests (erasure)
staff_queues        ``contacts-open|contacts-closed/<time>/<id>``  staff lists, newest first
expiries            ``contact/<time>/<id>``                   closed requests, due for deletion
==================  ========================================  ================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Db, Document
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import Page

CONTACTS = "contact_requests"
CLOSURES = "contact_closures"
RESTRICTIONS = "restrictions"
OPEN_QUEUE = "contacts-open"
CLOSED_QUEUE = "contacts-closed"
EXPIRY_QUEUE = "contact"


class ContactStore:
    def __init__(self, db: Db, owned: OwnerIndex, queues: TimeQueue, expiries: TimeQueue) -> None:
        self._contacts = db[CONTACTS]
        self._closures = db[CLOSURES]
        self._restrictions = db[RESTRICTIONS]
        self._owned = owned
        self._queues = queues
        self._expiries = expiries

    # -- requests ---------------------------------------------------------------------------
    def submit(self, contact: Document) -> None:
        """Index entries first, then the request. If an erasure of the person took the
        owner entry meanwhile, it may have missed the request: take it back."""
        contact_id, owner = str(contact["_id"]), str(contact["subject_key"])
        self._owned.add(owner, "contact", contact_id)
        self._queues.schedule(OPEN_QUEUE, contact["created_at"], contact_id)
        self._contacts.insert_one(contact)
        if not self._owned.has(owner, "contact", contact_id):
            self.delete(contact)

    def get(self, contact_id: str) -> Document | None:
        return self._contacts.find_one({"_id": contact_id})

    def get_many(self, ids: list[str]) -> dict[str, Document]:
        if not ids:
            return {}
        return {str(d["_id"]): d for d in self._contacts.find({"_id": {"$in": ids}})}

    def closures(self, ids: list[str]) -> dict[str, Document]:
        if not ids:
            return {}
        return {str(d["_id"]): d for d in self._closures.find({"_id": {"$in": ids}})}

    def close(self, contact_id: str, now: datetime, actor_id: str) -> bool:
        """Close a request: False when it was closed already (by anyone)."""
        try:
            self._closures.insert_one({"_id": contact_id, "closed_at": now, "closed_by": actor_id})
        except DuplicateKeyError:
            return False
        return True

    def settle_closed(self, contact: Document, closure: Document, keep_until: datetime) -> None:
        """Move a closed request to the closed list and schedule its deletion (idempotent:
        whoever finds a closed request still in the open list may repeat it)."""
        contact_id = str(contact["_id"])
        self._expiries.schedule(EXPIRY_QUEUE, keep_until, contact_id)
        self._queues.schedule(CLOSED_QUEUE, closure["closed_at"], contact_id)
        self._queues.remove(TimeQueue.entry_id(OPEN_QUEUE, contact["created_at"], contact_id))

    def queue_page(self, queue: str, after: str, limit: int) -> Page:
        return self._queues.page(queue, after=after, limit=limit, descending=True)

    def drop_entry(self, entry_id: str) -> None:
        self._queues.remove(entry_id)

    def delete(self, contact: Document, closure: Document | None = None) -> bool:
        """Delete a request, then everything pointing to it."""
        contact_id = str(contact["_id"])
        deleted = bool(self._contacts.delete_one({"_id": contact_id}).deleted_count)
        closure = closure or self._closures.find_one({"_id": contact_id})
        self._closures.delete_one({"_id": contact_id})
        entries = [TimeQueue.entry_id(OPEN_QUEUE, contact["created_at"], contact_id)]
        if closure is not None:
            entries.append(TimeQueue.entry_id(CLOSED_QUEUE, closure["closed_at"], contact_id))
        for entry in entries:
            self._queues.remove(entry)
        self._owned.remove(str(contact["subject_key"]), "contact", contact_id)
        return deleted

    def expire(self, contact_id: str) -> bool:
        """Delete a closed request at the end of its retention (or what is left of it)."""
        closure = self._closures.find_one({"_id": contact_id})
        if closure is None:
            return False  # not closed (the entry is stale): nothing is due
        contact = self.get(contact_id)
        if contact is not None:
            return self.delete(contact, closure)
        self._closures.delete_one({"_id": contact_id})
        self._queues.remove(TimeQueue.entry_id(CLOSED_QUEUE, closure["closed_at"], contact_id))
        return False

    def erase_of(self, subject_key: str) -> int:
        """Delete every request of a person. Each is deleted before its owner entry, and read
        once more after: a request submitted at this very moment (its owner entry written
        before this scan, the request itself after the delete) is caught either here or by
        :meth:`submit`'s own check."""
        deleted = 0
        for entry in list(self._owned.entries(subject_key, "contact")):
            contact_id = str(entry["_id"]).rsplit("/", 1)[1]
            contact = self.get(contact_id)
            if contact is not None:
                deleted += self.delete(contact)
            self._owned.remove(subject_key, "contact", contact_id)
            late = self.get(contact_id)
            if late is not None:
                deleted += self.delete(late)
        return deleted

    # -- restriction -----------------------------------------------------------------------------
    def restrict(self, subject_key: str, at: datetime, request_id: str, restricted: bool) -> None:
        """Record a restriction or lift of the person at its event time; the latest holds."""
        with contextlib.suppress(DuplicateKeyError):
            self._restrictions.insert_one(
                {"_id": key(subject_key, timekey(at), request_id), "restricted": restricted, "at": at}
            )
        latest = self._restrictions.find_one(
            {"_id": under(subject_key)}, sort=[("_id", DESCENDING)], projection={"_id": 1}
        )
        if latest is not None:
            older: dict[str, Any] = {**under(subject_key), "$lt": latest["_id"]}
            self._restrictions.delete_many({"_id": older})

    def restricted(self, subject_keys: Iterable[str]) -> set[str]:
        """Which of these people have processing restricted now (one read each)."""
        found = set()
        for subject_key in set(subject_keys):
            latest = self._restrictions.find_one({"_id": under(subject_key)}, sort=[("_id", DESCENDING)])
            if latest is not None and latest.get("restricted"):
                found.add(subject_key)
        return found

    def forget_restrictions(self, subject_key: str) -> int:
        return int(self._restrictions.delete_many({"_id": under(subject_key)}).deleted_count)
