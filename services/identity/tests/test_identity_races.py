"""Races on the real dev store, against two API and two worker replicas (issue 12).

Each test fires the competing calls at the same instant (a barrier) over a channel that
spreads them round-robin over both API replicas, many times, and asserts the final
state, the events and the mails. On the earlier design (one account document that every
writer replaced, read-then-replace updates on the dev store) each of them loses writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from pymongo.database import Database

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.store.keys import under
from lethe_testing import EventTap, code_of, mails_to, token_in, unique, wait_for, wait_for_mail
from lethe_testing.staff import staff_metadata

Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]
PEOPLE = 8


def at_once(*calls: Callable[[], Any]) -> list[str]:
    """Run ``calls`` in threads released together; each one's outcome: OK or the code."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> str:
        barrier.wait()
        try:
            call()
        except grpc.RpcError as exc:
            return str(exc.code().name)
        return "OK"

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def in_parallel(work: Callable[[int], Any], count: int) -> list[Any]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(work, range(count)))


@pytest.fixture
def pending(stub: Stub, admin: str, verified: Verified) -> tuple[str, list[str], list[str]]:
    """An organisation and PEOPLE of its employees with a pending portal request:
    (domain, account ids, addresses)."""
    domain = f"{unique('race')}.example".replace("_", "-")
    stub.CreateOrganisation(
        pb.CreateOrganisationRequest(actor_account_id=admin, name="Racing Ltd", domains=[domain]),
        metadata=staff_metadata(admin),
        timeout=5,
    )
    emails = [f"person{n}@{domain}" for n in range(PEOPLE)]
    ids = in_parallel(lambda n: verified(emails[n]), PEOPLE)
    for account_id in ids:
        assert stub.RequestPortalAccess(pb.AccountRef(account_id=account_id), timeout=5).status == "pending"
    return domain, ids, emails


def decided_events(tap: EventTap, ids: list[str]) -> dict[str, list[str]]:
    """The decisions published per account (distinct events: a relay may repeat one)."""
    seen: dict[str, dict[str, str]] = {account_id: {} for account_id in ids}
    for event in tap.drain(1.5):
        payload: Any = event["payload"]
        if payload["account_id"] in seen and payload["status"] != "pending":
            seen[payload["account_id"]][str(event["id"])] = payload["status"]
    return {account_id: list(events.values()) for account_id, events in seen.items()}


def test_a_staff_decision_and_the_persons_profile_edit_both_survive(
    stub: Stub, admin: str, amqp_url: str, pending: tuple[str, list[str], list[str]]
) -> None:
    _, ids, _ = pending
    with EventTap(amqp_url, "identity", "account.portal_access_changed") as tap:

        def race(n: int) -> list[str]:
            return at_once(
                lambda: stub.DecidePortalAccess(
                    pb.DecidePortalAccessRequest(actor_account_id=admin, account_id=ids[n], approve=True),
                    metadata=staff_metadata(admin),
                    timeout=10,
                ),
                lambda: stub.UpdateProfile(
                    pb.UpdateProfileRequest(
                        account_id=ids[n], name=f"Edited {n}", phone=f"+49 30 {1000 + n}"
                    ),
                    timeout=10,
                ),
            )

        assert in_parallel(race, PEOPLE) == [["OK", "OK"]] * PEOPLE
        events = decided_events(tap, ids)
    for n, account_id in enumerate(ids):
        profile = stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5)
        assert (profile.portal_access.status, profile.name, profile.phone) == (
            "approved",
            f"Edited {n}",
            f"+49 30 {1000 + n}",
        )
        assert events[account_id] == ["approved"]


