"""The outbox: a change and the events announcing it are both kept, or neither is.

The store has no transactions, and on the dev store no atomic update either, so the
events cannot ride in the changed document for a relay to clear later (that clear would
be a second writer of the document). Instead every write that announces events goes:

1. **intents**: each event is inserted into the service's ``outbox`` collection, under the
   key ``<due time>/<event id>``, naming the document the change writes (its *proof*);
2. **change**: the document is inserted or updated with the event ids in its ``_events``
   map, in the same single write as the change itself;
3. **publish**: the writer publishes with confirms and deletes each confirmed intent.

If the change fails for certain (a duplicate key: another writer won, or no document
matched), the intents are deleted at once. If the writer dies, or the broker or the
store fails, the intents stay; once due (``LETHE_OUTBOX_GRACE_SECONDS`` after they were
written), a relay reads each one's proof document by ``_id``: the event goes out if the
document carries the event's id, and the intent is dropped as a change that never
happened once it is ``abandon_seconds`` old without one. The relay writes nothing but
the ``outbox`` collection and its own leases.

The relay reads only due intents, as one ``_id`` range with a limit, so its cost follows
the events waiting, never the size of any business collection. Relay replicas claim an
intent by inserting a lease ``<intent key>/<lease period>``: exactly one wins a period,
and one that dies holding a claim loses it when the next period begins. Delivery is at
least once; consumers drop repeats by event id.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.results import UpdateResult

from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.events.publisher import EventPublisher, PublishError
from lethe_common.metrics import (
    OUTBOX_ABANDONED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_SECONDS,
    OUTBOX_POISONED,
    OUTBOX_RELAYED,
)
from lethe_common.mongo import Coll, Db, Document
from lethe_common.store.keys import from_timekey, timekey

log = logging.getLogger(__name__)

OUTBOX = "outbox"
POISON = "outbox_poison"
LEASES = "outbox_leases"
EVENTS_FIELD = "_events"
LEASE_RETENTION = timedelta(days=1)
T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def with_events(document: Document, events: Sequence[Envelope]) -> Document:
    """``document`` (for an insert) carrying the ids of the events it announces."""
    return {**document, EVENTS_FIELD: {event.id: True for event in events}} if events else document


def with_events_update(update: Document, events: Sequence[Envelope]) -> Document:
    """``update`` (a Mongo update document) also marking the events it announces."""
    if not events:
        return update
    staged = {operator: dict(fields) for operator, fields in update.items()}
    sets = staged.setdefault("$set", {})
    for event in events:
        sets[f"{EVENTS_FIELD}.{event.id}"] = True
    return staged


def announces(document: Document | None, event_id: str) -> bool:
    """Whether ``document`` is the proof that the change announcing ``event_id`` was made."""
    marks = (document or {}).get(EVENTS_FIELD)
    return isinstance(marks, dict) and event_id in marks


class Outbox:
    """The writer's side: intents, the change, publishing right after it."""

    def __init__(self, publisher: EventPublisher, db: Db, grace_seconds: float) -> None:
        self.publisher = publisher
        self.grace_seconds = grace_seconds
        self._intents = db[OUTBOX]

    def insert(self, collection: Coll, document: Document, *events: Envelope) -> bool:
        """Insert ``document`` with its events; raises DuplicateKeyError like ``insert_one``.
        Returns whether every event went out now (else the relay sends it)."""
        _, published = self.write(
            collection, document["_id"], events, lambda: collection.insert_one(with_events(document, events))
        )
        return published

    def update(self, collection: Coll, doc_id: Any, update: Document, *events: Envelope) -> UpdateResult:
        """Update the document ``doc_id`` with its events. Only for a document with a single
        writer: on the dev store two concurrent updates of one document lose one another."""
        result, _ = self.write(
            collection,
            doc_id,
            events,
            lambda: collection.update_one({"_id": doc_id}, with_events_update(update, events)),
        )
        return result

    def write(
        self, collection: Coll, doc_id: Any, events: Sequence[Envelope], change: Callable[[], T]
    ) -> tuple[T, bool]:
        """Run ``change`` (which must mark ``events`` in the document ``doc_id``) between
        writing the intents and publishing; return its result and whether every event went
        out now. Publishing failures never raise: the change is durable, and so are its
        intents, which the relay sends."""
        if not events:
            return change(), True
        now = _utcnow()
        due = now + timedelta(seconds=self.grace_seconds)
        intents = [
            {
                "_id": f"{timekey(due)}/{event.id}",
                "event": event.to_document(),
                "collection": collection.name,
                "doc_id": doc_id,
                "created_at": now,
            }
            for event in events
        ]
        self._intents.insert_many(intents)
        try:
            result = change()
        except DuplicateKeyError:
            self._forget(intents)
            raise
        if isinstance(result, UpdateResult) and result.matched_count == 0:
            self._forget(intents)
            return result, True
        return result, self._publish(list(zip(events, intents, strict=True)))

    def _forget(self, intents: list[Document]) -> None:
        """The change did not happen: its events must never go out."""
        self._intents.delete_many({"_id": {"$in": [intent["_id"] for intent in intents]}})

    def _publish(self, pending: list[tuple[Envelope, Document]]) -> bool:
        published = 0
        try:
            for event, intent in pending:
                self.publisher.publish(event)
                published += 1
                self._intents.delete_one({"_id": intent["_id"]})
        except PublishError:
            log.warning("publish failed, the outbox relay will retry")
        except PyMongoError:
            log.warning("clearing a published intent failed; it may be published twice", exc_info=True)
        return published == len(pending)


