"""A campaign survives its worker stopping or crashing mid-send.

The newsletter backend sends into an SMTP sink of this test's own, so the
Maildir holds only these campaigns' messages and can be counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo import MongoClient

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common.staff import MARKETING
from lethe_common.subject import subject_key
from lethe_newsletter.lifecycle import subscriber_id
from lethe_newsletter.seeding import Reader, seed_active
from lethe_testing import (
    Backend,
    PrivateServer,
    checked_mail,
    private_smtp_sink,
    running_backend,
    unique,
    wait_for,
    worker_metrics,
)
from lethe_testing.staff import Metadata, staff_metadata

RECIPIENTS = 1000
ACTOR = "acc_" + "e" * 32


def staff() -> Metadata:
    """A marketing staff member's call (ACTOR's), as the gateway makes it."""
    return staff_metadata(ACTOR, MARKETING)


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_smtp_sink(tmp_path_factory.mktemp("sink")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def newsletter(sink: PrivateServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend(
        "newsletter",
        tmp_path_factory.mktemp("newsletter"),
        LETHE_SMTP_PORT=str(sink.port),
        NEWSLETTER_SEND_RATE="250",
        NEWSLETTER_BATCH_SIZE="50",
        NEWSLETTER_SEND_LEASE_SECONDS="2",
    ) as backend:
        yield backend


def maildir(sink: PrivateServer) -> Path:
    return Path(sink.env["LETHE_MAILDIR"])


def delivered(sink: PrivateServer) -> list[Path]:
    return sorted((maildir(sink) / "new").glob("*")) if (maildir(sink) / "new").is_dir() else []


def seed_subscribers(client: MongoClient, backend: Backend, count: int) -> list[str]:
    """Active subscribers as a confirmed subscription leaves them (set up in bulk)."""
    pepper = backend.api.env["LETHE_SUBJECT_PEPPER"]
    confirmed = datetime.now(UTC) - timedelta(minutes=5)
    addresses = [f"{unique('r')}@crash.example" for _ in range(count)]
    seed_active(client[backend.db_name], pepper, [Reader(email) for email in addresses], confirmed)
    return addresses


def run_campaign_with_a_stop(
    newsletter: Backend, sink: PrivateServer, mongo_client: MongoClient, stop_worker: Callable[[], object]
) -> tuple[Counter[str], list[str], pb.Campaign]:
    """Seed, send, stop the worker a third of the way, restart it; what the Maildir holds."""
    before = {path.name for path in delivered(sink)}
    mongo_client[newsletter.db_name]["subscriber_steps"].delete_many({})  # the audience: these alone
    addresses = seed_subscribers(mongo_client, newsletter, RECIPIENTS)
    with newsletter.channel() as channel:
        stub = newsletter_pb2_grpc.NewsletterServiceStub(channel)
        campaign = stub.CreateCampaign(
            pb.CreateCampaignRequest(
                actor_account_id=ACTOR, subject="Crash test", text_body="One of a thousand."
            ),
            metadata=staff(),
            timeout=10,
        )
        stub.SendCampaign(
            pb.CampaignRef(actor_account_id=ACTOR, campaign_id=campaign.id), metadata=staff(), timeout=10
        )

        def ours() -> list[Path]:
            return [path for path in delivered(sink) if path.name not in before]

        wait_for(
            lambda: len(ours()) >= RECIPIENTS // 3,
            60,
            interval=0.02,
            what="a third of the campaign to be delivered",
        )
        stop_worker()
        assert len(ours()) < RECIPIENTS, "the campaign finished before the stop; it proves nothing"
        newsletter.worker.start().wait_ready()

        def finished() -> pb.Campaign | None:
            current = stub.GetCampaign(
                pb.CampaignRef(actor_account_id=ACTOR, campaign_id=campaign.id), metadata=staff(), timeout=10
            )
            return current if current.status == "sent" else None

        done = wait_for(finished, 90, what="the restarted worker to finish the campaign")
    recipients = Counter(
        str(checked_mail(path.read_bytes())["To"])  # each checked strictly
        for path in ours()
    )
    return recipients, addresses, done


def test_a_worker_stopped_mid_campaign_and_restarted_delivers_every_message_exactly_once(
    newsletter: Backend, sink: PrivateServer, mongo_client: MongoClient
) -> None:
    """SIGTERM (a deployment, a scale-down): the message in flight is finished first."""
    recipients, addresses, done = run_campaign_with_a_stop(
        newsletter, sink, mongo_client, newsletter.worker.stop
    )
    assert set(recipients) == set(addresses)
    assert sum(recipients.values()) == RECIPIENTS
    assert (done.progress.recipients, done.progress.sent, done.progress.failed) == (RECIPIENTS, RECIPIENTS, 0)
    metrics = worker_metrics(newsletter)
    assert f'lethe_newsletter_campaign_messages{{state="sent"}} {RECIPIENTS}.0' in metrics
    assert 'lethe_newsletter_campaign_messages{state="remaining"} 0.0' in metrics


def test_a_worker_killed_mid_campaign_never_sends_twice_and_loses_at_most_the_one_in_flight(
    newsletter: Backend, sink: PrivateServer, mongo_client: MongoClient
) -> None:
    """SIGKILL (a crash): nobody gets the campaign twice, and everyone gets it, except,
    when the kill falls between a message's send-log entry and its final dot, that one
    recipient (docs/newsletter.md: a plain SMTP relay cannot be asked what it took)."""
    recipients, addresses, done = run_campaign_with_a_stop(
        newsletter, sink, mongo_client, newsletter.worker.kill
    )
    assert max(recipients.values()) == 1
    missing = set(addresses) - set(recipients)
    assert len(missing) <= 1 and set(recipients) <= set(addresses)
    assert done.progress.sent == RECIPIENTS and done.progress.failed == 0
    if missing:  # it is recorded as sent: the window, not a message that was never tried
        pepper = newsletter.api.env["LETHE_SUBJECT_PEPPER"]
        db = mongo_client[newsletter.db_name]
        lost = subscriber_id(subject_key(pepper, missing.pop()))
        assert db.send_log.find_one({"_id": f"{lost}/{done.id}"})["outcome"] == "sent"
