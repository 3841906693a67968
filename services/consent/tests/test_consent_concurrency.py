"""Writers racing on one thing, in threads, against the real store and broker.

On the dev store an update is a read and a replace, so nothing here may rest on one:
each race below ends in one outcome whatever the interleaving. Every call of a race
waits at a barrier and then goes at once; each race is run several times.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import pytest
from pymongo.database import Database

from lethe_common.errors import AlreadyExists, FailedPrecondition
from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import PrivacyEvent, Receipt, ReceiptSender
from lethe_common.store.keys import under
from lethe_common.subject import Subject
from lethe_consent.config import load_config
from lethe_consent.erasure import ConsentErasure
from lethe_consent.mailer import Mailer
from lethe_consent.records import ConsentLedger, Person
from lethe_consent.repository import ConsentRepository
from lethe_consent.requests import CONFIRMATION_MAIL, PrivacyRequests, add_months
from lethe_consent.staff import StaffDesk
from lethe_consent.texts import ConsentTexts, seed_purposes
from lethe_testing import EventTap, mails_to, token_in, wait_for_mail

T = TypeVar("T")
SERVICES = ("identity", "consent", "shop", "newsletter", "gateway")
ROUNDS = 4


@dataclasses.dataclass
class Consent:
    texts: ConsentTexts
    ledger: ConsentLedger
    requests: PrivacyRequests
    staff: StaffDesk
    erasure: ConsentErasure


@pytest.fixture
def consent(test_db: Database, amqp_url: str) -> Iterator[Consent]:
    publisher = EventPublisher(amqp_url)
    config = dataclasses.replace(load_config(), receipt_services=SERVICES)
    outbox = Outbox(publisher, test_db, 1.0)
    repo = ConsentRepository(test_db, outbox)
    texts = ConsentTexts(repo)
    texts.seed()
    ledger = ConsentLedger(repo, texts, config.proof_retention_days)
    requests = PrivacyRequests(repo, ledger, texts, Mailer(config.common, config.public_url), config)
    erasure = ConsentErasure(
        repo, ledger, ReceiptSender(test_db, outbox, "consent"), config.proof_retention_days
    )
    yield Consent(texts, ledger, requests, StaffDesk(repo, requests.book, ledger, texts), erasure)
    publisher.close()


def at_once(calls: list[Callable[[], T]]) -> list[T | Exception]:
    """Run every call in its own thread, all released together; results or errors in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | Exception:
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # the test looks at what each caller got
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def someone() -> Person:
    return Person(
        Subject(account_id=f"acc_{uuid.uuid4().hex}", subject_key=uuid.uuid4().hex * 2),
        email=f"{uuid.uuid4().hex}@customer.example",
        name="Someone",
    )


def anonymously(who: Person) -> Person:
    return Person(Subject(subject_key=who.subject.subject_key), email=who.email)


def by_subject(tap: EventTap, who: Person, wait: float = 1.0) -> list[dict[str, Any]]:
    return [e for e in tap.drain(wait) if e["subject_key"] == who.subject.subject_key]


# -- seeding ---------------------------------------------------------------------------------
def test_many_processes_seeding_an_empty_store_at_once_all_succeed(test_db: Database, amqp_url: str) -> None:
    publisher = EventPublisher(amqp_url)
    repo = ConsentRepository(test_db, Outbox(publisher, test_db, 1.0))
    try:
        results = at_once([ConsentTexts(repo).seed for _ in range(8)])
    finally:
        publisher.close()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r for r in results if isinstance(r, int)) == len(seed_purposes())
    steps = list(test_db.consent_purposes.find({}))
    assert sorted(s["_id"] for s in steps) == sorted(f"{p.purpose}/00000000" for p in seed_purposes())
    assert test_db.consent_texts.count_documents({}) == len([p for p in seed_purposes() if p.version])


def test_staff_publishing_at_once_all_land_and_one_version_once(consent: Consent, test_db: Database) -> None:
    texts = {"de": {"title": "Titel", "body": "Text"}, "en": {"title": "Title", "body": "Text"}}
    purpose = f"survey_{uuid.uuid4().hex[:8]}"
    consent.texts.publish("acc_" + "1" * 32, purpose, "v1", texts)
    results = at_once(
        [
            partial(consent.texts.publish, "acc_" + "1" * 32, purpose, version, texts)
            for version in ("v2", "v3", "v4", "v4")
        ]
    )
    assert [type(r) for r in results].count(AlreadyExists) == 1, results
    assert sorted(r.version for r in results if not isinstance(r, Exception)) == ["v2", "v3", "v4"]
    steps = list(
        test_db.consent_purposes.find(
            {"_id": {"$gte": f"{purpose}/", "$lt": f"{purpose}0"}}, sort=[("_id", 1)]
        )
    )
    assert sorted(s["version"] for s in steps) == ["v1", "v2", "v3", "v4"]
    assert consent.texts.purpose(purpose).current_version == steps[-1]["version"]


