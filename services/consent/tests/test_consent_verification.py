"""The proof of erasure's judgement (issue 14): which hit is declared, which fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lethe_common.traces import EMAIL, NAME, SUBJECT_KEY, Trace
from lethe_consent.models import ReceiptView
from lethe_consent.verification import FAILED, INCOMPLETE, PASSED, Answer, judge, kept_places

pytestmark = pytest.mark.unit

REQUEST = "pr_" + "a" * 32


def receipt(service: str, outcome: str, *places: tuple[str, str]) -> ReceiptView:
    return ReceiptView(
        service=service,
        outcome=outcome,
        deleted=[],
        blocked=[],
        blocked_until="",
        kept=[],
        note="",
        received_at=datetime.now(UTC),
        retained=[{"collection": c, "until": u} for c, u in places],
    )


def trace(collection: str, what: str = NAME, source: str = "store", declared: bool = True) -> Trace:
    return Trace(REQUEST, source, collection, f"{collection}/x/name", what, declared and source == "store")


def test_the_final_receipt_declares_what_is_kept_and_a_deferral_only_until_then() -> None:
    receipts = [
        receipt("shop", "deferred", ("orders", "until fulfilled"), ("order_contacts", "until fulfilled")),
        receipt("shop", "done", ("orders", "2034-12-31")),
        receipt("newsletter", "done", ("suppression", "until subscribed anew")),
    ]
    assert kept_places(receipts) == {
        ("shop", "orders"): "2034-12-31",
        ("newsletter", "suppression"): "until subscribed anew",
    }
    deferred_only = kept_places(receipts[:1])
    assert deferred_only[("shop", "order_contacts")] == "until fulfilled"


def test_a_hit_in_a_declared_collection_is_retained_any_other_fails() -> None:
    kept = {("shop", "orders"): "2034-12-31"}
    result = judge([Answer("shop", [trace("orders")], documents=10)], [], kept, 0)
    assert result["outcome"] == PASSED
    assert [(t["collection"], t["until"]) for t in result["retained"]] == [("orders", "2034-12-31")]

    result = judge([Answer("shop", [trace("orders"), trace("carts", EMAIL)])], [], kept, 0)
    assert result["outcome"] == FAILED
    assert [(t["collection"], t["what"]) for t in result["failures"]] == [("carts", EMAIL)]


def test_the_same_collection_of_another_service_and_any_log_line_are_not_covered() -> None:
    kept = {("shop", "orders"): "2034-12-31"}
    other = judge([Answer("identity", [trace("orders")])], [], kept, 0)
    assert other["outcome"] == FAILED
    logged = judge([Answer("logs", [trace("shop-worker.log", SUBJECT_KEY, source="log")])], [], kept, 5)
    assert logged["outcome"] == FAILED and logged["log_lines_searched"] == 5


def test_a_service_that_did_not_answer_makes_it_incomplete_not_passed() -> None:
    result = judge([Answer("shop", [], documents=3)], ["newsletter"], {}, 0)
    assert result["outcome"] == INCOMPLETE and result["unanswered"] == ["newsletter"]
    assert judge([], ["newsletter"], {}, 0)["outcome"] == INCOMPLETE
    assert judge([Answer("shop", [trace("carts")])], ["newsletter"], {}, 0)["outcome"] == FAILED


def test_a_receipt_cannot_keep_a_field_the_inventory_does_not_declare() -> None:
    kept = {("shop", "orders"): "2034-12-31"}
    result = judge([Answer("shop", [trace("orders", declared=False)])], [], kept, 0)
    assert result["outcome"] == FAILED
    assert [(t["collection"], t["declared"]) for t in result["failures"]] == [("orders", False)]


def test_an_event_still_in_the_outbox_makes_it_incomplete_to_run_again() -> None:
    result = judge([Answer("shop", [trace("outbox", declared=True)])], [], {}, 0)
    assert result["outcome"] == INCOMPLETE and result["failures"] == []
    assert "outbox" in result["retained"][0]["until"]
    assert judge([Answer("shop", [trace("outbox", declared=False)])], [], {}, 0)["outcome"] == FAILED
