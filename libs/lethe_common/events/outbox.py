"""The single-document outbox and its relay.

A change and the events announcing it are written by one atomic update of
one document: the events go into the map ``_outbox`` (keyed by event id) and
``_outbox_due`` says when the relay may take over. The writer publishes at
once after its write and removes what the broker confirmed, so the normal
path has no polling delay. If the writer dies or the broker is down, the
relay finds the document once ``_outbox_due`` has passed.

``_outbox_due`` doubles as the relay's lease: a relay claims a document by
moving ``_outbox_due`` into the future in one ``find_one_and_update``, so
several relay replicas never work on the same document at the same time, and
a relay that dies holding a claim loses it when the lease runs out. Delivery
is at least once; consumers drop repeats by event id.

Only single-document atomicity is used, so this works unchanged on FerretDB
and on a MongoDB replica set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import PyMongoError

from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher, PublishError
from lethe_common.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_SECONDS, OUTBOX_RELAYED
from lethe_common.mongo import Coll, IndexSpec

log = logging.getLogger(__name__)

OUTBOX_FIELD = "_outbox"
DUE_FIELD = "_outbox_due"


def outbox_index(collection: str) -> IndexSpec:
    """The index every collection with an outbox needs for the relay's scan."""
    return IndexSpec(collection, ((DUE_FIELD, ASCENDING),))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def stage(update: dict[str, Any], events: Sequence[Envelope], *, grace_seconds: float,
          now: datetime | None = None) -> dict[str, Any]:
    """Return ``update`` (a Mongo update document) extended with ``events``.

    Use the result in the one ``update_one``/``find_one_and_update`` that makes
    the change, then call :meth:`Outbox.publish_staged`.
    """
    now = now or _utcnow()
    staged = {key: dict(value) for key, value in update.items()}
    sets = staged.setdefault("$set", {})
    for event in events:
        sets[f"{OUTBOX_FIELD}.{event.id}"] = event.to_document()
    sets[DUE_FIELD] = now + timedelta(seconds=grace_seconds)
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
    collection.update_one({"_id": doc_id, OUTBOX_FIELD: {}}, {"$unset": {DUE_FIELD: ""}})


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

    def _claim(self, collection: Coll, now: datetime) -> dict[str, Any] | None:
        return collection.find_one_and_update(
            {DUE_FIELD: {"$lte": now}},
            {"$set": {DUE_FIELD: now + self._lease}},
            sort=[(DUE_FIELD, ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    def _relay_document(self, collection: Coll, doc: dict[str, Any]) -> int:
        pending = sorted((doc.get(OUTBOX_FIELD) or {}).values(),
                         key=lambda entry: entry.get("occurred_at") or _utcnow())
        sent: list[str] = []
        try:
            for entry in pending:
                envelope = Envelope.from_document(entry)
                self._publisher.publish(envelope)
                sent.append(envelope.id)
        finally:
            _mark_sent(collection, doc["_id"], sent)
            OUTBOX_RELAYED.inc(len(sent))
        return len(sent)

    def run_once(self, now: datetime | None = None) -> int:
        """Relay every due document once; return how many events went out."""
        published = 0
        for collection in self._collections:
            for _ in range(self._batch_size):
                doc = self._claim(collection, now or _utcnow())
                if doc is None:
                    break
                try:
                    published += self._relay_document(collection, doc)
                except PublishError:
                    log.warning("relay publish failed; retrying after the lease",
                                extra={"collection": collection.name})
                    return published
        return published

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
        while not stop.is_set():
            try:
                self.run_once()
                self.update_backlog_metrics()
            except PyMongoError:
                log.warning("outbox relay cannot reach the store", exc_info=True)
            stop.wait(interval)
