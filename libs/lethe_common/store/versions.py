"""Versioned documents: one thing that several writers change, read by its head alone.

A profile, a password hash, an e-mail address's owner, an organisation: each is kept as
numbered versions ``<thing>/<8 digits>``, and its current state is the highest one (one
index read: the range of the thing, newest first, limit 1). A writer reads the head,
decides the next state from it and inserts it under the next number; when two writers
decide at once the store's unique ``_id`` lets exactly one insert succeed and the other
reads again and decides anew: a compare-and-set on the one write every store makes atomic.

Unlike :class:`lethe_common.store.steps.StepLog`, readers need only the head, so a
superseded version is blanked (its content dropped: rectified data is not kept) but its
key stays: numbers are never reused, so a writer that read an old head can never slip its
version in under a newer one. Blanking has one writer, the one that superseded it. A
thing's versions are deleted together when the thing goes (erasure, sweep).
"""

from __future__ import annotations

from collections.abc import Callable

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from lethe_common.events.outbox import EVENTS_FIELD, Outbox
from lethe_common.mongo import Coll, Document
from lethe_common.store.keys import SEP, seqkey, under
from lethe_common.store.steps import MAX_ATTEMPTS, Contended, Step

Decide = Callable[[Document | None], Step | None]


class Versions:
    """The versions of every thing in one collection."""

    def __init__(self, collection: Coll, outbox: Outbox | None = None) -> None:
        self._collection = collection
        self._outbox = outbox

    @staticmethod
    def version_id(thing: str, number: int) -> str:
        return f"{thing}{SEP}{seqkey(number)}"

    def head(self, thing: str) -> Document | None:
        """The current version of ``thing`` (None: it has none)."""
        return self._collection.find_one({"_id": under(*thing.split(SEP))}, sort=[("_id", DESCENDING)])

    def write(self, thing: str, decide: Decide) -> tuple[Document | None, bool]:
        """Read the head, let ``decide`` name the next version (or None: nothing to do),
        insert it; when another writer got there first, read and decide again.

        Returns the head afterwards and whether this call wrote it. ``decide`` may raise a
        domain error (the change is not allowed in the state it sees)."""
        for _ in range(MAX_ATTEMPTS):
            head = self.head(thing)
            step = decide(head)
            if step is None:
                return head, False
            number = int(head["n"]) + 1 if head else 0
            doc = {**step.fields, "_id": self.version_id(thing, number), "n": number}
            try:
                if self._outbox is not None and step.events:
                    self._outbox.insert(self._collection, doc, *step.events)
                else:
                    self._collection.insert_one(doc)
            except DuplicateKeyError:
                continue
            if head is not None:
                self._blank(head)
            return doc, True
        raise Contended("this was changed by others many times at once; please try again")

    def _blank(self, old: Document) -> None:
        """Drop a superseded version's content, keeping its key (and its event marks, which
        the outbox relay may still need as the proof of a change)."""
        kept: Document = {"n": old["n"], "superseded": True}
        if EVENTS_FIELD in old:
            kept[EVENTS_FIELD] = old[EVENTS_FIELD]
        self._collection.replace_one({"_id": old["_id"]}, kept)

    def delete(self, thing: str) -> int:
        """Every version of ``thing`` (the thing itself goes)."""
        return int(self._collection.delete_many({"_id": under(*thing.split(SEP))}).deleted_count)

    def delete_version(self, thing: str, number: int) -> bool:
        return bool(self._collection.delete_one({"_id": self.version_id(thing, number)}).deleted_count)
