"""What the privacy-request ledger forgets, and when: a sweep's part of the ledger.

- unconfirmed requests whose mailed link expired (with their address, link and attempts);
- closed requests once the proof period after their closing has passed, and a day later the
  last step each leaves behind (:meth:`RequestBook.delete`).
"""

from __future__ import annotations

from datetime import datetime

from lethe_common.mongo import Document
from lethe_common.store.index import TimeQueue
from lethe_common.store.steps import Step
from lethe_consent.expiries import due_entries
from lethe_consent.models import AWAITING, EXPIRED
from lethe_consent.request_book import CLOSED_EXPIRIES, TOMBSTONES, RequestBook
from lethe_consent.request_store import RequestStore

CONFIRM_EXPIRIES = "confirm"
ATTEMPT_EXPIRIES = "attempts"


class RequestRetention:
    def __init__(self, store: RequestStore, book: RequestBook, expiries: TimeQueue) -> None:
        self._store = store
        self.book = book
        self._expiries = expiries

    def forget_expired_confirmations(self, now: datetime) -> int:
        """Unconfirmed requests hold an address; once their link expired they go. The
        expiry is a step, so it and a last-second confirmation cannot both happen."""
        expired = 0
        for entry in due_entries(self._expiries, CONFIRM_EXPIRIES, now):
            request_id = entry["item"]
            doc = self._store.get(request_id)
            if doc is not None and self._expire(doc, now):
                self.book.delete(doc, now)
                expired += 1
            self._store.delete_confirmation(entry.get("digest", ""))
            self._store.delete_contact(request_id)
            if doc is None:
                self._store.remove_owner_entries([entry.get("subject_key", "")], request_id)
            self._expiries.remove(entry["_id"])
        for entry in due_entries(self._expiries, ATTEMPT_EXPIRIES, now):
            self._store.delete_attempt(entry["attempt"])
            self._expiries.remove(entry["_id"])
        return expired

    def _expire(self, doc: Document, now: datetime) -> bool:
        def decide(state: Document) -> Step | None:
            if state["status"] != AWAITING:
                return None
            return Step({"status": EXPIRED, "by": "sweep", "at": now})

        return bool(self.book.move(doc, decide).state["status"] == EXPIRED)

    def forget_closed(self, now: datetime) -> int:
        """Closed requests go once the proof period after their closing has passed."""
        deleted = 0
        for entry in due_entries(self._expiries, CLOSED_EXPIRIES, now):
            doc = self._store.get(entry["item"])
            if doc is not None and self.book.closed_long_enough(self.book.state_of(doc), now):
                self.book.delete(doc, now)
                deleted += 1
            self._expiries.remove(entry["_id"])
        for entry in due_entries(self._expiries, TOMBSTONES, now):
            self.book.forget_tombstone(entry["item"])
            self._expiries.remove(entry["_id"])
        return deleted
