"""The analytics backend (two API and two worker replicas) and helpers the tests share."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.analytics.v1 import analytics_pb2 as pb
from lethe.analytics.v1 import analytics_pb2_grpc
from lethe_analytics.domain import visitor_hash
from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.signing import derive_key
from lethe_testing import Backend, running_backend

Stub = analytics_pb2_grpc.AnalyticsServiceStub
Publish = Callable[[str, str, dict[str, object]], Envelope]


@pytest.fixture(scope="module")
def analytics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend("analytics", tmp_path_factory.mktemp("analytics")) as backend:
        yield backend


@pytest.fixture(scope="module")
def stub(analytics: Backend) -> Iterator[Stub]:
    """Calls go round-robin over both API replicas."""
    with analytics.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(analytics: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[analytics.db_name]


@pytest.fixture(scope="module")
def hashed(analytics: Backend) -> Callable[[str], str]:
    """The keyed hash the service stores for a visitor id (the key from the same pepper)."""
    key = derive_key(analytics.api.env["LETHE_SUBJECT_PEPPER"], "analytics-visitor")
    return lambda visitor_id: visitor_hash(key, visitor_id)


@pytest.fixture(scope="module")
def publish(amqp_url: str) -> Iterator[Publish]:
    """Publish an event as consent would: (type, subject_key, payload)."""
    publisher = EventPublisher(amqp_url)

    def send(event_type: str, subject_key: str, payload: dict[str, object]) -> Envelope:
        event = Envelope(type=event_type, source="consent", subject_key=subject_key, payload=payload)
        publisher.publish(event)
        return event

    yield send
    publisher.close()


@dataclass(frozen=True)
class Site:
    """Page views as the gateway sends them, on pages and for people of one test's own."""

    stub: Stub

    @staticmethod
    def new_path() -> str:
        """A page of its own: letters only, so nothing in it looks like an id."""
        return "/t/" + "".join(random.choices(string.ascii_lowercase, k=20))

    @staticmethod
    def new_subject_key() -> str:
        return uuid.uuid4().hex * 2

    def view(self, path: str, visitor_id: str = "", subject_key: str = "") -> pb.Accepted:
        request = pb.RecordPageViewRequest(path=path, visitor_id=visitor_id, subject_key=subject_key)
        return self.stub.RecordPageView(request, timeout=10)


@pytest.fixture(scope="module")
def site(stub: Stub) -> Site:
    return Site(stub)
