"""Index documents: how a person's items, and a queue's items, are found by ``_id``.

The dev store serves no index but ``_id``'s, so "every order of this person" or "every
request due before Friday" cannot be a filter on a field. Instead each such relation is
kept as small documents of its own whose keys say it, and read as one ``_id`` range:

- :class:`OwnerIndex`: ``<owner>/<kind>/<item>``, the items of one owner (a subject key
  or an account id), of one kind or of all;
- :class:`TimeQueue`: ``<queue>/<time>/<item>``, items in the order they fall due.

Both are written only by inserts and deletes, which are atomic on every store. An index
entry is written *before* the item it points to and deleted *after* it, so the index
always holds at least every item: a reader that finds an entry whose item is gone (a
crash in between, or an entry left stale by a move) skips it, and a sweep may remove it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Coll, Document
from lethe_common.store.keys import key, last_part, timekey, under
from lethe_common.store.paging import Page, page, scan


class OwnerIndex:
    """Which items an owner has, by kind: ``<owner>/<kind>/<item>``."""

    def __init__(self, collection: Coll) -> None:
        self._collection = collection

    def add(self, owner: str, kind: str, item: str, **data: Any) -> None:
        """Record that ``owner`` has ``item``; recording it again changes nothing."""
        with contextlib.suppress(DuplicateKeyError):
            self._collection.insert_one({"_id": key(owner, kind, item), **data})

    def add_many(self, owners: Iterable[str], kind: str, item: str, **data: Any) -> None:
        for owner in {o for o in owners if o}:
            self.add(owner, kind, item, **data)

    def items(self, owner: str, kind: str) -> list[str]:
        """Every item of ``kind`` that ``owner`` has, in key order."""
        return [last_part(str(doc["_id"])) for doc in self.entries(owner, kind)]

    def entries(self, owner: str, kind: str | None = None) -> Iterator[Document]:
        if not owner:
            return iter(())
        return scan(self._collection, under(owner, kind) if kind else under(owner))

    def page(
        self, owner: str, kind: str, *, after: str = "", limit: int = 50, descending: bool = False
    ) -> Page:
        return page(self._collection, under(owner, kind), after=after, limit=limit, descending=descending)

    def has(self, owner: str, kind: str, item: str) -> bool:
        return self._collection.find_one({"_id": key(owner, kind, item)}, projection={"_id": 1}) is not None

    def remove(self, owner: str, kind: str, item: str) -> bool:
        return bool(self._collection.delete_one({"_id": key(owner, kind, item)}).deleted_count)

    def remove_owner(self, owner: str, kind: str | None = None) -> int:
        """Forget everything of ``owner`` (of one kind): one range, after the items went."""
        if not owner:
            return 0
        condition = under(owner, kind) if kind else under(owner)
        return int(self._collection.delete_many({"_id": condition}).deleted_count)


class TimeQueue:
    """Items by the time they fall due: ``<queue>/<time>/<item>``."""

    def __init__(self, collection: Coll) -> None:
        self._collection = collection

    @staticmethod
    def entry_id(queue: str, at: datetime, item: str) -> str:
        return key(queue, timekey(at), item)

    def schedule(self, queue: str, at: datetime, item: str, **data: Any) -> str:
        """Put ``item`` in ``queue`` at ``at``; the same again changes nothing. Returns the key."""
        entry_id = self.entry_id(queue, at, item)
        with contextlib.suppress(DuplicateKeyError):
            self._collection.insert_one({"_id": entry_id, "item": item, "at": at, **data})
        return entry_id

    def due(self, queue: str, now: datetime, limit: int = 200) -> list[Document]:
        """The first ``limit`` entries due at ``now`` or before, oldest first."""
        condition = {**under(queue), "$lt": key(queue, timekey(now)) + "0"}
        return page(self._collection, condition, limit=limit).items

    def page(
        self,
        queue: str,
        *,
        after: str = "",
        limit: int = 50,
        descending: bool = False,
        until: datetime | None = None,
    ) -> Page:
        """A page of ``queue`` in time order (or its reverse), optionally only what is due
        by ``until``."""
        condition = under(queue)
        if until is not None:
            condition["$lt"] = key(queue, timekey(until)) + "0"
        return page(self._collection, condition, after=after, limit=limit, descending=descending)

    def remove(self, entry_id: str) -> bool:
        """Take an entry out; True for exactly one of several callers that race."""
        return bool(self._collection.delete_one({"_id": entry_id}).deleted_count)

    def remove_item(self, queue: str, at: datetime, item: str) -> bool:
        return self.remove(self.entry_id(queue, at, item))