class OutboxRelay:
    """The worker's side: publish what writers did not, claiming intents by lease."""

    def __init__(
        self,
        publisher: EventPublisher,
        db: Db,
        *,
        lease_seconds: float,
        abandon_seconds: float = 300.0,
        batch_size: int = 100,
    ) -> None:
        self._publisher = publisher
        self._db = db
        self._intents = db[OUTBOX]
        self._lease = timedelta(seconds=lease_seconds)
        self._abandon = timedelta(seconds=abandon_seconds)
        self._batch_size = batch_size

    def _claim(self, intent_id: str, due: datetime, now: datetime) -> bool:
        """Win the current lease period of an intent, or learn that another relay has."""
        period = int((now - due) / self._lease)
        try:
            self._db[LEASES].insert_one({"_id": f"{intent_id}/{period}", "claimed_at": now})
        except DuplicateKeyError:
            return False
        return True

    def _quarantine(self, intent: Document) -> None:
        """Move an intent that is no valid envelope out of the way, so it blocks nothing."""
        log.error("invalid outbox intent quarantined", extra={"intent": str(intent["_id"])[:80]})
        OUTBOX_POISONED.labels(collection=OUTBOX).inc()
        with contextlib.suppress(DuplicateKeyError):
            self._db[POISON].insert_one(intent)
        self._intents.delete_one({"_id": intent["_id"]})

    def _relay(self, intent: Document, now: datetime) -> int:
        try:
            event = Envelope.from_document(intent["event"])
            proof = self._db[str(intent["collection"])].find_one(
                {"_id": intent["doc_id"]}, projection={EVENTS_FIELD: 1}
            )
        except (EnvelopeError, KeyError, TypeError, ValueError):
            self._quarantine(intent)
            return 0
        if announces(proof, event.id):
            self._publisher.publish(event)
            self._intents.delete_one({"_id": intent["_id"]})
            OUTBOX_RELAYED.inc()
            return 1
        if now - intent["created_at"] >= self._abandon:
            log.warning(
                "outbox intent dropped: its change was never made",
                extra={"collection": intent.get("collection"), "event_type": event.type},
            )
            self._intents.delete_one({"_id": intent["_id"]})
            OUTBOX_ABANDONED.inc()
        return 0

    def run_once(self, now: datetime | None = None) -> int:
        """Relay every due intent this relay can claim; return how many events went out."""
        now = now or _utcnow()
        published = 0
        due = self._intents.find(
            {"_id": {"$lt": timekey(now)}}, sort=[("_id", ASCENDING)], limit=self._batch_size
        )
        for intent in list(due):
            intent_id = str(intent["_id"])
            if not self._claim(intent_id, from_timekey(intent_id.split("/", 1)[0]), now):
                continue
            try:
                published += self._relay(intent, now)
            except PublishError:
                log.warning("relay publish failed; retrying in the next lease period")
                return published
        return published

    def sweep_leases(self, now: datetime | None = None) -> int:
        """Delete claims of intents due so long ago that no relay can still work under them."""
        cutoff = (now or _utcnow()) - max(LEASE_RETENTION, self._lease * 10)
        return int(self._db[LEASES].delete_many({"_id": {"$lt": timekey(cutoff)}}).deleted_count)

    def update_backlog_metrics(self, now: datetime | None = None) -> None:
        """The outbox holds only what waits, so counting it costs what waits."""
        now = now or _utcnow()
        OUTBOX_BACKLOG.labels(collection=OUTBOX).set(self._intents.count_documents({}))
        oldest = self._intents.find_one(
            {"_id": {"$gte": ""}}, sort=[("_id", ASCENDING)], projection={"created_at": 1}
        )
        age = (now - oldest["created_at"]).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_SECONDS.labels(collection=OUTBOX).set(max(0.0, age))

    def run_forever(self, stop: threading.Event, interval: float = 1.0) -> None:
        rounds = 0
        while not stop.is_set():
            try:
                self.run_once()
                self.update_backlog_metrics()
                if rounds % 3600 == 0:
                    self.sweep_leases()
                rounds += 1
            except PyMongoError:
                log.warning("outbox relay cannot reach the store", exc_info=True)
            except Exception:
                log.exception("outbox relay round failed")
            stop.wait(interval)
