"""The proof period: consent records go once it has passed after a withdrawal or an erasure.

Domain and repository against the real store and broker, with the clock moved
forward by passing ``now`` (no sleeping).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.database import Database

from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import PrivacyEvent, ReceiptSender
from lethe_common.subject import Subject
from lethe_consent.erasure import ConsentErasure
from lethe_consent.records import ConsentLedger, Person
from lethe_consent.repository import ConsentRepository
from lethe_consent.texts import ConsentTexts

PROOF_DAYS = 30


@pytest.fixture
def parts(test_db: Database, amqp_url: str) -> Iterator[tuple[ConsentLedger, ConsentErasure]]:
    publisher = EventPublisher(amqp_url)
    outbox = Outbox(publisher, test_db, 1.0)
    repo = ConsentRepository(test_db, outbox)
    texts = ConsentTexts(repo)
    texts.seed()
    ledger = ConsentLedger(repo, texts, PROOF_DAYS)
    yield ledger, ConsentErasure(repo, ledger, ReceiptSender(test_db, outbox, "consent"), PROOF_DAYS)
    publisher.close()


def someone() -> Person:
    return Person(
        Subject(account_id=f"acc_{uuid.uuid4().hex}", subject_key=uuid.uuid4().hex * 2),
        email=f"{uuid.uuid4().hex}@x.example",
        name="Someone",
    )


def test_records_go_once_the_proof_period_after_withdrawal_or_erasure_has_passed(
    parts: tuple[ConsentLedger, ConsentErasure], test_db: Database
) -> None:
    ledger, erasure = parts
    withdrawn, erased, active = someone(), someone(), someone()
    for subject in (withdrawn, erased, active):
        ledger.grant(subject, "newsletter", "2026-01", "web_form")
    ledger.withdraw(withdrawn, "newsletter", "web_form")
    erasure.erase(PrivacyEvent("erasure", f"pr_{uuid.uuid4().hex}", erased.subject))
    now = datetime.now(UTC)

    assert erasure.sweep(now + timedelta(days=PROOF_DAYS - 1)) == {
        "pseudonymised_records": 0,
        "withdrawn_records": 0,
    }
    assert test_db.consent_records.count_documents({}) == 5

    assert erasure.sweep(now + timedelta(days=PROOF_DAYS + 1)) == {
        "pseudonymised_records": 2,
        "withdrawn_records": 2,
    }
    left = list(test_db.consent_records.find({}))
    assert [(d["account_id"], d["action"]) for d in left] == [(active.subject.account_id, "grant")]


def test_a_later_grant_outlives_the_chain_before_it(
    parts: tuple[ConsentLedger, ConsentErasure], test_db: Database
) -> None:
    ledger, erasure = parts
    subject = someone()
    ledger.grant(subject, "analytics", "2026-01", "web_form")
    ledger.withdraw(subject, "analytics", "web_form")
    later = ledger.grant(subject, "analytics", "2026-01", "web_form")
    now = datetime.now(UTC)
    assert erasure.sweep(now + timedelta(days=PROOF_DAYS - 1))["withdrawn_records"] == 0
    assert erasure.sweep(now + timedelta(days=PROOF_DAYS + 1))["withdrawn_records"] == 2
    assert [(d["id"], d["action"]) for d in test_db.consent_records.find({})] == [(later.id, "grant")]
    # The log goes on after the chain that was deleted: the next record follows the grant.
    ledger.withdraw(subject, "analytics", "web_form")
    assert [r.action for r in ledger.overview(subject.subject).history] == ["withdrawal", "grant"]


def test_a_refusal_expires_alone_and_an_erasure_sweeps_the_records_it_pseudonymised(
    parts: tuple[ConsentLedger, ConsentErasure], test_db: Database
) -> None:
    ledger, erasure = parts
    refused, erased = someone(), someone()
    assert ledger.apply_gpc(refused) is not None
    ledger.grant(erased, "newsletter", "2026-01", "web_form")
    request = PrivacyEvent("erasure", f"pr_{uuid.uuid4().hex}", erased.subject)
    erasure.erase(request)
    erasure.erase(request)  # the API's EraseSubject and the worker's consumer both erase
    records = list(test_db.consent_records.find({"subject_key": erased.subject.subject_key}))
    assert sorted(d["action"] for d in records) == ["grant", "withdrawal"]
    assert all("pseudonymised_at" in d and "email" not in d for d in records)
    assert erasure.sweep(datetime.now(UTC) + timedelta(days=PROOF_DAYS + 1)) == {
        "pseudonymised_records": 2,
        "withdrawn_records": 1,
    }
    assert test_db.consent_records.count_documents({}) == 0
    assert test_db.consent_expiries.count_documents({}) == 0
