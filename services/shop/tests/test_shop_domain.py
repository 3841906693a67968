"""The shop's rules without any server: prices, statuses, retention dates, what leaves us."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from lethe_common.errors import Aborted, FailedPrecondition, InvalidArgument
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_shop.attempts import (
    CARD_DECLINED,
    INVALID_TOKEN,
    attempt_step,
    declined_step,
    key_state,
)
from lethe_shop.checkout import (
    Customer,
    OrderRequest,
    checked_address,
    checked_idempotency_key,
    checked_lines,
    order_id_for,
)
from lethe_shop.fulfilment import delivery_data
from lethe_shop.models import (
    CANCELLED,
    PAID,
    check_move,
    end_of_retention,
    line_of,
    passed,
    totals_of,
)
from lethe_shop.order_state import fold, move_step, payment_step
from lethe_shop.payment import BadNotification, SandboxProvider

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

MANUAL = {
    "_id": "prd_" + "1" * 32,
    "sku": "MANUAL",
    "name": "Manual",
    "kind": "physical",
    "price_cents": 2900,
    "currency": "EUR",
    "vat_rate_bp": 700,
    "term_months": 0,
}
FEED = {
    "_id": "prd_" + "2" * 32,
    "sku": "FEED",
    "name": "Feed",
    "kind": "subscription",
    "price_cents": 99000,
    "currency": "EUR",
    "vat_rate_bp": 1900,
    "term_months": 12,
}


def test_a_line_is_priced_from_the_catalogue_with_vat_rounded_half_up() -> None:
    line = line_of(MANUAL, 3)
    assert (line["net_cents"], line["vat_cents"], line["gross_cents"]) == (8700, 609, 9309)
    odd = line_of({**MANUAL, "price_cents": 50, "vat_rate_bp": 1900}, 1)  # 9.5 cents of VAT
    assert odd["vat_cents"] == 10
    assert totals_of([line, line_of(FEED, 1)]) == {
        "currency": "EUR",
        "net_cents": 8700 + 99000,
        "vat_cents": 609 + 18810,
        "gross_cents": 9309 + 117810,
    }


@pytest.mark.parametrize("quantity", [0, -1, 1001])
def test_quantities_out_of_range_are_refused(quantity: int) -> None:
    with pytest.raises(InvalidArgument, match="quantity"):
        line_of(MANUAL, quantity)


def test_subscriptions_come_one_at_a_time_and_currencies_do_not_mix() -> None:
    with pytest.raises(InvalidArgument, match="one at a time"):
        line_of(FEED, 2)
    with pytest.raises(InvalidArgument, match="currency"):
        totals_of([line_of(MANUAL, 1), line_of({**FEED, "currency": "USD"}, 1)])


@pytest.mark.parametrize(
    ("made", "years", "until"),
    [
        (datetime(2026, 3, 1, tzinfo=UTC), 8, datetime(2034, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), 8, datetime(2034, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (datetime(2027, 1, 1, tzinfo=UTC), 6, datetime(2033, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_retention_runs_from_the_end_of_the_calendar_year(
    made: datetime, years: int, until: datetime
) -> None:
    assert end_of_retention(made, years) == until


def test_staff_moves_follow_the_order_of_things() -> None:
    physical, digital = [line_of(MANUAL, 1)], [line_of(FEED, 1)]
    check_move("paid", "shipped", physical)
    check_move("paid", "delivered", digital)
    check_move("delivered", "completed", physical)
    for current, wanted, lines in (
        ("placed", "shipped", physical),
        ("paid", "shipped", digital),
        ("paid", "delivered", physical),
        ("completed", "cancelled", physical),
        ("shipped", "paid", physical),
    ):
        with pytest.raises(FailedPrecondition):
            check_move(current, wanted, lines)
    with pytest.raises(InvalidArgument, match="status must be one of"):
        check_move("paid", "lost", physical)


def test_the_supplier_gets_name_delivery_address_and_items_only() -> None:
    order: dict[str, Any] = {
        "_id": "ord_" + "3" * 32,
        "email": "ada@example.com",
        "lines": [line_of(MANUAL, 2), line_of(FEED, 1)],
        "billing": {"name": "Billing Person", "vat_id": "DE123456789"},
        "delivery": {
            "name": "Ada",
            "street": "Hauptstraße 1",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
            "phone": "+49 30 1",
        },
        "delivery_note": "ring twice",
        "totals": totals_of([line_of(MANUAL, 2)]),
    }
    sent = delivery_data(order)
    assert sent == {
        "reference": order["_id"],
        "recipient": {
            "name": "Ada",
            "street": "Hauptstraße 1",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
        },
        "items": [{"sku": "MANUAL", "name": "Manual", "quantity": 2}],
    }


def test_one_key_names_one_order_per_customer_and_a_retry_is_the_same_request() -> None:
    a, b = "acc_" + "a" * 32, "acc_" + "b" * 32
    assert order_id_for(a, "key-12345678") == order_id_for(a, "key-12345678")
    assert order_id_for(a, "key-12345678") != order_id_for(b, "key-12345678")
    customer = Customer(Subject(account_id=a, subject_key="0" * 64), "ada@example.com")
    billing = checked_address(
        {"name": "Ada", "street": "S 1", "postcode": "10115", "city": "Berlin", "country": "DE"}, "billing"
    )
    first = OrderRequest(
        customer, "key-12345678", checked_lines([("prd_" + "1" * 32, 1)]), billing, None, "", "tok_one"
    )
    retry = OrderRequest(customer, "key-12345678", first.lines, billing, None, "", "tok_two")
    other = OrderRequest(
        customer, "key-12345678", checked_lines([("prd_" + "1" * 32, 2)]), billing, None, "", "tok_one"
    )
    assert first.fingerprint() == retry.fingerprint() != other.fingerprint()


def test_a_key_begins_a_new_attempt_only_after_a_decline_and_refuses_the_declined_token() -> None:
    account, key, now = "acc_" + "a" * 32, "key-12345678", datetime.now(UTC)
    steps: list[dict[str, Any]] = []

    def append(step: Step | None) -> None:
        assert step is not None
        steps.append({**step.fields, "n": len(steps)})

    first = attempt_step(key_state(steps), account, key, "tok-one", now)
    assert first is not None and first.fields["order_id"] == order_id_for(account, key)
    append(first)
    # While the attempt is current, every request goes to its order (no new attempt).
    assert attempt_step(key_state(steps), account, key, "tok-one", now) is None
    assert attempt_step(key_state(steps), account, key, "tok-two", now) is None
    assert key_state(steps).current == order_id_for(account, key)

    # Declined (once, however many find it void); then the declined token is refused
    # again, and another token begins attempt 1 with an order id of its own.
    first_order = first.fields["order_id"]
    append(declined_step(key_state(steps), first_order, CARD_DECLINED, now))
    assert declined_step(key_state(steps), first_order, CARD_DECLINED, now) is None
    assert key_state(steps).current == ""
    with pytest.raises(FailedPrecondition) as refused:
        attempt_step(key_state(steps), account, key, "tok-one", now)
    assert refused.value.reason == "payment_declined"
    second = attempt_step(key_state(steps), account, key, "tok-two", now)
    assert second is not None and second.fields["attempt"] == 1
    assert second.fields["order_id"] == order_id_for(account, key, 1) != first_order
    append(second)
    assert key_state(steps).current == second.fields["order_id"]

    # A token the provider refused is refused again as such.
    append(declined_step(key_state(steps), second.fields["order_id"], INVALID_TOKEN, now))
    with pytest.raises(InvalidArgument, match="not valid"):
        attempt_step(key_state(steps), account, key, "tok-two", now)
    third = attempt_step(key_state(steps), account, key, "tok-three", now)
    assert third is not None
    assert len({first_order, second.fields["order_id"], third.fields["order_id"]}) == 3


def test_a_payment_token_leaves_only_its_fingerprint() -> None:
    customer = Customer(Subject(account_id="acc_" + "a" * 32, subject_key="0" * 64), "ada@example.com")
    token = "tok_" + "1" * 24
    request = OrderRequest(customer, "key-12345678", [("prd_" + "1" * 32, 1)], {}, None, "", token)
    other = OrderRequest(customer, "key-12345678", [("prd_" + "1" * 32, 1)], {}, None, "", "tok_" + "2" * 24)
    assert token not in request.token_fingerprint() and "1" * 24 not in request.token_fingerprint()
    assert request.token_fingerprint() != other.token_fingerprint()
    assert request.fingerprint() == other.fingerprint()  # the same order, another card


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"street": "S 1", "postcode": "10115", "city": "Berlin", "country": "DE"}, "name"),
        (
            {"name": "A", "street": "S 1", "postcode": "10115", "city": "Berlin", "country": "Germany"},
            "country",
        ),
        (
            {
                "name": "A",
                "street": "S 1",
                "postcode": "10115",
                "city": "Berlin",
                "country": "DE",
                "phone": "call me",
            },
            "phone",
        ),
        ({"name": "A\x00", "street": "S 1", "postcode": "10115", "city": "B", "country": "DE"}, "name"),
    ],
)
def test_addresses_are_checked_field_by_field(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem) as raised:
        checked_address(fields, "delivery")
    assert "call me" not in str(raised.value) and "Germany" not in str(raised.value)


def test_lines_and_keys_are_checked() -> None:
    assert checked_lines([("prd_" + "1" * 32, 1), ("prd_" + "1" * 32, 2)]) == [("prd_" + "1" * 32, 3)]
    with pytest.raises(InvalidArgument, match="at least one"):
        checked_lines([])
    with pytest.raises(InvalidArgument, match="Idempotency-Key"):
        checked_idempotency_key("short")


def _signed(secret: bytes, body: bytes, at: int) -> str:
    return f"t={at},v1={hmac.new(secret, f'{at}.'.encode() + body, hashlib.sha256).hexdigest()}"


def test_only_the_providers_signed_recent_notifications_are_believed() -> None:
    provider = SandboxProvider("http://127.0.0.1:1", "key", "webhook-secret", 1.0)
    body = json.dumps(
        {
            "type": "charge.succeeded",
            "charge": {"id": "ch_" + "a" * 24, "status": "succeeded", "reference": "ord_" + "3" * 32},
        }
    ).encode()
    now = int(time.time())
    charge = provider.notification(body, _signed(b"webhook-secret", body, now))
    assert (charge.reference, charge.status, charge.order_id) == (
        "ch_" + "a" * 24,
        "succeeded",
        "ord_" + "3" * 32,
    )
    for signature in (
        _signed(b"another-secret", body, now),
        _signed(b"webhook-secret", body, now - 3600),
        "t=,v1=",
        "",
    ):
        with pytest.raises(BadNotification):
            provider.notification(body, signature)
    with pytest.raises(BadNotification):
        provider.notification(body.replace(b"succeeded", b"refunded"), _signed(b"webhook-secret", body, now))


def _order() -> dict[str, Any]:
    return {
        "_id": "ord_" + "4" * 32,
        "account_id": "acc_" + "a" * 32,
        "subject_key": "0" * 64,
        "placed_at": datetime(2026, 3, 1, tzinfo=UTC),
        "lines": [line_of(MANUAL, 1)],
        "totals": totals_of([line_of(MANUAL, 1)]),
    }


def _append(steps: list[dict[str, Any]], step: Step | None) -> None:
    assert step is not None
    steps.append({**step.fields, "n": len(steps)})


def test_whoever_says_succeeded_first_makes_the_order_paid_and_the_other_finds_nothing_to_do() -> None:
    order, steps = _order(), list[dict[str, Any]]()
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    first = payment_step(order, fold(order, steps), "ch_1", "succeeded", "sandbox", now)
    assert first is not None
    assert [e.type for e in first.events] == ["order.placed", "order.paid"]
    _append(steps, first)
    # the charge's answer (pending) and a repeated notification come after: nothing to add
    assert payment_step(order, fold(order, steps), "ch_1", "pending", "sandbox", now) is None
    assert payment_step(order, fold(order, steps), "ch_1", "succeeded", "sandbox", now) is None
    state = fold(order, steps)
    assert (state.status, state.payment_status, state.paid_at) == (PAID, "succeeded", now)
    assert [h["status"] for h in state.history] == ["placed", "paid"]


def test_the_charge_answer_first_records_the_reference_then_the_notification_pays() -> None:
    order, steps = _order(), list[dict[str, Any]]()
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    answer = payment_step(order, fold(order, steps), "ch_1", "pending", "sandbox", now)
    assert answer is not None and [e.type for e in answer.events] == ["order.placed"]
    _append(steps, answer)
    paid = payment_step(order, fold(order, steps), "ch_1", "succeeded", "sandbox", now)
    assert paid is not None and [e.type for e in paid.events] == ["order.paid"]
    assert payment_step(order, fold(order, steps), "ch_2", "succeeded", "sandbox", now) is None


def test_a_move_decided_on_a_status_that_changed_meanwhile_is_refused() -> None:
    order, steps = _order(), list[dict[str, Any]]()
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _append(steps, payment_step(order, fold(order, steps), "ch_1", "succeeded", "x", now))
    until = datetime(2034, 12, 31, 23, 59, 59, tzinfo=UTC)
    shipped = move_step(order, fold(order, steps), PAID, "shipped", "acc_" + "b" * 32, now, None)
    cancelled = move_step(order, fold(order, steps), PAID, CANCELLED, "acc_" + "c" * 32, now, until)
    assert cancelled.fields["blocked"] is True and "blocked" not in shipped.fields
    _append(steps, shipped)  # the shipping clerk won
    with pytest.raises(Aborted):
        move_step(order, fold(order, steps), PAID, CANCELLED, "acc_" + "c" * 32, now, until)
    assert passed("shipped", PAID) and passed(CANCELLED, "shipped") and not passed(PAID, CANCELLED)


def test_a_payment_for_a_cancelled_order_is_recorded_without_paying_it_and_goes_back() -> None:
    order, steps = _order(), list[dict[str, Any]]()
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _append(steps, move_step(order, fold(order, steps), "placed", CANCELLED, "acc_" + "b" * 32, now, None))
    late = payment_step(order, fold(order, steps), "ch_1", "succeeded", "sandbox", now)
    assert late is not None and [e.type for e in late.events] == ["order.placed"]
    _append(steps, late)
    state = fold(order, steps)
    assert state.status == CANCELLED and state.refund_due and state.paid_at is None
