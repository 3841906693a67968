"""Staff RPCs of the real shop API (two replicas, real store and payment sandbox) check
the staff assertion themselves: no assertion, one signed by another key, an expired one,
one of someone without the role, or a request naming another staff member than the
assertion is refused with PERMISSION_DENIED and changes nothing. The actor the shop
records (who moved an order, who read a blocked one) is the assertion's, and reading a
blocked order needs the password entered within ten minutes. The audit trail is the admin's;
accounting may list its legal-hold reads only ("ListLegalHoldAuditEntries" below:
ListAuditEntries with action legal_hold.read)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import audit_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.staff import (
    ACCOUNTING,
    ADMIN,
    METADATA_KEY,
    ROLES,
    AssertionSigner,
)
from lethe_common.store.keys import under
from lethe_shop.order_state import MOVE
from lethe_testing import Backend, code_of, running_backend, wait_for
from lethe_testing.staff import Metadata, forged_metadata, staff_metadata

Stub = shop_pb2_grpc.ShopServiceStub
DENIED = grpc.StatusCode.PERMISSION_DENIED
STAFF = "acc_" + "a" * 32
OTHER = "acc_" + "b" * 32
EMAIL = "staff-roles@buyer.example"
ADDRESS = pb.Address(
    name="Ada Lovelace", street="Hauptstraße 1", postcode="10115", city="Berlin", country="DE"
)
# Each staff RPC and the role it needs; "ListInactiveProducts" is ListProducts(include_inactive).
ROLE_OF = {
    "ListOrdersForStaff": ACCOUNTING,
    "GetOrderForStaff": ACCOUNTING,
    "MoveOrder": ACCOUNTING,
    "ReadBlockedOrder": ACCOUNTING,
    "ListLegalHoldReads": ACCOUNTING,
    "CreateProduct": ADMIN,
    "UpdateProduct": ADMIN,
    "ListInactiveProducts": ADMIN,
    "ListAuditEntries": ADMIN,
    "ListLegalHoldAuditEntries": ACCOUNTING,
}
WITH_BODY_ACTOR = [rpc for rpc in ROLE_OF if rpc != "ListInactiveProducts"]
WRONG_ROLES = [
    (rpc, role) for rpc, needed in ROLE_OF.items() for role in ROLES if role not in (needed, ADMIN)
]
ALLOWED_ROLES = [(rpc, role) for rpc, needed in ROLE_OF.items() for role in dict.fromkeys((needed, ADMIN))]


def expired_metadata(account_id: str, *roles: str) -> Metadata:
    """An assertion identity really signed, but long ago: it has expired."""
    signer = AssertionSigner(os.environ["IDENTITY_STAFF_SIGNING_KEY"])
    signed = signer.sign(account_id, roles, password_at=time.time(), now=time.time() - 1000)
    return ((METADATA_KEY, signed),)


REFUSED_ASSERTIONS: dict[str, Callable[[str, str], Metadata]] = {
    "none": lambda account_id, role: (),
    "not an assertion": lambda account_id, role: ((METADATA_KEY, "staff.please"),),
    "signed by another key": forged_metadata,
    "expired": expired_metadata,
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # The sandbox's own notifications go nowhere: the tests send the ones they need.
    with running_backend(
        "shop", tmp_path_factory.mktemp("shop-staff-roles"), LETHE_PUBLIC_URL="http://127.0.0.1:9"
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def stub(shop: Backend) -> Iterator[Stub]:
    with shop.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(shop: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[shop.db_name]


def notification(order: pb.Order) -> pb.PaymentNotificationRequest:
    """The provider's notification that the order's charge succeeded, signed as the sandbox signs."""
    charge = {
        "id": order.payment.reference,
        "status": "succeeded",
        "amount": order.totals.gross_cents,
        "currency": "EUR",
        "reference": order.id,
    }
    body = json.dumps({"type": "charge.succeeded", "charge": charge}).encode()
    at = int(time.time())
    secret = os.environ["SHOP_PAYMENT_WEBHOOK_SECRET"].encode()
    mac = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return pb.PaymentNotificationRequest(body=body, signature=f"t={at},v1={mac}")


def status_of(stub: Stub, order: pb.Order) -> str:
    ref = pb.OrderRef(customer=pb.Customer(account_id=order.account_id, email=EMAIL), order_id=order.id)
    return str(stub.GetOrder(ref, timeout=10).status)


def paid_order(stub: Stub) -> pb.Order:
    """A new customer's paid order of a download: staff may mark it delivered."""
    products = stub.ListProducts(pb.ListProductsRequest(), timeout=10).products
    analyzer = next(p for p in products if p.sku == "LETHE-ANALYZER-32")
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    token = httpx.post(f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens", json={"card": card}, timeout=10)
    order = stub.PlaceOrder(
        pb.PlaceOrderRequest(
            customer=pb.Customer(account_id=f"acc_{uuid.uuid4().hex}", email=EMAIL),
            idempotency_key=f"roles-{uuid.uuid4().hex}",
            lines=[pb.LineInput(product_id=analyzer.id, quantity=1)],
            billing=ADDRESS,
            payment_token=str(token.json()["id"]),
        ),
        timeout=20,
    )
    stub.PaymentNotification(notification(order), timeout=20)
    wait_for(lambda: status_of(stub, order) == "paid", 15, what="the payment")
    return order


@pytest.fixture(scope="module")
def blocked_order(stub: Stub) -> pb.Order:
    """A completed order: blocked, readable under legal hold only."""
    order = paid_order(stub)
    for status in ("delivered", "completed"):
        stub.MoveOrder(
            pb.MoveOrderRequest(order_id=order.id, status=status),
            metadata=staff_metadata(OTHER, ACCOUNTING),
            timeout=10,
        )
    return order


@pytest.fixture(scope="module")
def open_order(stub: Stub) -> pb.Order:
    """A paid order nobody moves."""
    return paid_order(stub)


@pytest.fixture(scope="module")
def product(stub: Stub) -> pb.Product:
    return stub.CreateProduct(
        pb.ProductInput(product=new_product()), metadata=staff_metadata(OTHER, ADMIN), timeout=10
    )


def new_product() -> pb.Product:
    return pb.Product(
        sku=f"ROLES-{uuid.uuid4().hex[:10].upper()}",
        name="Cable",
        kind="physical",
        price_cents=999,
        currency="EUR",
        vat_rate_bp=1900,
        active=False,
    )


def legal_hold_reads(stub: Stub, reason: str) -> list[pb.LegalHoldRead]:
    reads = stub.ListLegalHoldReads(
        pb.StaffRequest(page_size=200), metadata=staff_metadata(OTHER, ACCOUNTING), timeout=10
    ).reads
    return [r for r in reads if r.reason == reason]


def all_products(stub: Stub) -> dict[str, pb.Product]:
    listed = stub.ListProducts(
        pb.ListProductsRequest(include_inactive=True), metadata=staff_metadata(OTHER, ADMIN), timeout=10
    ).products
    return {p.sku: p for p in listed}


@dataclass(frozen=True)
class Attempt:
    """One staff call made ready: ``send(metadata)`` makes it; ``done(reply)`` tells whether
    it did its work for STAFF; ``untouched()`` whether the shop is as it was before it
    (what a refused call must leave)."""

    send: Callable[[Metadata], Any]
    done: Callable[[Any], bool]
    untouched: Callable[[], bool] = lambda: True


Prepare = Callable[[str, str], Attempt]


@pytest.fixture
def prepare(
    stub: Stub, db: Database, blocked_order: pb.Order, open_order: pb.Order, product: pb.Product
) -> Prepare:
    """An attempt at ``rpc`` whose request names ``body_actor`` (may be empty)."""

    def send(method: Callable[..., Any], request: Any) -> Callable[[Metadata], Any]:
        return lambda metadata: method(request, metadata=metadata, timeout=20)

    def moved_by(order: pb.Order) -> list[str]:
        return [s["by"] for s in db.order_steps.find({"_id": under(order.id)}) if s.get("kind") == MOVE]

    def attempt(rpc: str, body_actor: str) -> Attempt:
        if rpc == "ListOrdersForStaff":
            request: Any = pb.StaffOrdersRequest(actor_account_id=body_actor, status="paid")
            return Attempt(
                send(stub.ListOrdersForStaff, request), lambda reply: isinstance(reply, pb.OrderList)
            )
        if rpc == "GetOrderForStaff":
            request = pb.StaffOrderRef(actor_account_id=body_actor, order_id=open_order.id)
            return Attempt(
                send(stub.GetOrderForStaff, request),
                lambda reply: reply.id == open_order.id and reply.status == "paid",
            )
        if rpc in ("ListAuditEntries", "ListLegalHoldAuditEntries"):
            action = "legal_hold.read" if rpc == "ListLegalHoldAuditEntries" else ""
            request = audit_pb2.AuditListRequest(actor_account_id=body_actor, action=action, page_size=200)
            return Attempt(
                send(stub.ListAuditEntries, request),
                lambda reply: (
                    isinstance(reply, audit_pb2.AuditEntryList)
                    and (bool(reply.entries) or bool(action))  # the blocked order's moves at least
                    and all(e.action == action for e in reply.entries if action)
                ),
            )
        if rpc == "MoveOrder":
            order = paid_order(stub)
            request = pb.MoveOrderRequest(actor_account_id=body_actor, order_id=order.id, status="delivered")
            return Attempt(
                send(stub.MoveOrder, request),
                lambda reply: reply.status == "delivered" and moved_by(order) == [STAFF],
                lambda: status_of(stub, order) == "paid" and not moved_by(order),
            )
        if rpc == "ReadBlockedOrder":
            reason = f"audit {uuid.uuid4().hex}"
            request = pb.LegalHoldRequest(
                actor_account_id=body_actor, order_id=blocked_order.id, reason=reason
            )
            return Attempt(
                send(stub.ReadBlockedOrder, request),
                lambda reply: (
                    reply.id == blocked_order.id
                    and [(r.actor_account_id, r.order_id) for r in legal_hold_reads(stub, reason)]
                    == [(STAFF, blocked_order.id)]
                ),
                lambda: not legal_hold_reads(stub, reason),
            )
        if rpc == "ListLegalHoldReads":
            request = pb.StaffRequest(actor_account_id=body_actor)
            return Attempt(
                send(stub.ListLegalHoldReads, request), lambda reply: isinstance(reply, pb.LegalHoldReadList)
            )
        if rpc == "CreateProduct":
            created = new_product()
            request = pb.ProductInput(actor_account_id=body_actor, product=created)
            return Attempt(
                send(stub.CreateProduct, request),
                lambda reply: reply.sku == created.sku and created.sku in all_products(stub),
                lambda: created.sku not in all_products(stub),
            )
        if rpc == "UpdateProduct":
            before = all_products(stub)[product.sku]
            request = pb.UpdateProductRequest(
                actor_account_id=body_actor,
                product=pb.Product(id=product.id, price_cents=before.price_cents + 1),
                fields=["price_cents"],
            )
            return Attempt(
                send(stub.UpdateProduct, request),
                lambda reply: all_products(stub)[product.sku].price_cents == before.price_cents + 1,
                lambda: all_products(stub)[product.sku] == before,
            )
        assert rpc == "ListInactiveProducts"
        request = pb.ListProductsRequest(include_inactive=True)
        return Attempt(
            send(stub.ListProducts, request), lambda reply: product.sku in {p.sku for p in reply.products}
        )

    return attempt


@pytest.mark.parametrize("assertion", list(REFUSED_ASSERTIONS))
@pytest.mark.parametrize("rpc", list(ROLE_OF))
def test_a_staff_call_without_a_valid_assertion_is_refused_and_changes_nothing(
    prepare: Prepare, rpc: str, assertion: str
) -> None:
    attempt = prepare(rpc, STAFF)
    assert code_of(lambda: attempt.send(REFUSED_ASSERTIONS[assertion](STAFF, ROLE_OF[rpc]))) == DENIED
    assert attempt.untouched()


@pytest.mark.parametrize(("rpc", "role"), WRONG_ROLES)
def test_a_staff_call_of_someone_without_the_role_is_refused(prepare: Prepare, rpc: str, role: str) -> None:
    attempt = prepare(rpc, STAFF)
    with pytest.raises(grpc.RpcError) as refused:
        attempt.send(staff_metadata(STAFF, role))
    assert refused.value.code() == DENIED
    assert f"the {ROLE_OF[rpc]} role" in (refused.value.details() or "")
    assert attempt.untouched()


@pytest.mark.parametrize("rpc", WITH_BODY_ACTOR)
def test_a_request_naming_another_staff_member_than_the_assertion_is_refused(
    prepare: Prepare, rpc: str
) -> None:
    attempt = prepare(rpc, OTHER)
    assert code_of(lambda: attempt.send(staff_metadata(STAFF, ROLE_OF[rpc]))) == DENIED
    assert attempt.untouched()


@pytest.mark.parametrize("body_actor", [STAFF, ""], ids=["body-names-them", "body-names-no-one"])
@pytest.mark.parametrize(("rpc", "role"), ALLOWED_ROLES)
def test_a_staff_call_with_the_role_or_admin_is_done_for_the_assertions_actor(
    prepare: Prepare, rpc: str, role: str, body_actor: str
) -> None:
    """Who moved an order or read a blocked one is recorded from the assertion, also when
    the request names no one."""
    attempt = prepare(rpc, body_actor)
    assert attempt.done(attempt.send(staff_metadata(STAFF, role)))


def test_listing_active_products_needs_no_assertion_but_inactive_ones_are_for_admins(
    stub: Stub, product: pb.Product
) -> None:
    public = stub.ListProducts(pb.ListProductsRequest(), timeout=10).products
    assert public and product.sku not in {p.sku for p in public}
    assert product.sku in all_products(stub)  # inactive: admins see it


@pytest.mark.parametrize(("minutes_ago", "allowed"), [(11, False), (9, True)])
def test_reading_a_blocked_order_needs_the_password_entered_within_ten_minutes(
    stub: Stub, blocked_order: pb.Order, minutes_ago: int, allowed: bool
) -> None:
    reason = f"tax inspection {uuid.uuid4().hex}"
    request = pb.LegalHoldRequest(actor_account_id=STAFF, order_id=blocked_order.id, reason=reason)
    metadata = staff_metadata(STAFF, ACCOUNTING, password_at=time.time() - minutes_ago * 60)
    if allowed:
        assert stub.ReadBlockedOrder(request, metadata=metadata, timeout=10).id == blocked_order.id
        assert [r.actor_account_id for r in legal_hold_reads(stub, reason)] == [STAFF]
        return
    with pytest.raises(grpc.RpcError) as refused:
        stub.ReadBlockedOrder(request, metadata=metadata, timeout=10)
    assert refused.value.code() == DENIED
    assert "password" in (refused.value.details() or "")
    assert ("reason", "reauthentication_required") in (refused.value.trailing_metadata() or ())
    assert not legal_hold_reads(stub, reason)