# -- consent records ---------------------------------------------------------------------------
def test_parallel_grants_record_once_and_announce_once(consent: Consent, amqp_url: str) -> None:
    version = consent.texts.consent_purpose("newsletter").current_version
    with EventTap(amqp_url, "consent", "consent.granted") as tap:
        for _ in range(ROUNDS):
            who = someone()
            results = at_once(
                [
                    lambda w=who: consent.ledger.grant(w, "newsletter", version, "double_opt_in")
                    for _ in range(8)
                ]
            )
            assert len({r.id for r in results if not isinstance(r, Exception)}) == 1, results
            history = consent.ledger.overview(who.subject).history
            assert [r.action for r in history] == ["grant"]
            events = by_subject(tap, who)
            assert [e["payload"]["record_id"] for e in events] == [history[0].id]


def test_parallel_gpc_signals_and_a_grant_withdraw_once(consent: Consent, amqp_url: str) -> None:
    version = consent.texts.consent_purpose("analytics").current_version
    with EventTap(amqp_url, "consent", "consent.withdrawn") as tap:
        for _ in range(ROUNDS):
            who = someone()
            consent.ledger.grant(who, "analytics", version, "web_form")
            results = at_once([lambda w=who: consent.ledger.apply_gpc(w) for _ in range(8)])
            recorded = [r for r in results if r is not None]
            assert len(recorded) == 1 and not isinstance(recorded[0], Exception), results
            assert [r.action for r in consent.ledger.overview(who.subject).history] == ["withdrawal", "grant"]
            assert len(by_subject(tap, who)) == 1


def test_an_erasure_run_twice_at_once_ends_each_consent_once(consent: Consent, amqp_url: str) -> None:
    version = consent.texts.consent_purpose("newsletter").current_version
    for _ in range(ROUNDS):
        who = someone()
        consent.ledger.grant(who, "newsletter", version, "web_form")
        event = PrivacyEvent("erasure", f"pr_{uuid.uuid4().hex}", who.subject)
        with EventTap(amqp_url, "consent", "privacy.receipt") as tap:
            results = at_once([lambda e=event: consent.erasure.erase(e) for _ in range(4)])
            receipts = [r for r in tap.drain(1.0) if r["payload"]["request_id"] == event.request_id]  # type: ignore[index]
        assert len(receipts) == 1
        assert not [r for r in results if isinstance(r, Exception)], results
        history = consent.ledger.overview(who.subject).history
        assert [(r.action, r.pseudonymised) for r in history] == [("withdrawal", True), ("grant", True)]


