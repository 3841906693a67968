"""Concurrent writers of one subscriber or one campaign, against the real dev store.

The newsletter runs as two API and two worker replicas (the test harness), sends into an
SMTP sink of this module's own, and talks to a consent service of this module's own that
counts what it is asked to record. Every race here lost a write on the layout before
issue 12, where each subscriber and campaign was one document updated in place (the dev
store runs an update as a read and a replace: concurrent updates overwrite each other).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.consent.v1 import consent_pb2, consent_pb2_grpc
from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common import tokens
from lethe_common.errors import Unavailable
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.signing import derive_key
from lethe_common.staff import MARKETING
from lethe_common.store.keys import timekey, under
from lethe_common.subject import subject_key
from lethe_newsletter.campaign_repository import CampaignRepository
from lethe_newsletter.lease import CampaignLease
from lethe_newsletter.leaving import Leaving
from lethe_newsletter.lifecycle import Life, fold, subscriber_id
from lethe_newsletter.links import Links
from lethe_newsletter.people import Subscribers
from lethe_newsletter.repository import NewsletterRepository
from lethe_newsletter.seeding import Reader, seed_active
from lethe_testing import (
    Backend,
    PrivateServer,
    mails_in,
    private_smtp_sink,
    running_backend,
    unique,
    wait_for,
)
from lethe_testing.staff import Metadata, staff_metadata

ACTOR = "acc_" + "f" * 32
VERSION = "2026-01"
Stub = newsletter_pb2_grpc.NewsletterServiceStub


def staff() -> Metadata:
    """A marketing staff member's call (ACTOR's), as the gateway makes it."""
    return staff_metadata(ACTOR, MARKETING)


class FakeConsent(consent_pb2_grpc.ConsentServiceServicer):  # type: ignore[misc]
    """The consent service's calls the newsletter makes, counted per address."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.grants: Counter[str] = Counter()
        self.withdrawals: Counter[str] = Counter()
        self.grant_seconds = 0.3  # a slow grant: a second click arrives while it runs

    def ListCurrentTexts(self, request: Any, context: Any) -> Any:  # noqa: N802
        return consent_pb2.ConsentTextList(
            texts=[consent_pb2.ConsentText(purpose="newsletter", version=VERSION)]
        )

    def Grant(self, request: Any, context: Any) -> Any:  # noqa: N802
        time.sleep(self.grant_seconds)
        with self.lock:
            self.grants[request.person.email] += 1
        return consent_pb2.ConsentRecord(
            id=tokens.new_id("cr"), purpose="newsletter", action="grant", version=request.version
        )

    def Withdraw(self, request: Any, context: Any) -> Any:  # noqa: N802
        with self.lock:
            self.withdrawals[request.person.email] += 1
        return consent_pb2.WithdrawResponse(
            record=consent_pb2.ConsentRecord(
                id=tokens.new_id("cr"), purpose="newsletter", action="withdrawal"
            )
        )


