"""The identity API and worker against the real store, broker and SMTP sink, over gRPC.

Fixtures (a backend of two API and two worker replicas, a round-robin stub, verified
accounts, the admin) are in conftest.py; the races are in test_identity_races.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from argon2 import PasswordHasher
from pymongo.database import Database

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common import tokens
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.store.index import TimeQueue
from lethe_common.store.keys import under
from lethe_identity.seeding import Person, seed_verified
from lethe_testing import (
    Backend,
    EventTap,
    ServiceProcess,
    backend_env,
    code_of,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
)
from lethe_testing.staff import staff_metadata

PASSWORD = "lantern orchard seventeen"
Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]


def test_a_verification_token_works_once_even_when_used_concurrently(stub: Stub) -> None:
    email = f"{unique('race')}@customer.example"
    stub.Register(
        pb.RegisterRequest(email=email, password=PASSWORD, name="Racer", account_consent_version="1"),
        timeout=10,
    )
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


def test_admin_rpcs_check_the_role_in_the_service_too(stub: Stub, admin: str, verified: Verified) -> None:
    person = verified(f"{unique('p')}@customer.example")
    calls = [
        lambda: stub.ListOrganisations(
            pb.AdminListRequest(actor_account_id=person), metadata=staff_metadata(person), timeout=5
        ),
        lambda: stub.CreateOrganisation(
            pb.CreateOrganisationRequest(actor_account_id=person, name="Mine", domains=["mine.example"]),
            metadata=staff_metadata(person),
            timeout=5,
        ),
        lambda: stub.ListContactRequests(
            pb.AdminListRequest(actor_account_id=person), metadata=staff_metadata(person), timeout=5
        ),
        lambda: stub.DecidePortalAccess(
            pb.DecidePortalAccessRequest(actor_account_id=person, account_id=person, approve=True),
            metadata=staff_metadata(person),
            timeout=5,
        ),
    ]
    assert [code_of(call) for call in calls] == [grpc.StatusCode.PERMISSION_DENIED] * len(calls)
    assert (
        stub.ListOrganisations(
            pb.AdminListRequest(actor_account_id=admin), metadata=staff_metadata(admin), timeout=5
        ).organisations
        is not None
    )


def test_a_role_given_in_the_store_is_worthless_unless_the_address_is_listed(
    stub: Stub, db: Database, verified: Verified
) -> None:
    """Staff taken off IDENTITY_ADMIN_EMAILS lose the role at once."""
    email = f"{unique('former')}@staff.example"
    former = verified(email)
    for collection in ("accounts", "profiles"):
        assert (
            db[collection].update_many({"_id": under(former)}, {"$set": {"roles": ["admin"]}}).modified_count
        )
    token = stub.Login(
        pb.LoginRequest(email=email, password=PASSWORD, client_address="192.0.2.5"), timeout=10
    ).session_token
    assert list(stub.Authenticate(pb.AuthenticateRequest(session_token=token), timeout=5).roles) == []
    assert (
        code_of(
            lambda: stub.ListOrganisations(
                pb.AdminListRequest(actor_account_id=former), metadata=staff_metadata(former), timeout=5
            )
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )


def test_sessions_end_when_idle_or_past_their_lifetime(stub: Stub, db: Database, verified: Verified) -> None:
    email = f"{unique('s')}@customer.example"
    account_id = verified(email)
    digests = []
    for field in ("idle_expires_at", "absolute_expires_at"):
        token = stub.Login(
            pb.LoginRequest(email=email, password=PASSWORD, client_address="192.0.2.1"), timeout=10
        ).session_token
        assert stub.Authenticate(pb.AuthenticateRequest(session_token=token), timeout=5).email == email
        digest = tokens.digest(token)
        digests.append(digest)
        # Time passes: the session's clock runs out; a sweep entry for that time (the one
        # made at log-in is for the real expiry) and one stale entry that is not due yet.
        db["sessions"].update_one({"_id": digest}, {"$set": {field: datetime(2001, 1, 1, tzinfo=UTC)}})
        TimeQueue(db["expiries"]).schedule(
            "session", datetime(2001, 1, 1, tzinfo=UTC), digest, account_id=account_id
        )
        assert (
            code_of(lambda t=token: stub.Authenticate(pb.AuthenticateRequest(session_token=t), timeout=5))
            == grpc.StatusCode.UNAUTHENTICATED
        )
    # The worker's sweep removes them, and their index entries.
    wait_for(
        lambda: db["sessions"].count_documents({"_id": {"$in": digests}}) == 0,
        15,
        what="expired sessions swept",
    )
    wait_for(
        lambda: (
            not [
                e
                for e in db["owned"].find({"_id": under(account_id, "session")})
                if e["_id"].rsplit("/", 1)[1] in digests
            ]
        ),
        15,
        what="index entries gone",
    )


def test_a_session_in_use_is_rescheduled_not_swept(stub: Stub, db: Database, verified: Verified) -> None:
    """A stale sweep entry (the session was used since) moves the expiry on."""
    email = f"{unique('s')}@customer.example"
    account_id = verified(email)
    token = stub.Login(pb.LoginRequest(email=email, password=PASSWORD), timeout=10).session_token
    digest = tokens.digest(token)
    stale = TimeQueue(db["expiries"]).schedule(
        "session", datetime(2001, 1, 1, tzinfo=UTC), digest, account_id=account_id
    )
    wait_for(lambda: db["expiries"].find_one({"_id": stale}) is None, 15, what="the stale entry")
    assert stub.Authenticate(pb.AuthenticateRequest(session_token=token), timeout=5).id == account_id
    assert db["expiries"].count_documents({"_id": under("session"), "item": digest}) >= 1


def test_an_unverified_account_goes_when_its_link_expired_and_frees_the_address(
    stub: Stub, db: Database, key_of: Callable[[str], str]
) -> None:
    email = f"{unique('late')}@customer.example"
    account_id = stub.Register(
        pb.RegisterRequest(email=email, password=PASSWORD, name="Late", account_consent_version="1"),
        timeout=10,
    ).account_id
    token = token_in(wait_for_mail(email, "verification"))
    # Time passes: the link expires, and the sweep's entry falls due.
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    db["verification_links"].update_many({"_id": under(account_id)}, {"$set": {"expires_at": long_ago}})
    TimeQueue(db["expiries"]).schedule("unverified", long_ago, account_id, subject_key=key_of(email))
    wait_for(
        lambda: db["accounts"].find_one({"_id": f"{account_id}/base"}) is None,
        15,
        what="the unverified account swept",
    )
    assert (
        code_of(lambda: stub.VerifyEmail(pb.VerifyEmailRequest(token=token, password=PASSWORD), timeout=10))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert db["profiles"].count_documents({"_id": under(account_id)}) == 0
    assert stub.Register(
        pb.RegisterRequest(email=email, password=PASSWORD, name="On time", account_consent_version="1"),
        timeout=10,
    ).account_id


def test_a_claim_whose_account_never_came_blocks_an_address_only_for_a_while(
    stub: Stub, db: Database, key_of: Callable[[str], str]
) -> None:
    """A registration that died between claiming the address and writing the account."""

    def register(email: str) -> bool:
        """Answered alike either way (issue 18); whether an account came is what differs."""
        account_id = stub.Register(
            pb.RegisterRequest(email=email, password=PASSWORD, name="Heir", account_consent_version="1"),
            timeout=10,
        ).account_id
        try:
            stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
            return False
        return True

    for claimed_at, expected in ((datetime.now(UTC), False), (datetime(2001, 1, 1, tzinfo=UTC), True)):
        email = f"{unique('orphan')}@customer.example"
        db["addresses"].insert_one(
            {
                "_id": f"{key_of(email)}/00000000",
                "n": 0,
                "account_id": f"acc_{uuid.uuid4().hex}",
                "claimed_at": claimed_at,
            }
        )
        assert register(email) == expected


def test_seeded_accounts_are_accounts_like_any_other(stub: Stub, identity: Backend, db: Database) -> None:
    """The bench's seeding (lethe_identity.seeding) writes what registration writes."""
    run = unique("seed")
    people = [Person(f"seeded{n}-{run}@bench.example") for n in range(50)]
    password_hash = PasswordHasher(time_cost=5, memory_cost=19456, parallelism=1).hash(PASSWORD)
    ids = seed_verified(
        db, identity.api.env["LETHE_SUBJECT_PEPPER"], people, password_hash, datetime.now(UTC)
    )
    login = stub.Login(pb.LoginRequest(email=people[7].email, password=PASSWORD), timeout=10)
    assert login.account.id == ids[7] and login.account.email_verified
    assert (
        stub.Authenticate(pb.AuthenticateRequest(session_token=login.session_token), timeout=5).email
        == people[7].email
    )
    copy = stub.Register(  # answered alike (issue 18): an id that leads nowhere
        pb.RegisterRequest(
            email=people[3].email, password=PASSWORD, name="Copy", account_consent_version="1"
        ),
        timeout=10,
    ).account_id
    assert copy != ids[3]
    assert (
        code_of(lambda: stub.GetProfile(pb.AccountRef(account_id=copy), timeout=5))
        == grpc.StatusCode.NOT_FOUND
    )


