"""The newsletter service over gRPC and the bus, against the real store and broker.

The flows that need the consent service and the gateway (subscribe, confirm,
unsubscribe, campaigns) are in ``tests/test_newsletter.py``; a crash in the
middle of a campaign is in ``test_campaign_crash.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common import tokens
from lethe_common.config import ConfigError
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.staff import MARKETING
from lethe_common.store.keys import under
from lethe_common.store.steps import Step
from lethe_common.subject import subject_key
from lethe_newsletter.config import load_config
from lethe_newsletter.lifecycle import ENDED, Life, fold, step
from lethe_newsletter.repository import NewsletterRepository
from lethe_newsletter.seeding import Reader, seed_active
from lethe_testing import Backend, EventTap, code_of, running_backend, unique, wait_for, worker_metrics
from lethe_testing.staff import Metadata, staff_metadata

ACTOR = "acc_" + "d" * 32
Stub = newsletter_pb2_grpc.NewsletterServiceStub


def staff() -> Metadata:
    """A marketing staff member's call (ACTOR's), as the gateway makes it."""
    return staff_metadata(ACTOR, MARKETING)


def test_defaults_give_the_newsletter_its_own_ports_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEWSLETTER_GRPC_PORT", "NEWSLETTER_MONGO_DB", "NEWSLETTER_LINK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert (config.common.grpc_port, config.common.api_metrics_port, config.common.worker_metrics_port) == (
        50054,
        9104,
        9204,
    )
    assert (config.common.service, config.common.mongo_db) == ("newsletter", "lethe_newsletter")
    assert len(config.link_key) == 32 and config.send_rate_per_second == 50.0


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("LETHE_SUBJECT_PEPPER", "", "LETHE_SUBJECT_PEPPER"),
        ("NEWSLETTER_LINK_SECRET", "short", "at least 32"),
        ("NEWSLETTER_SEND_RATE", "-1", "NEWSLETTER_SEND_RATE"),
        ("NEWSLETTER_BATCH_SIZE", "0", "NEWSLETTER_BATCH_SIZE"),
    ],
)
def test_a_bad_setting_stops_the_newsletter_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=problem):
        load_config()


@pytest.fixture(scope="module")
def newsletter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend("newsletter", tmp_path_factory.mktemp("newsletter")) as backend:
        yield backend


@pytest.fixture(scope="module")
def stub(newsletter: Backend) -> Iterator[Stub]:
    with newsletter.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(newsletter: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[newsletter.db_name]


def active_subscriber(db: Database, backend: Backend, account_id: str = "") -> tuple[str, str]:
    """An active subscriber with one newsletter in its send log; (subscriber id, subject_key)."""
    email = f"{unique('s')}@reader.example"
    pepper = backend.api.env["LETHE_SUBJECT_PEPPER"]
    confirmed = datetime.now(UTC) - timedelta(days=1)
    [subscriber_id] = seed_active(db, pepper, [Reader(email, "Ada", account_id)], confirmed)
    campaign = f"cmp_{'0' * 32}"
    db.send_log.insert_one(
        {
            "_id": f"{subscriber_id}/{campaign}",
            "campaign_id": campaign,
            "subscriber_id": subscriber_id,
            "outcome": "sent",
            "at": confirmed,
        }
    )
    return subscriber_id, subject_key(pepper, email)


def life_of(db: Database, subscriber_id: str) -> Life:
    return fold(
        subscriber_id, list(db.subscriber_steps.find({"_id": under(subscriber_id)}, sort=[("_id", 1)]))
    )


def test_an_erasure_delivered_twice_deletes_suppresses_and_answers_once(
    newsletter: Backend, db: Database, amqp_url: str
) -> None:
    account_id = tokens.new_id("acc")
    subscriber_id, key = active_subscriber(db, newsletter, account_id)
    request_id = tokens.new_id("pr")
    event = Envelope(
        type="privacy.erasure_requested",
        source="consent",
        subject_key=key,
        payload={"request_id": request_id, "account_id": account_id},
    )
    publisher = EventPublisher(amqp_url)
    try:
        with EventTap(amqp_url, "newsletter", "privacy.receipt") as tap:
            publisher.publish(event)
            publisher.publish(
                Envelope(type=event.type, source="consent", subject_key=key, payload=event.payload)
            )
            wait_for(lambda: not life_of(db, subscriber_id).live, 15, what="the subscriber to be deleted")
            time.sleep(1.5)
            receipts = [e for e in tap.drain() if e["payload"]["request_id"] == request_id]  # type: ignore[index]
    finally:
        publisher.close()
    # Newsletters of other test runs on the same broker get the event too and answer
    # "nothing held"; ours is the one that deleted something, and it answered once.
    ours = [e for e in receipts if e["payload"]["deleted"]]  # type: ignore[index]
    assert len(ours) == 1
    assert db.privacy_receipts_sent.count_documents({"_id": under(request_id)}) == 1
    payload = ours[0]["payload"]
    assert payload["outcome"] == "done"  # type: ignore[index]
    assert db.send_log.count_documents({"_id": under(subscriber_id)}) == 0
    [tombstone] = db.subscriber_steps.find({"_id": under(subscriber_id)})
    assert tombstone["kind"] == "ended" and "reader.example" not in str(tombstone)
    assert db.suppression.find_one({"_id": key}) is not None
    assert not any(key in str(v) or "reader.example" in str(v) for v in payload.values())  # type: ignore[union-attr]


def test_an_erasure_after_a_crash_mid_purge_takes_the_account_entry_out_too(
    newsletter: Backend, db: Database, stub: Stub
) -> None:
    """Issue 14's fault run found it: a worker killed after the end step and part of the
    purge (the steps gone, the account's index entry standing). The erasure delivered again
    must leave no entry that names the account."""
    account_id = tokens.new_id("acc")
    subscriber_id, key = active_subscriber(db, newsletter, account_id)
    assert db.subscriber_index.count_documents({"_id": under(account_id)}) == 1
    request_id = tokens.new_id("pr")
    repo = NewsletterRepository(db, Outbox(EventPublisher("amqp://unused"), db, 1))
    ended = repo.append(
        subscriber_id,
        lambda life: Step(
            step(ENDED, at=datetime.now(UTC), reason="erasure", request_id=request_id, subject_key=key)
        ),
    )
    assert ended.step is not None
    db.subscriber_steps.delete_many({"_id": {"$lt": ended.step["_id"], "$gte": f"{subscriber_id}/"}})

    reply = stub.EraseSubject(
        subject_pb2.EraseSubjectRequest(
            subject=subject_pb2.Subject(account_id=account_id, subject_key=key), request_id=request_id
        ),
        timeout=10,
    )
    assert reply.deleted
    assert db.subscriber_index.count_documents({"_id": under(account_id)}) == 0
    assert db.suppression.find_one({"_id": key}) is not None


def exported(stub: Stub, key: str) -> dict[str, Any]:
    reply = stub.ExportSubjectData(
        subject_pb2.ExportSubjectDataRequest(subject=subject_pb2.Subject(subject_key=key)), timeout=10
    )
    assert reply.service == "newsletter" and reply.lawful_bases
    return json.loads(reply.data_json)  # type: ignore[no-any-return]


def test_export_shows_the_subscription_and_what_was_sent(
    newsletter: Backend, db: Database, stub: Stub
) -> None:
    _, key = active_subscriber(db, newsletter)
    data = exported(stub, key)
    assert [s["status"] for s in data["subscriptions"]] == ["active"]
    assert data["subscriptions"][0]["name"] == "Ada"
    assert [s["outcome"] for s in data["newsletters_sent"]] == ["sent"]
    assert data["suppressed"] is False


def test_a_restriction_event_marks_the_subscriber_and_lifting_it_clears_the_mark(
    newsletter: Backend, db: Database, amqp_url: str, stub: Stub
) -> None:
    account_id = tokens.new_id("acc")
    _, key = active_subscriber(db, newsletter, account_id)
    publisher = EventPublisher(amqp_url)
    try:
        for restricted in (True, False):
            publisher.publish(
                Envelope(
                    type="privacy.restriction_changed",
                    source="consent",
                    subject_key=key,
                    payload={
                        "request_id": tokens.new_id("pr"),
                        "account_id": account_id,
                        "restricted": restricted,
                    },
                )
            )
            wait_for(
                lambda r=restricted: (
                    exported(stub, key)["subscriptions"][0]["restricted"]  # type: ignore[misc]
                    is r
                ),
                15,
                what="the restriction mark",
            )
    finally:
        publisher.close()


def test_bad_input_is_refused_with_a_status_and_a_message_without_the_value(stub: Stub) -> None:
    def subscribe(email: str, account_id: str = "") -> object:
        return lambda: stub.Subscribe(
            pb.SubscribeRequest(
                person=pb.Person(email=email, account_id=account_id), consent_version="2026-01"
            ),
            timeout=10,
        )

    assert code_of(subscribe("no-at-sign")) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(subscribe("a@example.com", "acc_x")) == grpc.StatusCode.INVALID_ARGUMENT
    for call in (stub.Confirm, stub.Unsubscribe, stub.CheckUnsubscribeToken):
        with pytest.raises(grpc.RpcError) as refused:
            call(pb.TokenRequest(token="sub_1.forged-token-value"), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "forged" not in (refused.value.details() or "")
    ref = pb.CampaignRef(actor_account_id=ACTOR, campaign_id="cmp_" + "9" * 32)
    assert code_of(lambda: stub.GetCampaign(ref, metadata=staff(), timeout=10)) == grpc.StatusCode.NOT_FOUND
    assert (
        code_of(
            lambda: stub.GetCampaign(
                pb.CampaignRef(actor_account_id=ACTOR, campaign_id="x"), metadata=staff(), timeout=10
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        code_of(
            lambda: stub.CreateCampaign(
                pb.CreateCampaignRequest(actor_account_id=ACTOR, subject="two\nlines", text_body="t"),
                metadata=staff(),
                timeout=10,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_a_campaign_is_sent_once_and_cannot_be_sent_again(stub: Stub) -> None:
    created = stub.CreateCampaign(
        pb.CreateCampaignRequest(actor_account_id=ACTOR, subject="Once", text_body="Only once."),
        metadata=staff(),
        timeout=10,
    )
    assert created.status == "draft"
    ref = pb.CampaignRef(actor_account_id=ACTOR, campaign_id=created.id)
    assert stub.SendCampaign(ref, metadata=staff(), timeout=10).status == "sending"
    assert (
        code_of(lambda: stub.SendCampaign(ref, metadata=staff(), timeout=10))
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    finished = wait_for(
        lambda: (c := stub.GetCampaign(ref, metadata=staff(), timeout=10)).status == "sent" and c,
        20,
        what="the campaign to finish",
    )
    assert finished.finished_at
    assert (
        code_of(lambda: stub.CancelCampaign(ref, metadata=staff(), timeout=10))
        == grpc.StatusCode.FAILED_PRECONDITION
    )


def test_the_newsletter_worker_consumes_from_its_own_durable_queue(newsletter: Backend) -> None:
    metric = f'lethe_consumer_queue_depth{{queue="{newsletter.queue_group}.inbox"}}'
    wait_for(lambda: metric in worker_metrics(newsletter), 10, what="the queue-depth gauge")


def test_the_staff_list_pages_newest_first(stub: Stub) -> None:
    made = [
        stub.CreateCampaign(
            pb.CreateCampaignRequest(actor_account_id=ACTOR, subject=f"Page {n}", text_body="t"),
            metadata=staff(),
            timeout=10,
        ).id
        for n in range(3)
    ]
    first = stub.ListCampaigns(
        pb.ListCampaignsRequest(actor_account_id=ACTOR, page_size=2), metadata=staff(), timeout=10
    )
    assert [c.id for c in first.campaigns] == made[:0:-1] and first.next_page_token
    second = stub.ListCampaigns(
        pb.ListCampaignsRequest(actor_account_id=ACTOR, page_size=2, page_token=first.next_page_token),
        metadata=staff(),
        timeout=10,
    )
    assert second.campaigns[0].id == made[0]
    assert (
        code_of(
            lambda: stub.ListCampaigns(
                pb.ListCampaignsRequest(actor_account_id=ACTOR, page_token="not*a*token"),
                metadata=staff(),
                timeout=10,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
