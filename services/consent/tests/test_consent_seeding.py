"""The bulk writers of benchmarks and tests write what the domain writes for the same outcome.

Against the real store and broker: each test seeds a few, makes one the normal way through
the domain, and compares every document about them (ignoring ids and times) and what the
domain and the gRPC servicer read back. Then the domain carries on from the seeded ones
(a repeated event, a staff move, the retention sweep) and finds everything where it looks.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from pymongo.database import Database

from lethe.consent.v1 import consent_pb2 as pb
from lethe_common.errors import InvalidArgument, NotFound
from lethe_common.events.outbox import EVENTS_FIELD, Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import Receipt, ReceiptSender
from lethe_common.staff import PRIVACY, AssertionVerifier
from lethe_common.subject import Subject
from lethe_common.trace_search import ServiceTraceSearch
from lethe_consent.config import DEFAULT_RECEIPT_SERVICES, load_config
from lethe_consent.erasure import ConsentErasure
from lethe_consent.mailer import Mailer
from lethe_consent.records import ConsentLedger, Person
from lethe_consent.repository import ConsentRepository
from lethe_consent.request_state import add_months, stored_time
from lethe_consent.requests import PrivacyRequests
from lethe_consent.seeding import (
    PROOF_RETENTION_DAYS,
    seed_account_consents,
    seed_completed_erasures,
    seed_open_requests,
)
from lethe_consent.servicer import ConsentServicer
from lethe_consent.staff import StaffDesk
from lethe_consent.texts import ConsentTexts
from lethe_consent.trace_clients import local_search
from lethe_consent.verification import ErasureVerifier
from lethe_testing.staff import staff_metadata

STAFF = "acc_" + "5" * 32
# Collections of the outbox: the domain's writes announce events there, the seeding's do not.
OUTBOX_COLLECTIONS = ("outbox", "outbox_leases", "outbox_poison")
HEX_ID = re.compile(r"\b(cr|pr|acc|aud)_[0-9a-f]{32}\b")
# A time in a key (``timekey``) or on the wire (ISO 8601).
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
HEX_64 = re.compile(r"\b[0-9a-f]{64}\b")


def staff_call() -> SimpleNamespace:
    """The gRPC context of a privacy staff member's call, as the gateway makes it."""
    metadata = staff_metadata(STAFF, PRIVACY)
    return SimpleNamespace(invocation_metadata=lambda: metadata)


@dataclasses.dataclass
class Consent:
    ledger: ConsentLedger
    requests: PrivacyRequests
    staff: StaffDesk
    servicer: ConsentServicer


@pytest.fixture
def consent(test_db: Database, amqp_url: str) -> Iterator[Consent]:
    publisher = EventPublisher(amqp_url)
    # The defaults the seeding assumes, whatever the environment of the test run says.
    config = dataclasses.replace(
        load_config(),
        receipt_services=DEFAULT_RECEIPT_SERVICES,
        request_due_months=1,
        proof_retention_days=PROOF_RETENTION_DAYS,
    )
    outbox = Outbox(publisher, test_db, 1.0)
    repo = ConsentRepository(test_db, outbox)
    texts = ConsentTexts(repo)
    texts.seed()
    ledger = ConsentLedger(repo, texts, config.proof_retention_days)
    requests = PrivacyRequests(repo, ledger, texts, Mailer(config.common, config.public_url), config)
    staff = StaffDesk(repo, requests.book, ledger, texts)
    erasure = ConsentErasure(
        repo, ledger, ReceiptSender(test_db, outbox, "consent"), config.proof_retention_days
    )
    pepper = config.common.subject_pepper
    traces = ServiceTraceSearch(test_db, config.common.amqp_url, [], pepper)
    verifier = ErasureVerifier(
        repo.requests, requests.book, repo.expiries, {"consent": local_search("consent", traces)}, pepper
    )
    servicer = ConsentServicer(
        pepper,
        texts,
        ledger,
        requests,
        staff,
        erasure,
        verifier=verifier,
        traces=traces,
        assertions=AssertionVerifier(config.common.staff_verify_key),
    )
    yield Consent(ledger, requests, staff, servicer)
    publisher.close()


def someone() -> Person:
    return Person(
        Subject(account_id=f"acc_{uuid.uuid4().hex}", subject_key=uuid.uuid4().hex * 2),
        email=f"{uuid.uuid4().hex}@customer.example",
        name="Someone",
    )


def subjects(people: list[Person]) -> list[Subject]:
    return [p.subject for p in people]


def shape(value: Any, names: dict[str, str]) -> Any:
    """``value`` with the given ids named by their role, other ids, digests and times
    replaced by placeholders, and the outbox's event marks left out."""
    if isinstance(value, dict):
        return {k: shape(v, names) for k, v in value.items() if k != EVENTS_FIELD}
    if isinstance(value, list | tuple):
        return [shape(v, names) for v in value]
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, str):
        for real, role in names.items():
            value = value.replace(real, role)
        return HEX_64.sub("<hex>", TIME.sub("<time>", HEX_ID.sub(r"<\1>", value)))
    return value