def test_contact_requests_are_limited_per_client_address(stub: Stub) -> None:
    def submit(client: str) -> pb.ContactRequestRef:
        return stub.SubmitContactRequest(
            pb.SubmitContactRequestRequest(
                name="Sam",
                email=f"{unique('c')}@example.org",
                message="hello",
                kind="contact",
                client_address=client,
            ),
            timeout=5,
        )

    for _ in range(3):
        submit("203.0.113.7")
    with pytest.raises(grpc.RpcError) as error:
        submit("203.0.113.7")
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(error.value.trailing_metadata())["retry-after"]) > 0  # type: ignore[attr-defined]
    assert submit("203.0.113.8").id.startswith("cr_")


def test_the_worker_deletes_closed_contact_requests_after_the_retention_period(
    stub: Stub, db: Database, identity: Backend, admin: str
) -> None:
    kept = stub.SubmitContactRequest(
        pb.SubmitContactRequestRequest(
            name="Open",
            email="open@example.org",
            message="still open",
            kind="contact",
            client_address="198.51.100.1",
        ),
        timeout=5,
    ).id
    closed = stub.SubmitContactRequest(
        pb.SubmitContactRequestRequest(
            name="Done",
            email="done@example.org",
            phone="+49 89 123456",
            message="call back",
            kind="callback",
            client_address="198.51.100.1",
        ),
        timeout=5,
    ).id
    stub.CloseContactRequest(
        pb.CloseContactRequestRequest(actor_account_id=admin, contact_request_id=closed),
        metadata=staff_metadata(admin),
        timeout=5,
    )
    wait_for(
        lambda: db["contact_requests"].find_one({"_id": closed}) is None, 15, what="the closed request swept"
    )
    assert db["contact_requests"].find_one({"_id": kept}) is not None
    assert db["contact_closures"].find_one({"_id": closed}) is None
    assert "identity-retention" in identity.worker.log()


