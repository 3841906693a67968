"""The only code that touches the analytics collections; every query is ``_id``-led
(docs/architecture.md, "The rules"):

- ``page_counts``: ``<day>/<path code>/<writer>`` with ``day``, ``path`` and ``count``:
  the page views of one path on one UTC day counted by one API process. Nothing else:
  no visitor, no address, no cookie. Each document has a single writer (the process,
  one thread at a time), because the dev store loses concurrent ``$inc`` of one document;
  a day's views of a path are the sum over the writers.
- ``visits`` (only with the analytics consent): ``<visitor hash>/<time>/<random>`` with
  ``visitor``, ``path``, ``at``, ``expire_at`` and, for a logged-in person, ``subject_key``.
- ``visitor_links``: ``<subject_key>/visitor/<visitor hash>`` and
  ``<visitor hash>/person/<subject_key>`` (OwnerIndex), written before the visit that
  carries both, so an erasure finds the visitor's visits from before the log-in too.
- ``visit_expiries``: ``visits/<midnight of the expiry day>/<visitor hash>`` (TimeQueue),
  written before the visit: the retention sweep's work list.
- ``erasure_findings``: ``<request id>`` with what the first handler of an erasure found,
  from before anything was deleted, while the handlers of that request run.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from lethe_common.mongo import Db, Document, IndexSpec, RetiredIndex
from lethe_common.privacy import RECEIPT_INDEXES
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import Page, scan

PAGE_COUNTS = "page_counts"
VISITS = "visits"
VISITOR_LINKS = "visitor_links"
VISIT_EXPIRIES = "visit_expiries"
ERASURE_FINDINGS = "erasure_findings"
EXPIRY_QUEUE = "visits"
PERSON_KIND, VISITOR_KIND = "person", "visitor"
LOCK_STRIPES = 64

# No index beside `_id`: every query is a key or a key range.
INDEXES: list[IndexSpec | RetiredIndex] = [*RECEIPT_INDEXES]


def path_code(path: str) -> str:
    """A key part for a path (a path holds "/", which a key part may not)."""
    return hashlib.sha256(path.encode()).hexdigest()[:32]


class AnalyticsRepository:
    def __init__(self, db: Db, writer: str) -> None:
        self._counts = db[PAGE_COUNTS]
        self._visits = db[VISITS]
        self._links = OwnerIndex(db[VISITOR_LINKS])
        self._expiries = TimeQueue(db[VISIT_EXPIRIES])
        self._findings = db[ERASURE_FINDINGS]
        self._writer = writer
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    # -- page counts ----------------------------------------------------------------------
    def count(self, day: str, path: str) -> None:
        """One more view of ``path`` on ``day``, in this writer's own document."""
        doc_id = key(day, path_code(path), self._writer)
        with self._locks[hash(doc_id) % LOCK_STRIPES]:
            self._counts.update_one(
                {"_id": doc_id},
                {"$inc": {"count": 1}, "$setOnInsert": {"day": day, "path": path}},
                upsert=True,
            )

    def counts_between(self, first_day: str, last_day: str) -> Iterator[Document]:
        """Every count document of the days from ``first_day`` to ``last_day`` (YYYY-MM-DD)."""
        return scan(
            self._counts,
            {"$gte": first_day + "/", "$lt": last_day + "0"},
            projection={"day": 1, "path": 1, "count": 1},
        )

    # -- visits ---------------------------------------------------------------------------
    def add_visit(self, visitor: str, at: datetime, path: str, subject_key: str, expire_at: datetime) -> None:
        doc: Document = {"visitor": visitor, "path": path, "at": at, "expire_at": expire_at}
        if subject_key:
            doc["subject_key"] = subject_key
        for _ in range(3):  # two views in the same microsecond with the same random part
            with contextlib.suppress(DuplicateKeyError):
                self._visits.insert_one({"_id": key(visitor, timekey(at), secrets.token_hex(8)), **doc})
                return

    def visits_of(self, visitor: str) -> Iterator[Document]:
        return scan(self._visits, under(visitor))

    def count_visits(self, visitor: str) -> int:
        return int(self._visits.count_documents({"_id": under(visitor)}))

    def delete_visits(self, visitor: str) -> int:
        return int(self._visits.delete_many({"_id": under(visitor)}).deleted_count)

    def delete_visits_before(self, visitor: str, before: datetime) -> int:
        """Delete the visitor's visits made before ``before`` (their keys sort by time)."""
        bound = {"$gte": key(visitor) + "/", "$lt": key(visitor, timekey(before))}
        return int(self._visits.delete_many({"_id": bound}).deleted_count)

    def has_visit_before(self, visitor: str, before: datetime) -> bool:
        bound = {"$gte": key(visitor) + "/", "$lt": key(visitor, timekey(before))}
        return self._visits.find_one({"_id": bound}, projection={"_id": 1}) is not None

    # -- links between a visitor and a person ---------------------------------------------
    def link(self, subject_key: str, visitor: str) -> None:
        self._links.add(subject_key, VISITOR_KIND, visitor)
        self._links.add(visitor, PERSON_KIND, subject_key)

    def visitors_of(self, subject_key: str) -> list[str]:
        return self._links.items(subject_key, VISITOR_KIND)

    def unlink_visitor(self, visitor: str) -> int:
        """Delete every link of ``visitor`` in both directions; the number of pairs."""
        persons = self._links.items(visitor, PERSON_KIND)
        for person in persons:
            self._links.remove(person, VISITOR_KIND, visitor)
        self._links.remove_owner(visitor)
        return len(persons)

    def unlink_person(self, subject_key: str) -> int:
        return self._links.remove_owner(subject_key)

    # -- the retention sweep's work list --------------------------------------------------
    def schedule_expiry(self, visitor: str, expiry_day: datetime) -> None:
        self._expiries.schedule(EXPIRY_QUEUE, expiry_day, visitor)

    def due_expiries(self, now: datetime, after: str = "", limit: int = 200) -> Page:
        return self._expiries.page(EXPIRY_QUEUE, after=after, limit=limit, until=now)

    def remove_expiry(self, entry_id: str) -> bool:
        return self._expiries.remove(entry_id)

    def remove_expiries(self, visitor: str, expiry_days: Iterable[datetime]) -> None:
        for day in expiry_days:
            self._expiries.remove_item(EXPIRY_QUEUE, day, visitor)

    # -- what an erasure found ------------------------------------------------------------
    def first_finding(self, request_id: str, found: Document) -> Document:
        """Record what this handler found for an erasure, unless another handler of the
        same request did first: then what that one found (the unique insert decides)."""
        try:
            self._findings.insert_one({"_id": request_id, **found})
        except DuplicateKeyError:
            earlier = self._findings.find_one({"_id": request_id})
            if earlier is not None:  # else its handler is done and its receipt sent
                return {k: v for k, v in earlier.items() if k != "_id"}
        return found

    def drop_finding(self, request_id: str) -> None:
        self._findings.delete_one({"_id": request_id})
