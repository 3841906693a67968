"""The single-document outbox and its relay.

A change and the events announcing it are written by one atomic update of
one document: the events go into the map ``_outbox`` (keyed by event id) and
``_outbox_due`` says when the relay may take over. The writer publishes at
once after its write and removes what the broker confirmed, so the normal
path has no polling delay. If the writer dies or the broker is down, the
relay finds the document once ``_outbox_due`` has passed.

Several relay replicas claim documents by lease: a claim is an insert into
``outbox_leases`` whose key is (collection, document id, due time, lease
period number). A unique key is the one primitive that is atomic on MongoDB
and on FerretDB alike (FerretDB 1.24 runs ``findAndModify`` and ``update`` as a
query followed by a replace, so a conditional update cannot arbitrate between
relays there). Exactly one relay wins each period; one that dies holding a
claim loses it when the next period begins. The claim writes nothing to the
document itself. Delivery is at least once; consumers drop repeats by event id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.events.publisher import EventPublisher, PublishError
from lethe_common.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_SECONDS, OUTBOX_POISONED, OUTBOX_RELAYED
from lethe_common.mongo import Coll, IndexSpec

log = logging.getLogger(__name__)

OUTBOX_FIELD = "_outbox"
POISON_FIELD = "_outbox_poison"
DUE_FIELD = "_outbox_due"
LEASES = "outbox_leases"
LEASE_RETENTION = timedelta(days=1)


def outbox_index(collection: str) -> IndexSpec:
    """The index every collection with an outbox needs for the relay's scan."""
    return IndexSpec(collection, ((DUE_FIELD, ASCENDING),))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def stage(update: dict[str, Any], events: Sequence[Envelope], *, grace_seconds: float,
          now: datetime | None = None) -> dict[str, Any]:
    """Return ``update`` (a Mongo update document) extended with ``events``.

    Use the result in the one ``update_one``/``find_one_and_update`` that makes
    the change, then call :meth:`Outbox.publish_staged`. The due time only ever
    moves earlier (``$min``), so a document written again and again cannot keep
    pushing an older unpublished event out of the relay's reach.
    """
    now = now or _utcnow()
    staged = {key: dict(value) for key, value in update.items()}
    if not events:
        return staged
    sets = staged.setdefault("$set", {})
    for event in events:
        sets[f"{OUTBOX_FIELD}.{event.id}"] = event.to_document()
    staged.setdefault("$min", {})[DUE_FIELD] = now + timedelta(seconds=grace_seconds)
    return staged


def stage_new(document: dict[str, Any], events: Sequence[Envelope], *, grace_seconds: float,
              now: datetime | None = None) -> dict[str, Any]:
    """Return a new document (for ``insert_one``/``replace_one``) carrying ``events``."""
    now = now or _utcnow()
    return {
        **document,
        OUTBOX_FIELD: {event.id: event.to_document() for event in events},
        DUE_FIELD: now + timedelta(seconds=grace_seconds),
    }


def _mark_sent(collection: Coll, doc_id: Any, event_ids: Iterable[str]) -> None:
    unset = {f"{OUTBOX_FIELD}.{event_id}": "" for event_id in event_ids}
    if unset:
        collection.update_one({"_id": doc_id}, {"$unset": unset})
    # Clear the due time only if no writer added an event meanwhile.
    collection.update_one({"_id": doc_id, OUTBOX_FIELD: {"$in": [{}, None]}},
                          {"$unset": {DUE_FIELD: ""}})


def _quarantine(collection: Coll, doc_id: Any, key: str, entry: Any) -> None:
    """Move an entry that is no valid envelope out of the way, so it blocks nothing."""
    log.error("invalid outbox entry quarantined",
              extra={"collection": collection.name, "entry": str(key)[:64]})
    OUTBOX_POISONED.labels(collection=collection.name).inc()
    collection.update_one({"_id": doc_id}, {"$set": {f"{POISON_FIELD}.{key}": entry},
                                            "$unset": {f"{OUTBOX_FIELD}.{key}": ""}})