def test_staff_lists_come_in_pages(stub: Stub, admin: str) -> None:
    sent = [
        stub.SubmitContactRequest(
            pb.SubmitContactRequestRequest(
                name="Pager",
                email=f"{unique('pg')}@example.org",
                message=f"number {n}",
                kind="contact",
                client_address=f"198.51.100.{20 + n}",
            ),
            timeout=5,
        ).id
        for n in range(5)
    ]
    seen: list[str] = []
    token = ""
    for _ in range(20):
        page = stub.ListContactRequests(
            pb.AdminListRequest(actor_account_id=admin, page_size=2, page_token=token),
            metadata=staff_metadata(admin),
            timeout=5,
        )
        assert len(page.requests) <= 2
        seen.extend(r.id for r in page.requests)
        token = page.next_page_token
        if not token:
            break
    assert [i for i in seen if i in sent] == list(reversed(sent))  # newest first, each once
    assert len(seen) == len(set(seen))
    assert (
        code_of(
            lambda: stub.ListContactRequests(
                pb.AdminListRequest(actor_account_id=admin, page_token="not a token!"),
                metadata=staff_metadata(admin),
                timeout=5,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_parallel_guesses_cannot_outrun_the_log_in_limit(stub: Stub, verified: Verified) -> None:
    email = f"{unique('burst')}@customer.example"
    verified(email)

    def guess(n: int) -> str:
        try:
            stub.Login(
                pb.LoginRequest(email=email, password=f"guess number {n}", client_address=f"198.18.0.{n}"),
                timeout=30,
            )
        except grpc.RpcError as exc:
            return str(exc.code().name)
        return "OK"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(guess, range(16)))
    assert outcomes.count("UNAUTHENTICATED") <= 10
    assert outcomes.count("RESOURCE_EXHAUSTED") >= 6
    assert "OK" not in outcomes


def test_failed_log_ins_count_across_replicas(identity: Backend, tmp_path: Path, verified: Verified) -> None:
    """A third API process on the same store sees the others' failures."""
    env, port, metrics_port, _ = backend_env("identity", "unused", identity.api.env)
    env["IDENTITY_MONGO_DB"] = identity.db_name
    replica = ServiceProcess(
        "identity-api-3",
        "lethe_identity.api",
        env,
        tmp_path / "replica.log",
        f"http://127.0.0.1:{metrics_port}/readyz",
    ).start()
    try:
        replica.wait_ready()
        with identity.channel() as a, grpc.insecure_channel(f"127.0.0.1:{port}") as b:
            first, second = Stub(a), Stub(b)
            email = f"{unique('r')}@customer.example"
            verified(email)
            for n in range(10):
                stub = first if n % 2 else second
                assert (
                    code_of(
                        lambda s=stub, n=n: s.Login(
                            pb.LoginRequest(
                                email=email, password="not it at all", client_address=f"192.0.2.{n}"
                            ),
                            timeout=10,
                        )
                    )
                    == grpc.StatusCode.UNAUTHENTICATED
                )
            for stub in (first, second):
                assert (
                    code_of(
                        lambda s=stub: s.Login(
                            pb.LoginRequest(email=email, password=PASSWORD, client_address="192.0.2.99"),
                            timeout=10,
                        )
                    )
                    == grpc.StatusCode.RESOURCE_EXHAUSTED
                )
    finally:
        replica.stop()


# -- privacy requests from the bus ----------------------------------------------------------
def everything_under(db: Database, owner: str) -> dict[str, int]:
    """How many documents of every collection are keyed under ``owner``."""
    counts = {name: db[name].count_documents({"_id": under(owner)}) for name in db.list_collection_names()}
    return {name: count for name, count in counts.items() if count}


def test_an_erasure_deletes_the_account_keeps_a_bare_tombstone_and_answers_once(
    stub: Stub,
    db: Database,
    amqp_url: str,
    verified: Verified,
    key_of: Callable[[str], str],
    privacy_event: Callable[..., Envelope],
) -> None:
    email = f"{unique('er')}@customer.example"
    account_id = verified(email)
    session = stub.Login(pb.LoginRequest(email=email, password=PASSWORD), timeout=10).session_token
    stub.UpdateProfile(
        pb.UpdateProfileRequest(account_id=account_id, name="Renamed", email=f"new-{email}"), timeout=10
    )
    stub.SubmitContactRequest(
        pb.SubmitContactRequestRequest(
            name="Test Person", email=email, message="call me", kind="contact", client_address="192.0.2.1"
        ),
        timeout=10,
    )
    key = key_of(email)
    assert everything_under(db, account_id) and everything_under(db, key)
    request_id = f"pr_{uuid.uuid4().hex}"
    publisher = EventPublisher(amqp_url)
    try:
        with EventTap(amqp_url, "identity", "privacy.receipt") as tap:
            for _ in range(2):  # the same request, delivered as two events
                publisher.publish(privacy_event("privacy.erasure_requested", account_id, key, request_id))
            sent = wait_for(
                lambda: list(db.privacy_receipts_sent.find({"_id": under(request_id)})),
                15,
                what="the receipt",
            )
            time.sleep(1.5)
            # Other identity backends on this broker answer the same event: ours is the one
            # whose id this backend recorded.
            ours = set(sent[0]["_events"])
            receipts = [e for e in tap.drain() if e["id"] in ours]
    finally:
        publisher.close()
    assert len(sent) == 1 and len(ours) == 1 and receipts
    assert list(db.privacy_receipts_sent.find({"_id": under(request_id)})) == sent
    assert receipts[0]["payload"]["outcome"] == "done" and email not in str(receipts[0])  # type: ignore[index]
    assert (
        code_of(lambda: stub.Authenticate(pb.AuthenticateRequest(session_token=session), timeout=5))
        == grpc.StatusCode.UNAUTHENTICATED
    )
    assert db.contact_requests.count_documents({"subject_key": key}) == 0
    assert db.sessions.count_documents({"account_id": account_id}) == 0
    assert db.verification_tokens.count_documents({"account_id": account_id}) == 0
    assert everything_under(db, account_id) == {}
    # Nothing names the address's key any more: the released claim went with the account.
    assert everything_under(db, key) == {}
    assert db.addresses.count_documents({"_id": under(key)}) == 0
    tombstone = db.erasure_tombstones.find_one({"_id": request_id})
    assert tombstone is not None and set(tombstone) == {"_id", "erased_at"}
    # The address is free again.
    assert stub.Register(
        pb.RegisterRequest(email=email, password=PASSWORD, name="Again", account_consent_version="1"),
        timeout=10,
    ).account_id


def test_a_restriction_hides_contact_requests_and_stops_staff_decisions(
    stub: Stub,
    admin: str,
    amqp_url: str,
    verified: Verified,
    key_of: Callable[[str], str],
    privacy_event: Callable[..., Envelope],
) -> None:
    domain = f"{unique('rs')}.example".replace("_", "-")
    stub.CreateOrganisation(
        pb.CreateOrganisationRequest(actor_account_id=admin, name="Restricted Ltd", domains=[domain]),
        metadata=staff_metadata(admin),
        timeout=5,
    )
    email = f"person@{domain}"
    account_id = verified(email)
    assert stub.RequestPortalAccess(pb.AccountRef(account_id=account_id), timeout=5).status == "pending"
    contact_id = stub.SubmitContactRequest(
        pb.SubmitContactRequestRequest(
            name="Test Person", email=email, message="hello", kind="contact", client_address="192.0.2.2"
        ),
        timeout=10,
    ).id
    key = key_of(email)
    publisher = EventPublisher(amqp_url)
    try:
        publisher.publish(privacy_event("privacy.restriction_changed", account_id, key, restricted=True))
        wait_for(
            lambda: stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5).restricted,
            15,
            what="the restriction",
        )
        queue = stub.ListContactRequests(
            pb.AdminListRequest(actor_account_id=admin), metadata=staff_metadata(admin), timeout=5
        )
        assert contact_id not in [c.id for c in queue.requests]
        assert (
            code_of(
                lambda: stub.DecidePortalAccess(
                    pb.DecidePortalAccessRequest(actor_account_id=admin, account_id=account_id, approve=True),
                    metadata=staff_metadata(admin),
                    timeout=5,
                )
            )
            == grpc.StatusCode.FAILED_PRECONDITION
        )
        publisher.publish(privacy_event("privacy.restriction_changed", account_id, key, restricted=False))
        wait_for(
            lambda: not stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5).restricted,
            15,
            what="the lifting",
        )
    finally:
        publisher.close()
    queue = stub.ListContactRequests(
        pb.AdminListRequest(actor_account_id=admin), metadata=staff_metadata(admin), timeout=5
    )
    assert contact_id in [c.id for c in queue.requests]
    assert (
        stub.DecidePortalAccess(
            pb.DecidePortalAccessRequest(actor_account_id=admin, account_id=account_id, approve=True),
            metadata=staff_metadata(admin),
            timeout=5,
        ).status
        == "approved"
    )
