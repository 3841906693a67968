"""Limits on the confirmation mails of privacy requests made without an account (issue 18).

The consent API and worker over gRPC, against the real store, broker and SMTP sink: at most
CONSENT_CONFIRMATION_MAILS_PER_ADDRESS mails to one address (default 10 a day) and
CONSENT_CONFIRMATION_MAILS_PER_CLIENT from one client (the caller's address the gateway
passes on) in their windows. A refused request is answered exactly like an accepted one,
stores nothing, is counted in ``lethe_mail_sends_refused_total`` and logged without the
address; the worker deletes the counts once their window ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.send_limits import DUE, MailLimits, Window
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_consent.config import load_config
from lethe_consent.requests import CONFIRMATION_MAIL
from lethe_testing import Backend, mails_to, remove_backend, start_backend, unique, wait_for, wait_for_mail
from lethe_testing.processes import metric_total

Stub = consent_pb2_grpc.ConsentServiceStub
KIND = "privacy-request-confirmation"
PER_CLIENT = 4
REFUSED = "lethe_mail_sends_refused_total"
SEEN: list[str] = []  # addresses used here: none may reach a log


@pytest.fixture(scope="module")
def consent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """Default limit per address (10 a day); a small one per client."""
    backend = start_backend(
        "consent",
        unique("cml"),
        tmp_path_factory.mktemp("consent"),
        CONSENT_CONFIRMATION_MAILS_PER_CLIENT=str(PER_CLIENT),
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
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


def address() -> str:
    email = f"{unique('m')}@limits.example"
    SEEN.append(email)
    return email


def file_request(stub: Stub, email: str, client: str) -> bytes:
    """An erasure request without an account; the reply as bytes (the whole answer)."""
    reply = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(
            person=pb.Person(email=email), kind="erasure", authenticated=False, client_address=client
        ),
        timeout=10,
    )
    return bytes(reply.SerializeToString(deterministic=True))


def stored_requests(db: Database, consent: Backend, email: str) -> int:
    return db.privacy_requests.count_documents(
        {"subject_key": subject_key(consent.api.env["LETHE_SUBJECT_PEPPER"], email)}
    )


def no_more_mail(email: str, count: int) -> None:
    """Still exactly ``count`` confirmation mails to ``email`` a while later."""
    time.sleep(2)
    assert len(mails_to(email, kind=KIND)) == count


def test_the_defaults_are_ten_mails_an_address_a_day_and_thirty_a_client_an_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "CONSENT_CONFIRMATION_MAILS_PER_ADDRESS",
        "CONSENT_CONFIRMATION_WINDOW_SECONDS",
        "CONSENT_CONFIRMATION_MAILS_PER_CLIENT",
        "CONSENT_CONFIRMATION_CLIENT_WINDOW_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config.confirmation_limits == MailLimits(Window(10, 86400), Window(30, 3600))


def test_the_eleventh_confirmation_mail_to_one_address_is_not_sent_and_answered_the_same(
    consent: Backend, stub: Stub, db: Database
) -> None:
    email = address()
    before = metric_total(consent, REFUSED, mail=CONFIRMATION_MAIL, limit="address")
    # Each from another client: only the limit per address can refuse.
    answers = [file_request(stub, email, f"198.51.100.{n}") for n in range(1, 11)]
    wait_for_mail(email, KIND, 10)
    eleventh = file_request(stub, email.upper(), "198.51.100.11")  # the same address, however written
    assert eleventh == answers[0] and set(answers) == {answers[0]}
    no_more_mail(email, 10)
    assert stored_requests(db, consent, email) == 10  # the refused one kept nothing
    assert metric_total(consent, REFUSED, mail=CONFIRMATION_MAIL, limit="address") == before + 1
    # Another address is not affected.
    other = address()
    assert file_request(stub, other, "198.51.100.12") == answers[0]
    wait_for_mail(other, KIND)


def test_one_client_gets_so_many_confirmation_mails_whatever_the_addresses(
    consent: Backend, stub: Stub, db: Database
) -> None:
    client = "203.0.113.45"
    emails = [address() for _ in range(PER_CLIENT + 1)]
    before = metric_total(consent, REFUSED, mail=CONFIRMATION_MAIL, limit="client")
    answers = [file_request(stub, email, client) for email in emails]
    assert set(answers) == {answers[0]}
    for email in emails[:PER_CLIENT]:
        wait_for_mail(email, KIND)
    no_more_mail(emails[-1], 0)
    assert stored_requests(db, consent, emails[-1]) == 0
    assert metric_total(consent, REFUSED, mail=CONFIRMATION_MAIL, limit="client") == before + 1
    # The refusal was not charged to the address: from another client it gets its mail.
    assert file_request(stub, emails[-1], "203.0.113.46") == answers[0]
    wait_for_mail(emails[-1], KIND)
    # An IPv6 client is one client across its /64.
    v6 = [address() for _ in range(PER_CLIENT + 1)]
    for n, email in enumerate(v6):
        file_request(stub, email, f"2001:db8:77:1::{n + 1:x}")
    wait_for_mail(v6[PER_CLIENT - 1], KIND)
    no_more_mail(v6[-1], 0)


def test_the_store_and_the_logs_hold_no_address_of_a_limited_mail(consent: Backend, db: Database) -> None:
    assert SEEN, "run with the tests above"
    records = [str(doc["_id"]) for doc in db.send_limits.find({"_id": under(f"{CONFIRMATION_MAIL}-address")})]
    assert len(records) >= 10
    stored = " ".join(str(doc) for doc in db.send_limits.find())
    pepper = consent.api.env["LETHE_SUBJECT_PEPPER"]
    for email in SEEN:
        assert email not in stored and subject_key(pepper, email) not in stored
    logs = "".join(Path(p.log_path).read_text(errors="replace") for p in consent.apis)
    assert "send limit reached" in logs
    for email in SEEN:
        assert email not in logs and email.upper() not in logs


def test_the_worker_deletes_the_counts_once_their_window_ended(
    tmp_path: Path, mongo_client: MongoClient
) -> None:
    backend = start_backend(
        "consent",
        unique("cms"),
        tmp_path,
        replicas=1,
        CONSENT_CONFIRMATION_WINDOW_SECONDS="2",
        CONSENT_CONFIRMATION_CLIENT_WINDOW_SECONDS="2",
        CONSENT_SWEEP_INTERVAL_SECONDS="0.5",
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
        db = mongo_client[backend.db_name]
        email = address()
        with backend.channel() as channel:
            file_request(Stub(channel), email, "192.0.2.33")
        wait_for_mail(email, KIND)
        assert db.send_limits.count_documents({"_id": under(DUE)}) == 2  # address and client
        wait_for(lambda: db.send_limits.count_documents({}) == 0, 20, what="the counts to be swept")
    finally:
        remove_backend(backend)
