"""The consent API and worker over gRPC, against the real store, broker and SMTP sink.

Two API and two worker processes share one database and one queue. The requests
here fan out to consent itself and to "gateway", which the test plays: it answers
with the gateway's receipts. (No real process answers as the gateway, whereas the
identity, shop and newsletter workers of other test stacks on the same broker see
this one's erasure events too and answer them; their receipts are left out below.)
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import Receipt
from lethe_common.staff import PRIVACY
from lethe_common.subject import subject_key
from lethe_consent.texts import seed_purposes
from lethe_testing import (
    Backend,
    EventTap,
    code_of,
    mail_text,
    mails_to,
    remove_backend,
    start_backend,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
    worker_metrics,
)
from lethe_testing.staff import Metadata, staff_metadata

T = TypeVar("T")
PLAYED = ("consent", "gateway")
Stub = consent_pb2_grpc.ConsentServiceStub
ADMIN = "acc_" + "a" * 32
TEXTS = [
    pb.LocalisedText(language="de", title="Titel", body="Deutscher Text"),
    pb.LocalisedText(language="en", title="Title", body="English text"),
]


@pytest.fixture(scope="module")
def consent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = start_backend(
        "consent",
        unique("cns"),
        tmp_path_factory.mktemp("consent"),
        CONSENT_RECEIPT_SERVICES=",".join(PLAYED),
        CONSENT_REQUEST_DUE_MONTHS="0",
        CONSENT_SWEEP_INTERVAL_SECONDS="0.5",
        CONSENT_CONFIRMATION_MAILS_PER_ADDRESS="2",
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


@pytest.fixture(scope="module")
def publisher(amqp_url: str) -> Iterator[EventPublisher]:
    publisher = EventPublisher(amqp_url)
    yield publisher
    publisher.close()


def staff() -> Metadata:
    """A privacy staff member's call (ADMIN's), as the gateway makes it."""
    return staff_metadata(ADMIN, PRIVACY)


def person(name: str = "Grace Hopper", account: bool = True) -> pb.Person:
    return pb.Person(
        account_id=f"acc_{uuid.uuid4().hex}" if account else "",
        email=f"{unique('p')}@customer.example",
        name=name,
    )


def current(stub: Stub, purpose: str) -> str:
    texts = stub.ListCurrentTexts(pb.Empty(), timeout=5).texts
    return next(t.version for t in texts if t.purpose == purpose)


# -- texts -------------------------------------------------------------------------------------
def test_the_seeded_purposes_have_current_texts_in_german_and_english(stub: Stub) -> None:
    texts = {t.purpose: t for t in stub.ListCurrentTexts(pb.Empty(), timeout=5).texts}
    assert {"account", "newsletter", "analytics"} <= set(texts)
    assert "access_logs" not in texts  # legitimate interest: no consent text
    for text in texts.values():
        assert {t.language for t in text.texts} == {"de", "en"}
        assert all(t.title and t.body for t in text.texts)
    assert texts["newsletter"].direct_marketing and not texts["analytics"].direct_marketing


def test_a_published_version_never_changes(stub: Stub) -> None:
    purpose = f"survey_{unique('s')[-8:]}"
    stub.PublishText(
        pb.PublishTextRequest(actor_account_id=ADMIN, purpose=purpose, version="v1", texts=TEXTS),
        metadata=staff(),
        timeout=5,
    )
    changed = [pb.LocalisedText(language="de", title="Titel", body="Anders"), TEXTS[1]]
    assert (
        code_of(
            lambda: stub.PublishText(
                pb.PublishTextRequest(actor_account_id=ADMIN, purpose=purpose, version="v1", texts=changed),
                metadata=staff(),
                timeout=5,
            )
        )
        == grpc.StatusCode.ALREADY_EXISTS
    )
    assert current(stub, purpose) == "v1"
    assert (
        code_of(
            lambda: stub.PublishText(
                pb.PublishTextRequest(actor_account_id=ADMIN, purpose=purpose, version="v2", texts=TEXTS[:1]),
                metadata=staff(),
                timeout=5,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )


# -- records -------------------------------------------------------------------------------------
def test_grant_new_version_withdraw_keeps_the_exact_text_and_announces_it(stub: Stub, amqp_url: str) -> None:
    purpose = f"webinar_{unique('w')[-8:]}"
    stub.PublishText(
        pb.PublishTextRequest(actor_account_id=ADMIN, purpose=purpose, version="2026-01", texts=TEXTS),
        metadata=staff(),
        timeout=5,
    )
    who = person()
    granted = stub.Grant(
        pb.GrantRequest(
            person=who, purpose=purpose, version="2026-01", channel="web_form", client_address="203.0.113.77"
        ),
        timeout=5,
    )
    assert (granted.action, granted.client_address) == ("grant", "203.0.113.0")
    newer = [
        pb.LocalisedText(language="de", title="Neu", body="Neuer Text"),
        pb.LocalisedText(language="en", title="New", body="New text"),
    ]
    stub.PublishText(
        pb.PublishTextRequest(actor_account_id=ADMIN, purpose=purpose, version="2026-02", texts=newer),
        metadata=staff(),
        timeout=5,
    )
    overview = stub.GetConsents(who, timeout=5)
    state = next(s for s in overview.states if s.purpose == purpose)
    assert (state.state, state.version, state.current_version) == ("granted", "2026-01", "2026-02")
    grant = overview.history[0]
    assert grant.text.version == "2026-01"
    assert {t.body for t in grant.text.texts} == {"Deutscher Text", "English text"}

    with EventTap(amqp_url, "consent", "consent.withdrawn") as tap:
        withdrawn = stub.Withdraw(
            pb.WithdrawRequest(person=who, purpose=purpose, channel="web_form"), timeout=5
        )
        events = wait_for(
            lambda: [e for e in tap.drain() if e["payload"]["record_id"] == withdrawn.record.id],
            10,  # type: ignore[index]
            what="the consent.withdrawn event",
        )
    assert withdrawn.erasure_request_id == ""
    event = events[0]
    assert event["subject_key"] and who.email not in str(event) and who.name not in str(event)
    history = stub.GetConsents(who, timeout=5).history
    assert [r.action for r in history] == ["withdrawal", "grant"]
    assert history[1].text.version == "2026-01" and history[1].id == granted.id


def test_unknown_purposes_and_outdated_versions_are_refused(stub: Stub) -> None:
    who = person()
    for purpose, version in (
        ("astrology", "2026-01"),
        ("newsletter", "1999-01"),
        ("access_logs", "2026-01"),
        ("NEWS LETTER", "x"),
    ):
        assert (
            code_of(
                lambda p=purpose, v=version: stub.Grant(
                    pb.GrantRequest(person=who, purpose=p, version=v, channel="web_form"), timeout=5
                )
            )
            == grpc.StatusCode.INVALID_ARGUMENT
        )
    assert (
        code_of(
            lambda: stub.Grant(
                pb.GrantRequest(
                    person=pb.Person(email="not an address"),
                    purpose="newsletter",
                    version=current(stub, "newsletter"),
                    channel="web_form",
                ),
                timeout=5,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert stub.GetConsents(who, timeout=5).history == []


def test_no_rpc_can_change_or_delete_a_record() -> None:
    methods = pb.DESCRIPTOR.services_by_name["ConsentService"].methods_by_name
    assert not [m for m in methods if re.match(r"(Update|Delete|Edit|Remove)(Consent|Record)", m)]


def test_the_gpc_signal_refuses_analytics_once_and_says_why(stub: Stub) -> None:
    who = person()
    first = stub.ApplyGlobalPrivacyControl(pb.GpcRequest(person=who), timeout=5)
    again = stub.ApplyGlobalPrivacyControl(pb.GpcRequest(person=who), timeout=5)
    assert first.recorded and not again.recorded
    assert (first.record.action, first.record.reason) == ("refusal", "global_privacy_control")
    granted = stub.Grant(
        pb.GrantRequest(
            person=who,
            purpose="analytics",
            version=current(stub, "analytics"),
            channel="web_form",
            global_privacy_control=True,
        ),
        timeout=5,
    )
    assert granted.action == "refusal"
    state = next(s for s in stub.GetConsents(who, timeout=5).states if s.purpose == "analytics")
    assert state.state == "refused"


def test_gpc_withdraws_a_granted_analytics_consent(stub: Stub) -> None:
    who = person()
    stub.Grant(
        pb.GrantRequest(
            person=who, purpose="analytics", version=current(stub, "analytics"), channel="web_form"
        ),
        timeout=5,
    )
    reply = stub.ApplyGlobalPrivacyControl(pb.GpcRequest(person=who), timeout=5)
    assert (reply.record.action, reply.record.reason) == ("withdrawal", "global_privacy_control")


def test_the_account_consent_is_recorded_once_from_account_verified(
    stub: Stub, publisher: EventPublisher, consent: Backend
) -> None:
    who = person()
    key = subject_key(consent.api.env["LETHE_SUBJECT_PEPPER"], who.email)
    event = Envelope(
        type="account.verified",
        source="identity",
        subject_key=key,
        payload={"account_id": who.account_id, "account_consent_version": current(stub, "account")},
    )
    publisher.publish(event)
    publisher.publish(event)  # redelivered

    def recorded() -> list[pb.ConsentRecord]:
        return list(stub.GetConsents(who, timeout=5).history)

    history = wait_for(recorded, 15, what="the account consent record")
    assert [(r.purpose, r.action, r.channel) for r in history] == [("account", "grant", "double_opt_in")]


# -- privacy requests ------------------------------------------------------------------------------
def receipt(
    publisher: EventPublisher, service: str, request_id: str, key: str, outcome: str = "done", note: str = ""
) -> None:
    publisher.publish(
        Envelope(
            type="privacy.receipt",
            source=service,
            subject_key=key,
            payload=Receipt(
                request_id, "erasure", outcome, deleted=(f"{service} data",), note=note
            ).payload(),
        )
    )


def wait_status(stub: Stub, request_id: str, token: str, status: str) -> pb.PrivacyRequest:
    def reached() -> pb.PrivacyRequest | None:
        got = stub.GetPrivacyRequest(pb.FollowRequest(request_id=request_id, token=token), timeout=5)
        return got if got.status == status else None

    return wait_for(reached, 15, what=f"status {status}")


def test_an_erasure_completes_when_the_last_receipt_arrives_and_repeats_change_nothing(
    stub: Stub, publisher: EventPublisher, amqp_url: str
) -> None:
    who = person()
    with EventTap(amqp_url, "consent", "privacy.erasure_requested") as tap:
        opened = stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(person=who, kind="erasure", authenticated=True), timeout=5
        )
        request_id, token = opened.request.id, opened.follow_token
        event = wait_for(lambda: [e for e in tap.drain() if e["payload"]["request_id"] == request_id], 10)[0]  # type: ignore[index]
    key = str(event["subject_key"])
    assert opened.request.status == "in_progress" and who.email not in str(event)

    def receipts() -> list[pb.ServiceReceipt]:
        return [
            r
            for r in stub.GetPrivacyRequest(
                pb.FollowRequest(request_id=request_id, token=token), timeout=5
            ).receipts
            if r.service in PLAYED
        ]

    wait_for(lambda: [r.service for r in receipts()] == ["consent"], 15, what="consent's own receipt")
    follow = stub.GetPrivacyRequest(pb.FollowRequest(request_id=request_id, token=token), timeout=5)
    assert (follow.status, list(follow.awaiting_services)) == ("in_progress", ["gateway"])

    receipt(publisher, "gateway", request_id, key, "deferred", "a campaign is being sent")
    deferred = wait_status(stub, request_id, token, "deferred")
    assert "gateway: a campaign is being sent" in deferred.decision
    receipt(publisher, "gateway", request_id, key)
    receipt(publisher, "gateway", request_id, key)  # the gateway handled the event twice
    done = wait_status(stub, request_id, token, "complete")
    assert done.completed_at and list(done.awaiting_services) == []
    assert sorted((r.service, r.outcome) for r in done.receipts if r.service in PLAYED) == [
        ("consent", "done"),
        ("gateway", "deferred"),
        ("gateway", "done"),
    ]
    receipt(publisher, "gateway", request_id, key)
    time.sleep(1)
    assert len(receipts()) == 3
    assert (
        stub.GetPrivacyRequest(pb.FollowRequest(request_id=request_id, token=token), timeout=5).completed_at
        == done.completed_at
    )


def test_a_request_past_its_due_date_shows_in_the_overdue_metric(stub: Stub, consent: Backend) -> None:
    opened = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(person=person(), kind="access", authenticated=True), timeout=5
    )
    assert opened.request.overdue  # CONSENT_REQUEST_DUE_MONTHS=0: due on receipt

    def overdue_access() -> float:
        found = re.search(
            r'^lethe_privacy_requests_overdue\{kind="access"\} (\S+)$', worker_metrics(consent), re.M
        )
        return float(found.group(1)) if found else 0.0

    assert wait_for(lambda: overdue_access() >= 1, 15, what="the overdue gauge") >= 1
    listed = stub.ListPrivacyRequests(
        pb.AdminListRequest(actor_account_id=ADMIN, overdue_only=True), metadata=staff(), timeout=5
    ).requests
    assert opened.request.id in [r.id for r in listed]
    stub.UpdatePrivacyRequest(
        pb.UpdatePrivacyRequestRequest(
            actor_account_id=ADMIN, request_id=opened.request.id, status="complete", reason="export sent"
        ),
        metadata=staff(),
        timeout=5,
    )
    listed = stub.ListPrivacyRequests(
        pb.AdminListRequest(actor_account_id=ADMIN, overdue_only=True), metadata=staff(), timeout=5
    ).requests
    assert opened.request.id not in [r.id for r in listed]


def test_an_erasure_pseudonymises_the_records_but_keeps_the_proof(
    stub: Stub, db: Database, consent: Backend
) -> None:
    who = person(name="Ada Byron")
    version = current(stub, "newsletter")
    stub.Grant(
        pb.GrantRequest(
            person=who,
            purpose="newsletter",
            version=version,
            channel="double_opt_in",
            client_address="198.51.100.9",
        ),
        timeout=5,
    )
    assert db.consent_records.find_one({"account_id": who.account_id})["email"] == who.email
    opened = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(person=who, kind="erasure", authenticated=True), timeout=5
    )

    def pseudonymised() -> list[dict[str, object]]:
        docs = list(db.consent_records.find({"account_id": who.account_id}))
        return docs if docs and all("pseudonymised_at" in d for d in docs) else []

    docs = wait_for(pseudonymised, 15, what="pseudonymised records")
    for doc in docs:
        assert not {"email", "name", "client_address"} & set(doc)
        assert who.email not in str(doc) and "Ada Byron" not in str(doc)
        assert doc["subject_key"] == subject_key(consent.api.env["LETHE_SUBJECT_PEPPER"], who.email)
    assert sorted((d["purpose"], d["action"], d["version"]) for d in docs) == [
        ("newsletter", "grant", version),
        ("newsletter", "withdrawal", version),
    ]
    history = stub.GetConsents(pb.Person(account_id=who.account_id, email=who.email), timeout=5).history
    assert history[-1].text.version == version and history[-1].pseudonymised
    assert opened.request.id


def test_a_request_without_an_account_waits_for_the_mailed_link(stub: Stub, db: Database) -> None:
    who = person(account=False)
    reply = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(person=who, kind="restriction", authenticated=False), timeout=5
    )
    assert not reply.HasField("request") and reply.follow_token == ""
    mail = wait_for_mail(who.email, "privacy-request-confirmation")
    token = token_in(mail)
    follow_id, follow_token = re.search(
        r"privacy-requests/(pr_[0-9a-f]{32})\?token=([\w-]{43})", mail_text(mail)
    ).groups()
    waiting = stub.GetPrivacyRequest(pb.FollowRequest(request_id=follow_id, token=follow_token), timeout=5)
    assert waiting.status == "awaiting_confirmation"
    confirmed = stub.ConfirmPrivacyRequest(pb.TokenRequest(token=token), timeout=5)
    assert (confirmed.id, confirmed.status) == (follow_id, "in_progress")
    assert "email" not in db.privacy_requests.find_one({"_id": follow_id})
    again = stub.ConfirmPrivacyRequest(pb.TokenRequest(token=token), timeout=5)
    assert again.id == follow_id
    assert (
        code_of(
            lambda: stub.GetPrivacyRequest(pb.FollowRequest(request_id=follow_id, token=token), timeout=5)
        )
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        code_of(lambda: stub.ConfirmPrivacyRequest(pb.TokenRequest(token="x" * 43), timeout=5))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_confirmation_mails_to_one_address_are_limited(stub: Stub) -> None:
    who = person(account=False)
    for _ in range(3):
        stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(person=who, kind="access", authenticated=False), timeout=5
        )
    wait_for_mail(who.email, "privacy-request-confirmation", 2)
    time.sleep(1)
    assert len(mails_to(who.email, kind="privacy-request-confirmation")) == 2


def test_an_objection_to_direct_marketing_stops_it_at_once(stub: Stub, amqp_url: str) -> None:
    who = person()
    stub.Grant(
        pb.GrantRequest(
            person=who, purpose="newsletter", version=current(stub, "newsletter"), channel="double_opt_in"
        ),
        timeout=5,
    )
    with EventTap(amqp_url, "consent", "consent.withdrawn") as tap:
        reply = stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(
                person=who,
                kind="objection",
                purpose="newsletter",
                reason="too many mails",
                authenticated=True,
            ),
            timeout=5,
        )
        events = wait_for(
            lambda: [e for e in tap.drain() if e["payload"]["account_id"] == who.account_id], 10
        )  # type: ignore[index]
    assert reply.request.status == "complete" and "Art. 21(3)" in reply.request.decision
    assert events[0]["payload"]["reason"] == "objection"  # type: ignore[index]
    state = next(s for s in stub.GetConsents(who, timeout=5).states if s.purpose == "newsletter")
    assert state.state == "withdrawn"


def test_other_objections_wait_for_staff_whose_reasons_the_person_sees(stub: Stub) -> None:
    who = person()
    reply = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(
            person=who, kind="objection", purpose="access_logs", reason="I object", authenticated=True
        ),
        timeout=5,
    )
    assert reply.request.status == "open"
    opened = wait_for_mail(who.email, "privacy-request")  # the request-opened mail, checked
    assert f"privacy-requests/{reply.request.id}?token=" in mail_text(opened)
    assert token_in(opened) == reply.follow_token
    queue = stub.ListPrivacyRequests(
        pb.AdminListRequest(actor_account_id=ADMIN, kind="objection", status="open"),
        metadata=staff(),
        timeout=5,
    ).requests
    assert reply.request.id in [r.id for r in queue]
    assert (
        code_of(
            lambda: stub.DecideObjection(
                pb.DecideObjectionRequest(actor_account_id=ADMIN, request_id=reply.request.id, uphold=False),
                metadata=staff(),
                timeout=5,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    decided = stub.DecideObjection(
        pb.DecideObjectionRequest(
            actor_account_id=ADMIN,
            request_id=reply.request.id,
            uphold=False,
            reason="logs are kept 7 days for security, Art. 6(1)(f)",
        ),
        metadata=staff(),
        timeout=5,
    )
    assert decided.status == "rejected" and "security" in decided.decision
    own = stub.ListOwnPrivacyRequests(who, timeout=5).requests
    assert [(r.id, r.decision) for r in own] == [(decided.id, decided.decision)]
    assert (
        code_of(
            lambda: stub.OpenPrivacyRequest(
                pb.OpenPrivacyRequestRequest(
                    person=who, kind="objection", purpose="horoscopes", reason="x", authenticated=True
                ),
                timeout=5,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_withdrawing_the_account_consent_opens_an_erasure(stub: Stub) -> None:
    who = person()
    stub.Grant(
        pb.GrantRequest(person=who, purpose="account", version=current(stub, "account"), channel="web_form"),
        timeout=5,
    )
    reply = stub.Withdraw(pb.WithdrawRequest(person=who, purpose="account", channel="web_form"), timeout=5)
    assert reply.erasure_request_id.startswith("pr_")
    own = stub.ListOwnPrivacyRequests(who, timeout=5).requests
    assert [(r.id, r.kind) for r in own] == [(reply.erasure_request_id, "erasure")]


def test_export_lists_records_and_requests(stub: Stub, consent: Backend) -> None:
    who = person()
    stub.Grant(
        pb.GrantRequest(
            person=who, purpose="analytics", version=current(stub, "analytics"), channel="web_form"
        ),
        timeout=5,
    )
    key = subject_key(consent.api.env["LETHE_SUBJECT_PEPPER"], who.email)
    export = stub.ExportSubjectData(
        subject_pb2.ExportSubjectDataRequest(
            subject=subject_pb2.Subject(account_id=who.account_id, subject_key=key)
        ),
        timeout=5,
    )
    assert export.service == "consent" and '"analytics"' in export.data_json
    assert who.email not in export.data_json


# -- replicas racing (2 API and 2 worker processes) ----------------------------------------------
def at_once(calls: list[Callable[[], T]]) -> list[T | grpc.RpcError]:
    """Every call in its own thread, released together; each one's reply or gRPC error."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | grpc.RpcError:
        barrier.wait()
        try:
            return call()
        except grpc.RpcError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_staff_deciding_one_objection_at_once_exactly_one_wins(stub: Stub, amqp_url: str) -> None:
    for _ in range(3):
        who = person()
        stub.Grant(
            pb.GrantRequest(
                person=who, purpose="analytics", version=current(stub, "analytics"), channel="web_form"
            ),
            timeout=5,
        )
        opened = stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(
                person=who, kind="objection", purpose="analytics", reason="no tracking", authenticated=True
            ),
            timeout=5,
        )
        assert opened.request.status == "open"
        with EventTap(amqp_url, "consent", "consent.withdrawn") as tap:
            replies = at_once(
                [
                    partial(
                        stub.DecideObjection,
                        pb.DecideObjectionRequest(
                            actor_account_id=f"acc_{i:032x}",
                            request_id=opened.request.id,
                            uphold=uphold,
                            reason="decided",
                        ),
                        metadata=staff_metadata(f"acc_{i:032x}", PRIVACY),
                        timeout=10,
                    )
                    for i, uphold in enumerate((True, False) * 2)
                ]
            )
            won = [r for r in replies if isinstance(r, pb.PrivacyRequest)]
            assert len(won) == 1, replies
            assert {r.code() for r in replies if isinstance(r, grpc.RpcError)} == {
                grpc.StatusCode.FAILED_PRECONDITION
            }
            time.sleep(1)
            withdrawn = [e for e in tap.drain() if e["payload"]["account_id"] == who.account_id]  # type: ignore[index]
        assert len(withdrawn) == (1 if won[0].status == "complete" else 0)
        follow = stub.ListOwnPrivacyRequests(who, timeout=5).requests
        assert [(r.status, r.decision) for r in follow] == [(won[0].status, won[0].decision)]