class Outbox:
    """The writer's side: publish what was just staged, right after the write."""

    def __init__(self, publisher: EventPublisher, grace_seconds: float) -> None:
        self.publisher = publisher
        self.grace_seconds = grace_seconds

    def stage(self, update: dict[str, Any], *events: Envelope) -> dict[str, Any]:
        return stage(update, events, grace_seconds=self.grace_seconds)

    def stage_new(self, document: dict[str, Any], *events: Envelope) -> dict[str, Any]:
        return stage_new(document, events, grace_seconds=self.grace_seconds)

    def publish_staged(self, collection: Coll, doc_id: Any, *events: Envelope) -> bool:
        """Publish and mark sent; on any failure leave the events to the relay.

        Returns whether every event went out now. Never raises for a broker or
        store problem: the change is already durable and so are its events.
        """
        sent: list[str] = []
        try:
            for event in events:
                self.publisher.publish(event)
                sent.append(event.id)
        except PublishError:
            log.warning("publish failed, the outbox relay will retry",
                        extra={"pending": len(events) - len(sent)})
        try:
            _mark_sent(collection, doc_id, sent)
        except PyMongoError:
            log.warning("marking events sent failed; they may be published twice", exc_info=True)
        return len(sent) == len(events)


class OutboxRelay:
    """The worker's side: publish what writers did not, claiming documents by lease."""

    def __init__(self, publisher: EventPublisher, collections: Sequence[Coll], *,
                 lease_seconds: float, batch_size: int = 100) -> None:
        self._publisher = publisher
        self._collections = list(collections)
        self._lease = timedelta(seconds=lease_seconds)
        self._batch_size = batch_size

    def _claim(self, collection: Coll, candidate: dict[str, Any], now: datetime) -> bool:
        """Win the current lease period of ``candidate``, or learn that another relay has."""
        due: datetime = candidate[DUE_FIELD]
        period = int((now - due) / self._lease)
        key = f"{collection.name}/{candidate['_id']!r}/{due.isoformat()}/{period}"
        try:
            collection.database[LEASES].insert_one({"_id": key, "claimed_at": now})
        except DuplicateKeyError:
            return False
        return True

    def _relay_document(self, collection: Coll, doc: dict[str, Any]) -> int:
        entries = doc.get(OUTBOX_FIELD)
        pending: list[Envelope] = []
        for key, entry in (entries.items() if isinstance(entries, dict) else ()):
            try:
                pending.append(Envelope.from_document(entry))
            except (EnvelopeError, TypeError, ValueError):
                _quarantine(collection, doc["_id"], key, entry)
        pending.sort(key=lambda envelope: envelope.occurred_at)
        sent: list[str] = []
        try:
            for envelope in pending:
                self._publisher.publish(envelope)
                sent.append(envelope.id)
        finally:
            _mark_sent(collection, doc["_id"], sent)
            OUTBOX_RELAYED.inc(len(sent))
        return len(sent)

    def run_once(self, now: datetime | None = None) -> int:
        """Relay every due document this relay can claim; return how many events went out."""
        published = 0
        for collection in self._collections:
            moment = now or _utcnow()
            due = collection.find({DUE_FIELD: {"$lte": moment}}, projection={DUE_FIELD: 1},
                                  sort=[(DUE_FIELD, ASCENDING)], limit=self._batch_size)
            for candidate in list(due):
                if not self._claim(collection, candidate, moment):
                    continue
                doc = collection.find_one({"_id": candidate["_id"]})
                if doc is None or not doc.get(OUTBOX_FIELD):
                    _mark_sent(collection, candidate["_id"], ())
                    continue
                try:
                    published += self._relay_document(collection, doc)
                except PublishError:
                    log.warning("relay publish failed; retrying in the next lease period",
                                extra={"collection": collection.name})
                    return published
        return published

    def sweep_leases(self) -> int:
        """Delete claims old enough that no relay can still be working under them."""
        cutoff = _utcnow() - max(LEASE_RETENTION, self._lease * 10)
        return sum(collection.database[LEASES].delete_many({"claimed_at": {"$lt": cutoff}}).deleted_count
                   for collection in self._collections[:1])

    def update_backlog_metrics(self) -> None:
        now = _utcnow()
        for collection in self._collections:
            pending = collection.count_documents({DUE_FIELD: {"$exists": True}})
            OUTBOX_BACKLOG.labels(collection=collection.name).set(pending)
            oldest = collection.find_one({DUE_FIELD: {"$exists": True}},
                                         sort=[(DUE_FIELD, ASCENDING)], projection={OUTBOX_FIELD: 1})
            ages = [(now - entry["occurred_at"]).total_seconds()
                    for entry in ((oldest or {}).get(OUTBOX_FIELD) or {}).values()
                    if isinstance(entry.get("occurred_at"), datetime)]
            OUTBOX_OLDEST_SECONDS.labels(collection=collection.name).set(max(ages, default=0.0))

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
