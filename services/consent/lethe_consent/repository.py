"""The only code that touches the consent service's collections.

Every read on a hot path is ``_id``-led: a key, a ``$in`` of keys, or one key range
(docs/architecture.md, "Every query" lists each query). No correctness rests on an atomic update
of one document: what several writers move is a step log whose steps are unique
inserts (purposes, consent records, privacy requests), claims are unique inserts,
index entries are inserts and deletes. The one document that is ever updated is a
consent record at its erasure, and every writer of that change writes the same.

The parts: :class:`TextStore` here, :class:`~lethe_consent.record_store.RecordStore`
and :class:`~lethe_consent.request_store.RequestStore`; expiries of every kind are one
:class:`~lethe_common.store.index.TimeQueue` (``consent_expiries/<queue>/<time>/<item>``).
"""

from __future__ import annotations

from collections.abc import Iterable

from pymongo.errors import DuplicateKeyError

from lethe_common.audit import AUDIT, AuditTrail
from lethe_common.events.outbox import Outbox
from lethe_common.mongo import Db, Document, RetiredIndex
from lethe_common.privacy import RECEIPT_INDEXES
from lethe_common.send_limits import SEND_LIMITS
from lethe_common.store.index import TimeQueue
from lethe_common.store.paging import scan
from lethe_common.store.steps import StepLog
from lethe_consent.record_store import RECORDS, RecordStore
from lethe_consent.request_store import RECEIPTS, REQUESTS, RequestStore

PURPOSES = "consent_purposes"
TEXTS = "consent_texts"
EXPIRIES = "consent_expiries"
OLD_USED_TOKENS = "used_tokens"

# Every key is an ``_id`` now; what the previous layout indexed goes.
INDEXES = [
    RetiredIndex(TEXTS, "purpose_1_published_at_-1"),
    RetiredIndex(RECORDS, "subject_key_1_recorded_at_1"),
    RetiredIndex(RECORDS, "account_id_1_recorded_at_1"),
    RetiredIndex(RECORDS, "pseudonymised_at_1"),
    RetiredIndex(RECORDS, "action_1_recorded_at_1"),
    RetiredIndex(RECORDS, "_outbox_due_1"),
    RetiredIndex(REQUESTS, "status_1_due_at_1"),
    RetiredIndex(REQUESTS, "subject_key_1_received_at_-1"),
    RetiredIndex(REQUESTS, "account_id_1"),
    RetiredIndex(REQUESTS, "confirm_digest_1"),
    RetiredIndex(REQUESTS, "_outbox_due_1"),
    RetiredIndex(RECEIPTS, "request_id_1"),
    RetiredIndex(OLD_USED_TOKENS, "expires_at_1"),
    *RECEIPT_INDEXES,
]


def text_id(purpose: str, version: str) -> str:
    return f"{purpose}@{version}"


class TextStore:
    """Texts ``<purpose>@<version>`` (inserted once) and each purpose's publication log
    ``<purpose>/<n>``: the first step says what the purpose is, the last which text is
    current, so two staff publishing at once both land, in one order."""

    def __init__(self, db: Db) -> None:
        self._texts = db[TEXTS]
        self._purposes = db[PURPOSES]
        self.log = StepLog(self._purposes)

    def purposes(self) -> dict[str, list[Document]]:
        """Every purpose's steps, in key order (one range over a small collection)."""
        found: dict[str, list[Document]] = {}
        for step in scan(self._purposes, {"$gt": ""}):
            found.setdefault(str(step["_id"]).split("/", 1)[0], []).append(step)
        return found

    def purpose(self, purpose: str) -> list[Document]:
        return self.log.steps(purpose)

    def insert_text(self, doc: Document) -> bool:
        """Publish a text; False when this version exists (it never changes)."""
        try:
            self._texts.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def text(self, purpose: str, version: str) -> Document | None:
        return self._texts.find_one({"_id": text_id(purpose, version)})

    def texts(self, keys: Iterable[tuple[str, str]]) -> list[Document]:
        ids = sorted({text_id(purpose, version) for purpose, version in keys})
        return list(self._texts.find({"_id": {"$in": ids}})) if ids else []


class ConsentRepository:
    def __init__(self, db: Db, outbox: Outbox) -> None:
        self.texts = TextStore(db)
        self.records = RecordStore(db, outbox)
        self.requests = RequestStore(db, outbox)
        self.expiries = TimeQueue(db[EXPIRIES])
        # Counted confirmation mails, per address and per client (lethe_common.send_limits).
        self.send_limits = db[SEND_LIMITS]
        # What staff did (lethe_common.audit): requests moved, objections decided, proofs
        # of erasure run, texts published.
        self.audit = AuditTrail(db[AUDIT])