def test_parallel_grants_and_gpc_signals_record_once_and_announce_once(
    stub: Stub, amqp_url: str, db: Database
) -> None:
    who = person()
    version = current(stub, "analytics")
    with EventTap(amqp_url, "consent", "consent.*") as tap:
        grants = at_once(
            [
                lambda: stub.Grant(
                    pb.GrantRequest(person=who, purpose="analytics", version=version, channel="web_form"),
                    timeout=10,
                )
                for _ in range(6)
            ]
        )
        assert len({g.id for g in grants if isinstance(g, pb.ConsentRecord)}) == 1, grants
        signals = at_once(
            [lambda: stub.ApplyGlobalPrivacyControl(pb.GpcRequest(person=who), timeout=10) for _ in range(6)]
        )
        assert [s.recorded for s in signals if isinstance(s, pb.GpcResponse)].count(True) == 1
        time.sleep(1)
        events = [e["type"] for e in tap.drain() if e["payload"]["account_id"] == who.account_id]  # type: ignore[index]
    assert sorted(events) == ["consent.granted", "consent.withdrawn"]
    assert [r.action for r in stub.GetConsents(who, timeout=5).history] == ["withdrawal", "grant"]
    assert db.consent_records.count_documents({"account_id": who.account_id}) == 2


def test_receipts_filed_at_once_and_again_by_two_workers_complete_once(
    stub: Stub, publisher: EventPublisher, db: Database
) -> None:
    who = person()
    opened = stub.OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(person=who, kind="erasure", authenticated=True), timeout=5
    )
    request_id, token = opened.request.id, opened.follow_token
    key = str(db.privacy_requests.find_one({"_id": request_id})["subject_key"])
    for _ in range(3):  # two workers take them from the queue at once
        receipt(publisher, "gateway", request_id, key, "deferred", "busy")
        receipt(publisher, "gateway", request_id, key)
    done = wait_status(stub, request_id, token, "complete")

    def filed() -> list[tuple[str, str]]:  # the other worker may still hold a deferral
        return sorted(
            (r.service, r.outcome)
            for r in stub.GetPrivacyRequest(
                pb.FollowRequest(request_id=request_id, token=token), timeout=5
            ).receipts
            if r.service in PLAYED
        )

    wait_for(
        lambda: filed() == [("consent", "done"), ("gateway", "deferred"), ("gateway", "done")],
        10,
        what="every receipt",
    )
    time.sleep(1)
    steps = list(db.privacy_request_steps.find({"_id": {"$gte": f"{request_id}/", "$lt": f"{request_id}0"}}))
    assert [s["status"] for s in steps].count("complete") == 1 and steps[-1]["status"] == "complete"
    assert (
        stub.GetPrivacyRequest(pb.FollowRequest(request_id=request_id, token=token), timeout=5).completed_at
        == done.completed_at
    )