def test_a_grant_written_while_the_person_is_erased_keeps_no_address(
    consent: Consent, test_db: Database
) -> None:
    version = consent.texts.consent_purpose("newsletter").current_version
    for _ in range(ROUNDS):
        who = someone()
        event = PrivacyEvent("erasure", f"pr_{uuid.uuid4().hex}", who.subject)
        results = at_once(
            [
                partial(consent.erasure.erase, event),
                partial(consent.ledger.grant, who, "newsletter", version, "double_opt_in", "198.51.100.7"),
            ]
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        records = list(test_db.consent_records.find({"subject_key": who.subject.subject_key}))
        assert records and all("pseudonymised_at" in r for r in records)
        assert not [r for r in records if {"email", "name", "client_address"} & set(r)]


def test_withdrawing_the_account_consent_at_once_opens_one_erasure(consent: Consent) -> None:
    version = consent.texts.consent_purpose("account").current_version
    for _ in range(ROUNDS):
        who = someone()
        consent.ledger.grant(who, "account", version, "web_form")
        results = at_once(
            [partial(consent.requests.withdraw_consent, who, "account", "web_form") for _ in range(4)]
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        erasures = {r[1] for r in results if not isinstance(r, Exception)}
        assert len(erasures) == 1 and "" not in erasures
        assert [(r.id, r.kind) for r in consent.requests.own(who.subject)] == [(erasures.pop(), "erasure")]


def test_anonymous_requests_at_once_never_exceed_the_mail_limit(consent: Consent, test_db: Database) -> None:
    limit = load_config().confirmation_limits.per_address.limit
    who = someone()
    anonymous = anonymously(who)
    results = at_once(
        [partial(consent.requests.open, anonymous, "access", authenticated=False) for _ in range(limit + 5)]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    # Each counts after its own insert: of a burst, possibly none gets through, never more
    # than the limit (counting first and inserting after let every one of them through).
    sent = test_db.privacy_confirmations.count_documents({})
    assert sent <= limit
    counted = under(f"{CONFIRMATION_MAIL}-address", consent.requests.mail_limits.address_key(who.email))
    assert test_db.send_limits.count_documents({"_id": counted}) == sent
    assert len(mails_to(who.email, kind="privacy-request-confirmation")) == sent


# -- privacy requests ----------------------------------------------------------------------------
def test_receipts_filed_at_once_and_again_complete_the_request_exactly_once(
    consent: Consent, test_db: Database
) -> None:
    for _ in range(ROUNDS):
        opened = consent.requests.open(someone(), "erasure", authenticated=True)
        assert opened.request is not None and opened.request.status == "in_progress"
        request_id = opened.request.id
        calls = [
            partial(
                consent.requests.receive,
                service,
                Receipt(request_id, "erasure", outcome, note=f"{service} {outcome}"),
            )
            for service in SERVICES
            for outcome in ("deferred", "done")
            for _ in range(2)
        ]
        results = at_once(calls)
        assert not [r for r in results if isinstance(r, Exception)], results

        view = consent.requests.view(request_id)
        assert view.status == "complete" and view.completed_at is not None
        assert sorted((r.service, r.outcome) for r in view.receipts) == sorted(
            (s, o) for s in SERVICES for o in ("deferred", "done")
        )
        steps = list(
            test_db.privacy_request_steps.find({"_id": {"$gte": f"{request_id}/", "$lt": f"{request_id}0"}})
        )
        assert [s["status"] for s in steps].count("complete") == 1
        assert steps[-1]["status"] == "complete"  # nothing moved it back afterwards


def test_two_staff_deciding_one_objection_at_once_exactly_one_wins(
    consent: Consent, test_db: Database
) -> None:
    for _ in range(ROUNDS):
        opened = consent.requests.open(
            someone(), "objection", purpose="access_logs", reason="I object", authenticated=True
        )
        assert opened.request is not None and opened.request.status == "open"
        request_id = opened.request.id
        results = at_once(
            [
                partial(consent.staff.decide_objection, "acc_" + "1" * 32, request_id, True, "upheld"),
                partial(consent.staff.decide_objection, "acc_" + "2" * 32, request_id, False, "no"),
            ]
        )
        won = [r for r in results if not isinstance(r, Exception)]
        lost = [r for r in results if isinstance(r, Exception)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], FailedPrecondition)
        view = consent.requests.view(request_id)
        assert (view.status, view.decision) == (won[0].status, won[0].decision)
        assert (
            test_db.privacy_request_steps.count_documents(
                {"_id": {"$gte": f"{request_id}/", "$lt": f"{request_id}0"}}
            )
            == 1
        )


def test_staff_closing_and_extending_one_request_at_once_lose_nothing(consent: Consent) -> None:
    for _ in range(ROUNDS):
        opened = consent.requests.open(someone(), "access", authenticated=True)
        assert opened.request is not None and opened.request.due_at is not None
        request_id, due = opened.request.id, opened.request.due_at
        update = partial(consent.staff.update, request_id=request_id)
        results = at_once(
            [
                partial(update, "acc_" + "1" * 32, status="in_progress", reason="more time", extend_months=1),
                partial(
                    update, "acc_" + "2" * 32, status="in_progress", reason="even more time", extend_months=1
                ),
                partial(update, "acc_" + "3" * 32, status="complete", reason="sent"),
                partial(update, "acc_" + "4" * 32, status="rejected", reason="no"),
            ]
        )
        closing = [r for r in results[2:] if not isinstance(r, Exception)]
        assert len(closing) == 1, results
        view = consent.requests.view(request_id)
        assert view.status == closing[0].status
        extended = sum(1 for r in results[:2] if not isinstance(r, Exception))
        assert view.due_at == add_months(due, extended)
        listed = [r.id for r in consent.staff.listing(status=view.status)[0]]
        assert request_id in listed
        assert request_id not in [r.id for r in consent.staff.listing(status="in_progress")[0]]


def test_a_confirmation_racing_the_expiry_sweep_ends_one_way(consent: Consent) -> None:
    for _ in range(ROUNDS):
        who = someone()
        consent.requests.open(anonymously(who), "erasure", authenticated=False)
        token = token_in(wait_for_mail(who.email, "privacy-request-confirmation"))
        expiry = datetime.now(UTC) + timedelta(hours=100)
        results = at_once(
            [
                partial(consent.requests.confirm, token),
                partial(consent.requests.retention.forget_expired_confirmations, expiry),
            ]
        )
        confirmed, expired = results
        if isinstance(confirmed, Exception):  # the sweep won: the request is gone
            assert expired == 1
        else:  # the confirmation won: the sweep let it be
            assert expired == 0 and confirmed.status == "in_progress"
            assert consent.requests.view(confirmed.id).status == "in_progress"