def names_of(person: Person, request_id: str = "") -> dict[str, str]:
    names = {person.subject.account_id: "<account>", person.subject.subject_key: "<subject>"}
    return {**names, request_id: "<request>"} if request_id else names


def docs_about(db: Database, names: dict[str, str]) -> dict[str, list[Any]]:
    """Every document of every collection (but the outbox's) that mentions one of the ids,
    shaped, by collection."""
    found: dict[str, list[Any]] = {}
    for collection in sorted(db.list_collection_names()):
        if collection in OUTBOX_COLLECTIONS:
            continue
        docs = [
            shape(doc, names) for doc in db[collection].find({}) if any(real in repr(doc) for real in names)
        ]
        if docs:
            found[collection] = sorted(docs, key=repr)
    return found


def listed(consent: Consent, **filters: Any) -> list[pb.PrivacyRequest]:
    """Every page of the staff list, through the gRPC servicer, two requests a page."""
    found: list[pb.PrivacyRequest] = []
    token = ""
    while True:
        page = consent.servicer.ListPrivacyRequests(
            pb.AdminListRequest(page_size=2, page_token=token, **filters), staff_call()
        )
        found += page.requests
        token = page.next_page_token
        if not token:
            return found


def message_shape(message: pb.PrivacyRequest, names: dict[str, str]) -> Any:
    return shape(MessageToDict(message, preserving_proto_field_name=True), names)


# -- account consents --------------------------------------------------------------------------
def test_seeded_account_consents_read_back_as_the_consumer_records_them(
    consent: Consent, test_db: Database
) -> None:
    at = datetime.now(UTC) - timedelta(days=2)
    people = [someone() for _ in range(3)]
    record_ids = seed_account_consents(test_db, subjects(people), at)
    # What the account.verified consumer does: the event names account id and subject key.
    made = someone()
    consent.ledger.record_account_consent(made.subject, "2026-01", uuid.uuid4().hex)

    expected_docs = docs_about(test_db, names_of(made))
    assert set(expected_docs) == {"consent_owners", "consent_records"}
    expected = shape(dataclasses.asdict(consent.ledger.overview(made.subject)), names_of(made))
    assert expected["history"][0]["text"]["version"] == "2026-01"
    for person, record_id in zip(people, record_ids, strict=True):
        assert docs_about(test_db, names_of(person)) == expected_docs
        overview = consent.ledger.overview(person.subject)
        assert shape(dataclasses.asdict(overview), names_of(person)) == expected
        assert [(r.id, r.recorded_at) for r in overview.history] == [(record_id, stored_time(at))]
        # The same event again finds the record and adds nothing.
        again = consent.ledger.record_account_consent(person.subject, "2026-01", record_id[3:])
        assert again.id == record_id
    assert test_db.consent_records.count_documents({}) == 4

    # The ledger carries on from a seeded record.
    consent.ledger.withdraw(people[0], "account", "web_form")
    assert [r.action for r in consent.ledger.overview(people[0].subject).history] == ["withdrawal", "grant"]


def test_an_account_consent_is_seeded_beside_earlier_records_and_only_for_a_published_text(
    consent: Consent, test_db: Database
) -> None:
    at = datetime.now(UTC)
    early = someone()
    consent.ledger.grant(early, "newsletter", "2026-01", "web_form")  # files the account's key
    # As tools/seed.py passes them: (account id, subject key) pairs.
    seed_account_consents(test_db, [early.subject], at)
    states = {s.purpose: s.state for s in consent.ledger.overview(early.subject).states}
    assert states["account"] == states["newsletter"] == "granted"
    assert test_db.consent_owners.count_documents({}) == 1
    with pytest.raises(InvalidArgument):
        seed_account_consents(test_db, subjects([someone()]), at, version="1999-01")


