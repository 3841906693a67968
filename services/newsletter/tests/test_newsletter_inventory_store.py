"""The newsletter inventory against the real store: after subscribers (seeded active, one
with an account), a subscription request, a campaign sent to them, a restriction and an
erasure, every collection the service's database holds is declared, and so is every
personal field found in it."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.staff import MARKETING
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_newsletter.inventory import INVENTORY
from lethe_newsletter.seeding import Reader, seed_active
from lethe_testing import Backend, remove_backend, start_backend, unique, wait_for
from lethe_testing.inventory import describe, store_problems
from lethe_testing.staff import Metadata, staff_metadata

Stub = newsletter_pb2_grpc.NewsletterServiceStub
ACTOR = "acc_" + "e" * 32


def staff() -> Metadata:
    """A marketing staff member's call (ACTOR's), as the gateway makes it."""
    return staff_metadata(ACTOR, MARKETING)


@pytest.fixture(scope="module")
def newsletter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = start_backend(
        "newsletter", unique("nli"), tmp_path_factory.mktemp("newsletter-inventory"), replicas=1
    )
    try:
        backend.api.wait_ready()
        backend.worker.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


def privacy_event(event_type: str, key: str, account_id: str, request_id: str, **payload: object) -> Envelope:
    return Envelope(
        type=event_type,
        source="consent",
        subject_key=key,
        payload={"request_id": request_id, "account_id": account_id, **payload},
    )


def test_every_collection_and_personal_field_the_newsletter_writes_is_in_its_inventory(
    newsletter: Backend, mongo_client: MongoClient, amqp_url: str
) -> None:
    db: Database = mongo_client[newsletter.db_name]
    pepper = newsletter.api.env["LETHE_SUBJECT_PEPPER"]
    erased, restricted = f"{unique('er')}@reader.example", f"{unique('rs')}@reader.example"
    account_id = f"acc_{uuid.uuid4().hex}"
    seed_active(
        db,
        pepper,
        [Reader(erased, "Ada", account_id), Reader(restricted, "Grace", "")],
        datetime.now(UTC) - timedelta(days=1),
    )
    with newsletter.channel() as channel:
        stub = Stub(channel)
        with contextlib.suppress(grpc.RpcError):  # consent is not there to check the version
            stub.Subscribe(
                pb.SubscribeRequest(
                    person=pb.Person(email=f"{unique('new')}@reader.example", name="Hedy"),
                    consent_version="2026-01",
                    client_address="192.0.2.1",
                ),
                timeout=10,
            )
        created = stub.CreateCampaign(
            pb.CreateCampaignRequest(
                actor_account_id=ACTOR, subject="News", text_body="Hello.", greeting=True
            ),
            metadata=staff(),
            timeout=10,
        )
        ref = pb.CampaignRef(actor_account_id=ACTOR, campaign_id=created.id)
        stub.SendCampaign(ref, metadata=staff(), timeout=10)
        wait_for(
            lambda: stub.GetCampaign(ref, metadata=staff(), timeout=10).status == "sent",
            20,
            what="the campaign",
        )

    erasure, restriction = f"pr_{uuid.uuid4().hex}", f"pr_{uuid.uuid4().hex}"
    publisher = EventPublisher(amqp_url)
    try:
        key = subject_key(pepper, erased)
        publisher.publish(privacy_event("privacy.erasure_requested", key, account_id, erasure))
        key = subject_key(pepper, restricted)
        publisher.publish(privacy_event("privacy.restriction_changed", key, "", restriction, restricted=True))
    finally:
        publisher.close()
    wait_for(
        lambda: all(db.privacy_receipts_sent.find_one({"_id": under(r)}) for r in (erasure, restriction)),
        15,
        what="both receipts",
    )

    problems = store_problems(db, INVENTORY)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(describe(db), indent=1)
