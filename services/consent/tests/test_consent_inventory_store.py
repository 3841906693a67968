"""The consent inventory against the real store: after a grant and a withdrawal, a request
waiting for its mailed confirmation, an access request due at once, and an erasure the
consent service answers itself, every collection the service's database holds is declared,
and so is every personal field found in it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.consent.v1 import consent_pb2 as pb
from lethe.consent.v1 import consent_pb2_grpc
from lethe_consent.inventory import INVENTORY
from lethe_testing import Backend, remove_backend, start_backend, unique, wait_for
from lethe_testing.inventory import describe, store_problems

Stub = consent_pb2_grpc.ConsentServiceStub


@pytest.fixture(scope="module")
def consent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    backend = start_backend(
        "consent",
        unique("cni"),
        tmp_path_factory.mktemp("consent-inventory"),
        replicas=1,
        CONSENT_RECEIPT_SERVICES="consent",
        CONSENT_REQUEST_DUE_MONTHS="0",
        CONSENT_SWEEP_INTERVAL_SECONDS="0.5",
    )
    try:
        backend.api.wait_ready()
        backend.worker.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


def test_every_collection_and_personal_field_consent_writes_is_in_its_inventory(
    consent: Backend, mongo_client: MongoClient
) -> None:
    db: Database = mongo_client[consent.db_name]
    who = pb.Person(account_id=f"acc_{uuid.uuid4().hex}", email=f"{unique('p')}@customer.example", name="Ada")
    with consent.channel() as channel:
        stub = Stub(channel)
        texts = stub.ListCurrentTexts(pb.Empty(), timeout=5).texts
        version = next(t.version for t in texts if t.purpose == "newsletter")
        stub.Grant(
            pb.GrantRequest(
                person=who,
                purpose="newsletter",
                version=version,
                channel="web_form",
                client_address="192.0.2.1",
            ),
            timeout=5,
        )
        stub.Withdraw(pb.WithdrawRequest(person=who, purpose="newsletter", channel="web_form"), timeout=5)
        anonymous = pb.Person(email=f"{unique('anon')}@customer.example")
        stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(person=anonymous, kind="access", client_address="192.0.2.1"),
            timeout=5,
        )
        stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(person=who, kind="access", authenticated=True), timeout=5
        )
        erasure = stub.OpenPrivacyRequest(
            pb.OpenPrivacyRequestRequest(person=who, kind="erasure", authenticated=True), timeout=5
        )
        follow = pb.FollowRequest(request_id=erasure.request.id, token=erasure.follow_token)
        wait_for(
            lambda: stub.GetPrivacyRequest(follow, timeout=5).status == "complete", 20, what="the erasure"
        )

    problems = store_problems(db, INVENTORY)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(describe(db), indent=1)