def test_two_staff_deciding_one_request_exactly_one_wins(
    stub: Stub, admin: str, second_admin: str, amqp_url: str, pending: tuple[str, list[str], list[str]]
) -> None:
    _, ids, emails = pending
    with EventTap(amqp_url, "identity", "account.portal_access_changed") as tap:

        def race(n: int) -> list[str]:
            return at_once(
                *(
                    lambda actor=actor, approve=approve: stub.DecidePortalAccess(
                        pb.DecidePortalAccessRequest(
                            actor_account_id=actor, account_id=ids[n], approve=approve, reason="no"
                        ),
                        metadata=staff_metadata(actor),
                        timeout=10,
                    )
                    for actor, approve in ((admin, True), (second_admin, False))
                )
            )

        outcomes = in_parallel(race, PEOPLE)
        events = decided_events(tap, ids)
    for n, account_id in enumerate(ids):
        assert sorted(outcomes[n]) == ["FAILED_PRECONDITION", "OK"], outcomes[n]
        winner = "approved" if outcomes[n][0] == "OK" else "rejected"
        assert stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5).portal_access.status == winner
        assert events[account_id] == [winner]
        wait_for(lambda e=emails[n]: mails_to(e, kind="portal-access"), 10, what="the mail")
    for email in emails:  # one decision, one mail
        assert len(mails_to(email, kind="portal-access")) == 1
    # The staff lists agree: each person is in the list of the decision that won, once.
    for status in ("pending", "approved", "rejected"):
        listed = [
            r.account_id
            for r in stub.ListPortalAccessRequests(
                pb.AdminListRequest(actor_account_id=admin, status=status, page_size=200),
                metadata=staff_metadata(admin),
                timeout=5,
            ).requests
        ]
        expected = (
            []
            if status == "pending"
            else [i for n, i in enumerate(ids) if (outcomes[n][0] == "OK") == (status == "approved")]
        )
        assert sorted(i for i in listed if i in ids) == sorted(expected)


def test_concurrent_profile_edits_lose_nothing(stub: Stub, verified: Verified) -> None:
    account_id = verified(f"{unique('edit')}@customer.example")
    for n in range(12):
        new_address = f"{unique('moved')}@customer.example"
        assert (
            at_once(
                lambda n=n: stub.UpdateProfile(
                    pb.UpdateProfileRequest(account_id=account_id, name=f"Name {n}"), timeout=10
                ),
                lambda n=n: stub.UpdateProfile(
                    pb.UpdateProfileRequest(account_id=account_id, phone=f"+49 89 {n:04d}"), timeout=10
                ),
                lambda a=new_address: stub.UpdateProfile(
                    pb.UpdateProfileRequest(account_id=account_id, email=a), timeout=10
                ),
            )
            == ["OK"] * 3
        )
        profile = stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5)
        assert (profile.name, profile.phone, profile.pending_email) == (
            f"Name {n}",
            f"+49 89 {n:04d}",
            new_address,
        )


def test_one_address_one_account_however_many_register_at_once(stub: Stub, db: Database) -> None:
    for _ in range(5):
        email = f"{unique('twice')}@customer.example"
        ids: list[str] = []
        outcomes = at_once(
            *(
                lambda e=email, ids=ids: ids.append(
                    stub.Register(
                        pb.RegisterRequest(
                            email=e,
                            password="lantern orchard seventeen",
                            name="Twin",
                            account_consent_version="1",
                        ),
                        timeout=10,
                    ).account_id
                )
                for _ in range(4)
            )
        )
        assert outcomes == ["OK"] * 4  # answered alike (issue 18); one id leads to an account
        found = at_once(*(lambda a=a: stub.GetProfile(pb.AccountRef(account_id=a), timeout=5) for a in ids))
        assert sorted(found) == ["NOT_FOUND"] * 3 + ["OK"]
    # No half-made account is left by the losers.
    assert db["profiles"].count_documents({"email": email}) == 1


def test_two_staff_editing_one_organisation_keep_its_domains_and_claims_in_step(
    stub: Stub, admin: str, second_admin: str
) -> None:
    for _ in range(4):
        base = unique("org").replace("_", "-")
        kept, first, second = (f"{name}-{base}.example" for name in ("kept", "one", "two"))
        org = stub.CreateOrganisation(
            pb.CreateOrganisationRequest(actor_account_id=admin, name="Before", domains=[kept]),
            metadata=staff_metadata(admin),
            timeout=5,
        ).id

        def update(actor: str, org: str = org, **change: Any) -> Callable[[], Any]:
            return lambda: stub.UpdateOrganisation(
                pb.UpdateOrganisationRequest(actor_account_id=actor, organisation_id=org, **change),
                metadata=staff_metadata(actor),
                timeout=10,
            )

        assert (
            at_once(
                update(admin, domains=[kept, first], set_domains=True),
                update(second_admin, name="Renamed"),
                update(second_admin, domains=[kept, second], set_domains=True),
            )
            == ["OK"] * 3
        )
        listed = [
            o
            for o in stub.ListOrganisations(
                pb.AdminListRequest(actor_account_id=admin, page_size=200),
                metadata=staff_metadata(admin),
                timeout=5,
            ).organisations
            if o.id == org
        ]
        assert len(listed) == 1 and listed[0].name == "Renamed"
        domains = list(listed[0].domains)
        assert domains in (sorted([kept, first]), sorted([kept, second]))
        for domain in (first, second):  # a domain is claimed exactly while it is listed
            try:
                stub.CreateOrganisation(
                    pb.CreateOrganisationRequest(actor_account_id=admin, name="Other", domains=[domain]),
                    metadata=staff_metadata(admin),
                    timeout=5,
                )
                claimable = True
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
                claimable = False
            assert claimable is (domain not in domains)


