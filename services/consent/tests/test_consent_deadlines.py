"""Issue 14: a request not complete by its due date alerts once and shows, in the staff
list, as overdue with the services that have not answered.

Against the real store and broker, with the clock passed in: two staff desks on one
database play two worker replicas running the deadline sweep.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from pymongo.database import Database

from lethe.consent.v1 import consent_pb2 as pb
from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import Receipt, ReceiptSender
from lethe_common.staff import PRIVACY, AssertionVerifier
from lethe_common.subject import Subject
from lethe_common.trace_search import ServiceTraceSearch
from lethe_consent.config import load_config
from lethe_consent.erasure import ConsentErasure
from lethe_consent.mailer import Mailer
from lethe_consent.records import ConsentLedger, Person
from lethe_consent.repository import ConsentRepository
from lethe_consent.requests import PrivacyRequests
from lethe_consent.servicer import ConsentServicer
from lethe_consent.staff import StaffDesk
from lethe_consent.texts import ConsentTexts
from lethe_consent.trace_clients import local_search
from lethe_consent.verification import ErasureVerifier
from lethe_consent.worker import check_deadlines
from lethe_testing.staff import staff_metadata

SERVICES = ("identity", "consent", "shop", "newsletter")
STAFF = "acc_" + "7" * 32


def staff_call() -> SimpleNamespace:
    """The gRPC context of a privacy staff member's call, as the gateway makes it."""
    metadata = staff_metadata(STAFF, PRIVACY)
    return SimpleNamespace(invocation_metadata=lambda: metadata)


@dataclasses.dataclass
class Replicas:
    requests: PrivacyRequests
    desks: tuple[StaffDesk, StaffDesk]
    servicer: ConsentServicer


@pytest.fixture
def replicas(test_db: Database, amqp_url: str) -> Iterator[Replicas]:
    publisher = EventPublisher(amqp_url)
    config = dataclasses.replace(load_config(), receipt_services=SERVICES, request_due_months=1)
    desks = []
    for _ in range(2):
        outbox = Outbox(publisher, test_db, 1.0)
        repo = ConsentRepository(test_db, outbox)
        texts = ConsentTexts(repo)
        texts.seed()
        ledger = ConsentLedger(repo, texts, config.proof_retention_days)
        requests = PrivacyRequests(repo, ledger, texts, Mailer(config.common, config.public_url), config)
        desks.append(StaffDesk(repo, requests.book, ledger, texts))
    erasure = ConsentErasure(
        repo, ledger, ReceiptSender(test_db, outbox, "consent"), config.proof_retention_days
    )
    pepper = config.common.subject_pepper
    traces = ServiceTraceSearch(test_db, config.common.amqp_url, [], pepper)
    verifier = ErasureVerifier(
        repo.requests, requests.book, repo.expiries, {"consent": local_search("consent", traces)}, pepper
    )
    servicer = ConsentServicer(
        pepper,
        texts,
        ledger,
        requests,
        desks[0],
        erasure,
        verifier=verifier,
        traces=traces,
        assertions=AssertionVerifier(config.common.staff_verify_key),
    )
    yield Replicas(requests, (desks[0], desks[1]), servicer)
    publisher.close()


def someone() -> Person:
    return Person(
        Subject(account_id=f"acc_{uuid.uuid4().hex}", subject_key=uuid.uuid4().hex * 2),
        email=f"{uuid.uuid4().hex}@customer.example",
        name="Someone",
    )


def gauge(kind: str) -> float:
    return REGISTRY.get_sample_value("lethe_privacy_requests_overdue", {"kind": kind}) or 0.0


def alerts(caplog: pytest.LogCaptureFixture, request_id: str) -> int:
    return sum(
        1
        for r in caplog.records
        if r.levelno == logging.WARNING
        and r.getMessage() == "privacy request overdue"
        and getattr(r, "request_id", "") == request_id
    )


def test_an_erasure_past_its_due_date_is_listed_overdue_with_the_silent_services_and_alerts_once(
    replicas: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    opened_at = datetime.now(UTC) - timedelta(days=40)  # due 30 or 31 days later: past
    late = replicas.requests.open(someone(), "erasure", authenticated=True, now=opened_at).request
    on_time = replicas.requests.open(someone(), "erasure", authenticated=True).request
    assert late is not None and on_time is not None
    replicas.requests.receive("consent", Receipt(late.id, "erasure"))
    replicas.requests.receive("shop", Receipt(late.id, "erasure", outcome="deferred", note="open order"))

    # The staff list: overdue, and who has not answered (the shop deferred: it answered).
    page = replicas.servicer.ListPrivacyRequests(
        pb.AdminListRequest(actor_account_id=STAFF, overdue_only=True), staff_call()
    )
    assert [r.id for r in page.requests] == [late.id]
    (shown,) = page.requests
    assert shown.overdue and shown.status == "in_progress"
    assert list(shown.waiting_for) == ["identity", "newsletter"]
    assert list(shown.awaiting_services) == ["identity", "shop", "newsletter"]
    everything = replicas.servicer.ListPrivacyRequests(
        pb.AdminListRequest(actor_account_id=STAFF), staff_call()
    )
    listed = {r.id: r for r in everything.requests}
    assert not listed[on_time.id].overdue and list(listed[on_time.id].waiting_for) == list(SERVICES)

    # The sweep: the gauge counts it; two sweeps on two replicas alert it once.
    caplog.set_level(logging.WARNING, logger="lethe_consent.staff")
    first, second = replicas.desks
    assert check_deadlines(first)["erasure"] == 1
    assert gauge("erasure") == 1
    assert check_deadlines(second)["erasure"] == 1
    assert check_deadlines(first)["erasure"] == 1
    assert alerts(caplog, late.id) == 1 and alerts(caplog, on_time.id) == 0

    # Once every service answered, it is complete: no longer overdue, the gauge drops.
    for service in ("identity", "shop", "newsletter"):
        replicas.requests.receive(service, Receipt(late.id, "erasure"))
    assert replicas.requests.view(late.id).status == "complete"
    assert check_deadlines(second)["erasure"] == 0
    assert gauge("erasure") == 0
    assert alerts(caplog, late.id) == 1


def test_an_extended_deadline_that_is_missed_again_alerts_again(
    replicas: Replicas, caplog: pytest.LogCaptureFixture
) -> None:
    opened_at = datetime.now(UTC) - timedelta(days=100)
    late = replicas.requests.open(someone(), "access", authenticated=True, now=opened_at).request
    assert late is not None
    caplog.set_level(logging.WARNING, logger="lethe_consent.staff")
    first, second = replicas.desks
    assert first.overdue_sweep()["access"] == 1
    first.update(STAFF, late.id, "in_progress", reason="more time needed", extend_months=1)
    assert second.overdue_sweep()["access"] == 1  # due again after 2 months: still past
    assert first.overdue_sweep()["access"] == 1
    assert alerts(caplog, late.id) == 2
    assert second.overdue_sweep(opened_at + timedelta(days=1))["access"] == 0