@pytest.fixture(scope="module")
def consent() -> Iterator[tuple[FakeConsent, int]]:
    fake = FakeConsent()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    consent_pb2_grpc.add_ConsentServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield fake, port
    server.stop(0)


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_smtp_sink(tmp_path_factory.mktemp("sink")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def newsletter(
    consent: tuple[FakeConsent, int], sink: PrivateServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    with running_backend(
        "newsletter",
        tmp_path_factory.mktemp("newsletter"),
        CONSENT_GRPC_ADDR=f"127.0.0.1:{consent[1]}",
        LETHE_SMTP_PORT=str(sink.port),
        NEWSLETTER_SEND_RATE="100",
        NEWSLETTER_BATCH_SIZE="10",
        NEWSLETTER_SEND_LEASE_SECONDS="2",
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def stub(newsletter: Backend) -> Iterator[Stub]:
    with newsletter.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(newsletter: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[newsletter.db_name]


def pepper(backend: Backend) -> str:
    return backend.api.env["LETHE_SUBJECT_PEPPER"]


def life_of(db: Database, subscriber: str) -> Life:
    return fold(subscriber, list(db.subscriber_steps.find({"_id": under(subscriber)}, sort=[("_id", 1)])))


def mails(sink: PrivateServer, to: str = "", kind: str = "") -> list[Any]:
    """The sink's mails (to ``to``, of ``kind``), each through the harness's strict check."""
    return mails_in(Path(sink.env["LETHE_MAILDIR"]), to, kind)


def confirmation_token(sink: PrivateServer, email: str) -> str:
    [mail] = wait_for(lambda: mails(sink, email, "newsletter-confirmation"), 15, what="the confirmation mail")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    return unquote(body.split("token=", 1)[1].split()[0])


def fresh_audience(
    db: Database, backend: Backend, count: int, accounts: bool = False
) -> list[tuple[str, str, str]]:
    """These active subscribers alone; (subscriber id, address, account id) each."""
    db.subscriber_steps.delete_many({})
    readers = [
        Reader(f"{unique('r')}@race.example", "", tokens.new_id("acc") if accounts else "")
        for _ in range(count)
    ]
    ids = seed_active(db, pepper(backend), readers, datetime.now(UTC) - timedelta(minutes=1))
    return [(sid, r.email, r.account_id) for sid, r in zip(ids, readers, strict=True)]


def start_campaign(stub: Stub, subject: str) -> str:
    created = stub.CreateCampaign(
        pb.CreateCampaignRequest(actor_account_id=ACTOR, subject=subject, text_body="Racing."),
        metadata=staff(),
        timeout=10,
    )
    stub.SendCampaign(
        pb.CampaignRef(actor_account_id=ACTOR, campaign_id=created.id), metadata=staff(), timeout=10
    )
    return str(created.id)


def campaign(stub: Stub, campaign_id: str) -> Any:
    return stub.GetCampaign(
        pb.CampaignRef(actor_account_id=ACTOR, campaign_id=campaign_id), metadata=staff(), timeout=10
    )


def test_a_double_confirm_records_one_consent_grant(
    consent: tuple[FakeConsent, int], sink: PrivateServer, stub: Stub, db: Database, newsletter: Backend
) -> None:
    fake = consent[0]
    addresses = [f"{unique('c')}@race.example" for _ in range(4)]
    for email in addresses:
        stub.Subscribe(
            pb.SubscribeRequest(person=pb.Person(email=email), consent_version=VERSION), timeout=10
        )
    tokens_ = {email: confirmation_token(sink, email) for email in addresses}

    def confirm(email: str) -> str:
        return str(stub.Confirm(pb.TokenRequest(token=tokens_[email]), timeout=20).status)

    clicks = [email for email in addresses for _ in range(6)]
    with futures.ThreadPoolExecutor(len(clicks)) as pool:
        answers = list(pool.map(confirm, clicks))

    assert answers == ["active"] * len(clicks)
    assert {email: fake.grants[email] for email in addresses} == dict.fromkeys(addresses, 1)
    for email in addresses:
        subscriber = subscriber_id(subject_key(pepper(newsletter), email))
        steps = [s["kind"] for s in db.subscriber_steps.find({"_id": under(subscriber)})]
        assert steps.count("confirmed") == 1 and life_of(db, subscriber).status == "active"


def test_an_unsubscribe_racing_restrictions_is_never_undone(
    consent: tuple[FakeConsent, int],
    sink: PrivateServer,
    stub: Stub,
    db: Database,
    newsletter: Backend,
    amqp_url: str,
) -> None:
    """Each person unsubscribes by link while restriction events for them (set and lift)
    are handled by the workers: every unsubscribe holds, and each withdrawal is recorded
    once."""
    people = fresh_audience(db, newsletter, 24, accounts=True)
    links = Links(derive_key(pepper(newsletter), "newsletter"), "")
    publisher = EventPublisher(amqp_url)
    requests = []

    def restrict(person: tuple[str, str, str], restricted: bool) -> None:
        request_id = tokens.new_id("pr")
        requests.append(request_id)
        publisher.publish(
            Envelope(
                type="privacy.restriction_changed",
                source="consent",
                subject_key=subject_key(pepper(newsletter), person[1]),
                payload={"request_id": request_id, "account_id": person[2], "restricted": restricted},
            )
        )

    def unsubscribe(person: tuple[str, str, str]) -> str:
        token = links.unsubscribe_token(person[0])
        return str(stub.Unsubscribe(pb.TokenRequest(token=token), timeout=20).message)

    try:
        with futures.ThreadPoolExecutor(8) as pool:
            for person in people:
                restrict(person, True)
            answers = list(pool.map(unsubscribe, people))
            for person in people:
                restrict(person, False)
    finally:
        publisher.close()

    def handled() -> bool:  # each event answered by this backend's workers
        return sum(db.privacy_receipts_sent.count_documents({"_id": under(r)}) for r in requests) == len(
            requests
        )

    wait_for(handled, 30, what="every restriction event to be handled")

    assert all(a.startswith("you are unsubscribed") for a in answers)
    assert [life_of(db, person[0]).status for person in people] == ["none"] * len(people)
    assert {person[1]: consent[0].withdrawals[person[1]] for person in people} == {
        person[1]: 1 for person in people
    }
    sent = start_campaign(stub, "After they all left")
    wait_for(lambda: campaign(stub, sent).status == "sent", 30, what="the campaign")
    assert not [m for m in mails(sink, kind="newsletter-campaign") if m["X-Lethe-Campaign"] == sent]


def test_a_cancel_racing_the_senders_lease_renewal_stays_cancelled(
    sink: PrivateServer, stub: Stub, db: Database, newsletter: Backend
) -> None:
    """The sender renews its lease several times a second and saves progress after every
    batch while staff cancel from four places at once: exactly one cancel wins, the
    campaign stays cancelled, and sending stops within one batch."""
    fresh_audience(db, newsletter, 300)
    campaign_id = start_campaign(stub, "Cancelled mid-way")
    wait_for(
        lambda: db.send_log.count_documents({"campaign_id": campaign_id}) >= 30,
        30,
        interval=0.05,
        what="the campaign to be under way",
    )

    def cancel(_: int) -> str:
        try:
            stub.CancelCampaign(
                pb.CampaignRef(actor_account_id=ACTOR, campaign_id=campaign_id), metadata=staff(), timeout=10
            )
        except grpc.RpcError as exc:
            return str(exc.code())
        return "cancelled"

    with futures.ThreadPoolExecutor(4) as pool:
        outcomes = Counter(pool.map(cancel, range(4)))
    at_cancel = db.send_log.count_documents({"campaign_id": campaign_id})

    assert outcomes == Counter({"cancelled": 1, str(grpc.StatusCode.FAILED_PRECONDITION): 3})
    for _ in range(20):  # several lease periods and progress writes later
        current = campaign(stub, campaign_id)
        assert current.status == "cancelled" and current.finished_at
        time.sleep(0.2)
    final = db.send_log.count_documents({"campaign_id": campaign_id})
    assert final <= at_cancel + 11, "the sender stops within a batch (10) and its message in flight"
    assert final < 300


def test_two_workers_never_send_one_campaign_at_once(
    sink: PrivateServer, stub: Stub, db: Database, newsletter: Backend
) -> None:
    """Both workers look for the campaign every second, and the holder is stopped mid-way
    (its lease goes to the other at once): the send log shows one sender at a time, and
    every message once."""
    people = fresh_audience(db, newsletter, 600)
    campaign_id = start_campaign(stub, "One sender at a time")
    wait_for(
        lambda: db.send_log.count_documents({"campaign_id": campaign_id}) >= 60,
        30,
        interval=0.05,
        what="the campaign to be under way",
    )
    [holder] = [w for w in newsletter.workers if campaign_id in w.log()]  # "sending campaign"
    holder.stop()  # a clean stop hands the campaign on at once
    assert campaign(stub, campaign_id).status == "sending"
    holder.start().wait_ready()
    wait_for(lambda: campaign(stub, campaign_id).status == "sent", 60, what="the campaign")

    entries = list(db.send_log.find({"campaign_id": campaign_id}))
    assert sorted(e["subscriber_id"] for e in entries) == sorted(p[0] for p in people)
    spans: dict[str, list[datetime]] = {}
    for entry in entries:
        spans.setdefault(entry["owner"], []).append(entry["at"])
    ordered = sorted((min(ats), max(ats)) for ats in spans.values())
    assert len(ordered) >= 2, "the campaign was handed on"
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(ordered))
    ours = [m for m in mails(sink, kind="newsletter-campaign") if m["X-Lethe-Campaign"] == campaign_id]
    delivered = Counter(m["To"] for m in ours)
    assert set(delivered.values()) == {1} and len(delivered) == len(people)
    # one-click unsubscribing (RFC 2369, 8058); the harness checked the headers' form
    assert all(
        m["List-Unsubscribe"] and m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in ours
    )


def test_lease_periods_have_one_holder_while_contenders_take_over_dead_ones(db: Database) -> None:
    """Eight contenders, each holding for a few periods and then dying (it stops renewing);
    every period is held by at most one of them, and the campaign changes hands."""
    repo = CampaignRepository(db)
    campaign_id = tokens.new_id("cmp")
    held: dict[str, set[int]] = {}
    finish = time.time() + 4.0

    def contend(n: int) -> None:
        while time.time() < finish:
            lease = CampaignLease(repo, campaign_id, f"wrk_{n}_{unique('x')}", 0.3)
            if not lease.acquire():
                time.sleep(0.01)
                continue
            mine = held.setdefault(lease.owner, set())
            until = time.time() + 0.5 + n * 0.05
            while time.time() < until and time.time() < finish:
                moment = time.time()
                if not lease.keep():
                    break
                mine.add(int(moment // 0.3))
                time.sleep(0.01)
            # and dies here, holding what it had claimed

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    holders = [owner for owner, periods in held.items() if periods]
    assert len(holders) >= 3, "dead holders were taken over"
    seen: Counter[int] = Counter(period for periods in held.values() for period in periods)
    assert max(seen.values()) == 1, "two contenders held the same period"


class Consent:
    """The consent service as the domain sees it (ConsentRecorder), down or up at will."""

    def __init__(self) -> None:
        self.up = False
        self.withdrawals: Counter[str] = Counter()
        self.lock = threading.Lock()

    def current_version(self) -> str:
        return VERSION

    def grant(self, account_id: str, email: str, name: str, version: str, client_address: str) -> str:
        raise AssertionError("not used here")

    def withdraw(self, account_id: str, email: str) -> None:
        if not self.up:
            raise Unavailable("consent is down")
        time.sleep(0.1)  # a slow answer: the other sweep runs meanwhile
        with self.lock:
            self.withdrawals[email] += 1


@pytest.fixture()
def repo(db: Database, amqp_url: str) -> Iterator[NewsletterRepository]:
    """The repository on the backend's database, as the worker's sweep builds it."""
    publisher = EventPublisher(amqp_url)
    yield NewsletterRepository(db, Outbox(publisher, db, 1.0))
    publisher.close()


def domain(repo: NewsletterRepository, consent: Consent) -> tuple[Subscribers, Leaving]:
    subscribers = Subscribers(repo)
    links = Links(derive_key("k" * 32, "newsletter"), "")
    return subscribers, Leaving(subscribers, repo, consent, links, timedelta(hours=48))


def test_a_withdrawal_consent_could_not_take_is_recorded_once_by_racing_sweeps(
    db: Database, repo: NewsletterRepository, newsletter: Backend
) -> None:
    consent = Consent()
    subscribers, leaving = domain(repo, consent)
    [(subscriber, email, _)] = fresh_audience(db, newsletter, 1)

    leaving.leave(subscriber)  # consent is down: unsubscribed now, recorded later
    assert subscribers.life(subscriber).status == "leaving"
    assert leaving.retry_withdrawals() == 0, "not due yet: the request itself just tried"

    consent.up = True
    later = datetime.now(UTC) + timedelta(minutes=1)
    with futures.ThreadPoolExecutor(4) as pool:
        recorded = sum(pool.map(lambda _: leaving.retry_withdrawals(later), range(4)))
    assert recorded == 1 and consent.withdrawals[email] == 1
    assert not subscribers.life(subscriber).live
    assert leaving.retry_withdrawals(later + timedelta(minutes=5)) == 0, "nothing left queued"


def test_an_unconfirmed_request_is_forgotten_once_its_link_expired(
    db: Database, repo: NewsletterRepository
) -> None:
    subscribers, leaving = domain(repo, Consent())
    email = f"{unique('p')}@race.example"
    key = subject_key("k" * 32, email)
    subscriber = subscriber_id(key)
    asked = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=49)
    db.subscriber_steps.insert_one(
        {
            "_id": f"{subscriber}/00000000",
            "n": 0,
            "kind": "requested",
            "subject_key": key,
            "email": email,
            "name": "",
            "account_id": "",
            "consent_version": VERSION,
            "pending_since": 1,
            "requested_at": asked,
            "confirmation_requested_at": asked,
        }
    )
    db.queues.insert_one(
        {
            "_id": f"unconfirmed/{timekey(asked + timedelta(hours=48))}/{subscriber}",
            "item": subscriber,
            "at": asked + timedelta(hours=48),
        }
    )
    assert subscribers.life(subscriber).status == "pending"

    assert leaving.forget_unconfirmed() == 1
    assert [s["kind"] for s in db.subscriber_steps.find({"_id": under(subscriber)})] == ["ended"]
    assert leaving.forget_unconfirmed() == 0
