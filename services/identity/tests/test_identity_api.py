"""The identity API and worker against the real store, broker and SMTP sink, over gRPC."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.subject import subject_key
from lethe_common.testing import (
    Backend,
    EventTap,
    ServiceProcess,
    backend_env,
    code_of,
    remove_backend,
    start_backend,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
)

PASSWORD = "lantern orchard seventeen"
Stub = identity_pb2_grpc.IdentityServiceStub


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    run = unique("ida")
    backend = start_backend("identity", run, tmp_path_factory.mktemp("identity"),
                            IDENTITY_ADMIN_EMAILS=f"admin-{run}@staff.example",
                            IDENTITY_CONTACT_RETENTION_DAYS="0",
                            IDENTITY_SWEEP_INTERVAL_SECONDS="1",
                            IDENTITY_CONTACT_MAX_PER_ADDRESS="3")
    try:
        backend.api.wait_ready()
        backend.worker.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


@pytest.fixture(scope="module")
def stub(identity: Backend) -> Iterator[Stub]:
    with grpc.insecure_channel(identity.grpc_addr) as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def admin(stub: Stub, identity: Backend) -> str:
    """The account of the address listed in IDENTITY_ADMIN_EMAILS, verified."""
    run = identity.api.env["LETHE_QUEUE_PREFIX"][:-1]
    return verified(stub, f"admin-{run}@staff.example")


@pytest.fixture(scope="module")
def db(identity: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[identity.db_name]


def verified(stub: Stub, email: str) -> str:
    account_id = stub.Register(pb.RegisterRequest(
        email=email, password=PASSWORD, name="Test Person", account_consent_version="2026-01"),
        timeout=10).account_id
    stub.VerifyEmail(pb.VerifyEmailRequest(token=token_in(wait_for_mail(email, "verification")),
                                           password=PASSWORD), timeout=10)
    return str(account_id)



def test_a_verification_token_works_once_even_when_used_concurrently(stub: Stub) -> None:
    email = f"{unique('race')}@customer.example"
    stub.Register(pb.RegisterRequest(email=email, password=PASSWORD, name="Racer",
                                     account_consent_version="1"), timeout=10)
    token = token_in(wait_for_mail(email, "verification"))

    def attempt(_: int) -> str:
        try:
            stub.VerifyEmail(pb.VerifyEmailRequest(token=token, password=PASSWORD), timeout=10)
        except grpc.RpcError as exc:
            return str(exc.code().name)
        return "OK"
    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["INVALID_ARGUMENT"] * 7 + ["OK"]


def test_admin_rpcs_check_the_role_in_the_service_too(stub: Stub, admin: str) -> None:
    person = verified(stub, f"{unique('p')}@customer.example")
    calls = [
        lambda: stub.ListOrganisations(pb.AdminListRequest(actor_account_id=person), timeout=5),
        lambda: stub.CreateOrganisation(pb.CreateOrganisationRequest(
            actor_account_id=person, name="Mine", domains=["mine.example"]), timeout=5),
        lambda: stub.ListContactRequests(pb.AdminListRequest(actor_account_id=person), timeout=5),
        lambda: stub.DecidePortalAccess(pb.DecidePortalAccessRequest(
            actor_account_id=person, account_id=person, approve=True), timeout=5),
    ]
    assert [code_of(call) for call in calls] == [grpc.StatusCode.PERMISSION_DENIED] * len(calls)
    assert stub.ListOrganisations(pb.AdminListRequest(actor_account_id=admin),
                                  timeout=5).organisations is not None


def test_a_role_given_in_the_store_is_worthless_unless_the_address_is_listed(
        stub: Stub, db: Database) -> None:
    """Staff taken off IDENTITY_ADMIN_EMAILS lose the role at once."""
    email = f"{unique('former')}@staff.example"
    former = verified(stub, email)
    db["accounts"].update_one({"_id": former}, {"$set": {"roles": ["admin"]}})
    token = stub.Login(pb.LoginRequest(email=email, password=PASSWORD, client_address="192.0.2.5"),
                       timeout=10).session_token
    assert list(stub.Authenticate(pb.AuthenticateRequest(session_token=token), timeout=5).roles) == []
    assert code_of(lambda: stub.ListOrganisations(pb.AdminListRequest(actor_account_id=former),
                                                  timeout=5)) == grpc.StatusCode.PERMISSION_DENIED


def test_sessions_end_when_idle_or_past_their_lifetime(stub: Stub, db: Database) -> None:
    email = f"{unique('s')}@customer.example"
    verified(stub, email)
    for field in ("idle_expires_at", "absolute_expires_at"):
        token = stub.Login(pb.LoginRequest(email=email, password=PASSWORD, client_address="192.0.2.1"),
                           timeout=10).session_token
        assert stub.Authenticate(pb.AuthenticateRequest(session_token=token), timeout=5).email == email
        db["sessions"].update_many({field: {"$gt": datetime(2001, 1, 1, tzinfo=UTC)}},
                                   {"$set": {field: datetime(2001, 1, 1, tzinfo=UTC)}})
        assert code_of(lambda t=token: stub.Authenticate(pb.AuthenticateRequest(session_token=t),
                                                         timeout=5)) == grpc.StatusCode.UNAUTHENTICATED
    # The worker's sweep removes them.
    wait_for(lambda: db["sessions"].count_documents({}) == 0, 15, what="expired sessions swept")


def test_contact_requests_are_limited_per_client_address(stub: Stub) -> None:
    def submit(client: str) -> pb.ContactRequestRef:
        return stub.SubmitContactRequest(pb.SubmitContactRequestRequest(
            name="Sam", email=f"{unique('c')}@example.org", message="hello", kind="contact",
            client_address=client), timeout=5)
    for _ in range(3):
        submit("203.0.113.7")
    with pytest.raises(grpc.RpcError) as error:
        submit("203.0.113.7")
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(error.value.trailing_metadata())["retry-after"]) > 0  # type: ignore[attr-defined]
    assert submit("203.0.113.8").id.startswith("cr_")


def test_the_worker_deletes_closed_contact_requests_after_the_retention_period(
        stub: Stub, db: Database, identity: Backend, admin: str) -> None:
    kept = stub.SubmitContactRequest(pb.SubmitContactRequestRequest(
        name="Open", email="open@example.org", message="still open", kind="contact",
        client_address="198.51.100.1"), timeout=5).id
    closed = stub.SubmitContactRequest(pb.SubmitContactRequestRequest(
        name="Done", email="done@example.org", phone="+49 89 123456", message="call back",
        kind="callback", client_address="198.51.100.1"), timeout=5).id
    stub.CloseContactRequest(pb.CloseContactRequestRequest(actor_account_id=admin,
                                                           contact_request_id=closed), timeout=5)
    wait_for(lambda: db["contact_requests"].find_one({"_id": closed}) is None, 15,
             what="the closed request swept")
    assert db["contact_requests"].find_one({"_id": kept}) is not None
    assert "identity-retention" in identity.worker.log()


def test_parallel_guesses_cannot_outrun_the_log_in_limit(stub: Stub) -> None:
    email = f"{unique('burst')}@customer.example"
    verified(stub, email)

    def guess(n: int) -> str:
        try:
            stub.Login(pb.LoginRequest(email=email, password=f"guess number {n}",
                                       client_address=f"198.18.0.{n}"), timeout=30)
        except grpc.RpcError as exc:
            return str(exc.code().name)
        return "OK"
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(guess, range(16)))
    assert outcomes.count("UNAUTHENTICATED") <= 10
    assert outcomes.count("RESOURCE_EXHAUSTED") >= 6
    assert "OK" not in outcomes


def test_failed_log_ins_count_across_replicas(identity: Backend, tmp_path: Path) -> None:
    """A second API process on the same store sees the first one's failures."""
    env, port, metrics_port, _ = backend_env("identity", "unused", identity.api.env)
    env["IDENTITY_MONGO_DB"] = identity.db_name
    replica = ServiceProcess("identity-api-2", "lethe_identity.api", env, tmp_path / "replica.log",
                             f"http://127.0.0.1:{metrics_port}/readyz").start()
    try:
        replica.wait_ready()
        with grpc.insecure_channel(identity.grpc_addr) as a, \
                grpc.insecure_channel(f"127.0.0.1:{port}") as b:
            first, second = Stub(a), Stub(b)
            email = f"{unique('r')}@customer.example"
            verified(first, email)
            for n in range(10):
                stub = first if n % 2 else second
                assert code_of(lambda s=stub, n=n: s.Login(pb.LoginRequest(
                    email=email, password="not it at all", client_address=f"192.0.2.{n}"),
                    timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
            for stub in (first, second):
                assert code_of(lambda s=stub: s.Login(pb.LoginRequest(
                    email=email, password=PASSWORD, client_address="192.0.2.99"),
                    timeout=10)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        replica.stop()


# -- privacy requests from the bus ----------------------------------------------------------
def privacy_event(event_type: str, account_id: str, key: str, request_id: str,
                  **payload: object) -> Envelope:
    return Envelope(type=event_type, source="consent", subject_key=key,
                    payload={"request_id": request_id, "account_id": account_id, **payload})


def test_an_erasure_deletes_the_account_keeps_a_bare_tombstone_and_answers_once(
        stub: Stub, db: Database, identity: Backend, amqp_url: str) -> None:
    email = f"{unique('er')}@customer.example"
    account_id = verified(stub, email)
    session = stub.Login(pb.LoginRequest(email=email, password=PASSWORD), timeout=10).session_token
    stub.SubmitContactRequest(pb.SubmitContactRequestRequest(
        name="Test Person", email=email, message="call me", kind="contact",
        client_address="192.0.2.1"), timeout=10)
    key = subject_key(identity.api.env["LETHE_SUBJECT_PEPPER"], email)
    request_id = f"pr_{uuid.uuid4().hex}"
    publisher = EventPublisher(amqp_url)
    try:
        with EventTap(amqp_url, "identity", "privacy.receipt") as tap:
            for _ in range(2):  # the same request, delivered as two events
                publisher.publish(privacy_event("privacy.erasure_requested", account_id, key,
                                                request_id))
            wait_for(lambda: db.accounts.find_one({"_id": account_id}) is None, 15,
                     what="the account to be deleted")
            time.sleep(1.5)
            receipts = [e for e in tap.drain() if e["payload"]["request_id"] == request_id]  # type: ignore[index]
    finally:
        publisher.close()
    assert len(receipts) == 1
    assert receipts[0]["payload"]["outcome"] == "done" and email not in str(receipts[0])  # type: ignore[index]
    assert code_of(lambda: stub.Authenticate(pb.AuthenticateRequest(session_token=session),
                                             timeout=5)) == grpc.StatusCode.UNAUTHENTICATED
    assert db.contact_requests.count_documents({"subject_key": key}) == 0
    assert db.sessions.count_documents({"account_id": account_id}) == 0
    tombstone = db.erasure_tombstones.find_one({"_id": request_id})
    assert tombstone is not None and set(tombstone) == {"_id", "subject_key", "erased_at"}


def test_a_restriction_hides_contact_requests_and_stops_staff_decisions(
        stub: Stub, db: Database, identity: Backend, admin: str, amqp_url: str) -> None:
    email = f"{unique('rs')}@customer.example"
    account_id = verified(stub, email)
    contact_id = stub.SubmitContactRequest(pb.SubmitContactRequestRequest(
        name="Test Person", email=email, message="hello", kind="contact",
        client_address="192.0.2.2"), timeout=10).id
    key = subject_key(identity.api.env["LETHE_SUBJECT_PEPPER"], email)
    publisher = EventPublisher(amqp_url)
    try:
        publisher.publish(privacy_event("privacy.restriction_changed", account_id, key,
                                        f"pr_{uuid.uuid4().hex}", restricted=True))
        wait_for(lambda: stub.GetProfile(pb.AccountRef(account_id=account_id),
                                         timeout=5).restricted, 15, what="the restriction")
        queue = stub.ListContactRequests(pb.AdminListRequest(actor_account_id=admin), timeout=5)
        assert contact_id not in [c.id for c in queue.requests]
        db.accounts.update_one({"_id": account_id}, {"$set": {"portal_access": {
            "status": "pending", "organisation_id": "org_x", "organisation_name": "X"}}})
        assert code_of(lambda: stub.DecidePortalAccess(pb.DecidePortalAccessRequest(
            actor_account_id=admin, account_id=account_id, approve=True), timeout=5)) == \
            grpc.StatusCode.FAILED_PRECONDITION
        publisher.publish(privacy_event("privacy.restriction_changed", account_id, key,
                                        f"pr_{uuid.uuid4().hex}", restricted=False))
        wait_for(lambda: not stub.GetProfile(pb.AccountRef(account_id=account_id),
                                             timeout=5).restricted, 15, what="the lifting")
    finally:
        publisher.close()
    queue = stub.ListContactRequests(pb.AdminListRequest(actor_account_id=admin), timeout=5)
    assert contact_id in [c.id for c in queue.requests]