def test_staff_lists_come_in_pages_soonest_due_first(stub: Stub) -> None:
    opened = [
        stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(person=person(), kind="access", authenticated=True), timeout=5
        ).request.id
        for _ in range(3)
    ]
    seen: list[pb.PrivacyRequest] = []
    token = ""
    while True:
        page = stub.ListPrivacyRequests(
            pb.AdminListRequest(actor_account_id=ADMIN, kind="access", page_size=2, page_token=token),
            metadata=staff(),
            timeout=5,
        )
        assert len(page.requests) <= 2
        seen += page.requests
        token = page.next_page_token
        if not token:
            break
    ids = [r.id for r in seen]
    assert set(opened) <= set(ids) and len(ids) == len(set(ids))
    assert [r.due_at for r in seen] == sorted(r.due_at for r in seen)
    assert (
        code_of(
            lambda: stub.ListPrivacyRequests(
                pb.AdminListRequest(actor_account_id=ADMIN, page_token="not a token!"),
                metadata=staff(),
                timeout=5,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_api_replicas_seeding_an_empty_store_at_once_all_become_ready(
    tmp_path_factory: pytest.TempPathFactory, mongo_client: MongoClient
) -> None:
    backend = start_backend(
        "consent", unique("seed"), tmp_path_factory.mktemp("seed"), start_worker=False, replicas=4
    )
    try:
        for api in backend.apis:
            api.wait_ready()
        steps = list(mongo_client[backend.db_name].consent_purposes.find({}))
        assert sorted(s["_id"] for s in steps) == sorted(f"{p.purpose}/00000000" for p in seed_purposes())
    finally:
        remove_backend(backend)


def test_no_address_or_name_reaches_the_logs(consent: Backend) -> None:
    logs = consent.api.log() + consent.worker.log()
    assert "@customer.example" not in logs and "Grace Hopper" not in logs
    assert "Traceback" not in logs
