"""The only code that touches the identity service's collections.

Where two requests may race (one e-mail address, one token, one rate-limit
slot, one organisation domain), a unique key decides: an insert into a unique
key is atomic on MongoDB and on FerretDB alike, a conditional update is not
on FerretDB (docs/architecture.md). Records that lookups find by key use that
key as their string ``_id``, which FerretDB can fetch without a scan.
"""

from __future__ import annotations

import contextlib
import uuid
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

ACCOUNTS = "accounts"
TOKENS = "verification_tokens"
USED_TOKENS = "used_tokens"
SESSIONS = "sessions"
ATTEMPTS = "attempts"
ORGANISATIONS = "organisations"
ORG_DOMAINS = "organisation_domains"
CONTACTS = "contact_requests"
TOMBSTONES = "erasure_tombstones"

INDEXES = [
    IndexSpec(ACCOUNTS, (("subject_key", ASCENDING),), unique=True),
    IndexSpec(ACCOUNTS, (("portal_access.status", ASCENDING),)),
    outbox_index(ACCOUNTS),
    IndexSpec(TOKENS, (("expires_at", ASCENDING),)),
    IndexSpec(USED_TOKENS, (("expires_at", ASCENDING),)),
    IndexSpec(SESSIONS, (("account_id", ASCENDING),)),
    IndexSpec(SESSIONS, (("absolute_expires_at", ASCENDING),)),
    IndexSpec(ATTEMPTS, (("key", ASCENDING), ("at", ASCENDING))),
    IndexSpec(ATTEMPTS, (("expires_at", ASCENDING),)),
    IndexSpec(CONTACTS, (("status", ASCENDING), ("created_at", DESCENDING))),
    IndexSpec(CONTACTS, (("subject_key", ASCENDING),)),
    IndexSpec(TOKENS, (("account_id", ASCENDING),)),
    *RECEIPT_INDEXES,
]
OUTBOX_COLLECTIONS = (ACCOUNTS, RECEIPTS_SENT)


class IdentityRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._db = db
        self._outbox = outbox

    # -- accounts --------------------------------------------------------------
    def insert_account(self, doc: Document) -> None:
        try:
            self._db[ACCOUNTS].insert_one(doc)
        except DuplicateKeyError:
            raise AlreadyExists("an account with this e-mail address already exists") from None

    def account(self, account_id: str) -> Document | None:
        return self._db[ACCOUNTS].find_one({"_id": account_id})

    def account_by_subject_key(self, key: str) -> Document | None:
        return self._db[ACCOUNTS].find_one({"subject_key": key})

    def update_account(self, account_id: str, set_fields: Document,
                       unset_fields: Iterable[str] = (), events: Sequence[Envelope] = ()) -> None:
        """One atomic update of one account, carrying its events through the outbox.

        Raises AlreadyExists when the update would give the account an address
        another account holds.
        """
        update: Document = {"$set": set_fields}
        if unset_fields:
            update["$unset"] = {name: "" for name in unset_fields}
        update = self._outbox.stage(update, *events)
        try:
            self._db[ACCOUNTS].update_one({"_id": account_id}, update)
        except DuplicateKeyError:
            raise AlreadyExists("an account with this e-mail address already exists") from None
        if events:
            self._outbox.publish_staged(self._db[ACCOUNTS], account_id, *events)

    def accounts_by_portal_status(self, status: str, limit: int = 500) -> list[Document]:
        return list(self._db[ACCOUNTS].find({"portal_access.status": status},
                                            sort=[("portal_access.requested_at", ASCENDING)],
                                            limit=limit))

    # -- verification tokens ------------------------------------------------------
    def insert_token(self, doc: Document) -> None:
        self._db[TOKENS].insert_one(doc)

    def token(self, digest: str) -> Document | None:
        return self._db[TOKENS].find_one({"_id": digest})

    def claim_token(self, digest: str, now: datetime, expires_at: datetime) -> bool:
        """Mark a token used; only the first caller wins (single use under races)."""
        try:
            self._db[USED_TOKENS].insert_one({"_id": digest, "used_at": now,
                                              "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True

    def delete_tokens_of(self, account_id: str, purpose: str) -> int:
        return self._db[TOKENS].delete_many({"account_id": account_id,
                                             "purpose": purpose}).deleted_count

    # -- sessions ---------------------------------------------------------------
    def insert_session(self, doc: Document) -> None:
        self._db[SESSIONS].insert_one(doc)

    def session(self, digest: str) -> Document | None:
        return self._db[SESSIONS].find_one({"_id": digest})

    def touch_session(self, digest: str, now: datetime, idle_expires_at: datetime) -> None:
        self._db[SESSIONS].update_one({"_id": digest}, {"$set": {
            "last_seen_at": now, "idle_expires_at": idle_expires_at}})

    def delete_session(self, digest: str) -> None:
        self._db[SESSIONS].delete_one({"_id": digest})

    # -- attempts (rate limits) ----------------------------------------------------
    def add_attempt(self, key: str, at: datetime, expires_at: datetime) -> str:
        attempt_id = uuid.uuid4().hex
        self._db[ATTEMPTS].insert_one({"_id": attempt_id, "key": key, "at": at,
                                       "expires_at": expires_at})
        return attempt_id

    def delete_attempt(self, attempt_id: str) -> None:
        self._db[ATTEMPTS].delete_one({"_id": attempt_id})

    def attempt_times(self, key: str, since: datetime) -> list[datetime]:
        """Times of the attempts under ``key`` since ``since``, oldest first."""
        return [doc["at"] for doc in self._db[ATTEMPTS].find(
            {"key": key, "at": {"$gte": since}}, projection={"at": 1}, sort=[("at", ASCENDING)])]

    # -- organisations -------------------------------------------------------------
    def claim_domain(self, domain: str, organisation_id: str) -> bool:
        try:
            self._db[ORG_DOMAINS].insert_one({"_id": domain, "organisation_id": organisation_id})
        except DuplicateKeyError:
            return False
        return True

    def release_domains(self, domains: Iterable[str], organisation_id: str) -> None:
        for domain in domains:
            self._db[ORG_DOMAINS].delete_one({"_id": domain, "organisation_id": organisation_id})

    def organisation_of_domain(self, domain: str) -> Document | None:
        claim = self._db[ORG_DOMAINS].find_one({"_id": domain})
        return self.organisation(claim["organisation_id"]) if claim else None

    def insert_organisation(self, doc: Document) -> None:
        self._db[ORGANISATIONS].insert_one(doc)

    def organisation(self, organisation_id: str) -> Document | None:
        return self._db[ORGANISATIONS].find_one({"_id": organisation_id})

    def update_organisation(self, organisation_id: str, set_fields: Document) -> None:
        self._db[ORGANISATIONS].update_one({"_id": organisation_id}, {"$set": set_fields})

    def organisations(self, limit: int = 1000) -> list[Document]:
        return list(self._db[ORGANISATIONS].find({}, sort=[("name", ASCENDING)], limit=limit))

    # -- contact requests ------------------------------------------------------------
    def insert_contact(self, doc: Document) -> None:
        self._db[CONTACTS].insert_one(doc)

    def contact(self, contact_id: str) -> Document | None:
        return self._db[CONTACTS].find_one({"_id": contact_id})

    def contacts(self, status: str, limit: int = 500) -> list[Document]:
        """Staff's queue: a restricted person's requests are kept but not shown."""
        return list(self._db[CONTACTS].find({"status": status, "restricted": {"$ne": True}},
                                            sort=[("created_at", DESCENDING)], limit=limit))

    def close_contact(self, contact_id: str, now: datetime, actor_id: str) -> None:
        self._db[CONTACTS].update_one({"_id": contact_id}, {"$set": {
            "status": "closed", "closed_at": now, "closed_by": actor_id}})

    # -- erasure and restriction --------------------------------------------------------
    def erase_subject(self, account_id: str, subject_key: str, request_id: str,
                      now: datetime) -> dict[str, int]:
        """Delete the person's account, sessions, links and contact requests; keep a tombstone
        of subject_key, request id and time only. Idempotent."""
        owner = subject_filter(account_id, subject_key, id_field="_id")
        ids = [doc["_id"] for doc in self._db[ACCOUNTS].find(owner, projection={"_id": 1})]
        counts = {
            "sessions": self._db[SESSIONS].delete_many(
                {"account_id": {"$in": ids}}).deleted_count if ids else 0,
            "verification_links": self._db[TOKENS].delete_many(
                {"account_id": {"$in": ids}}).deleted_count if ids else 0,
            "contact_requests": self._db[CONTACTS].delete_many(
                {"subject_key": subject_key}).deleted_count,
            "accounts": self._db[ACCOUNTS].delete_many({"_id": {"$in": ids}}).deleted_count
            if ids else 0,
        }
        with contextlib.suppress(DuplicateKeyError):  # a repeat of the same request
            self._db[TOMBSTONES].insert_one({"_id": request_id, "subject_key": subject_key,
                                             "erased_at": now})
        return counts

    def set_restricted(self, account_id: str, subject_key: str, restricted: bool) -> dict[str, int]:
        """Contact requests first, the account last: once the account (what the profile shows)
        says restricted or lifted, the staff queue already agrees."""
        contacts = self._db[CONTACTS].update_many(
            {"subject_key": subject_key}, {"$set": {"restricted": restricted}}).modified_count
        accounts = self._db[ACCOUNTS].update_many(
            subject_filter(account_id, subject_key, id_field="_id"),
            {"$set": {"restricted": restricted}}).modified_count
        return {"accounts": accounts, "contact_requests": contacts}

    # -- sweeps --------------------------------------------------------------------------
    def sweep(self, now: datetime, contact_cutoff: datetime,
              unverified_cutoff: datetime) -> dict[str, int]:
        """Delete what has outlived its purpose; counts only, never whose."""
        expired: dict[str, Any] = {"$lt": now}
        return {
            "sessions": self._db[SESSIONS].delete_many(
                {"absolute_expires_at": expired}).deleted_count,
            "idle_sessions": self._db[SESSIONS].delete_many(
                {"idle_expires_at": expired}).deleted_count,
            "tokens": self._db[TOKENS].delete_many({"expires_at": expired}).deleted_count,
            "used_tokens": self._db[USED_TOKENS].delete_many({"expires_at": expired}).deleted_count,
            "attempts": self._db[ATTEMPTS].delete_many({"expires_at": expired}).deleted_count,
            # Never verified: the address is free again for whoever owns it.
            "unverified_accounts": self._db[ACCOUNTS].delete_many(
                {"status": "unverified", "created_at": {"$lt": unverified_cutoff}}).deleted_count,
            "contact_requests": self._db[CONTACTS].delete_many(
                {"status": "closed", "closed_at": {"$lt": contact_cutoff}}).deleted_count,
        }
