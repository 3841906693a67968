"""Consent's staff audit trail (lethe_common.audit), against the real consent API and worker.

Every staff action the service carries out leaves an entry whose actor is the account the
staff assertion names (whatever the request body says); only admins read the trail
(ListAuditEntries); the person's own entries are in their export; their erasure trims them
to the subject key, the action, the actor and the time, its receipt declares the trail kept,
and the proof of erasure passes, also when it is run again after its own run was recorded.
The retention sweep, last, runs the worker's sweep over a store of its own.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import audit_pb2, subject_pb2
from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.audit import AUDIT, AuditRecord
from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import ReceiptSender
from lethe_common.staff import ACCOUNTING, ADMIN, PRIVACY, SUPPORT
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_common.trace_search import ServiceTraceSearch
from lethe_consent.config import load_config
from lethe_consent.erasure import ConsentErasure
from lethe_consent.mailer import Mailer
from lethe_consent.records import ConsentLedger
from lethe_consent.repository import ConsentRepository
from lethe_consent.requests import PrivacyRequests
from lethe_consent.staff import StaffDesk
from lethe_consent.texts import ConsentTexts
from lethe_consent.verification import ErasureVerifier
from lethe_consent.wiring import ConsentParts
from lethe_consent.worker import sweeps
from lethe_testing import Backend, remove_backend, start_backend, unique, wait_for
from lethe_testing.staff import Metadata, staff_metadata

Stub = consent_pb2_grpc.ConsentServiceStub
TEXTS = [
    pb.LocalisedText(language="de", title="Titel", body="Deutscher Text"),
    pb.LocalisedText(language="en", title="Title", body="English text"),
]
TRIMMED = ("target", "reason", "detail")


@pytest.fixture(scope="module")
def consent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = start_backend(
        "consent",
        unique("cau"),
        tmp_path_factory.mktemp("consent"),
        replicas=1,
        CONSENT_RECEIPT_SERVICES="consent",  # an erasure completes with consent's own receipt
        CONSENT_VERIFY_DELAY_SECONDS="3600",  # only the staff runs verify here
        LETHE_LOG_DIR="",
    )
    try:
        backend.api.wait_ready()
        backend.worker.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


@pytest.fixture(scope="module")
def stub(consent: Backend) -> Iterator[Stub]:
    with consent.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(consent: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[consent.db_name]


def staff_id() -> str:
    return f"acc_{uuid.uuid4().hex}"


def privacy(account_id: str) -> Metadata:
    return staff_metadata(account_id, PRIVACY)


def person() -> pb.Person:
    return pb.Person(account_id=staff_id(), email=f"{unique('p')}@customer.example", name="Ada Lovelace")


def key_of(consent: Backend, who: pb.Person) -> str:
    return subject_key(consent.api.env["LETHE_SUBJECT_PEPPER"], who.email)


def open_request(stub: Stub, who: pb.Person, kind: str, **fields: str) -> str:
    opened = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(person=who, kind=kind, authenticated=True, **fields), timeout=5
    )
    return str(opened.request.id)


def objection(stub: Stub, who: pb.Person) -> str:
    return open_request(stub, who, "objection", purpose="access_logs", reason="I object to the logs")


def about(db: Database, key: str) -> list[dict[str, Any]]:
    """The trail's entries about one person (their copies under ``s/<key>/``), oldest first."""
    return list(db[AUDIT].find({"_id": under("s", key)}, sort=[("_id", 1)]))


def entries(stub: Stub, action: str, metadata: Metadata | None = None) -> list[audit_pb2.AuditEntry]:
    reply = stub.ListAuditEntries(
        audit_pb2.AuditListRequest(action=action, page_size=200),
        metadata=metadata or staff_metadata(staff_id(), ADMIN),
        timeout=5,
    )
    return list(reply.entries)


def entry_for(stub: Stub, action: str, target: str) -> audit_pb2.AuditEntry:
    (found,) = [e for e in entries(stub, action) if e.target == target]
    return found


def completed_erasure(stub: Stub, who: pb.Person) -> str:
    request_id = open_request(stub, who, "erasure")
    complete = wait_for(
        lambda: (
            stub.GetStaffPrivacyRequest(
                pb.StaffRequestLookup(request_id=request_id), metadata=privacy(staff_id()), timeout=5
            ).status
            == "complete"
        ),
        30,
        what="the erasure to complete",
    )
    assert complete
    return request_id