def test_an_email_change_link_loses_to_a_newer_change_and_to_a_registration(
    stub: Stub, verified: Verified
) -> None:
    account_id = verified(f"{unique('mover')}@customer.example")
    first, second = (f"{unique(n)}@customer.example" for n in ("first", "second"))
    stub.UpdateProfile(pb.UpdateProfileRequest(account_id=account_id, email=first), timeout=10)
    old_link = token_in(wait_for_mail(first, "verification"))
    # The link of the first change racing a newer change: never both, never neither.
    outcomes = at_once(
        lambda: stub.VerifyEmail(pb.VerifyEmailRequest(token=old_link), timeout=10),
        lambda: stub.UpdateProfile(pb.UpdateProfileRequest(account_id=account_id, email=second), timeout=10),
    )
    profile = stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5)
    if outcomes[0] == "OK":  # switched first; the newer change waits on top of it
        assert (profile.email, profile.pending_email) == (first, second)
    else:  # superseded: the newer change holds
        assert outcomes[0] == "INVALID_ARGUMENT" and profile.pending_email == second
    # Someone registers the pending address before the link is used: 409, link not spent.
    taken = f"{unique('taken')}@customer.example"
    stub.UpdateProfile(pb.UpdateProfileRequest(account_id=account_id, email=taken), timeout=10)
    link = token_in(wait_for_mail(taken, "verification"))
    stub.Register(
        pb.RegisterRequest(
            email=taken, password="lantern orchard seventeen", name="Quick", account_consent_version="1"
        ),
        timeout=10,
    )
    for _ in range(2):
        assert (
            code_of(lambda: stub.VerifyEmail(pb.VerifyEmailRequest(token=link), timeout=10))
            == grpc.StatusCode.ALREADY_EXISTS
        )


def test_two_staff_closing_one_contact_request_one_wins(stub: Stub, admin: str, second_admin: str) -> None:
    for n in range(3):
        contact_id = stub.SubmitContactRequest(
            pb.SubmitContactRequestRequest(
                name="Twice",
                email=f"{unique('close')}@example.org",
                message="hi",
                kind="contact",
                client_address=f"198.51.100.{80 + n}",
            ),
            timeout=5,
        ).id
        outcomes = at_once(
            *(
                lambda actor=actor, cid=contact_id: stub.CloseContactRequest(
                    pb.CloseContactRequestRequest(actor_account_id=actor, contact_request_id=cid),
                    metadata=staff_metadata(actor),
                    timeout=10,
                )
                for actor in (admin, second_admin)
            )
        )
        assert sorted(outcomes) == ["FAILED_PRECONDITION", "OK"]
        closed = [
            c.id
            for c in stub.ListContactRequests(
                pb.AdminListRequest(actor_account_id=admin, status="closed", page_size=200),
                metadata=staff_metadata(admin),
                timeout=5,
            ).requests
        ]
        still_open = [
            c.id
            for c in stub.ListContactRequests(
                pb.AdminListRequest(actor_account_id=admin, page_size=200),
                metadata=staff_metadata(admin),
                timeout=5,
            ).requests
        ]
        assert closed.count(contact_id) == 1 and contact_id not in still_open


