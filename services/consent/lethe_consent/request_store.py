"""The privacy requests and what finds them: part of the repository.

- ``privacy_requests/<request id>``: what was asked, by whom, and the state it started
  in; written once, never changed.
- ``privacy_request_steps/<request id>/<n>``: every later move (confirmation, each
  receipt that moves it on, staff updates and decisions, expiry); the current state is
  the document with its steps applied in order (:mod:`lethe_common.store.steps`).
- ``privacy_receipts/<request id>/<service>/<outcome>``: each service's receipt once.
- ``privacy_confirmations/<link digest>``: which request a mailed link confirms.
- ``privacy_contacts/<request id>``: the address of an unconfirmed request, until it is
  confirmed, erased or swept.
- ``privacy_request_attempts/<subject_key>/<time>/<request id>``: retired (the mail limit
  of the earlier layout); the retention sweep deletes what an old database still holds as
  its expiries fall due. Confirmation mails are now counted in ``send_limits``
  (:mod:`lethe_common.send_limits`).
- ``consent_owners/<subject_key or account id>/requests/<request id>``: a person's requests.
- ``privacy_staff_queue/<queue>/<due>/<request id>``: staff lists, soonest due first.
- ``privacy_overdue_alerts/<request id>/<due>``: a missed due date was alerted; the unique
  insert makes it once, however many sweeps and worker replicas find it.
- ``privacy_downloads/<request id>``: the digest of an access request's mailed download
  link, its subject key and its expiry, until it is used, expires or the request goes.
- ``privacy_verifications/<request id>/<time>``: each run of the proof of erasure; the
  last one is the request's result.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, Document
from lethe_common.store.index import OwnerIndex, TimeQueue
from lethe_common.store.keys import key, timekey, under
from lethe_common.store.paging import scan
from lethe_common.store.steps import StepLog
from lethe_common.subject import Subject
from lethe_consent.record_store import OWNERS

REQUESTS = "privacy_requests"
REQUEST_STEPS = "privacy_request_steps"
RECEIPTS = "privacy_receipts"
CONFIRMATIONS = "privacy_confirmations"
CONTACTS = "privacy_contacts"
ATTEMPTS = "privacy_request_attempts"
STAFF_QUEUE = "privacy_staff_queue"
OVERDUE_ALERTS = "privacy_overdue_alerts"
VERIFICATIONS = "privacy_verifications"
DOWNLOADS = "privacy_downloads"
OWNED = "requests"


class RequestStore:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self._outbox = outbox
        self._requests = db[REQUESTS]
        self._steps = db[REQUEST_STEPS]
        self.log = StepLog(self._steps, outbox)
        self._receipts = db[RECEIPTS]
        self._confirmations = db[CONFIRMATIONS]
        self._contacts = db[CONTACTS]
        self._attempts = db[ATTEMPTS]
        self._owners = OwnerIndex(db[OWNERS])
        self._staff = db[STAFF_QUEUE]
        self.staff = TimeQueue(self._staff)
        self._alerts = db[OVERDUE_ALERTS]
        self._verifications = db[VERIFICATIONS]
        self._downloads = db[DOWNLOADS]

    # -- the request document and its steps ------------------------------------------------
    def insert(self, doc: Document, events: list[Envelope]) -> bool:
        """Write a new request (with the events announcing it); False if its id exists."""
        try:
            if events:
                self._outbox.insert(self._requests, doc, *events)
            else:
                self._requests.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def get(self, request_id: str) -> Document | None:
        return self._requests.find_one({"_id": request_id})

    def get_many(self, request_ids: list[str]) -> list[Document]:
        if not request_ids:
            return []
        return list(self._requests.find({"_id": {"$in": sorted(set(request_ids))}}))

    def steps(self, request_id: str) -> list[Document]:
        return self.log.steps(request_id)

    def delete(self, request_id: str) -> bool:
        """Delete the request document first: whatever points to it is then stale."""
        return bool(self._requests.delete_one({"_id": request_id}).deleted_count)

    def delete_steps_and_receipts(self, request_id: str, keep_last: bool = False) -> None:
        """Delete a request's receipts and steps; with ``keep_last`` its last step stays
        (it says the request ended, so a writer still deciding on it appends nothing)."""
        steps = under(request_id)
        if keep_last:
            last = self._steps.find_one({"_id": steps}, sort=[("_id", DESCENDING)], projection={"_id": 1})
            if last is not None:
                steps = {**steps, "$lt": last["_id"]}
        self._steps.delete_many({"_id": steps})
        self._receipts.delete_many({"_id": under(request_id)})
        self._verifications.delete_many({"_id": under(request_id)})
        self._downloads.delete_one({"_id": request_id})

    # -- receipts -----------------------------------------------------------------------------
    def insert_receipt(self, doc: Document) -> bool:
        """Store a service's receipt once; a repeat of the same outcome changes nothing."""
        try:
            self._receipts.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def receipts_of(self, request_id: str) -> list[Document]:
        return list(scan(self._receipts, under(request_id)))

    # -- the mailed link of an unconfirmed request, and its address --------------------------
    def add_confirmation(self, digest: str, request_id: str, expires_at: datetime) -> None:
        self._confirmations.insert_one({"_id": digest, "request_id": request_id, "expires_at": expires_at})

    def confirmation(self, digest: str) -> Document | None:
        return self._confirmations.find_one({"_id": digest})

    def delete_confirmation(self, digest: str) -> None:
        if digest:
            self._confirmations.delete_one({"_id": digest})

    def add_contact(self, request_id: str, email: str, now: datetime) -> None:
        self._contacts.insert_one({"_id": request_id, "email": email, "created_at": now})

    def contact(self, request_id: str) -> Document | None:
        return self._contacts.find_one({"_id": request_id})

    def delete_contact(self, request_id: str) -> bool:
        return bool(self._contacts.delete_one({"_id": request_id}).deleted_count)

    # -- the retired mail limit of the earlier layout --------------------------------------------
    def delete_attempt(self, attempt_id: str) -> None:
        self._attempts.delete_one({"_id": attempt_id})

    # -- whose requests ------------------------------------------------------------------------
    def add_owners(self, owners: list[str], request_id: str) -> None:
        self._owners.add_many(owners, OWNED, request_id)

    def owned(self, owner: str) -> list[str]:
        return self._owners.items(owner, OWNED) if owner else []

    def owned_by(self, subject: Subject) -> list[str]:
        """The ids of the person's requests, by subject key and by account id, in order."""
        return sorted({request_id for owner in subject.owners() for request_id in self.owned(owner)})

    def remove_owner_entries(self, owners: list[str], request_id: str) -> None:
        for owner in {o for o in owners if o}:
            self._owners.remove(owner, OWNED, request_id)

    # -- staff queue entries -------------------------------------------------------------------
    def add_staff_entries(self, entries: list[tuple[str, datetime]], request_id: str, now: datetime) -> None:
        for queue, due in entries:
            self.staff.schedule(queue, due, request_id, created_at=now)

    def remove_staff_entries(self, entry_ids: list[str]) -> None:
        """Take entries out of the staff queues (one ``$in`` of ``_id`` keys)."""
        if entry_ids:
            self._staff.delete_many({"_id": {"$in": sorted(set(entry_ids))}})

    # -- overdue alerts ------------------------------------------------------------------------
    def record_alert(self, request_id: str, due: datetime, now: datetime) -> bool:
        """Note that the request missed this due date; True for exactly one caller."""
        try:
            self._alerts.insert_one({"_id": key(request_id, timekey(due)), "at": now})
        except DuplicateKeyError:
            return False
        return True

    def delete_alerts(self, request_id: str) -> None:
        self._alerts.delete_many({"_id": under(request_id)})

    # -- the proof of erasure -----------------------------------------------------------------
    def add_verification(self, request_id: str, at: datetime, result: Document) -> None:
        with contextlib.suppress(DuplicateKeyError):  # the same run stored twice is one
            self._verifications.insert_one(
                {"_id": key(request_id, timekey(at)), "request_id": request_id, **result}
            )

    def last_verification(self, request_id: str) -> Document | None:
        return self._verifications.find_one({"_id": under(request_id)}, sort=[("_id", DESCENDING)])

    # -- an access request's download link --------------------------------------------------
    def add_download(self, request_id: str, digest: str, subject_key: str, expires_at: datetime) -> bool:
        """Store the link of a request once; False when it has one."""
        try:
            self._downloads.insert_one(
                {"_id": request_id, "digest": digest, "subject_key": subject_key, "expires_at": expires_at}
            )
        except DuplicateKeyError:
            return False
        return True

    def download(self, request_id: str) -> Document | None:
        return self._downloads.find_one({"_id": request_id})

    def delete_download(self, request_id: str) -> bool:
        """Take the link out; True for exactly one of several callers that race."""
        return bool(self._downloads.delete_one({"_id": request_id}).deleted_count)
