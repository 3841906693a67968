"""A declined card and the Idempotency-Key (issue 13, defect 1): the real shop API (two
replicas), the real store and the payment sandbox (tools/fakes/payment_sandbox.py).

The key names one order the customer means to place. A declined attempt keeps no order,
so the same key with another card's token is a new attempt, charged under its own
provider idempotency key; the declined token sent again is declined again without a
second order; once an order under the key is kept, the key answers with that order and
charges nothing more. Two requests with one key at once make at most one order and at
most one charge.

Final states are asserted: the order documents and what points to them, the customer's
list, the charges at the sandbox, and which tokens it consumed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import grpc
import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_shop.checkout import order_id_for
from lethe_testing import Backend, running_backend, wait_for

Stub = shop_pb2_grpc.ShopServiceStub
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
ADDRESS = pb.Address(
    name="Ada Lovelace",
    street="Hauptstraße 1",
    postcode="10115",
    city="Berlin",
    country="DE",
    phone="+49 30 5550199",
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # The sandbox's own notifications go nowhere: the tests send them when they choose.
    with running_backend(
        "shop", tmp_path_factory.mktemp("shop-declined"), LETHE_PUBLIC_URL="http://127.0.0.1:9"
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def replicas(shop: Backend) -> Iterator[list[Stub]]:
    channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for port in shop.grpc_ports]
    assert len(channels) >= 2, "these tests need two API replicas"
    yield [Stub(channel) for channel in channels]
    for channel in channels:
        channel.close()


@pytest.fixture(scope="module")
def db(shop: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[shop.db_name]


@pytest.fixture(scope="module")
def catalogue(replicas: list[Stub]) -> dict[str, pb.Product]:
    return {p.sku: p for p in replicas[0].ListProducts(pb.ListProductsRequest(), timeout=10).products}


def sandbox(method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{os.environ['SHOP_PAYMENT_URL']}{path}",
        headers={
            "Authorization": f"Bearer {os.environ['SHOP_PAYMENT_API_KEY']}",
            **kwargs.pop("headers", {}),
        },
        timeout=10,
        **kwargs,
    )


def token(card: str = GOOD_CARD) -> str:
    """What the customer's browser gets from the provider for a card."""
    reply = httpx.post(
        f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens",
        json={"card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
        timeout=10,
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def consumed(payment_token: str) -> bool:
    """Whether the sandbox has used the token for a charge (or declined it): a token is
    single-use, so charging it here once more is refused exactly then."""
    reply = sandbox(
        "POST",
        "/v1/charges",
        headers={"Idempotency-Key": f"probe-{uuid.uuid4().hex}"},
        json={
            "token": payment_token,
            "amount": 100,
            "currency": "EUR",
            "reference": "probe",
            "notify_url": "",
        },
    )
    assert reply.status_code in (201, 400), reply.text
    return reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_token"


def charge_at_sandbox(reference: str) -> dict[str, Any]:
    reply = sandbox("GET", f"/v1/charges/{reference}")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def notification(order_id: str, charge_id: str, amount: int) -> pb.PaymentNotificationRequest:
    """The provider's notification, signed as the sandbox signs it."""
    body = json.dumps(
        {
            "type": "charge.succeeded",
            "charge": {
                "id": charge_id,
                "status": "succeeded",
                "amount": amount,
                "currency": "EUR",
                "reference": order_id,
            },
        }
    ).encode()
    at = int(time.time())
    mac = hmac.new(
        os.environ["SHOP_PAYMENT_WEBHOOK_SECRET"].encode(), f"{at}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return pb.PaymentNotificationRequest(body=body, signature=f"t={at},v1={mac}")


def new_customer() -> pb.Customer:
    return pb.Customer(account_id=f"acc_{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex[:12]}@buyer.example")


def order_request(
    catalogue: dict[str, pb.Product], customer: pb.Customer, key: str, payment_token: str
) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(
        customer=customer,
        idempotency_key=key,
        lines=[
            pb.LineInput(product_id=catalogue["LETHE-ANALYZER-32"].id, quantity=1),
            pb.LineInput(product_id=catalogue["LETHE-KEY-01"].id, quantity=2),
        ],
        billing=ADDRESS,
        delivery=ADDRESS,
        delivery_note="ring twice",
        payment_token=payment_token,
    )


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released together; each result, or the RpcError it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except grpc.RpcError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def declined(error: Any) -> bool:
    return (
        isinstance(error, grpc.RpcError)
        and error.code() == grpc.StatusCode.FAILED_PRECONDITION
        and "declined" in (error.details() or "")
    )


def pay(stub: Stub, customer: pb.Customer, order: pb.Order) -> pb.Order:
    """Wait until the sandbox settled the order's charge, then tell the shop as the sandbox's
    notification would; the order as the customer now sees it."""
    wait_for(
        lambda: charge_at_sandbox(order.payment.reference)["status"] == "succeeded",
        10,
        what="the sandbox to settle the charge",
    )
    stub.PaymentNotification(
        notification(order.id, order.payment.reference, order.totals.gross_cents), timeout=20
    )
    return stub.GetOrder(pb.OrderRef(customer=customer, order_id=order.id), timeout=10)


def orders_of(db: Database, customer: pb.Customer) -> list[dict[str, Any]]:
    """Every order document of the customer (a test may scan; the shop never does)."""
    return list(db.orders.find({"account_id": customer.account_id}))


def traces_of(db: Database, order_id: str) -> dict[str, int]:
    """What a customer or staff could reach an order by: its document, its contacts, the
    person's index entries and the staff lists' queue entries."""
    return {
        "orders": db.orders.count_documents({"_id": order_id}),
        "order_contacts": db.order_contacts.count_documents({"_id": order_id}),
        "person_index": sum(1 for e in db.person_index.find() if e["_id"].endswith(f".{order_id}")),
        "queues": sum(1 for e in db.queues.find() if str(e.get("item", "")).startswith(order_id)),
    }


NONE_LEFT = {"orders": 0, "order_contacts": 0, "person_index": 0, "queues": 0}


def test_a_declined_card_holds_no_order_and_the_same_key_pays_with_a_good_card(
    replicas: list[Stub], shop: Backend, db: Database, catalogue: dict[str, pb.Product]
) -> None:
    a, b = replicas[0], replicas[1]
    customer, key = new_customer(), f"checkout-{uuid.uuid4().hex}"
    first_attempt = order_id_for(customer.account_id, key)
    bad = token(DECLINED_CARD)

    # Declined: 402 to the customer, and nothing anyone could see as an order.
    with pytest.raises(grpc.RpcError) as refused:
        a.PlaceOrder(order_request(catalogue, customer, key, bad), timeout=20)
    assert declined(refused.value), refused.value.details()
    assert orders_of(db, customer) == []
    assert traces_of(db, first_attempt) == NONE_LEFT
    assert list(a.ListOrders(customer, timeout=10).orders) == []

    # The same declined token again (a network retry): declined again, still no order.
    with pytest.raises(grpc.RpcError) as again:
        b.PlaceOrder(order_request(catalogue, customer, key, bad), timeout=20)
    assert declined(again.value), again.value.details()
    assert orders_of(db, customer) == []
    assert traces_of(db, first_attempt) == NONE_LEFT

    # The customer fixes the card: the same key with a good card's token is charged.
    good = token()
    placed = b.PlaceOrder(order_request(catalogue, customer, key, good), timeout=20)
    assert (placed.status, placed.payment.status) == ("placed", "pending")
    assert consumed(good), "the good card was never charged"
    charge = charge_at_sandbox(placed.payment.reference)
    assert (charge["reference"], charge["amount"]) == (placed.id, placed.totals.gross_cents)
    paid = pay(a, customer, placed)
    assert (paid.id, paid.status, paid.payment.status) == (placed.id, "paid", "succeeded")
    assert [h.status for h in paid.history] == ["placed", "paid"]
    assert (paid.delivery.phone, paid.delivery_note) == (ADDRESS.phone, "ring twice")

    # Once the order under the key is kept, the key answers with it and charges nothing
    # more: neither a network retry with the good token nor a request with another card.
    retried = a.PlaceOrder(order_request(catalogue, customer, key, good), timeout=20)
    other_card = token()
    with_other = b.PlaceOrder(order_request(catalogue, customer, key, other_card), timeout=20)
    assert retried.id == with_other.id == placed.id
    assert retried.status == with_other.status == "paid"
    assert not consumed(other_card), "a second card was charged for a kept order"
    with pytest.raises(grpc.RpcError) as reused:  # the key for a different order
        changed = order_request(catalogue, customer, key, token())
        del changed.lines[1]
        a.PlaceOrder(changed, timeout=20)
    assert reused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "different order" in (reused.value.details() or "")

    # One order: the customer's list, the store, its one payment step that paid it.
    assert [o.id for o in a.ListOrders(customer, timeout=10).orders] == [placed.id]
    assert [o["_id"] for o in orders_of(db, customer)] == [placed.id]
    kinds = Counter(s["kind"] for s in db.order_steps.find({"_id": under(placed.id)}))
    assert kinds["paid"] == 1 and kinds["void"] == 0, kinds
    assert traces_of(db, first_attempt) == NONE_LEFT or first_attempt == placed.id
    pepper = shop.api.env["LETHE_SUBJECT_PEPPER"]
    assert (
        sum(
            1
            for e in db.person_index.find({"_id": under(subject_key(pepper, customer.email))})
            if e["_id"].split("/")[1] == "orders"
        )
        == 1
    )
    stored = "\n".join(str(doc) for name in db.list_collection_names() for doc in db[name].find())
    assert bad not in stored and good not in stored, "a payment token was stored"


def test_two_good_cards_at_once_after_a_decline_make_one_order_and_one_charge(
    replicas: list[Stub], db: Database, catalogue: dict[str, pb.Product]
) -> None:
    a, b = replicas[0], replicas[1]
    for _ in range(6):
        customer, key = new_customer(), f"checkout-{uuid.uuid4().hex}"
        with pytest.raises(grpc.RpcError) as refused:
            a.PlaceOrder(order_request(catalogue, customer, key, token(DECLINED_CARD)), timeout=20)
        assert declined(refused.value)
        cards = [token(), token()]
        results = at_once(
            *(
                partial(stub.PlaceOrder, order_request(catalogue, customer, key, card), timeout=20)
                for stub, card in zip((a, b), cards, strict=True)
            )
        )
        kept = {r.id for r in results if isinstance(r, pb.Order)}
        assert len(kept) == 1, results
        assert sum(consumed(card) for card in cards) == 1, "both cards, or none, were charged"
        [order] = [r for r in results if isinstance(r, pb.Order)][:1]
        assert pay(b, customer, order).status == "paid"
        assert [o["_id"] for o in orders_of(db, customer)] == [order.id]


def test_a_declined_and_a_good_card_at_once_keep_at_most_one_order_and_charge(
    replicas: list[Stub], db: Database, catalogue: dict[str, pb.Product]
) -> None:
    a, b = replicas[0], replicas[1]
    outcomes: Counter[str] = Counter()
    for round_ in range(8):
        customer, key = new_customer(), f"checkout-{uuid.uuid4().hex}"
        bad, good = token(DECLINED_CARD), token()
        calls = [
            partial(a.PlaceOrder, order_request(catalogue, customer, key, bad), timeout=20),
            partial(b.PlaceOrder, order_request(catalogue, customer, key, good), timeout=20),
        ]
        results = at_once(*(calls if round_ % 2 else calls[::-1]))
        answered = [r for r in results if isinstance(r, pb.Order)]
        refused = [r for r in results if not isinstance(r, pb.Order)]
        assert all(declined(r) for r in refused), [r.details() for r in refused]
        stored = orders_of(db, customer)
        assert len(stored) <= 1 and len({o.id for o in answered}) <= 1
        assert [o["_id"] for o in stored] == sorted({o.id for o in answered})
        assert consumed(good) == bool(stored), "the good card's charge and the order disagree"
        if stored:
            outcomes["kept"] += 1
            assert pay(a, customer, answered[0]).status == "paid"
        else:  # both declined: the key is free for the good card now
            outcomes["declined"] += 1
            placed = a.PlaceOrder(order_request(catalogue, customer, key, token()), timeout=20)
            assert [o["_id"] for o in orders_of(db, customer)] == [placed.id]
    assert sum(outcomes.values()) == 8, outcomes


def test_an_erasure_forgets_what_the_persons_keys_named(
    replicas: list[Stub], shop: Backend, db: Database, catalogue: dict[str, pb.Product]
) -> None:
    a = replicas[0]
    customer, key = new_customer(), f"checkout-{uuid.uuid4().hex}"
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as refused:
            a.PlaceOrder(order_request(catalogue, customer, key, token(DECLINED_CARD)), timeout=20)
        assert declined(refused.value)
    logged = list(db.order_keys.find({"_id": under(customer.account_id)}))
    assert [s["kind"] for s in logged] == ["attempt", "declined", "attempt", "declined"]
    assert orders_of(db, customer) == []

    pepper = shop.api.env["LETHE_SUBJECT_PEPPER"]
    receipt = a.EraseSubject(
        subject_pb2.EraseSubjectRequest(
            subject=subject_pb2.Subject(
                account_id=customer.account_id, subject_key=subject_key(pepper, customer.email)
            ),
            request_id=f"pr_{uuid.uuid4().hex}",
        ),
        timeout=10,
    )
    assert receipt.service == "shop"
    assert db.order_keys.count_documents({"_id": under(customer.account_id)}) == 0