def test_an_erasure_under_fire_leaves_nothing_of_the_account(
    stub: Stub,
    db: Database,
    publisher: EventPublisher,
    verified: Verified,
    key_of: Callable[[str], str],
    privacy_event: Callable[..., Envelope],
) -> None:
    """Log-ins, profile edits and e-mail changes running while the erasure is handled:
    whatever they write is either found by the erasure or taken back by the writer."""
    email = f"{unique('fire')}@customer.example"
    account_id = verified(email)
    stop = threading.Event()

    def hammer(n: int) -> int:
        calls = 0
        while not stop.is_set():
            calls += 1
            try:
                if n % 3 == 0:
                    stub.Login(
                        pb.LoginRequest(
                            email=email, password="lantern orchard seventeen", client_address=f"192.0.2.{n}"
                        ),
                        timeout=10,
                    )
                elif n % 3 == 1:
                    stub.UpdateProfile(
                        pb.UpdateProfileRequest(account_id=account_id, name=f"Name {calls}"), timeout=10
                    )
                else:
                    stub.UpdateProfile(
                        pb.UpdateProfileRequest(
                            account_id=account_id, email=f"{unique('f')}@customer.example"
                        ),
                        timeout=10,
                    )
            except grpc.RpcError:
                pass
        return calls

    with ThreadPoolExecutor(6) as pool:
        running = [pool.submit(hammer, n) for n in range(6)]
        event = privacy_event("privacy.erasure_requested", account_id, key_of(email))
        publisher.publish(event)
        wait_for(
            lambda: db.privacy_receipts_sent.find_one({"_id": under(event.payload["request_id"])}),
            20,
            what="the erasure",
        )
        stop.set()
        assert all(job.result() > 0 for job in running)
    counts = {
        name: db[name].count_documents({"_id": under(account_id)}) for name in db.list_collection_names()
    }
    assert {name: count for name, count in counts.items() if count} == {}
    assert db.sessions.count_documents({"account_id": account_id}) == 0
    assert db.verification_tokens.count_documents({"account_id": account_id}) == 0


# -- restriction and lift -------------------------------------------------------------------------
def restriction(
    account_id: str, key: str, restricted: bool, at: datetime, privacy_event: Callable[..., Envelope]
) -> Envelope:
    return privacy_event(
        "privacy.restriction_changed", account_id, key, occurred_at=at, restricted=restricted
    )


@pytest.mark.parametrize("last_is_restriction", [False, True])
@pytest.mark.parametrize("publish", ["later-first", "together"])
def test_restriction_and_lift_in_any_order_end_in_the_later_one(
    stub: Stub,
    admin: str,
    db: Database,
    publisher: EventPublisher,
    verified: Verified,
    key_of: Callable[[str], str],
    privacy_event: Callable[..., Envelope],
    last_is_restriction: bool,
    publish: str,
) -> None:
    email = f"{unique('order')}@customer.example"
    account_id = verified(email)
    contact_id = stub.SubmitContactRequest(
        pb.SubmitContactRequestRequest(
            name="Orderly",
            email=email,
            message="hello",
            kind="contact",
            client_address=f"198.51.100.{60 + last_is_restriction * 2 + (publish == 'together')}",
        ),
        timeout=10,
    ).id
    now = datetime.now(UTC)
    earlier = restriction(account_id, key_of(email), not last_is_restriction, now, privacy_event)
    later = restriction(
        account_id, key_of(email), last_is_restriction, now + timedelta(seconds=1), privacy_event
    )
    if publish == "together":
        in_parallel(lambda n: publisher.publish((later, earlier)[n]), 2)
    else:  # the later one is handled first (a retry of the earlier one, another replica)
        publisher.publish(later)
        wait_for(
            lambda: db.privacy_receipts_sent.find_one({"_id": under(later.payload["request_id"])}),
            15,
            what="the later one handled",
        )
        publisher.publish(earlier)
    for event in (earlier, later):
        wait_for(
            lambda e=event: db.privacy_receipts_sent.find_one({"_id": under(e.payload["request_id"])}),
            15,
            what="both handled",
        )
    assert stub.GetProfile(pb.AccountRef(account_id=account_id), timeout=5).restricted is last_is_restriction
    queue = stub.ListContactRequests(
        pb.AdminListRequest(actor_account_id=admin, page_size=200), metadata=staff_metadata(admin), timeout=5
    )
    assert (contact_id in [c.id for c in queue.requests]) is not last_is_restriction
