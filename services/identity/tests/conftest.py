"""The identity backend (two API and two worker replicas) and helpers the tests share."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.identity.v1 import identity_pb2 as pb
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.staff import verify_key_of
from lethe_common.subject import subject_key
from lethe_testing import Backend, remove_backend, start_backend, token_in, unique, wait_for_mail

PASSWORD = "lantern orchard seventeen"
Stub = identity_pb2_grpc.IdentityServiceStub
Verified = Callable[[str], str]


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    run = unique("ida")
    backend = start_backend(
        "identity",
        run,
        tmp_path_factory.mktemp("identity"),
        IDENTITY_ADMIN_EMAILS=f"admin-{run}@staff.example,second-{run}@staff.example",
        IDENTITY_CONTACT_RETENTION_DAYS="0",
        IDENTITY_SWEEP_INTERVAL_SECONDS="1",
        IDENTITY_CONTACT_MAX_PER_ADDRESS="3",
    )
    try:
        for process in (*backend.apis, *backend.workers):
            process.wait_ready()
        yield backend
    finally:
        remove_backend(backend)


@pytest.fixture(scope="module")
def stub(identity: Backend) -> Iterator[Stub]:
    """Calls go round-robin over both API replicas."""
    with identity.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def verified(stub: Stub) -> Verified:
    """Register and verify an account for an address; its id."""

    def make(email: str) -> str:
        account_id = stub.Register(
            pb.RegisterRequest(
                email=email, password=PASSWORD, name="Test Person", account_consent_version="2026-01"
            ),
            timeout=10,
        ).account_id
        stub.VerifyEmail(
            pb.VerifyEmailRequest(token=token_in(wait_for_mail(email, "verification")), password=PASSWORD),
            timeout=10,
        )
        return str(account_id)

    return make


@pytest.fixture(scope="module")
def admin(identity: Backend, verified: Verified) -> str:
    """The account of the address listed in IDENTITY_ADMIN_EMAILS, verified."""
    run = identity.api.env["LETHE_QUEUE_PREFIX"][:-1]
    return verified(f"admin-{run}@staff.example")


@pytest.fixture(scope="module")
def second_admin(identity: Backend, verified: Verified) -> str:
    """Another member of staff."""
    run = identity.api.env["LETHE_QUEUE_PREFIX"][:-1]
    return verified(f"second-{run}@staff.example")


@pytest.fixture(scope="module")
def db(identity: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[identity.db_name]


@pytest.fixture(scope="module")
def key_of(identity: Backend) -> Callable[[str], str]:
    """The subject_key of an address, with the backend's pepper."""
    return lambda email: subject_key(identity.api.env["LETHE_SUBJECT_PEPPER"], email)


@pytest.fixture
def publisher(amqp_url: str) -> Iterator[EventPublisher]:
    publisher = EventPublisher(amqp_url)
    yield publisher
    publisher.close()


def make_privacy_event(
    event_type: str,
    account_id: str,
    key: str,
    request_id: str = "",
    occurred_at: datetime | None = None,
    **payload: object,
) -> Envelope:
    """An event as consent publishes it (``occurred_at``: when consent decided it)."""
    event = Envelope(
        type=event_type,
        source="consent",
        subject_key=key,
        payload={"request_id": request_id or f"pr_{uuid.uuid4().hex}", "account_id": account_id, **payload},
    )
    return replace(event, occurred_at=occurred_at) if occurred_at else event


@pytest.fixture
def privacy_event() -> Callable[..., Envelope]:
    return make_privacy_event


CONFIG_SIGNING_KEY = "1f" * 32  # the staff signing key of configuration tests


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Only the required variables set; no IDENTITY_* or other LETHE_* leaks in."""
    for name in list(os.environ):
        if name.startswith(("IDENTITY_", "LETHE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LETHE_MONGO_URL", "mongodb://127.0.0.1:1")
    monkeypatch.setenv("LETHE_AMQP_URL", "amqp://x")
    monkeypatch.setenv("LETHE_SUBJECT_PEPPER", "pepper-for-tests")
    monkeypatch.setenv("IDENTITY_STAFF_SIGNING_KEY", CONFIG_SIGNING_KEY)
    monkeypatch.setenv("LETHE_STAFF_VERIFY_KEY", verify_key_of(CONFIG_SIGNING_KEY))
    return monkeypatch