# -- each staff action leaves its entry ---------------------------------------------------------------
def test_a_status_change_is_recorded_with_the_assertions_actor_the_status_and_the_reason(
    stub: Stub, consent: Backend
) -> None:
    who, actor = person(), staff_id()
    request_id = open_request(stub, who, "access")
    stub.UpdatePrivacyRequest(
        pb.UpdatePrivacyRequestRequest(
            request_id=request_id, status="deferred", reason="waiting for the shop"
        ),
        metadata=privacy(actor),
        timeout=5,
    )
    entry = entry_for(stub, "privacy_request.updated", request_id)
    assert (entry.actor_account_id, entry.subject_key) == (actor, key_of(consent, who))
    assert (entry.detail, entry.reason, entry.service) == ("deferred", "waiting for the shop", "consent")
    stub.UpdatePrivacyRequest(
        pb.UpdatePrivacyRequestRequest(
            actor_account_id=actor,
            request_id=request_id,
            status="in_progress",
            reason="late",
            extend_months=1,
        ),
        metadata=privacy(actor),
        timeout=5,
    )
    details = sorted(e.detail for e in entries(stub, "privacy_request.updated") if e.target == request_id)
    assert details == ["deferred", "in_progress, deadline +1 months"]


def test_a_refused_move_leaves_no_entry(stub: Stub) -> None:
    request_id = objection(stub, person())
    with pytest.raises(grpc.RpcError) as refused:
        stub.UpdatePrivacyRequest(
            pb.UpdatePrivacyRequestRequest(request_id=request_id, status="rejected"),  # no reason
            metadata=privacy(staff_id()),
            timeout=5,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [e for e in entries(stub, "privacy_request.updated") if e.target == request_id] == []


@pytest.mark.parametrize("uphold", [True, False])
def test_an_objection_decision_is_recorded_upheld_or_rejected_with_its_reason(
    stub: Stub, consent: Backend, uphold: bool
) -> None:
    who, actor = person(), staff_id()
    request_id = objection(stub, who)
    stub.DecideObjection(
        pb.DecideObjectionRequest(request_id=request_id, uphold=uphold, reason="weighed the interests"),
        metadata=staff_metadata(actor, SUPPORT, PRIVACY),
        timeout=5,
    )
    entry = entry_for(stub, "objection.decided", request_id)
    assert (entry.actor_account_id, entry.subject_key) == (actor, key_of(consent, who))
    assert entry.detail == ("upheld" if uphold else "rejected")
    assert entry.reason == "weighed the interests"


def test_a_published_text_is_recorded_about_no_one(stub: Stub) -> None:
    actor, purpose = staff_id(), f"survey_{unique('s')[-8:]}"
    stub.PublishText(
        pb.PublishTextRequest(actor_account_id=actor, purpose=purpose, version="v1", texts=TEXTS),
        metadata=privacy(actor),
        timeout=5,
    )
    entry = entry_for(stub, "consent_text.published", f"{purpose}@v1")
    assert (entry.actor_account_id, entry.subject_key) == (actor, "")


def test_a_staff_run_of_the_proof_of_erasure_is_recorded_with_its_outcome(
    stub: Stub, consent: Backend
) -> None:
    who, actor = person(), staff_id()
    request_id = completed_erasure(stub, who)
    assert [e for e in entries(stub, "erasure.verified") if e.target == request_id] == []
    verified = stub.VerifyErasure(
        pb.VerifyErasureRequest(request_id=request_id), metadata=staff_metadata(actor, ADMIN), timeout=60
    )
    entry = entry_for(stub, "erasure.verified", request_id)
    assert (entry.actor_account_id, entry.subject_key) == (actor, key_of(consent, who))
    assert entry.detail == verified.verification.outcome == "passed"


# -- who reads the trail ------------------------------------------------------------------------------
REFUSED: dict[str, Callable[[], Metadata | None]] = {
    "no assertion": lambda: None,
    "privacy": lambda: privacy(staff_id()),
    "support, accounting": lambda: staff_metadata(staff_id(), SUPPORT, ACCOUNTING),
}


@pytest.mark.parametrize("case", REFUSED)
def test_only_an_admin_reads_the_trail(stub: Stub, case: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListAuditEntries(audit_pb2.AuditListRequest(), metadata=REFUSED[case](), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_admin_reads_the_trail_newest_first_a_page_at_a_time(stub: Stub) -> None:
    actor = staff_id()
    targets = []
    for _ in range(3):
        request_id = open_request(stub, person(), "access")
        stub.UpdatePrivacyRequest(
            pb.UpdatePrivacyRequestRequest(request_id=request_id, status="in_progress"),
            metadata=privacy(actor),
            timeout=5,
        )
        targets.append(request_id)
    admin = staff_metadata(staff_id(), ADMIN)
    first = stub.ListAuditEntries(
        audit_pb2.AuditListRequest(action="privacy_request.updated", page_size=2), metadata=admin, timeout=5
    )
    assert [e.target for e in first.entries] == targets[::-1][:2] and first.next_page_token
    second = stub.ListAuditEntries(
        audit_pb2.AuditListRequest(
            action="privacy_request.updated", page_size=2, page_token=first.next_page_token
        ),
        metadata=admin,
        timeout=5,
    )
    assert second.entries[0].target == targets[0]
    with pytest.raises(grpc.RpcError) as bad:
        stub.ListAuditEntries(audit_pb2.AuditListRequest(action="not an action"), metadata=admin, timeout=5)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- the person's entries: export, erasure, proof -----------------------------------------------------
def export_of(stub: Stub, consent: Backend, who: pb.Person) -> dict[str, Any]:
    reply = stub.ExportSubjectData(
        subject_pb2.ExportSubjectDataRequest(
            subject=subject_pb2.Subject(account_id=who.account_id, subject_key=key_of(consent, who))
        ),
        timeout=5,
    )
    return dict(json.loads(reply.data_json))


def test_the_export_shows_what_staff_did_about_the_person_and_nobody_elses(
    stub: Stub, consent: Backend
) -> None:
    who, other = person(), person()
    decided, moved = objection(stub, who), open_request(stub, who, "access")
    stub.DecideObjection(
        pb.DecideObjectionRequest(request_id=decided, uphold=False, reason="logs are kept 7 days"),
        metadata=privacy(staff_id()),
        timeout=5,
    )
    stub.UpdatePrivacyRequest(
        pb.UpdatePrivacyRequestRequest(request_id=moved, status="deferred", reason="the shop is asked"),
        metadata=privacy(staff_id()),
        timeout=5,
    )
    stub.DecideObjection(
        pb.DecideObjectionRequest(request_id=objection(stub, other), uphold=True, reason="someone else's"),
        metadata=privacy(staff_id()),
        timeout=5,
    )
    actions = export_of(stub, consent, who)["staff_actions"]
    assert [(a["action"], a["detail"], a["reason"]) for a in actions] == [
        ("objection.decided", "rejected", "logs are kept 7 days"),
        ("privacy_request.updated", "deferred", "the shop is asked"),
    ]
    assert all(set(a) == {"action", "at", "reason", "detail"} and a["at"] for a in actions)
    assert "actor" not in json.dumps(actions)  # who of staff acted is not the person's to know
    assert export_of(stub, consent, person())["staff_actions"] == []


def test_an_erasure_trims_the_persons_entries_declares_them_kept_and_the_proof_passes(
    stub: Stub, consent: Backend, db: Database
) -> None:
    who, actor = person(), staff_id()
    key = key_of(consent, who)
    decided = objection(stub, who)
    stub.DecideObjection(
        pb.DecideObjectionRequest(request_id=decided, uphold=False, reason="Ada's logs are kept 7 days"),
        metadata=privacy(actor),
        timeout=5,
    )
    (before,) = about(db, key)
    assert before["reason"] and before["target"] == decided and before["detail"] == "rejected"

    request_id = completed_erasure(stub, who)
    (after,) = about(db, key)
    assert {f: after[f] for f in TRIMMED} == dict.fromkeys(TRIMMED, "")
    kept = {f: after[f] for f in ("entry_id", "subject_key", "action", "actor_id", "at")}
    assert kept == {f: before[f] for f in kept}
    whole = db[AUDIT].find({"entry_id": before["entry_id"]})
    assert [{f: doc[f] for f in TRIMMED} for doc in whole] == [dict.fromkeys(TRIMMED, "")] * 3
    (listed,) = [e for e in entries(stub, "objection.decided") if e.id == before["entry_id"]]
    assert (listed.target, listed.reason, listed.detail) == ("", "", "")
    assert (listed.subject_key, listed.actor_account_id) == (key, actor)
    assert export_of(stub, consent, who)["staff_actions"] == [
        {"action": "objection.decided", "at": listed.at, "reason": "", "detail": ""}
    ]

    request = stub.GetStaffPrivacyRequest(
        pb.StaffRequestLookup(request_id=request_id), metadata=privacy(actor), timeout=5
    )
    (receipt,) = [r for r in request.receipts if r.service == "consent"]
    until = {p.collection: p.until for p in receipt.retained}
    assert until[AUDIT] >= (datetime.now(UTC) + timedelta(days=1094)).date().isoformat()
    assert any("staff audit" in line for line in receipt.kept)

    for _ in range(2):  # the second run finds the first run's entry: declared, so retained too
        proof = stub.VerifyErasure(
            pb.VerifyErasureRequest(request_id=request_id), metadata=privacy(actor), timeout=60
        ).verification
        assert proof.outcome == "passed", [(f.collection, f.place, f.what) for f in proof.failures]
        assert AUDIT in {t.collection for t in proof.retained}
    assert len([e for e in about(db, key) if e["action"] == "erasure.verified"]) == 2


def test_an_erasure_of_someone_staff_never_acted_on_still_declares_the_trail_its_proof_will_touch(
    stub: Stub, consent: Backend, db: Database
) -> None:
    who = person()
    request_id = completed_erasure(stub, who)
    assert about(db, key_of(consent, who)) == []
    request = stub.GetStaffPrivacyRequest(
        pb.StaffRequestLookup(request_id=request_id), metadata=privacy(staff_id()), timeout=5
    )
    (receipt,) = [r for r in request.receipts if r.service == "consent"]
    assert AUDIT in {p.collection for p in receipt.retained}


def test_the_staff_lookup_of_one_request(stub: Stub, consent: Backend, db: Database) -> None:
    request_id = objection(stub, person())
    found = stub.GetStaffPrivacyRequest(
        pb.StaffRequestLookup(request_id=request_id), metadata=privacy(staff_id()), timeout=5
    )
    assert (found.id, found.kind, found.status) == (request_id, "objection", "open")
    for metadata, code in (
        (None, grpc.StatusCode.PERMISSION_DENIED),
        (staff_metadata(staff_id(), SUPPORT), grpc.StatusCode.PERMISSION_DENIED),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetStaffPrivacyRequest(
                pb.StaffRequestLookup(request_id=request_id), metadata=metadata, timeout=5
            )
        assert refused.value.code() == code
    for wrong, code in (
        (f"pr_{'0' * 32}", grpc.StatusCode.NOT_FOUND),
        ("nonsense", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetStaffPrivacyRequest(
                pb.StaffRequestLookup(request_id=wrong), metadata=privacy(staff_id()), timeout=5
            )
        assert refused.value.code() == code
    stranger = person()
    stub.OpenPrivacyRequest(  # not logged in: it waits for the mailed link
        pb.OpenPrivacyRequestRequest(person=stranger, kind="access", authenticated=False), timeout=5
    )
    waiting = db.privacy_requests.find_one({"subject_key": key_of(consent, stranger)})
    assert waiting is not None
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetStaffPrivacyRequest(
            pb.StaffRequestLookup(request_id=waiting["_id"]), metadata=privacy(staff_id()), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


# -- retention ----------------------------------------------------------------------------------------
def test_the_workers_retention_sweep_deletes_entries_older_than_the_audit_retention(
    test_db: Database, amqp_url: str
) -> None:
    loaded = load_config()
    config = dataclasses.replace(loaded, common=dataclasses.replace(loaded.common, audit_retention_days=30))
    publisher = EventPublisher(amqp_url)
    try:
        outbox = Outbox(publisher, test_db, 1.0)
        repo = ConsentRepository(test_db, outbox)
        texts = ConsentTexts(repo)
        ledger = ConsentLedger(repo, texts, config.proof_retention_days)
        requests = PrivacyRequests(repo, ledger, texts, Mailer(config.common, config.public_url), config)
        staff = StaffDesk(repo, requests.book, ledger, texts)
        erasure = ConsentErasure(repo, ledger, ReceiptSender(test_db, outbox, "consent"), 30)
        traces = ServiceTraceSearch(test_db, config.common.amqp_url, [], config.common.subject_pepper)
        verifier = ErasureVerifier(
            repo.requests, requests.book, repo.expiries, {}, config.common.subject_pepper
        )
        parts = ConsentParts(texts, ledger, requests, staff, erasure, verifier, traces)
        (retention,) = [s for s in sweeps(parts, config) if s.name == "consent-retention"]
        now = datetime.now(UTC)
        staff_member, key = "acc_" + "1" * 32, "k" * 64
        repo.audit.record(
            AuditRecord(staff_member, "objection.decided", "pr_old", key), now - timedelta(days=31)
        )
        young = repo.audit.record(AuditRecord(staff_member, "objection.decided", "pr_new", key), now)
        assert retention.run()["staff_audit"] == 1
        assert [doc["entry_id"] for doc in test_db[AUDIT].find()] == [young["entry_id"]] * 3
        assert retention.run()["staff_audit"] == 0
    finally:
        publisher.close()
