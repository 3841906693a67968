"""The only code that touches the consent service's collections.

Consent records are append-only: this module has no call that changes a
record's substance. The one exception is the erasure, which removes e-mail,
name and client address from a person's records (pseudonymisation) and
leaves subject_key, purpose, version and times as proof (SPEC section 3).
Claims that must be won once (a confirmation token, a receipt) are inserts
into a unique key, atomic on MongoDB and FerretDB alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from lethe_common.errors import AlreadyExists
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox, outbox_index
from lethe_common.mongo import Db, Document, IndexSpec
from lethe_common.privacy import RECEIPT_INDEXES, RECEIPTS_SENT, subject_filter

PURPOSES = "purposes"
TEXTS = "consent_texts"
RECORDS = "consent_records"
REQUESTS = "privacy_requests"
RECEIPTS = "privacy_receipts"
USED_TOKENS = "used_tokens"

INDEXES = [
    IndexSpec(TEXTS, (("purpose", ASCENDING), ("published_at", DESCENDING))),
    IndexSpec(RECORDS, (("subject_key", ASCENDING), ("recorded_at", ASCENDING))),
    IndexSpec(RECORDS, (("account_id", ASCENDING), ("recorded_at", ASCENDING))),
    IndexSpec(RECORDS, (("pseudonymised_at", ASCENDING),)),
    IndexSpec(RECORDS, (("action", ASCENDING), ("recorded_at", ASCENDING))),
    outbox_index(RECORDS),
    IndexSpec(REQUESTS, (("status", ASCENDING), ("due_at", ASCENDING))),
    IndexSpec(REQUESTS, (("subject_key", ASCENDING), ("received_at", DESCENDING))),
    IndexSpec(REQUESTS, (("account_id", ASCENDING),)),
    IndexSpec(REQUESTS, (("confirm_digest", ASCENDING),)),
    outbox_index(REQUESTS),
    IndexSpec(RECEIPTS, (("request_id", ASCENDING),)),
    IndexSpec(USED_TOKENS, (("expires_at", ASCENDING),)),
    *RECEIPT_INDEXES,
]
OUTBOX_COLLECTIONS = (RECORDS, REQUESTS, RECEIPTS_SENT)


class ConsentRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._db = db
        self._outbox = outbox

    # -- purposes and texts ------------------------------------------------------------
    def purposes(self) -> list[Document]:
        return list(self._db[PURPOSES].find({}, sort=[("_id", ASCENDING)]))

    def purpose(self, purpose: str) -> Document | None:
        return self._db[PURPOSES].find_one({"_id": purpose})

    def insert_purpose(self, doc: Document) -> bool:
        try:
            self._db[PURPOSES].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def set_current_version(self, purpose: str, version: str, now: datetime) -> None:
        self._db[PURPOSES].update_one({"_id": purpose}, {"$set": {
            "current_version": version, "updated_at": now}})

    def insert_text(self, doc: Document) -> None:
        """Publish a text; a version is written once and never again."""
        try:
            self._db[TEXTS].insert_one(doc)
        except DuplicateKeyError:
            raise AlreadyExists("this version of the text is published already; "
                                "a published text never changes, publish a new version") from None

    def text(self, purpose: str, version: str) -> Document | None:
        return self._db[TEXTS].find_one({"_id": text_id(purpose, version)})

    def texts(self, keys: Iterable[tuple[str, str]]) -> list[Document]:
        ids = sorted({text_id(purpose, version) for purpose, version in keys})
        return list(self._db[TEXTS].find({"_id": {"$in": ids}})) if ids else []

    # -- consent records ---------------------------------------------------------------
    def insert_record(self, doc: Document, events: Sequence[Envelope] = ()) -> bool:
        """Append a record (with its events); False when a record with this id exists."""
        staged = self._outbox.stage_new(doc, *events) if events else doc
        try:
            self._db[RECORDS].insert_one(staged)
        except DuplicateKeyError:
            return False
        if events:
            self._outbox.publish_staged(self._db[RECORDS], doc["_id"], *events)
        return True

    def records_of(self, account_id: str, subject_key: str) -> list[Document]:
        """A person's records, oldest first."""
        return list(self._db[RECORDS].find(subject_filter(account_id, subject_key),
                                           projection={"_outbox": 0},
                                           sort=[("recorded_at", ASCENDING), ("_id", ASCENDING)]))

    def pseudonymise_records(self, account_id: str, subject_key: str, now: datetime) -> int:
        return self._db[RECORDS].update_many(
            {**subject_filter(account_id, subject_key), "pseudonymised_at": {"$exists": False}},
            {"$set": {"pseudonymised_at": now},
             "$unset": {"email": "", "name": "", "client_address": ""}}).modified_count

    def delete_pseudonymised_before(self, cutoff: datetime) -> int:
        return self._db[RECORDS].delete_many({"pseudonymised_at": {"$lt": cutoff}}).deleted_count

    def withdrawals_before(self, cutoff: datetime, limit: int = 1000) -> list[Document]:
        return list(self._db[RECORDS].find(
            {"action": {"$in": ["withdrawal", "refusal"]}, "recorded_at": {"$lt": cutoff}},
            projection={"subject_key": 1, "account_id": 1, "purpose": 1, "recorded_at": 1},
            limit=limit))

    def delete_chain_until(self, record: Document) -> int:
        """Delete one person's records of one purpose up to and including ``record``."""
        return self._db[RECORDS].delete_many({
            **subject_filter(record.get("account_id", ""), record.get("subject_key", "")),
            "purpose": record["purpose"], "recorded_at": {"$lte": record["recorded_at"]},
        }).deleted_count

    # -- privacy requests --------------------------------------------------------------
    def insert_request(self, doc: Document, events: Sequence[Envelope] = ()) -> None:
        self._db[REQUESTS].insert_one(self._outbox.stage_new(doc, *events) if events else doc)
        if events:
            self._outbox.publish_staged(self._db[REQUESTS], doc["_id"], *events)

    def request(self, request_id: str) -> Document | None:
        return self._db[REQUESTS].find_one({"_id": request_id}, projection={"_outbox": 0})

    def request_by_confirmation(self, digest: str) -> Document | None:
        return self._db[REQUESTS].find_one({"confirm_digest": digest}, projection={"_outbox": 0})

    def update_request(self, request_id: str, set_fields: Document, *, unset: Iterable[str] = (),
                       events: Sequence[Envelope] = (), only_from: Sequence[str] = ()) -> bool:
        """Change a request; with ``only_from`` only while it has one of those statuses.

        On MongoDB the condition is atomic, so a late writer cannot move a request
        back; FerretDB applies it as a read followed by a write.
        """
        query: Document = {"_id": request_id}
        if only_from:
            query["status"] = {"$in": list(only_from)}
        update: dict[str, Any] = {"$set": set_fields}
        if unset:
            update["$unset"] = {name: "" for name in unset}
        matched = self._db[REQUESTS].update_one(query, self._outbox.stage(update, *events)).matched_count
        if matched and events:
            self._outbox.publish_staged(self._db[REQUESTS], request_id, *events)
        return bool(matched)

    def requests_of(self, account_id: str, subject_key: str, limit: int = 200) -> list[Document]:
        return list(self._db[REQUESTS].find(
            {**subject_filter(account_id, subject_key), "status": {"$ne": "awaiting_confirmation"}},
            projection={"_outbox": 0}, sort=[("received_at", DESCENDING)], limit=limit))

    def requests(self, query: Document, limit: int = 500) -> list[Document]:
        return list(self._db[REQUESTS].find(query, projection={"_outbox": 0},
                                            sort=[("due_at", ASCENDING)], limit=limit))

    def count_requests(self, query: Document) -> int:
        return self._db[REQUESTS].count_documents(query)

    def forget_request_contacts(self, account_id: str, subject_key: str) -> int:
        return self._db[REQUESTS].update_many(
            {**subject_filter(account_id, subject_key), "email": {"$exists": True}},
            {"$unset": {"email": "", "name": ""}}).modified_count

    def delete_requests(self, query: Document) -> list[str]:
        ids = [doc["_id"] for doc in self._db[REQUESTS].find(query, projection={"_id": 1})]
        if ids:
            self._db[REQUESTS].delete_many({"_id": {"$in": ids}})
            self._db[RECEIPTS].delete_many({"request_id": {"$in": ids}})
        return ids

    def claim_token(self, digest: str, now: datetime, expires_at: datetime) -> bool:
        try:
            self._db[USED_TOKENS].insert_one({"_id": digest, "used_at": now,
                                              "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True

    def delete_used_tokens_before(self, now: datetime) -> int:
        return self._db[USED_TOKENS].delete_many({"expires_at": {"$lt": now}}).deleted_count

    # -- receipts ---------------------------------------------------------------------
    def insert_receipt(self, doc: Document) -> bool:
        """Store a service's receipt once; a repeat of the same outcome changes nothing."""
        try:
            self._db[RECEIPTS].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def receipts_of(self, request_ids: Sequence[str]) -> list[Document]:
        if not request_ids:
            return []
        return list(self._db[RECEIPTS].find({"request_id": {"$in": list(request_ids)}},
                                            sort=[("received_at", ASCENDING)]))


def text_id(purpose: str, version: str) -> str:
    return f"{purpose}@{version}"