# -- completed erasures ------------------------------------------------------------------------
def test_seeded_erasures_read_back_as_requests_every_service_completed(
    consent: Consent, test_db: Database
) -> None:
    at = datetime.now(UTC) - timedelta(days=3)
    people = [someone() for _ in range(3)]
    ids = seed_completed_erasures(test_db, subjects(people), at)
    made = someone()
    opened = consent.requests.open(made, "erasure", authenticated=True)
    assert opened.request is not None
    made_id = opened.request.id
    for service in DEFAULT_RECEIPT_SERVICES:
        consent.requests.receive(service, Receipt(made_id, "erasure"))

    made_names = names_of(made, made_id)
    expected_docs = docs_about(test_db, made_names)
    assert set(expected_docs) == {
        "consent_expiries",
        "consent_owners",
        "privacy_receipts",
        "privacy_request_steps",
        "privacy_requests",
        "privacy_staff_queue",
    }
    expected = shape(dataclasses.asdict(consent.requests.view(made_id)), made_names)
    assert expected["status"] == "complete" and len(expected["receipts"]) == len(DEFAULT_RECEIPT_SERVICES)
    for person, request_id in zip(people, ids, strict=True):
        names = names_of(person, request_id)
        assert docs_about(test_db, names) == expected_docs
        view = consent.requests.view(request_id)
        assert shape(dataclasses.asdict(view), names) == expected
        assert (view.received_at, view.due_at) == (stored_time(at), stored_time(add_months(at, 1)))
        assert view.completed_at == view.receipts[-1].received_at > view.receipts[0].received_at
        assert [r.id for r in consent.requests.own(person.subject)] == [request_id]

    # The staff list "all requests", page by page through the servicer: soonest due first.
    everything = listed(consent)
    assert [m.id for m in everything] == [*sorted(ids), made_id]
    by_id = {m.id: m for m in everything}
    for person, request_id in zip(people, ids, strict=True):
        assert message_shape(by_id[request_id], names_of(person, request_id)) == message_shape(
            by_id[made_id], made_names
        )
    assert [m.id for m in listed(consent, status="complete", kind="erasure")] == [*sorted(ids), made_id]
    assert listed(consent, status="in_progress") == []
    assert listed(consent, overdue_only=True) == []
    overdue, pending = consent.staff.deadline_counts()
    assert sum(overdue.values()) == sum(pending.values()) == 0

    # Once the proof period has passed, the sweep deletes the seeded requests and every entry.
    assert consent.requests.retention.forget_closed(at + timedelta(days=PROOF_RETENTION_DAYS, minutes=1)) == 3
    for request_id in ids:
        with pytest.raises(NotFound):
            consent.requests.view(request_id)
    left = {
        name: test_db[name].count_documents({"_id": {"$regex": "|".join(ids)}})
        for name in (
            "consent_owners",
            "privacy_staff_queue",
            "privacy_receipts",
            "privacy_request_steps",
            "privacy_requests",
        )
    }
    assert left == {
        "consent_owners": 0,
        "privacy_staff_queue": 0,
        "privacy_receipts": 0,
        "privacy_request_steps": 3,
        "privacy_requests": 0,
    }  # the tombstone steps
    assert [m.id for m in listed(consent)] == [made_id]


# -- open access requests -----------------------------------------------------------------------
def test_seeded_access_requests_are_in_the_active_staff_lists_as_opened_ones_are(
    consent: Consent, test_db: Database
) -> None:
    at = datetime.now(UTC) - timedelta(days=1)
    waiting, taken = [someone() for _ in range(2)], [someone()]
    open_ids = seed_open_requests(test_db, subjects(waiting), at)
    taken_ids = seed_open_requests(test_db, subjects(taken), at, status="in_progress", actor=STAFF)
    made_open, made_taken = someone(), someone()
    made_ids = []
    for person in (made_open, made_taken):
        opened = consent.requests.open(person, "access", authenticated=True)
        assert opened.request is not None
        made_ids.append(opened.request.id)
    consent.staff.update(STAFF, made_ids[1], "in_progress")

    for made, made_id, seeded, ids, status in (
        (made_open, made_ids[0], waiting, open_ids, "open"),
        (made_taken, made_ids[1], taken, taken_ids, "in_progress"),
    ):
        made_names = names_of(made, made_id)
        expected_docs = docs_about(test_db, made_names)
        expected = shape(dataclasses.asdict(consent.requests.view(made_id)), made_names)
        assert expected["status"] == status
        for person, request_id in zip(seeded, ids, strict=True):
            names = names_of(person, request_id)
            assert docs_about(test_db, names) == expected_docs
            view = consent.requests.view(request_id)
            assert shape(dataclasses.asdict(view), names) == expected
            assert view.due_at == stored_time(add_months(at, 1))
        assert [m.id for m in listed(consent, status=status, kind="access")] == [*sorted(ids), made_id]

    seeded_ids = [*open_ids, *taken_ids]
    assert {m.id for m in listed(consent)} == {*seeded_ids, *made_ids}
    later = at + timedelta(days=40)
    active, _ = consent.staff.listing(overdue_only=True, now=later)
    # The seeded ones share one due date (then by id); the others were opened later.
    assert [v.id for v in active][:3] == sorted(seeded_ids)
    assert {v.id for v in active[3:]} == set(made_ids) and len(active) == 5
    overdue, pending = consent.staff.deadline_counts(later)
    assert overdue["access"] == 5
    assert (pending[("access", "open")], pending[("access", "in_progress")]) == (3, 2)

    # Staff move a seeded request on: it leaves the active queues.
    done = consent.staff.update(STAFF, open_ids[0], "complete")
    assert done.status == "complete"
    queues = sorted(
        str(e["_id"]).split("/", 1)[0] for e in test_db.privacy_staff_queue.find({"item": open_ids[0]})
    )
    assert queues == ["all", "kind.access", "status.complete", "status.complete.access"]
    active, _ = consent.staff.listing(overdue_only=True, now=later)
    assert open_ids[0] not in {v.id for v in active}


def test_only_active_access_requests_are_seeded(test_db: Database) -> None:
    at = datetime.now(UTC)
    with pytest.raises(ValueError, match="status"):
        seed_open_requests(test_db, subjects([someone()]), at, status="complete")
    with pytest.raises(ValueError, match="actor"):
        seed_open_requests(test_db, subjects([someone()]), at, status="in_progress")
