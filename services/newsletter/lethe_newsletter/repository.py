"""The only code that touches the newsletter service's collections.

- ``subscribers``: one document per address (unique ``subject_key``), pending,
  active or unsubscribing; deleted once the person leaves.
- ``campaigns``: staff's campaigns, with the sending worker's lease and progress.
- ``send_log``: one document per campaign and subscriber, inserted when the
  message is committed (``_id`` = ``<campaign>:<subscriber>``). The unique id
  is what makes a send happen once, on MongoDB and FerretDB alike.
- ``suppression``: subject_keys that never receive a campaign.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox, outbox_index
from lethe_common.mongo import Db, Document, IndexSpec
from lethe_common.privacy import RECEIPT_INDEXES, RECEIPTS_SENT, subject_filter

SUBSCRIBERS = "subscribers"
CAMPAIGNS = "campaigns"
SEND_LOG = "send_log"
SUPPRESSION = "suppression"

INDEXES = [
    IndexSpec(SUBSCRIBERS, (("subject_key", ASCENDING),), unique=True),
    IndexSpec(SUBSCRIBERS, (("account_id", ASCENDING),)),
    IndexSpec(SUBSCRIBERS, (("status", ASCENDING), ("_id", ASCENDING))),
    outbox_index(SUBSCRIBERS),
    IndexSpec(CAMPAIGNS, (("status", ASCENDING), ("created_at", DESCENDING))),
    IndexSpec(SEND_LOG, (("campaign_id", ASCENDING),)),
    IndexSpec(SEND_LOG, (("subscriber_id", ASCENDING),)),
    *RECEIPT_INDEXES,
]
OUTBOX_COLLECTIONS = (SUBSCRIBERS, RECEIPTS_SENT)


class NewsletterRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._db = db
        self._outbox = outbox

    # -- subscribers ----------------------------------------------------------------------
    def subscriber(self, subscriber_id: str) -> Document | None:
        return self._db[SUBSCRIBERS].find_one({"_id": subscriber_id}, projection={"_outbox": 0})

    def subscriber_by_key(self, subject_key: str) -> Document | None:
        return self._db[SUBSCRIBERS].find_one({"subject_key": subject_key},
                                              projection={"_outbox": 0})

    def subscribers_of(self, account_id: str, subject_key: str) -> list[Document]:
        return list(self._db[SUBSCRIBERS].find(subject_filter(account_id, subject_key),
                                               projection={"_outbox": 0}))

    def insert_subscriber(self, doc: Document, *events: Envelope) -> bool:
        """A new subscriber (with its events); False when the address has one already."""
        try:
            self._db[SUBSCRIBERS].insert_one(self._outbox.stage_new(doc, *events))
        except DuplicateKeyError:
            return False
        self._outbox.publish_staged(self._db[SUBSCRIBERS], doc["_id"], *events)
        return True

    def update_subscriber(self, subscriber_id: str, condition: Document, changes: Document,
                          *events: Envelope, unset: Iterable[str] = ()) -> Document | None:
        """Change a subscriber if it still matches ``condition``; the new document or None."""
        update: Document = {"$set": changes}
        if unset:
            update["$unset"] = {name: "" for name in unset}
        doc = self._db[SUBSCRIBERS].find_one_and_update(
            {"_id": subscriber_id, **condition}, self._outbox.stage(update, *events),
            return_document=ReturnDocument.AFTER)  # FerretDB: no projection here
        if doc is not None and events:
            self._outbox.publish_staged(self._db[SUBSCRIBERS], subscriber_id, *events)
        return doc

    def set_restricted(self, account_id: str, subject_key: str, restricted: bool) -> int:
        return self._db[SUBSCRIBERS].update_many(subject_filter(account_id, subject_key),
                                                 {"$set": {"restricted": restricted}}).matched_count

    def delete_subscriber(self, subscriber_id: str) -> int:
        """The subscriber and its send log: what the person gave us goes when they leave."""
        self._db[SEND_LOG].delete_many({"subscriber_id": subscriber_id})
        return self._db[SUBSCRIBERS].delete_one({"_id": subscriber_id}).deleted_count

    def withdrawals_pending(self, limit: int = 100) -> list[Document]:
        return list(self._db[SUBSCRIBERS].find({"status": "unsubscribing"},
                                               projection={"_outbox": 0}, limit=limit))

    def delete_pending_before(self, cutoff: datetime) -> int:
        return self._db[SUBSCRIBERS].delete_many(
            {"status": "pending", "requested_at": {"$lt": cutoff}}).deleted_count

    def audience(self, cutoff: datetime) -> list[str]:
        """Ids of the subscribers a campaign started at ``cutoff`` is for, in id order."""
        return [doc["_id"] for doc in self._db[SUBSCRIBERS].find(
            {"status": "active", "confirmed_at": {"$lte": cutoff}}, projection={"_id": 1},
            sort=[("_id", ASCENDING)])]

    def sendable(self, first_id: str, last_id: str, cutoff: datetime) -> dict[str, Document]:
        """The subscribers between two ids (inclusive) who may receive mail right now."""
        return {doc["_id"]: doc for doc in self._db[SUBSCRIBERS].find(
            {"_id": {"$gte": first_id, "$lte": last_id}, "status": "active",
             "restricted": {"$ne": True}, "confirmed_at": {"$lte": cutoff}},
            projection={"_outbox": 0})}

    # -- suppression ----------------------------------------------------------------------
    def suppress(self, subject_key: str, reason: str, now: datetime) -> None:
        self._db[SUPPRESSION].update_one({"_id": subject_key},
                                         {"$setOnInsert": {"since": now, "reason": reason}},
                                         upsert=True)

    def lift_suppression(self, subject_key: str) -> int:
        return self._db[SUPPRESSION].delete_one({"_id": subject_key}).deleted_count

    def suppressed(self, subject_keys: Sequence[str]) -> set[str]:
        if not subject_keys:
            return set()
        return {doc["_id"] for doc in self._db[SUPPRESSION].find(
            {"_id": {"$in": list(subject_keys)}}, projection={"_id": 1})}

    def is_suppressed(self, subject_key: str) -> bool:
        return self._db[SUPPRESSION].find_one({"_id": subject_key}, projection={"_id": 1}) is not None

    # -- campaigns ------------------------------------------------------------------------
    def insert_campaign(self, doc: Document) -> None:
        self._db[CAMPAIGNS].insert_one(doc)

    def campaign(self, campaign_id: str) -> Document | None:
        return self._db[CAMPAIGNS].find_one({"_id": campaign_id})

    def campaigns(self, limit: int = 200) -> list[Document]:
        return list(self._db[CAMPAIGNS].find({}, sort=[("created_at", DESCENDING)], limit=limit))

    def update_campaign(self, campaign_id: str, condition: Document,
                        changes: Document) -> Document | None:
        return self._db[CAMPAIGNS].find_one_and_update(
            {"_id": campaign_id, **condition}, {"$set": changes},
            return_document=ReturnDocument.AFTER)

    def lease_campaign(self, owner: str, now: datetime, until: datetime) -> Document | None:
        """A sending campaign nobody holds (or whose holder stopped renewing), now ours."""
        return self._db[CAMPAIGNS].find_one_and_update(
            {"status": "sending", "$or": [{"lease_until": {"$lt": now}}, {"lease_owner": owner}]},
            {"$set": {"lease_owner": owner, "lease_until": until}},
            sort=[("started_at", ASCENDING)], return_document=ReturnDocument.AFTER)

    def renew_lease(self, campaign_id: str, owner: str, until: datetime,
                    progress: Document) -> bool:
        """Keep the lease and save progress; False when the campaign is no longer ours to send."""
        return self._db[CAMPAIGNS].update_one(
            {"_id": campaign_id, "status": "sending", "lease_owner": owner},
            {"$set": {"lease_until": until, "progress": progress}}).matched_count == 1

    def release_lease(self, campaign_id: str, owner: str) -> None:
        self._db[CAMPAIGNS].update_one({"_id": campaign_id, "lease_owner": owner},
                                       {"$set": {"lease_until": datetime.fromtimestamp(0, UTC)}})

    # -- send log -------------------------------------------------------------------------
    def log_send(self, campaign_id: str, subscriber_id: str, outcome: str, now: datetime) -> bool:
        """Record a message; False when one is recorded already (it must not go again)."""
        try:
            self._db[SEND_LOG].insert_one({"_id": f"{campaign_id}:{subscriber_id}",
                                           "campaign_id": campaign_id,
                                           "subscriber_id": subscriber_id,
                                           "outcome": outcome, "at": now})
        except DuplicateKeyError:
            return False
        return True

    def unlog_send(self, campaign_id: str, subscriber_id: str) -> None:
        """Forget a record whose message the relay did not take, so it can go again."""
        self._db[SEND_LOG].delete_one({"_id": f"{campaign_id}:{subscriber_id}"})

    def logged_subscribers(self, campaign_id: str) -> dict[str, str]:
        """Subscriber id → outcome for every message of a campaign recorded so far."""
        return {doc["subscriber_id"]: doc["outcome"] for doc in self._db[SEND_LOG].find(
            {"campaign_id": campaign_id}, projection={"subscriber_id": 1, "outcome": 1})}

    def sends_of(self, subscriber_ids: Sequence[str]) -> list[Document]:
        return list(self._db[SEND_LOG].find({"subscriber_id": {"$in": list(subscriber_ids)}},
                                            sort=[("at", ASCENDING)]))
