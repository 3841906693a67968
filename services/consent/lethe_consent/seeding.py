"""Consents and privacy requests written in bulk, exactly as the consent domain leaves them.

For tests and benchmarks only (off every hot path): the documents of each outcome by
``insert_many``, without the outbox's events (so no ``_events`` marks either), the mails
or any gRPC call. What is written is what the domain writes for the same outcome, in the
same collections under the same ``_id`` schemes, built with the domain's own key and
state functions, so everything reads back through :mod:`records`, :mod:`requests` and
:mod:`staff` as if it had been made normally, and later moves, sweeps and deletions find
every entry they look for:

- :func:`seed_account_consents`: the ``account`` consent that the ``account.verified``
  consumer records (``ConsentLedger.record_account_consent``): step 0 of the person's
  ``account`` log and the account's subject-key entry in ``consent_owners``;
- :func:`seed_completed_erasures`: erasure requests of logged-in people, announced and
  completed by a ``done`` receipt of every listed service in the list's order
  (``PrivacyRequests.open``, then ``receive`` for each service): the request, its
  completing step, the receipts, the owner entries, the staff-queue entries of the closed
  request and its proof-period expiry;
- :func:`seed_open_requests`: access requests of logged-in people (``PrivacyRequests.open``),
  open or taken in progress by staff (``StaffDesk.update``, with its entry in the staff
  audit trail), in the active staff queues.

Index entries are written before what they point to, as the domain does; an index entry
that exists already (the same account filed records before) is kept, as ``OwnerIndex.add``
keeps it. The people must not have what is seeded for them yet (an account consent).
Requests are written only for the ledger: what each service does for an erasure (consent's
own erasure of the person's records included) is not written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from pymongo.errors import BulkWriteError

from lethe_common import tokens
from lethe_common.audit import AUDIT, AuditRecord, AuditTrail
from lethe_common.errors import InvalidArgument
from lethe_common.mongo import Coll, Db, Document
from lethe_common.privacy import Receipt
from lethe_common.store.index import TimeQueue
from lethe_common.store.keys import key
from lethe_common.store.steps import StepLog
from lethe_common.subject import Subject
from lethe_consent.config import DEFAULT_RECEIPT_SERVICES
from lethe_consent.models import ACTIVE_STATUSES
from lethe_consent.record_store import KEYS, OWNERS, RECORDS, RecordStore
from lethe_consent.repository import EXPIRIES, TextStore
from lethe_consent.request_book import CLOSED_EXPIRIES
from lethe_consent.request_state import add_months, current, staff_entries
from lethe_consent.request_store import (
    OWNED,
    RECEIPTS,
    REQUEST_STEPS,
    REQUESTS,
    STAFF_QUEUE,
)

BATCH = 3000
DUPLICATE_KEY = 11000
# The defaults of CONSENT_REQUEST_DUE_MONTHS and CONSENT_PROOF_RETENTION_DAYS (config.py).
DUE_MONTHS = 1
PROOF_RETENTION_DAYS = 3 * 365
# Between one service's receipt and the next (BSON keeps milliseconds).
RECEIPT_GAP = timedelta(milliseconds=1)
ACCOUNT = "account"


def _insert(db: Db, collection: str, docs: list[Document], *, index: bool = False) -> None:
    """Insert ``docs`` a batch at a time. An index entry that exists already stays (the
    domain adds entries the same way); any other duplicate is an error."""
    for start in range(0, len(docs), BATCH):
        try:
            db[collection].insert_many(docs[start : start + BATCH], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not index or not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise


def _write(db: Db, writes: list[tuple[str, list[Document], bool]]) -> None:
    for collection, docs, index in writes:
        _insert(db, collection, docs, index=index)


# -- consent records -----------------------------------------------------------------------
def account_consent_docs(
    subject: Subject, at: datetime, version: str = "2026-01"
) -> dict[str, list[Document]]:
    """The documents of one account consent as ``record_account_consent`` writes it for a
    person with no account record yet, by collection: the record (step 0 of the log
    ``<subject_key>.account``, its id the ``account.verified`` event's id with ``cr_``) and
    ``<account_id>/keys/<subject_key>``."""
    record: Document = {
        # ``cr_`` and the event's id (32 hex digits, as ``Envelope`` makes them).
        "id": tokens.new_id("cr"),
        "purpose": ACCOUNT,
        "version": version,
        "channel": "double_opt_in",
        "reason": "",
        "recorded_at": at,
        **subject.fields(),
        "action": "grant",
        "client_address": "",
        "_id": StepLog.step_id(RecordStore.thing(subject.subject_key, ACCOUNT), 0),
        "n": 0,
    }
    filed = subject.account_id and subject.subject_key
    owners = [{"_id": key(subject.account_id, KEYS, subject.subject_key)}] if filed else []
    return {OWNERS: owners, RECORDS: [record]}


def seed_account_consents(
    db: Db, people: Sequence[Subject], at: datetime, version: str = "2026-01"
) -> list[str]:
    """Grant the ``account`` consent of ``version`` to each person as of ``at``; the record
    ids, in the order given. The version must be a published account
    text (the domain refuses any other)."""
    if TextStore(db).text(ACCOUNT, version) is None:
        raise InvalidArgument(f"there is no account text of version {version[:32]}")
    owners: dict[str, Document] = {}
    records: list[Document] = []
    for person in people:
        docs = account_consent_docs(person, at, version)
        owners.update((doc["_id"], doc) for doc in docs[OWNERS])
        records += docs[RECORDS]
    _write(db, [(OWNERS, list(owners.values()), True), (RECORDS, records, False)])
    return [str(record["id"]) for record in records]


# -- privacy requests ----------------------------------------------------------------------
def _request_doc(kind: str, status: str, subject: Subject, at: datetime, services: Sequence[str]) -> Document:
    """A logged-in person's request as ``PrivacyRequests.open`` writes it, in the status
    it starts in."""
    return {
        "_id": tokens.new_id("pr"),
        "kind": kind,
        "status": status,
        "received_at": at,
        "due_at": add_months(at, DUE_MONTHS),
        **subject.fields(),
        "purpose": "",
        "reason": "",
        "decision": "",
        "follow_digest": tokens.digest(tokens.new_token()),
        "created_at": at,
        "services": list(services),
    }


def _step(request_id: str, number: int, fields: Document) -> Document:
    return {**fields, "_id": StepLog.step_id(request_id, number), "n": number}


def _owner_entries(doc: Document) -> list[Document]:
    return [{"_id": key(owner, OWNED, doc["_id"])} for owner in sorted(Subject.from_doc(doc).owners())]


def _staff_entries(state: Document, at: datetime) -> list[Document]:
    """The staff-queue entries of a request in ``state`` (``RequestBook._index``)."""
    return [
        {
            "_id": TimeQueue.entry_id(queue, due, state["_id"]),
            "item": state["_id"],
            "at": due,
            "created_at": at,
        }
        for queue, due in staff_entries(state)
    ]


class _Collected:
    """Stands in for a collection: keeps what is inserted, to be written in bulk later."""

    def __init__(self) -> None:
        self.docs: list[Document] = []

    def insert_one(self, doc: Document) -> None:
        self.docs.append(doc)


def _audit_docs(records: list[tuple[AuditRecord, datetime]]) -> list[Document]:
    """The staff audit trail's documents of ``records``, as ``AuditTrail.record`` makes them."""
    collected = _Collected()
    trail = AuditTrail(cast(Coll, collected))
    for record, at in records:
        trail.record(record, at)
    return collected.docs


def _seed_requests(
    db: Db,
    docs: list[Document],
    steps: dict[str, list[Document]],
    receipts: list[Document],
    expiries: list[Document],
    at: datetime,
) -> None:
    """Entries first, then the requests, their receipts and steps (as the domain orders them)."""
    owners = [entry for doc in docs for entry in _owner_entries(doc)]
    staff = [entry for doc in docs for entry in _staff_entries(current(doc, steps.get(doc["_id"], [])), at)]
    _write(
        db,
        [
            (OWNERS, owners, True),
            (STAFF_QUEUE, staff, False),
            (EXPIRIES, expiries, False),
            (REQUESTS, docs, False),
            (RECEIPTS, receipts, False),
            (REQUEST_STEPS, [s for doc in docs for s in steps.get(doc["_id"], [])], False),
        ],
    )


def completed_erasure_docs(
    subject: Subject,
    at: datetime,
    *,
    services: Sequence[str] = DEFAULT_RECEIPT_SERVICES,
    proof_retention_days: int = PROOF_RETENTION_DAYS,
) -> tuple[Document, list[Document], list[Document], Document]:
    """One erasure request opened and announced at ``at``: the request (written in
    progress), every service's ``done`` receipt (a millisecond apart, in the order of
    ``services``, so they are listed in that order), its completing step (by the last
    service, at its receipt) and the expiry of the closed request after the proof period."""
    if not services:
        raise ValueError("an erasure needs at least one service to answer it")
    doc = _request_doc("erasure", "in_progress", subject, at, services)
    request_id = doc["_id"]
    answered = [at + RECEIPT_GAP * (number + 1) for number in range(len(services))]
    receipts = [
        {
            "_id": f"{request_id}/{service}/done",
            "request_id": request_id,
            "service": service,
            "received_at": received,
            **{
                k: v
                for k, v in Receipt(request_id, "erasure").payload().items()
                if k not in ("request_id", "kind")
            },
        }
        for service, received in zip(services, answered, strict=True)
    ]
    completed = answered[-1]
    step = _step(
        request_id, 0, {"status": "complete", "by": services[-1], "at": completed, "completed_at": completed}
    )
    closed = completed + timedelta(days=proof_retention_days)
    expiry = {
        "_id": TimeQueue.entry_id(CLOSED_EXPIRIES, closed, request_id),
        "item": request_id,
        "at": closed,
    }
    return doc, [step], receipts, expiry


def seed_completed_erasures(
    db: Db,
    requests: Sequence[Subject],
    at: datetime,
    *,
    services: Sequence[str] = DEFAULT_RECEIPT_SERVICES,
    proof_retention_days: int = PROOF_RETENTION_DAYS,
) -> list[str]:
    """Complete erasure requests of each person, received at ``at`` and answered right
    after by every one of ``services`` (``CONSENT_RECEIPT_SERVICES``); the request ids, in
    the order given. They are in the staff lists all, complete and erasure."""
    docs: list[Document] = []
    steps: dict[str, list[Document]] = {}
    receipts: list[Document] = []
    expiries: list[Document] = []
    for person in requests:
        doc, its_steps, its_receipts, expiry = completed_erasure_docs(
            person, at, services=services, proof_retention_days=proof_retention_days
        )
        docs.append(doc)
        steps[doc["_id"]] = its_steps
        receipts += its_receipts
        expiries.append(expiry)
    _seed_requests(db, docs, steps, receipts, expiries, at)
    return [str(doc["_id"]) for doc in docs]


def seed_open_requests(
    db: Db, requests: Sequence[Subject], at: datetime, *, status: str = "open", actor: str = ""
) -> list[str]:
    """Access requests of each person, received at ``at`` and due a month
    later; the request ids, in the order given. ``status`` ``in_progress`` is the step staff
    append taking a request on (``actor``, the staff member's account id, is recorded)."""
    if status not in ACTIVE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ACTIVE_STATUSES)}")
    if status == "in_progress" and not actor:
        raise ValueError("a request in progress was moved there by staff: name the actor")
    docs: list[Document] = []
    steps: dict[str, list[Document]] = {}
    moves: list[tuple[AuditRecord, datetime]] = []
    for person in requests:
        doc = _request_doc("access", "open", person, at, ())
        docs.append(doc)
        if status == "in_progress":
            steps[doc["_id"]] = [
                _step(doc["_id"], 0, {"status": status, "decided_by": actor, "by": actor, "at": at})
            ]
            moves.append(
                (
                    AuditRecord(
                        actor,
                        "privacy_request.updated",
                        target=str(doc["_id"]),
                        subject_key=person.subject_key,
                        detail=status,
                    ),
                    at,
                )
            )
    _seed_requests(db, docs, steps, [], [], at)
    _insert(db, AUDIT, _audit_docs(moves))  # after the move, as StaffDesk.update records it
    return [str(doc["_id"]) for doc in docs]
