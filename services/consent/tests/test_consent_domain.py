"""Pure domain rules of the consent service: deadlines, completion, what the bus may bring."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lethe_common.errors import InvalidArgument
from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.privacy import PrivacyEvent, Receipt
from lethe_common.subject import Subject
from lethe_consent.models import ReceiptView, RequestView
from lethe_consent.requests import add_months, status_after_receipts
from lethe_consent.texts import check_texts

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

REQUEST = "pr_" + "a" * 32
KEY = "b" * 64


@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        (datetime(2026, 1, 15, 9, tzinfo=UTC), 1, datetime(2026, 2, 15, 9, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 12, 3, tzinfo=UTC), 1, datetime(2027, 1, 3, tzinfo=UTC)),
        (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2026, 5, 5, tzinfo=UTC), 0, datetime(2026, 5, 5, tzinfo=UTC)),
    ],
)
def test_a_month_from_receipt_is_the_same_day_or_the_months_last(
    start: datetime, months: int, due: datetime
) -> None:
    assert add_months(start, months) == due


def receipt(service: str, outcome: str = "done", note: str = "") -> ReceiptView:
    return ReceiptView(service, outcome, [], [], "", [], note, None)


def test_a_request_completes_only_with_every_listed_services_done_receipt() -> None:
    services = ["identity", "consent", "shop"]
    assert status_after_receipts(services, []) == ("in_progress", "")
    assert status_after_receipts(services, [receipt("identity"), receipt("consent")])[0] == "in_progress"
    assert (
        status_after_receipts(services, [receipt("identity"), receipt("consent"), receipt("gateway")])[0]
        == "in_progress"
    )
    assert status_after_receipts(services, [receipt("identity"), receipt("consent"), receipt("shop")]) == (
        "complete",
        "",
    )


def test_a_deferral_holds_the_request_until_that_service_is_done() -> None:
    services = ["consent", "shop"]
    deferred = [receipt("consent"), receipt("shop", "deferred", "open order, Art. 17(3)(b)")]
    assert status_after_receipts(services, deferred) == ("deferred", "shop: open order, Art. 17(3)(b)")
    assert status_after_receipts(services, [*deferred, receipt("shop")])[0] == "complete"


def test_only_active_requests_past_their_due_date_are_overdue() -> None:
    due = datetime(2026, 1, 1, tzinfo=UTC)
    later = datetime(2026, 1, 2, tzinfo=UTC)

    def view(status: str) -> RequestView:
        return RequestView("pr_x", "access", status, "", due, due, "", "", "", None, None, [])

    assert view("open").overdue(later) and view("in_progress").overdue(later)
    assert not view("open").overdue(due)
    assert not any(view(s).overdue(later) for s in ("complete", "rejected", "deferred"))


def envelope(
    event_type: str, payload: dict[str, object], subject_key: str = KEY, source: str = "shop"
) -> Envelope:
    return Envelope(type=event_type, source=source, subject_key=subject_key, payload=payload)


def receipt_payload(**changes: object) -> dict[str, object]:
    return {
        "request_id": REQUEST,
        "kind": "erasure",
        "outcome": "done",
        "deleted": ["carts"],
        "blocked": [],
        "blocked_until": "",
        "kept": [],
        "note": "",
        **changes,
    }


def test_a_well_formed_receipt_is_read() -> None:
    read = Receipt.from_envelope(envelope("privacy.receipt", receipt_payload()))
    assert read == Receipt(REQUEST, "erasure", deleted=("carts",))
    assert Receipt.from_envelope(envelope("privacy.receipt", read.payload())) == read


@pytest.mark.parametrize(
    "changes",
    [
        {"request_id": "pr_1"},
        {"kind": "deletion"},
        {"outcome": "maybe"},
        {"deleted": "carts"},
        {"deleted": [1]},
        {"deleted": [""]},
        {"kept": ["x" * 301]},
        {"blocked": ["x"] * 51},
        {"note": 5},
    ],
)
def test_a_receipt_the_bus_mangled_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(EnvelopeError):
        Receipt.from_envelope(envelope("privacy.receipt", receipt_payload(**changes)))


def test_privacy_events_are_checked_before_anyone_acts_on_them() -> None:
    erasure = envelope(
        "privacy.erasure_requested", {"request_id": REQUEST, "account_id": ""}, source="consent"
    )
    assert PrivacyEvent.from_envelope(erasure) == PrivacyEvent("erasure", REQUEST, Subject(subject_key=KEY))
    lift = envelope(
        "privacy.restriction_changed",
        {"request_id": REQUEST, "account_id": "acc_" + "c" * 32, "restricted": False},
        source="consent",
    )
    assert PrivacyEvent.from_envelope(lift).kind == "restriction_lift"
    for bad in (
        {"request_id": "x", "account_id": ""},
        {"request_id": REQUEST, "account_id": "someone@example.com"},
    ):
        with pytest.raises(EnvelopeError):
            PrivacyEvent.from_envelope(envelope("privacy.erasure_requested", bad, source="consent"))
    with pytest.raises(EnvelopeError):
        PrivacyEvent.from_envelope(
            envelope(
                "privacy.erasure_requested",
                {"request_id": REQUEST, "account_id": ""},
                subject_key="",
                source="consent",
            )
        )


def test_a_consent_text_needs_german_and_english_and_nothing_else() -> None:
    good = {"de": {"title": "T", "body": "Text"}, "en": {"title": "T", "body": "Text"}}
    assert check_texts(good) == good
    for bad in (
        {"de": good["de"]},
        {**good, "fr": good["en"]},
        {**good, "en": {"title": "T", "body": " "}},
        {**good, "de": {"title": "", "body": "x"}},
        {**good, "de": {"title": "T", "body": "a\x00b"}},
    ):
        with pytest.raises(InvalidArgument):
            check_texts(bad)
