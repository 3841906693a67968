"""The shop inventory against the real store: after a cart, a paid order with physical goods
handed to the supplier, a download, staff moving the order to completed (blocked), a
legal-hold read, and an erasure that has to wait for another open order, every collection
the shop's database holds is declared, and so is every personal field found in it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.staff import ACCOUNTING
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_shop.inventory import INVENTORY
from lethe_testing import Backend, running_backend, wait_for
from lethe_testing.inventory import describe, store_problems
from lethe_testing.staff import staff_metadata

Stub = shop_pb2_grpc.ShopServiceStub
STAFF = "acc_" + "5" * 32
ADDRESS = pb.Address(
    name="Ada Lovelace",
    company="Analytical Engines GmbH",
    street="Hauptstraße 1",
    postcode="10115",
    city="Berlin",
    country="DE",
    phone="+49 30 5550199",
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # The sandbox's own notifications go nowhere: the test sends the one it needs.
    with running_backend(
        "shop",
        tmp_path_factory.mktemp("shop-inventory"),
        LETHE_PUBLIC_URL="http://127.0.0.1:9",
        SHOP_SWEEP_INTERVAL_SECONDS="1",
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def stub(shop: Backend) -> Iterator[Stub]:
    with shop.channel() as channel:
        yield Stub(channel)


def card_token() -> str:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    return str(httpx.post(f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens", json={"card": card}).json()["id"])


def succeeded(order_id: str, charge_id: str, amount: int) -> pb.PaymentNotificationRequest:
    """The provider's notification that the charge succeeded, signed as the sandbox signs."""
    charge = {
        "id": charge_id,
        "status": "succeeded",
        "amount": amount,
        "currency": "EUR",
        "reference": order_id,
    }
    body = json.dumps({"type": "charge.succeeded", "charge": charge}).encode()
    at = int(time.time())
    secret = os.environ["SHOP_PAYMENT_WEBHOOK_SECRET"].encode()
    mac = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return pb.PaymentNotificationRequest(body=body, signature=f"t={at},v1={mac}")


def place(stub: Stub, customer: pb.Customer, lines: list[pb.LineInput]) -> pb.Order:
    return stub.PlaceOrder(
        pb.PlaceOrderRequest(
            customer=customer,
            idempotency_key=f"inv-{uuid.uuid4().hex}",
            lines=lines,
            billing=ADDRESS,
            delivery=ADDRESS,
            delivery_note="ring twice",
            payment_token=card_token(),
        ),
        timeout=20,
    )


def pay(stub: Stub, customer: pb.Customer, order: pb.Order) -> None:
    stub.PaymentNotification(
        succeeded(order.id, order.payment.reference, order.totals.gross_cents), timeout=20
    )
    wait_for(
        lambda: stub.GetOrder(pb.OrderRef(customer=customer, order_id=order.id), timeout=10).status == "paid",
        15,
        what="the payment",
    )


def test_every_collection_and_personal_field_the_shop_writes_is_in_its_inventory(
    stub: Stub, shop: Backend, mongo_client: MongoClient
) -> None:
    db: Database = mongo_client[shop.db_name]
    catalogue = {p.sku: p for p in stub.ListProducts(pb.ListProductsRequest(), timeout=10).products}
    key, analyzer = catalogue["LETHE-KEY-01"], catalogue["LETHE-ANALYZER-32"]
    customer = pb.Customer(
        account_id=f"acc_{uuid.uuid4().hex}", email=f"{uuid.uuid4().hex[:12]}@buyer.example"
    )
    lines = [pb.LineInput(product_id=key.id, quantity=2), pb.LineInput(product_id=analyzer.id, quantity=1)]
    stub.PutCart(pb.PutCartRequest(customer=customer, lines=lines), timeout=10)

    completed = place(stub, customer, lines)
    pay(stub, customer, completed)
    wait_for(lambda: db.supplier_handoffs.count_documents({}) > 0, 15, what="the supplier hand-off")
    downloads = wait_for(lambda: list(stub.ListDownloads(customer, timeout=10).downloads), 15, what="rights")
    list(stub.FetchDownload(pb.FetchDownloadRequest(customer=customer, token=downloads[0].token), timeout=10))
    for status in ("shipped", "delivered", "completed"):
        stub.MoveOrder(
            pb.MoveOrderRequest(actor_account_id=STAFF, order_id=completed.id, status=status),
            metadata=staff_metadata(STAFF, ACCOUNTING),
            timeout=10,
        )
    stub.ReadBlockedOrder(
        pb.LegalHoldRequest(actor_account_id=STAFF, order_id=completed.id, reason="tax audit"),
        metadata=staff_metadata(STAFF, ACCOUNTING),
        timeout=10,
    )

    open_order = place(stub, customer, lines)
    pay(stub, customer, open_order)
    request_id = f"pr_{uuid.uuid4().hex}"
    stub.EraseSubject(
        subject_pb2.EraseSubjectRequest(
            subject=subject_pb2.Subject(
                account_id=customer.account_id,
                subject_key=subject_key(shop.api.env["LETHE_SUBJECT_PEPPER"], customer.email),
            ),
            request_id=request_id,
        ),
        timeout=10,
    )
    wait_for(lambda: list(db.privacy_receipts_sent.find({"_id": under(request_id)})), 15, what="the receipt")
    assert db.erasure_waits.count_documents({}) == 1  # the open order keeps the erasure waiting

    problems = store_problems(db, INVENTORY)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(describe(db), indent=1)
