"""The shop's staff audit trail through the real service (API and worker, real store and
payment sandbox): every staff action is an entry naming the actor of the staff assertion
(order.moved, legal_hold.read, product.created, product.changed); no call changes an entry;
admin lists the whole trail and accounting only the legal-hold reads; the person's entries
are in their export, trimmed by their erasure (the receipt declares ``staff_audit``
retained, and the proof of erasure's search finds nothing else of them), and the worker
deletes entries older than ``LETHE_AUDIT_RETENTION_DAYS``. The legal-hold reads an older
version kept in ``legal_hold_reads`` are listed after the trail's and swept like it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import audit_pb2, subject_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.audit import AUDIT, AuditRecord, AuditTrail
from lethe_common.events.outbox import OUTBOX
from lethe_common.staff import ACCOUNTING, ADMIN, MARKETING, SUPPORT
from lethe_common.store.keys import key, timekey
from lethe_common.subject import subject_key
from lethe_testing import Backend, code_of, running_backend, wait_for
from lethe_testing.staff import staff_metadata

Stub = shop_pb2_grpc.ShopServiceStub
DENIED = grpc.StatusCode.PERMISSION_DENIED
CLERK = "acc_" + "c" * 32  # accounting
CHIEF = "acc_" + "d" * 32  # admin
RETENTION_DAYS = 2  # LETHE_AUDIT_RETENTION_DAYS of this module's shop
ADDRESS = pb.Address(
    name="Ada Lovelace", street="Hauptstraße 1", postcode="10115", city="Berlin", country="DE"
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # The sandbox's own notifications go nowhere: the tests send the ones they need.
    with running_backend(
        "shop",
        tmp_path_factory.mktemp("shop-audit"),
        LETHE_PUBLIC_URL="http://127.0.0.1:9",
        LETHE_AUDIT_RETENTION_DAYS=str(RETENTION_DAYS),
        SHOP_SWEEP_INTERVAL_SECONDS="1",
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def stub(shop: Backend) -> Iterator[Stub]:
    with shop.channel() as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def db(shop: Backend, mongo_client: MongoClient) -> Database:
    return mongo_client[shop.db_name]


@dataclass(frozen=True)
class Buyer:
    customer: pb.Customer
    subject_key: str

    @property
    def subject(self) -> subject_pb2.Subject:
        return subject_pb2.Subject(account_id=self.customer.account_id, subject_key=self.subject_key)


def buyer(shop: Backend) -> Buyer:
    email = f"{uuid.uuid4().hex[:12]}@buyer.example"
    customer = pb.Customer(account_id=f"acc_{uuid.uuid4().hex}", email=email)
    return Buyer(customer, subject_key(shop.api.env["LETHE_SUBJECT_PEPPER"], email))


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


def paid_order(stub: Stub, person: Buyer) -> pb.Order:
    """A paid order of a download: staff mark it delivered, then completed."""
    products = stub.ListProducts(pb.ListProductsRequest(), timeout=10).products
    analyzer = next(p for p in products if p.sku == "LETHE-ANALYZER-32")
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    token = httpx.post(f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens", json={"card": card}, timeout=10)
    order = stub.PlaceOrder(
        pb.PlaceOrderRequest(
            customer=person.customer,
            idempotency_key=f"audit-{uuid.uuid4().hex}",
            lines=[pb.LineInput(product_id=analyzer.id, quantity=1)],
            billing=ADDRESS,
            payment_token=str(token.json()["id"]),
        ),
        timeout=20,
    )
    stub.PaymentNotification(notification(order), timeout=20)
    ref = pb.OrderRef(customer=person.customer, order_id=order.id)
    wait_for(lambda: stub.GetOrder(ref, timeout=10).status == "paid", 15, what="the payment")
    return order


def move(stub: Stub, order_id: str, *statuses: str) -> None:
    for status in statuses:
        stub.MoveOrder(
            pb.MoveOrderRequest(order_id=order_id, status=status),
            metadata=staff_metadata(CLERK, ACCOUNTING),
            timeout=10,
        )


def read_blocked(stub: Stub, order_id: str, reason: str) -> pb.Order:
    return stub.ReadBlockedOrder(
        pb.LegalHoldRequest(order_id=order_id, reason=reason),
        metadata=staff_metadata(CLERK, ACCOUNTING),
        timeout=10,
    )


def trail(stub: Stub, action: str = "", who: str = CHIEF, role: str = ADMIN) -> list[audit_pb2.AuditEntry]:
    """The whole trail (of one action), newest first, every page."""
    entries: list[audit_pb2.AuditEntry] = []
    token = ""
    while True:
        reply = stub.ListAuditEntries(
            audit_pb2.AuditListRequest(action=action, page_size=200, page_token=token),
            metadata=staff_metadata(who, role),
            timeout=10,
        )
        entries += reply.entries
        token = reply.next_page_token
        if not token:
            return entries


def about(stub: Stub, target: str) -> list[audit_pb2.AuditEntry]:
    return [e for e in trail(stub) if e.target == target]


def shape(entry: audit_pb2.AuditEntry) -> tuple[str, ...]:
    return (
        entry.service,
        entry.actor_account_id,
        entry.action,
        entry.target,
        entry.subject_key,
        entry.reason,
        entry.detail,
    )


def new_product() -> pb.Product:
    return pb.Product(
        sku=f"AUDIT-{uuid.uuid4().hex[:10].upper()}",
        name="Cable",
        kind="physical",
        price_cents=999,
        currency="EUR",
        vat_rate_bp=1900,
        active=True,
    )


def exported(stub: Stub, person: Buyer) -> dict[str, Any]:
    reply = stub.ExportSubjectData(subject_pb2.ExportSubjectDataRequest(subject=person.subject), timeout=10)
    return dict(json.loads(reply.data_json))


def test_every_staff_action_is_an_entry_naming_the_assertions_actor(
    stub: Stub, db: Database, shop: Backend
) -> None:
    product = stub.CreateProduct(
        pb.ProductInput(product=new_product()), metadata=staff_metadata(CHIEF, ADMIN), timeout=10
    )
    stub.UpdateProduct(
        pb.UpdateProductRequest(
            actor_account_id=CHIEF,
            product=pb.Product(id=product.id, price_cents=1299),
            fields=["price_cents"],
        ),
        metadata=staff_metadata(CHIEF, ADMIN),
        timeout=10,
    )
    assert [shape(e) for e in about(stub, product.id)] == [
        ("shop", CHIEF, "product.changed", product.id, "", "", "price_cents"),
        ("shop", CHIEF, "product.created", product.id, "", "", ""),
    ]

    person = buyer(shop)
    order = paid_order(stub, person)
    move(stub, order.id, "delivered", "completed")
    assert read_blocked(stub, order.id, "tax inspection 2026").id == order.id
    entries = about(stub, order.id)
    assert [shape(e) for e in entries] == [
        ("shop", CLERK, "legal_hold.read", order.id, person.subject_key, "tax inspection 2026", ""),
        ("shop", CLERK, "order.moved", order.id, person.subject_key, "", "completed"),
        ("shop", CLERK, "order.moved", order.id, person.subject_key, "", "delivered"),
    ]
    assert entries[0].at >= entries[1].at >= entries[2].at and all(e.id.startswith("aud_") for e in entries)

    # The legal-hold read has one record, the trail's: ListLegalHoldReads answers with it.
    reads = stub.ListLegalHoldReads(
        pb.StaffRequest(page_size=200), metadata=staff_metadata(CLERK, ACCOUNTING), timeout=10
    ).reads
    mine = [r for r in reads if r.order_id == order.id]
    assert [(r.id, r.actor_account_id, r.reason, r.at) for r in mine] == [
        (entries[0].id, CLERK, "tax inspection 2026", entries[0].at)
    ]
    assert db["legal_hold_reads"].count_documents({"order_id": order.id}) == 0


def test_no_call_changes_an_entry_a_retried_action_leaves_them_as_they_were(
    stub: Stub, shop: Backend
) -> None:
    methods = [m.name for m in pb.DESCRIPTOR.services_by_name["ShopService"].methods]
    assert [m for m in methods if "Audit" in m] == ["ListAuditEntries"]  # nothing else touches it

    created = new_product()
    product = stub.CreateProduct(
        pb.ProductInput(product=created), metadata=staff_metadata(CHIEF, ADMIN), timeout=10
    )
    order = paid_order(stub, buyer(shop))
    move(stub, order.id, "delivered")
    before = trail(stub)
    assert code_of(lambda: move(stub, order.id, "delivered")) == grpc.StatusCode.FAILED_PRECONDITION
    again = lambda: stub.CreateProduct(  # noqa: E731
        pb.ProductInput(product=created), metadata=staff_metadata(CHIEF, ADMIN), timeout=10
    )
    assert code_of(again) == grpc.StatusCode.ALREADY_EXISTS
    after = trail(stub)
    assert after == before  # every field of every entry, and no entry more
    assert [e.action for e in after if e.target in (order.id, product.id)] == [
        "order.moved",
        "product.created",
    ]


def test_admin_lists_the_whole_trail_and_accounting_only_the_legal_hold_reads(
    stub: Stub, shop: Backend
) -> None:
    order = paid_order(stub, buyer(shop))
    move(stub, order.id, "delivered", "completed")
    read_blocked(stub, order.id, "year-end closing")

    everything = {e.action for e in trail(stub)}
    assert {"order.moved", "legal_hold.read"} <= everything
    reads = trail(stub, "legal_hold.read", CLERK, ACCOUNTING)
    assert reads and {e.action for e in reads} == {"legal_hold.read"}
    assert order.id in {e.target for e in reads}
    assert [shape(e) for e in reads] == [shape(e) for e in trail(stub) if e.action == "legal_hold.read"]

    def listing(action: str, metadata: Any) -> Any:
        return lambda: stub.ListAuditEntries(
            audit_pb2.AuditListRequest(action=action), metadata=metadata, timeout=10
        )

    for action in ("", "order.moved", "product.created"):
        assert code_of(listing(action, staff_metadata(CLERK, ACCOUNTING))) == DENIED, action
    for role in (SUPPORT, MARKETING):
        assert code_of(listing("legal_hold.read", staff_metadata(CLERK, role))) == DENIED, role
    assert code_of(listing("legal_hold.read", ())) == DENIED
    with pytest.raises(grpc.RpcError) as no:  # the refusal names the role that is missing
        listing("", staff_metadata(CLERK, ACCOUNTING))()
    assert "the admin role" in (no.value.details() or "")
    assert code_of(listing("Not An Action", staff_metadata(CHIEF, ADMIN))) == grpc.StatusCode.INVALID_ARGUMENT


def test_the_persons_entries_are_in_their_export(stub: Stub, shop: Backend) -> None:
    person, other = buyer(shop), buyer(shop)
    order = paid_order(stub, person)
    move(stub, order.id, "delivered", "completed")
    read_blocked(stub, order.id, "auditor's sample")
    move(stub, paid_order(stub, other).id, "delivered")

    actions = exported(stub, person)["staff_actions"]
    assert [(a["action"], a["order_id"], a["reason"], a["detail"]) for a in actions] == [
        ("order.moved", order.id, "", "delivered"),
        ("order.moved", order.id, "", "completed"),
        ("legal_hold.read", order.id, "auditor's sample", ""),
    ]
    assert all(a["at"] for a in actions) and CLERK not in json.dumps(actions)  # staff stay unnamed
    assert len(exported(stub, other)["staff_actions"]) == 1


def test_an_erasure_trims_the_persons_entries_and_its_receipt_declares_what_stays(
    stub: Stub, shop: Backend, db: Database
) -> None:
    person, other, nobody = buyer(shop), buyer(shop), buyer(shop)
    order = paid_order(stub, person)
    move(stub, order.id, "delivered", "completed")
    read_blocked(stub, order.id, "tax inspection")
    other_order = paid_order(stub, other)
    move(stub, other_order.id, "delivered")
    before = {e.id: e for e in trail(stub)}

    request_id = f"pr_{uuid.uuid4().hex}"
    receipt = stub.EraseSubject(
        subject_pb2.EraseSubjectRequest(subject=person.subject, request_id=request_id), timeout=20
    )
    retained = {r.collection: r.until for r in receipt.retained}
    assert date.fromisoformat(retained[AUDIT]) >= date.fromisoformat(retained["orders"])
    assert any("staff audit entries" in reason for reason in receipt.kept_reasons)

    after = {e.id: e for e in trail(stub)}
    assert after.keys() == before.keys()  # trimmed, not deleted
    for entry_id, entry in before.items():
        now = after[entry_id]
        if entry.subject_key == person.subject_key:
            assert (now.target, now.reason, now.detail) == ("", "", "")
            assert (now.actor_account_id, now.action, now.subject_key, now.at) == (
                entry.actor_account_id,
                entry.action,
                entry.subject_key,
                entry.at,
            )
        else:
            assert now == entry
    assert [(a["action"], a["order_id"], a["reason"]) for a in exported(stub, person)["staff_actions"]] == [
        ("order.moved", "", ""),
        ("order.moved", "", ""),
        ("legal_hold.read", "", ""),
    ]
    assert [e.target for e in after.values() if e.subject_key == other.subject_key] == [other_order.id]

    # The proof of erasure's search of the shop: every trace of the person is in a field the
    # inventory declares, of a collection the receipt declares kept (or an event in flight).
    wait_for(lambda: db[OUTBOX].count_documents({}) == 0, 15, what="the outbox to drain")
    found = stub.FindSubjectTraces(
        subject_pb2.FindSubjectTracesRequest(
            people=[subject_pb2.SoughtPerson(request_id=request_id, subject=person.subject)]
        ),
        timeout=60,
    ).traces
    assert AUDIT in {t.collection for t in found}
    failures = [t for t in found if not (t.declared and t.collection in retained)]
    assert failures == []

    # Someone no staff member ever acted for: nothing to declare.
    quiet = stub.EraseSubject(
        subject_pb2.EraseSubjectRequest(subject=nobody.subject, request_id=f"pr_{uuid.uuid4().hex}"),
        timeout=20,
    )
    assert AUDIT not in {r.collection for r in quiet.retained}


def test_the_worker_deletes_entries_and_earlier_reads_older_than_the_retention(
    stub: Stub, shop: Backend, db: Database
) -> None:
    """Entries of three days ago (as the trail records them, and reads as an older version
    kept them) go at the next sweep; the earlier reads are listed after the trail's."""
    old = datetime.now(UTC) - timedelta(days=RETENTION_DAYS + 1)
    gone = AuditTrail(db[AUDIT]).record(
        AuditRecord(CLERK, "legal_hold.read", target="ord_" + "e" * 32, reason="long ago"), at=old
    )
    kept_at = datetime.now(UTC).replace(microsecond=0)
    earlier = [(f"lhr_{uuid.uuid4().hex}", at) for at in (old, kept_at)]
    for read_id, at in earlier:
        db["legal_hold_reads"].insert_one(
            {
                "_id": key("read", timekey(at), read_id),
                "read_id": read_id,
                "actor_account_id": CLERK,
                "order_id": "ord_" + "f" * 32,
                "reason": "before the audit trail",
                "at": at,
            }
        )
    order = paid_order(stub, buyer(shop))
    move(stub, order.id, "delivered", "completed")
    read_blocked(stub, order.id, "fresh")

    def ids() -> list[str]:
        return [e.id for e in trail(stub)]

    wait_for(lambda: gone["entry_id"] not in ids(), 20, what="the sweep of the old entry")
    wait_for(
        lambda: db["legal_hold_reads"].count_documents({"read_id": earlier[0][0]}) == 0,
        20,
        what="the sweep of the old read",
    )
    assert db[AUDIT].count_documents({"entry_id": gone["entry_id"]}) == 0  # its copies too
    assert {e.target for e in trail(stub)} >= {order.id}

    # Every read, one to a page: the trail's newest first, then the earlier layout's.
    listed: list[pb.LegalHoldRead] = []
    token = ""
    while True:
        page = stub.ListLegalHoldReads(
            pb.StaffRequest(page_size=1, page_token=token),
            metadata=staff_metadata(CLERK, ACCOUNTING),
            timeout=10,
        )
        listed += page.reads
        token = page.next_page_token
        if not token:
            break
    assert listed[-1].id == earlier[1][0] and listed[-1].reason == "before the audit trail"
    assert [r.id for r in listed[:-1]] == [e.id for e in trail(stub, "legal_hold.read")]
    assert order.id in {r.order_id for r in listed[:-1]}
