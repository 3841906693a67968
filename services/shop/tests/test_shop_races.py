"""The shop's writers racing one another on the real store and broker, two API and two
worker replicas: the charge's answer against the provider's notification, two staff
moving one order, a staff move against the payment, two staff editing one product.

Nothing may be lost or done twice: the final states, the events on the bus, the money at
the payment sandbox, the hand-offs and download rights are asserted. On the dev store an
update is a read and a replace, so a design that relies on conditional updates (or on a
lock in one process) loses some of these races; these tests then fail.
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
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc
import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.shop.v1 import shop_pb2 as pb
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.staff import ACCOUNTING, ADMIN
from lethe_common.store.keys import under
from lethe_shop.checkout import order_id_for
from lethe_shop.models import entitlement_id, handoff_id
from lethe_testing import Backend, EventTap, running_backend, wait_for
from lethe_testing.staff import staff_metadata

Stub = shop_pb2_grpc.ShopServiceStub
CARD = "4242424242424242"
ADDRESS = pb.Address(
    name="Ada Lovelace",
    street="Hauptstraße 1",
    postcode="10115",
    city="Berlin",
    country="DE",
    phone="+49 30 5550199",
)
LOSING = (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # The sandbox's own notifications go nowhere: the tests send them, at the moment they choose.
    with running_backend(
        "shop", tmp_path_factory.mktemp("shop-races"), LETHE_PUBLIC_URL="http://127.0.0.1:9"
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def replicas(shop: Backend) -> Iterator[list[Stub]]:
    """One stub per API replica, so a test chooses which replica gets which call."""
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
    listed = replicas[0].ListProducts(pb.ListProductsRequest(), timeout=10).products
    return {p.sku: p for p in listed}


@pytest.fixture
def tap(amqp_url: str) -> Iterator[EventTap]:
    with EventTap(amqp_url, "shop", "order.*") as events:
        yield events


@dataclass
class Purchase:
    """An order about to be placed, whose charge the sandbox already holds (pending)."""

    request: pb.PlaceOrderRequest
    order_id: str
    charge_id: str
    customer: pb.Customer


def sandbox(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    reply = httpx.request(
        method,
        f"{os.environ['SHOP_PAYMENT_URL']}{path}",
        headers={
            "Authorization": f"Bearer {os.environ['SHOP_PAYMENT_API_KEY']}",
            **kwargs.pop("headers", {}),
        },
        timeout=10,
        **kwargs,
    )
    assert reply.status_code in (200, 201), reply.text
    return dict(reply.json())


def purchase(catalogue: dict[str, pb.Product], physical: bool = True) -> Purchase:
    """A new customer's order, and its charge made at the sandbox beforehand under the
    order's own idempotency key: the shop's charge call gets the same charge (pending)
    back, and no notification is sent until the test sends one."""
    customer = pb.Customer(
        account_id=f"acc_{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex[:12]}@buyer.example"
    )
    key = f"race-{uuid.uuid4().hex}"
    order_id = order_id_for(customer.account_id, key)
    token = str(
        httpx.post(
            f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens",
            json={"card": {"number": CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
        ).json()["id"]
    )
    charge = sandbox(
        "POST",
        "/v1/charges",
        headers={"Idempotency-Key": f"charge-{order_id}"},
        json={"token": token, "amount": 100, "currency": "EUR", "reference": order_id, "notify_url": ""},
    )
    lines = [pb.LineInput(product_id=catalogue["LETHE-ANALYZER-32"].id, quantity=1)]
    if physical:
        lines.append(pb.LineInput(product_id=catalogue["LETHE-KEY-01"].id, quantity=2))
    request = pb.PlaceOrderRequest(
        customer=customer,
        idempotency_key=key,
        lines=lines,
        billing=ADDRESS,
        payment_token=token,
        delivery=ADDRESS if physical else None,
        delivery_note="ring twice" if physical else "",
    )
    return Purchase(request, order_id, str(charge["id"]), customer)


def notification(order_id: str, charge_id: str, status: str = "succeeded") -> pb.PaymentNotificationRequest:
    """The provider's notification, signed as the sandbox signs it."""
    body = json.dumps(
        {
            "type": f"charge.{status}",
            "charge": {
                "id": charge_id,
                "status": status,
                "amount": 100,
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


def mover(stub: Stub, actor: str, order_id: str, wanted: str) -> Callable[[], pb.Order]:
    return partial(
        stub.MoveOrder,
        pb.MoveOrderRequest(actor_account_id=actor, order_id=order_id, status=wanted),
        metadata=staff_metadata(actor, ACCOUNTING),
        timeout=20,
    )


def steps(db: Database, order_id: str) -> list[dict[str, Any]]:
    return list(db.order_steps.find({"_id": under(order_id)}))


def events_by_order(bodies: list[dict[str, Any]], event_type: str) -> Counter[str]:
    return Counter(str(b["payload"]["order_id"]) for b in bodies if b["type"] == event_type)


def collect(
    tap: EventTap, event_type: str, order_ids: set[str], timeout: float = 30.0, settle: float = 3.0
) -> list[dict[str, Any]]:
    """Every event of ``event_type`` about ``order_ids`` until each was seen, then what
    comes during ``settle`` seconds more (a relay's late duplicate would)."""
    seen: list[dict[str, Any]] = []

    def complete() -> bool:
        seen.extend(tap.drain(0.2))
        return order_ids <= set(events_by_order(seen, event_type))

    wait_for(complete, timeout, what=f"{event_type} of every order")
    seen.extend(tap.drain(settle))
    return [b for b in seen if b["payload"]["order_id"] in order_ids]


def paid(stub: Stub, order: Purchase) -> pb.Order:
    stub.PlaceOrder(order.request, timeout=20)
    stub.PaymentNotification(notification(order.order_id, order.charge_id), timeout=20)
    placed = stub.GetOrder(pb.OrderRef(customer=order.customer, order_id=order.order_id), timeout=10)
    assert placed.status == "paid"
    return placed


def charge_status(charge_id: str) -> str:
    return str(sandbox("GET", f"/v1/charges/{charge_id}")["status"])


# -- the charge's answer against the provider's notification --------------------------------


def test_fifty_charge_answers_race_their_notifications_and_each_order_is_paid_once(
    replicas: list[Stub], db: Database, catalogue: dict[str, pb.Product], tap: EventTap
) -> None:
    a, b = replicas[0], replicas[1]
    orders = [purchase(catalogue) for _ in range(50)]

    def race(order: Purchase) -> pb.Order:
        """The answer in replica A; the notification, and the provider's retry of it, in
        B and A as soon as the order exists."""

        def notify() -> None:
            wait_for(
                lambda: db.orders.find_one({"_id": order.order_id}, projection={"_id": 1}),
                10,
                interval=0.001,
                what="the order to be written",
            )
            at_once(
                lambda: b.PaymentNotification(notification(order.order_id, order.charge_id), timeout=20),
                lambda: a.PaymentNotification(notification(order.order_id, order.charge_id), timeout=20),
            )

        notifier = threading.Thread(target=notify)
        notifier.start()
        placed = a.PlaceOrder(order.request, timeout=20)
        notifier.join()
        return placed

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(race, orders))
    assert all(answer.id == order.order_id for answer, order in zip(answers, orders, strict=True))

    for order in orders:
        got = b.GetOrder(pb.OrderRef(customer=order.customer, order_id=order.order_id), timeout=10)
        assert got.status == "paid", (order.order_id, got.status, got.payment.status)
        assert [h.status for h in got.history] == ["placed", "paid"]
        assert (got.payment.reference, got.payment.status) == (order.charge_id, "succeeded")
        kinds = Counter(step["kind"] for step in steps(db, order.order_id))
        assert kinds["paid"] == 1, kinds

    ids = {order.order_id for order in orders}
    bodies = collect(tap, "order.paid", ids)
    assert events_by_order(bodies, "order.paid") == Counter(dict.fromkeys(ids, 1))
    assert events_by_order(bodies, "order.placed") == Counter(dict.fromkeys(ids, 1))

    def handed_off() -> bool:
        return db.supplier_handoffs.count_documents(
            {"_id": {"$in": [handoff_id(order_id) for order_id in ids]}}
        ) == len(ids)

    wait_for(handed_off, 60, what="one supplier hand-off per physical order")
    for order in orders:
        claims = [s for s in steps(db, order.order_id) if s["kind"] == "handoff"]
        assert len(claims) == 1
        assert (
            db.entitlements.find_one(
                {"_id": entitlement_id(order.order_id, order.request.lines[0].product_id)}
            )
            is not None
        )


# -- two staff, one order ----------------------------------------------------------------------


@pytest.mark.parametrize("moves", [("shipped", "shipped"), ("shipped", "cancelled")])
def test_two_staff_moving_one_order_at_once_one_wins_and_the_other_is_refused(
    replicas: list[Stub], catalogue: dict[str, pb.Product], tap: EventTap, moves: tuple[str, str]
) -> None:
    a, b = replicas[0], replicas[1]
    staff = [f"acc_{uuid.uuid4().hex}", f"acc_{uuid.uuid4().hex}"]
    orders = [purchase(catalogue) for _ in range(12)]
    for order in orders:
        paid(a, order)
    winners: Counter[str] = Counter()
    for order in orders:
        results = at_once(
            *(
                mover(stub, actor, order.order_id, wanted)
                for stub, actor, wanted in zip((a, b), staff, moves, strict=True)
            )
        )
        won = [(r, wanted) for r, wanted in zip(results, moves, strict=True) if isinstance(r, pb.Order)]
        lost = [r for r in results if isinstance(r, grpc.RpcError)]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0].code() in LOSING, lost[0].details()
        moved, wanted = won[0]
        winners[wanted] += 1
        assert moved.status == wanted
        history = [h.status for h in moved.history]
        assert history == ["placed", "paid", wanted]
        money = charge_status(order.charge_id)
        if wanted == "cancelled":
            assert moved.blocked and moved.payment.status == "refunded" and money == "refunded"
        else:
            assert not moved.blocked and moved.payment.status == "succeeded"
            assert money == "succeeded", "the money went back for an order that is shipped"
    assert sum(winners.values()) == len(orders)


# -- a staff move against the payment --------------------------------------------------------


def test_a_cancellation_racing_the_payment_never_keeps_both_the_money_and_the_goods(
    replicas: list[Stub], db: Database, catalogue: dict[str, pb.Product], tap: EventTap
) -> None:
    a, b = replicas[0], replicas[1]
    clerk = f"acc_{uuid.uuid4().hex}"
    orders = [purchase(catalogue, physical=False) for _ in range(16)]
    for order in orders:
        assert a.PlaceOrder(order.request, timeout=20).payment.status == "pending"
    outcomes: Counter[str] = Counter()
    for order in orders:
        at_once(
            mover(a, clerk, order.order_id, "cancelled"),
            partial(b.PaymentNotification, notification(order.order_id, order.charge_id), timeout=20),
        )
    time.sleep(1.0)  # the worker handles order.paid of the orders paid before a cancel
    bodies = tap.drain(2.0)
    for order in orders:
        history = [step for step in steps(db, order.order_id) if step["kind"] in ("paid", "moved")]
        statuses = [s.get("status", "paid") for s in history]
        money = charge_status(order.charge_id)
        paid_events = events_by_order(bodies, "order.paid")[order.order_id]
        rights = db.entitlements.find_one(
            {"_id": entitlement_id(order.order_id, order.request.lines[0].product_id)}
        )
        outcomes[" → ".join(statuses)] += 1
        if statuses == ["paid"]:  # paid first; the cancellation was refused
            assert money == "succeeded" and paid_events == 1
        elif statuses == ["cancelled"]:  # cancelled first; the payment goes back
            assert money == "refunded" and paid_events == 0 and rights is None
        else:  # paid, then cancelled on the new state: refunded, rights revoked
            assert statuses == ["paid", "cancelled"], statuses
            assert money == "refunded" and paid_events == 1
            wait_for(
                lambda order=order: (
                    db.entitlements.find_one(
                        {"_id": entitlement_id(order.order_id, order.request.lines[0].product_id)}
                    )
                    is None
                ),
                15,
                what="the rights of a cancelled order to be revoked",
            )
    assert sum(outcomes.values()) == len(orders), outcomes


# -- two staff, one product --------------------------------------------------------------------


def test_two_staff_editing_one_product_at_once_both_keep_their_change(replicas: list[Stub]) -> None:
    a, b = replicas[0], replicas[1]
    actor = f"acc_{uuid.uuid4().hex}"
    admin = staff_metadata(actor, ADMIN)
    for _ in range(5):
        created = a.CreateProduct(
            pb.ProductInput(
                actor_account_id=actor,
                product=pb.Product(
                    sku=f"R-{uuid.uuid4().hex[:10].upper()}",
                    name="Cable",
                    kind="physical",
                    price_cents=999,
                    currency="EUR",
                    vat_rate_bp=1900,
                    active=True,
                ),
            ),
            metadata=admin,
            timeout=10,
        )
        at_once(
            partial(
                a.UpdateProduct,
                pb.UpdateProductRequest(
                    actor_account_id=actor, product=pb.Product(id=created.id, active=False), fields=["active"]
                ),
                metadata=admin,
                timeout=10,
            ),
            partial(
                b.UpdateProduct,
                pb.UpdateProductRequest(
                    actor_account_id=actor,
                    product=pb.Product(id=created.id, price_cents=1299),
                    fields=["price_cents"],
                ),
                metadata=admin,
                timeout=10,
            ),
        )
        listed = {
            p.id: p
            for p in a.ListProducts(
                pb.ListProductsRequest(include_inactive=True), metadata=admin, timeout=10
            ).products
        }
        assert (listed[created.id].active, listed[created.id].price_cents) == (False, 1299)
