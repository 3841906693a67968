"""A campaign survives its worker being killed mid-send: every message arrives exactly once.

The newsletter backend sends into an SMTP sink of this test's own, so the
Maildir holds exactly this campaign's messages and can be counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import grpc
import pytest
from pymongo import MongoClient

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common import tokens
from lethe_common.subject import subject_key
from lethe_common.testing import (
    Backend,
    PrivateServer,
    private_smtp_sink,
    running_backend,
    unique,
    wait_for,
    worker_metrics,
)

RECIPIENTS = 1000
ACTOR = "acc_" + "e" * 32


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    server = private_smtp_sink(tmp_path_factory.mktemp("sink")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def newsletter(sink: PrivateServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend("newsletter", tmp_path_factory.mktemp("newsletter"),
                         LETHE_SMTP_PORT=str(sink.port), NEWSLETTER_SEND_RATE="250",
                         NEWSLETTER_BATCH_SIZE="50", NEWSLETTER_SEND_LEASE_SECONDS="2") as backend:
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
    client[backend.db_name]["subscribers"].insert_many([{
        "_id": tokens.new_id("sub"), "subject_key": subject_key(pepper, email), "email": email,
        "name": "", "account_id": "", "status": "active", "consent_version": "2026-01",
        "requested_at": confirmed, "confirmed_at": confirmed, "restricted": False,
        "consent_record_id": tokens.new_id("cr")} for email in addresses])
    return addresses


def test_killing_the_worker_mid_campaign_delivers_every_message_exactly_once(
        newsletter: Backend, sink: PrivateServer, mongo_client: MongoClient) -> None:
    addresses = seed_subscribers(mongo_client, newsletter, RECIPIENTS)
    with grpc.insecure_channel(newsletter.grpc_addr) as channel:
        stub = newsletter_pb2_grpc.NewsletterServiceStub(channel)
        campaign = stub.CreateCampaign(pb.CreateCampaignRequest(
            actor_account_id=ACTOR, subject="Crash test", text_body="One of a thousand."), timeout=10)
        stub.SendCampaign(pb.CampaignRef(actor_account_id=ACTOR, campaign_id=campaign.id), timeout=10)

        wait_for(lambda: len(delivered(sink)) >= RECIPIENTS // 3, 60, interval=0.02,
                 what="a third of the campaign to be delivered")
        newsletter.worker.kill()  # SIGKILL: no clean-up, mid-batch
        at_kill = len(delivered(sink))
        assert at_kill < RECIPIENTS, "the campaign finished before the kill; it proves nothing"
        newsletter.worker.start().wait_ready()

        def finished() -> pb.Campaign | None:
            current = stub.GetCampaign(pb.CampaignRef(actor_account_id=ACTOR,
                                                      campaign_id=campaign.id), timeout=10)
            return current if current.status == "sent" else None
        done = wait_for(finished, 90, what="the restarted worker to finish the campaign")

    recipients = Counter(str(message_from_bytes(path.read_bytes(), policy=default_policy)["To"])
                         for path in delivered(sink))
    assert sum(recipients.values()) == RECIPIENTS
    assert set(recipients) == set(addresses)
    assert max(recipients.values()) == 1
    assert (done.progress.recipients, done.progress.sent, done.progress.failed) == (RECIPIENTS,
                                                                                   RECIPIENTS, 0)
    metrics = worker_metrics(newsletter)
    assert f'lethe_newsletter_campaign_messages{{state="sent"}} {RECIPIENTS}.0' in metrics
    assert 'lethe_newsletter_campaign_messages{state="remaining"} 0.0' in metrics
