"""Limits on the double opt-in mails (issue 18).

The newsletter API and worker over gRPC with a real consent service (which the newsletter
asks for the current text), store, broker and SMTP sink: at most
NEWSLETTER_CONFIRMATION_MAILS_PER_ADDRESS mails to one address (default 10 a day) and
NEWSLETTER_CONFIRMATION_MAILS_PER_CLIENT from one client in their windows. A refused
request is answered exactly like an accepted one and changes nothing (a new subscription
is not recorded); it is counted in ``lethe_mail_sends_refused_total`` and logged without
the address; the worker's tidy sweep deletes the counts once their window ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.consent.v1 import consent_pb2, consent_pb2_grpc
from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common.send_limits import DUE, MailLimits, Window
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_newsletter.config import load_config
from lethe_newsletter.lifecycle import subscriber_id
from lethe_newsletter.subscriptions import CONFIRMATION_MAIL
from lethe_testing import Backend, mails_to, remove_backend, start_backend, unique, wait_for, wait_for_mail
from lethe_testing.processes import metric_total

Stub = newsletter_pb2_grpc.NewsletterServiceStub
KIND = "newsletter-confirmation"
PER_CLIENT = 4
REFUSED = "lethe_mail_sends_refused_total"
SEEN: list[str] = []  # addresses used here: none may reach a log


@pytest.fixture(scope="module")
def consent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = start_backend("consent", unique("ncs"), tmp_path_factory.mktemp("consent"), replicas=1)
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


@pytest.fixture(scope="module")
def version(consent: Backend) -> str:
    with consent.channel() as channel:
        texts = consent_pb2_grpc.ConsentServiceStub(channel).ListCurrentTexts(consent_pb2.Empty(), timeout=10)
    return next(t.version for t in texts.texts if t.purpose == "newsletter")


def start_newsletter(consent: Backend, log_dir: Path, replicas: int = 0, **overrides: str) -> Backend:
    backend = start_backend(
        "newsletter",
        unique("nml"),
        log_dir,
        replicas=replicas,
        CONSENT_GRPC_ADDR=consent.grpc_addr,
        **overrides,
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
    except BaseException:
        remove_backend(backend)
        raise
    return backend


@pytest.fixture(scope="module")
def newsletter(consent: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """Default limit per address (10 a day); a small one per client; every request mails."""
    backend = start_newsletter(
        consent,
        tmp_path_factory.mktemp("newsletter"),
        NEWSLETTER_CONFIRMATION_RESEND_SECONDS="0",
        NEWSLETTER_CONFIRMATION_MAILS_PER_CLIENT=str(PER_CLIENT),
    )
    yield backend
    remove_backend(backend)


@pytest.fixture(scope="module")
def stub(newsletter: Backend) -> Iterator[Stub]:
    with newsletter.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(newsletter: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[newsletter.db_name]


def address() -> str:
    email = f"{unique('m')}@limits.example"
    SEEN.append(email)
    return email


def subscribe(stub: Stub, version: str, email: str, client: str) -> bytes:
    reply = stub.Subscribe(
        pb.SubscribeRequest(person=pb.Person(email=email), consent_version=version, client_address=client),
        timeout=10,
    )
    return bytes(reply.SerializeToString(deterministic=True))


def steps_of(db: Database, newsletter: Backend, email: str) -> int:
    key = subject_key(newsletter.api.env["LETHE_SUBJECT_PEPPER"], email)
    return db.subscriber_steps.count_documents({"_id": under(subscriber_id(key))})


def no_more_mail(email: str, count: int) -> None:
    """Still exactly ``count`` confirmation mails to ``email`` a while later (the worker
    mails; a refused request publishes nothing for it to mail)."""
    time.sleep(3)
    assert len(mails_to(email, kind=KIND)) == count


def test_the_defaults_are_ten_mails_an_address_a_day_and_thirty_a_client_an_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "NEWSLETTER_CONFIRMATION_MAILS_PER_ADDRESS",
        "NEWSLETTER_CONFIRMATION_WINDOW_SECONDS",
        "NEWSLETTER_CONFIRMATION_MAILS_PER_CLIENT",
        "NEWSLETTER_CONFIRMATION_CLIENT_WINDOW_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config.confirmation_limits == MailLimits(Window(10, 86400), Window(30, 3600))


def test_the_eleventh_confirmation_mail_to_one_address_is_not_sent_and_answered_the_same(
    newsletter: Backend, stub: Stub, db: Database, version: str
) -> None:
    email = address()
    before = metric_total(newsletter, REFUSED, mail=CONFIRMATION_MAIL, limit="address")
    answers = []
    for n in range(1, 11):  # each from another client: only the limit per address can refuse
        answers.append(subscribe(stub, version, email, f"198.51.100.{n}"))
        wait_for_mail(email, KIND, n)
    assert steps_of(db, newsletter, email) == 10  # requested, then nine reminders
    eleventh = subscribe(stub, version, email, "198.51.100.11")
    assert eleventh == answers[0] and set(answers) == {answers[0]}
    no_more_mail(email, 10)
    assert steps_of(db, newsletter, email) == 10  # the refused request changed nothing
    assert metric_total(newsletter, REFUSED, mail=CONFIRMATION_MAIL, limit="address") == before + 1
    other = address()
    assert subscribe(stub, version, other, "198.51.100.12") == answers[0]
    wait_for_mail(other, KIND)


def test_one_client_gets_so_many_confirmation_mails_whatever_the_addresses(
    newsletter: Backend, stub: Stub, db: Database, version: str
) -> None:
    client = "203.0.113.45"
    emails = [address() for _ in range(PER_CLIENT + 1)]
    before = metric_total(newsletter, REFUSED, mail=CONFIRMATION_MAIL, limit="client")
    answers = [subscribe(stub, version, email, client) for email in emails]
    assert set(answers) == {answers[0]}
    for email in emails[:PER_CLIENT]:
        wait_for_mail(email, KIND)
    no_more_mail(emails[-1], 0)
    assert steps_of(db, newsletter, emails[-1]) == 0  # no subscription recorded without its mail
    assert metric_total(newsletter, REFUSED, mail=CONFIRMATION_MAIL, limit="client") == before + 1
    # The refusal was not charged to the address: from another client it gets its mail.
    assert subscribe(stub, version, emails[-1], "203.0.113.46") == answers[0]
    wait_for_mail(emails[-1], KIND)
    assert steps_of(db, newsletter, emails[-1]) == 1


def test_the_store_and_the_logs_hold_no_address_of_a_limited_mail(newsletter: Backend, db: Database) -> None:
    assert SEEN, "run with the tests above"
    stored = " ".join(str(doc) for doc in db.send_limits.find())
    pepper = newsletter.api.env["LETHE_SUBJECT_PEPPER"]
    for email in SEEN:
        assert email not in stored and subject_key(pepper, email) not in stored
    logs = "".join(Path(p.log_path).read_text(errors="replace") for p in newsletter.apis)
    assert "send limit reached" in logs
    for email in SEEN:
        assert email not in logs


def test_the_worker_deletes_the_counts_once_their_window_ended(
    consent: Backend, version: str, tmp_path: Path, mongo_client: MongoClient
) -> None:
    backend = start_newsletter(
        consent,
        tmp_path,
        replicas=1,
        NEWSLETTER_CONFIRMATION_WINDOW_SECONDS="2",
        NEWSLETTER_CONFIRMATION_CLIENT_WINDOW_SECONDS="2",
        NEWSLETTER_SWEEP_INTERVAL_SECONDS="0.5",
    )
    try:
        db = mongo_client[backend.db_name]
        email = address()
        with backend.channel() as channel:
            subscribe(Stub(channel), version, email, "192.0.2.33")
        wait_for_mail(email, KIND)
        assert db.send_limits.count_documents({"_id": under(DUE)}) == 2  # address and client
        wait_for(lambda: db.send_limits.count_documents({}) == 0, 20, what="the counts to be swept")
    finally:
        remove_backend(backend)
