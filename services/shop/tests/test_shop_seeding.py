"""The bulk writers of ``lethe_shop.seeding`` against the real store: what they write is what
placing, paying and fulfilling an order the normal way writes (ids and times aside), and
it reads back through the domain as such.

The normal way runs the domain classes in this process: ``Orders.place`` with a provider
whose charge answers ``pending`` (as the sandbox does), ``Orders.record_charge`` with the
provider's "succeeded" (what its notification calls), ``Fulfilment.order_paid`` (the
worker, on ``order.paid``) and the staff moves. Events go to a recorder, not the broker.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from lethe_common import tokens
from lethe_common.errors import NotFound
from lethe_common.events.envelope import Envelope
from lethe_common.events.outbox import EVENTS_FIELD, OUTBOX, Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.mongo import Document, ensure_indexes
from lethe_common.privacy import PrivacyEvent, ReceiptSender
from lethe_common.store.keys import under
from lethe_shop import seeding
from lethe_shop.catalogue import Catalogue
from lethe_shop.checkout import (
    Customer,
    OrderRequest,
    checked_address,
    checked_customer,
    checked_lines,
)
from lethe_shop.downloads import Downloads
from lethe_shop.erasure import ShopErasure
from lethe_shop.fulfilment import Fulfilment, Supplier
from lethe_shop.models import end_of_retention, entitlement_id, to_millis
from lethe_shop.order_book import OrderBook
from lethe_shop.orders import Orders
from lethe_shop.payment import Charge
from lethe_shop.repository import INDEXES, ShopRepository
from lethe_shop.retention import Retention, RetentionRules
from lethe_shop.seed import DEMO_FILES, seed_catalogue
from lethe_shop.seeding import Buyer, seed_completed_orders, seed_open_orders
from lethe_shop.staff import StaffOrders

PEPPER = "seeding-test-pepper"
ADDRESS = {
    "name": "Ada Lovelace",
    "company": "Analytical Engines GmbH",
    "street": "Hauptstraße 1",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "phone": "+49 30 5550199",
}
ANALYZER, FEED = "LETHE-ANALYZER-32", "LETHE-FEED-12M"
# Collections an order of a download or subscription can leave documents in.
TOUCHED = ("orders", "order_contacts", "order_steps", "person_index", "queues", "entitlements")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
CHARGE = re.compile(r"ch_[0-9a-f]{24}")
RETENTION_ITEM = re.compile(r"ret_[0-9a-f]{32}")


class Recorder(EventPublisher):
    """Takes every event as published (confirmed), without a broker."""

    def __init__(self) -> None:
        super().__init__("amqp://unused")
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)


class Provider:
    """The sandbox's behaviour: a charge is ``pending`` until its notification."""

    name = "sandbox"

    def check_token(self, token: str) -> None:
        pass

    def charge(self, token: str, amount_cents: int, currency: str, order_id: str, notify_url: str) -> Charge:
        return Charge(f"ch_{secrets.token_hex(12)}", "pending", order_id)

    def refund(self, reference: str, order_id: str) -> Charge:
        raise AssertionError("nothing is refunded here")

    def notification(self, body: bytes, signature: str) -> Charge:
        raise AssertionError("notifications are given as charges here")


@dataclass
class Shop:
    db: Database[Document]
    repo: ShopRepository
    book: OrderBook
    orders: Orders
    staff: StaffOrders
    fulfilment: Fulfilment
    downloads: Downloads
    retention: Retention
    erasure: ShopErasure
    products: dict[str, Document]
    events: Recorder


@pytest.fixture
def shop(test_db: Database[Document], tmp_path: Path) -> Shop:
    folder = (tmp_path / "downloads").resolve()
    events = Recorder()
    outbox = Outbox(events, test_db, 1.0)
    repo = ShopRepository(test_db, outbox)
    ensure_indexes(test_db, INDEXES)
    catalogue = Catalogue(repo, folder)
    seed_catalogue(catalogue, folder)
    book = OrderBook(repo, Provider())
    rules = RetentionRules(invoice_years=8, letter_years=6)
    erasure = ShopErasure(repo, book, ReceiptSender(test_db, outbox, "shop"))
    return Shop(
        test_db,
        repo,
        book,
        Orders(repo, book, catalogue, Provider(), "http://127.0.0.1:9/n"),
        StaffOrders(repo, book, rules, order_closed=erasure.finish_waiting),
        Fulfilment(repo, book, Supplier("Sandbox Logistics", "http://127.0.0.1:9", "k", 1.0), rules, 365),
        Downloads(repo, folder, b"k" * 32, timedelta(minutes=15)),
        Retention(repo, book),
        erasure,
        {p["sku"]: p for p in catalogue.products()},
        events,
    )


def customer() -> Customer:
    return checked_customer(tokens.new_id("acc"), f"{uuid.uuid4().hex[:12]}@buyer.example", PEPPER)


def buyer_of(person: Customer) -> Buyer:
    return Buyer(person.subject, person.email, address=ADDRESS)


def normal_order(shop: Shop, person: Customer, product: Document, staff_id: str = "") -> str:
    """Placed and paid the normal way; delivered and completed by ``staff_id`` if given."""
    request = OrderRequest(
        person,
        f"key-{uuid.uuid4().hex}",
        checked_lines([(product["_id"], 1)]),
        checked_address(ADDRESS, "billing"),
        None,
        "",
        "tok_" + "0" * 24,
    )
    placed = shop.orders.place(request)
    order_id = str(placed["_id"])
    shop.orders.record_charge(
        order_id, Charge(placed["payment"]["reference"], "succeeded", order_id)
    )  # the provider's notification
    shop.fulfilment.order_paid(order_id)  # the worker, on order.paid
    if staff_id:
        shop.staff.move(staff_id, order_id, "delivered")
        shop.staff.move(staff_id, order_id, "completed")
    return order_id


def masked(value: Any, names: dict[str, str]) -> Any:
    """``value`` with ids and times replaced by what they are, and no outbox marks."""
    if isinstance(value, dict):
        return {k: masked(v, names) for k, v in value.items() if k != EVENTS_FIELD}
    if isinstance(value, list | tuple):
        return [masked(v, names) for v in value]
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, str):
        for real, name in names.items():
            value = value.replace(real, name)
        value = TIME.sub("<time>", value)
        value = CHARGE.sub("<charge>", value)
        return RETENTION_ITEM.sub("<ret>", value)
    return value


def names_of(person: Customer, order_id: str, product: Document, staff_id: str) -> dict[str, str]:
    names = {
        order_id: "<order>",
        entitlement_id(order_id, product["_id"]): "<ent>",
        person.subject.account_id: "<account>",
        person.subject.subject_key: "<subject>",
        person.email: "<email>",
    }
    return {**names, staff_id: "<staff>"} if staff_id else names


def stored(
    shop: Shop, person: Customer, order_id: str, product: Document, staff_id: str = ""
) -> dict[str, list[Any]]:
    """Every document the order left, masked (the test reads as it likes; the domain does not)."""
    db = shop.db
    docs: dict[str, list[Document]] = {
        "orders": list(db.orders.find({"_id": order_id})),
        "order_contacts": list(db.order_contacts.find({"_id": order_id})),
        "order_steps": list(db.order_steps.find({"_id": under(order_id)}, sort=[("_id", 1)])),
        "person_index": [
            *db.person_index.find({"_id": under(person.subject.account_id)}),
            *db.person_index.find({"_id": under(person.subject.subject_key)}),
        ],
        "queues": [q for q in db.queues.find() if q["item"].split(".")[0] == order_id],
        "entitlements": [e for e in db.entitlements.find() if e["order_id"] == order_id],
    }
    names = names_of(person, order_id, product, staff_id)
    return {
        name: masked(found, names) if name == "order_steps" else sorted(masked(found, names), key=repr)
        for name, found in docs.items()
    }


def walk(shop: Shop, status: str) -> list[str]:
    """Every order of a staff list, a page of one at a time."""
    ids: list[str] = []
    token = ""
    while True:
        page, token = shop.staff.page(status, size=1, token=token)
        ids += [str(view["_id"]) for view in page]
        if not token:
            return ids


@pytest.mark.parametrize("sku", [ANALYZER, FEED])
def test_seeded_orders_are_the_documents_the_domain_writes(shop: Shop, sku: str) -> None:
    product, staff_id = shop.products[sku], tokens.new_id("acc")
    normal_open, normal_done = customer(), customer()
    open_id = normal_order(shop, normal_open, product)
    done_id = normal_order(shop, normal_done, product, staff_id)
    assert shop.db[OUTBOX].count_documents({}) == 0  # every event went to the recorder
    seeded_open, seeded_done = customer(), customer()
    now = datetime.now(UTC)
    [seeded_open_id] = seed_open_orders(shop.db, [buyer_of(seeded_open)], product, now)
    [seeded_done_id] = seed_completed_orders(
        shop.db, [buyer_of(seeded_done)], product, now, staff_id=staff_id
    )

    expected_open = stored(shop, normal_open, open_id, product)
    assert stored(shop, seeded_open, seeded_open_id, product) == expected_open
    expected_done = stored(shop, normal_done, done_id, product, staff_id)
    assert stored(shop, seeded_done, seeded_done_id, product, staff_id) == expected_done
    # What each holds, spelled out once: the index by both owners, the queues still standing.
    assert {c: len(d) for c, d in expected_open.items()} == {
        "orders": 1,
        "order_contacts": 1,
        "order_steps": 2,
        "person_index": 4,
        "queues": 2,
        "entitlements": 1,
    }
    assert sorted(q["_id"].split("/")[0] for q in expected_open["queues"]) == ["open", "status-paid"]
    assert [q["_id"].split("/")[0] for q in expected_done["queues"]] == ["retention"]
    assert [(s["kind"], s.get("status", s.get("payment_status"))) for s in expected_done["order_steps"]] == [
        ("payment", "pending"),
        ("paid", None),
        ("moved", "delivered"),
        ("moved", "completed"),
    ]


def test_seeded_orders_read_back_through_the_domain_like_normal_ones(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seeding, "BATCH", 2)  # several batches of a few orders
    product, staff_id = shop.products[ANALYZER], tokens.new_id("acc")
    normal_open, normal_done = customer(), customer()
    open_id = normal_order(shop, normal_open, product)
    done_id = normal_order(shop, normal_done, product, staff_id)
    at = datetime.now(UTC) - timedelta(hours=1)
    open_people, done_people = [customer() for _ in range(3)], [customer() for _ in range(3)]
    open_ids = seed_open_orders(shop.db, [buyer_of(p) for p in open_people], product, at)
    done_ids = seed_completed_orders(
        shop.db, [buyer_of(p) for p in done_people], product, at, staff_id=staff_id
    )
    assert len(set(open_ids + done_ids)) == 6

    def view_of(person: Customer, order_id: str, view: Document) -> Any:
        return masked(view, names_of(person, order_id, product, staff_id))

    # The person's own orders and one order: a paid one is there, a completed one is not.
    normal_view = view_of(normal_open, open_id, shop.orders.own_one(normal_open, open_id))
    assert [view_of(normal_open, open_id, v) for v in shop.orders.own(normal_open)] == [normal_view]
    for person, order_id in zip(open_people, open_ids, strict=True):
        [own] = shop.orders.own(person)
        assert view_of(person, order_id, own) == normal_view
        one = shop.orders.own_one(person, order_id)
        assert view_of(person, order_id, one) == normal_view
        assert one["placed_at"] == to_millis(at) and one["paid_at"] == to_millis(at) + timedelta(seconds=2)
        assert (one["status"], one["payment"]["status"], one["blocked"]) == ("paid", "succeeded", False)
    normal_held = view_of(normal_done, done_id, shop.retention.read_blocked(staff_id, done_id, "audit"))
    assert normal_held["status"] == "completed" and normal_held["blocked"] is True
    for person, order_id in zip(done_people, done_ids, strict=True):
        assert shop.orders.own(person) == []
        with pytest.raises(NotFound):
            shop.orders.own_one(person, order_id)
        held = shop.retention.read_blocked(staff_id, order_id, "audit")
        assert view_of(person, order_id, held) == normal_held
        completed_at = to_millis(at) + timedelta(seconds=4)
        assert [h["at"] for h in held["history"]] == [
            to_millis(at) + timedelta(seconds=n) for n in (0, 2, 3, 4)
        ]
        assert held["retain_until"] == end_of_retention(completed_at, 8)

    # The staff lists: every paid order, newest first, page by page; no completed one.
    assert walk(shop, "") == walk(shop, "paid") == [open_id, *sorted(open_ids, reverse=True)]
    assert walk(shop, "completed") == walk(shop, "delivered") == walk(shop, "placed") == []

    # Downloads: the right stays after completion; a link fetches the file.
    for person, order_id in zip(
        [normal_open, normal_done, *open_people, *done_people],
        [open_id, done_id, *open_ids, *done_ids],
        strict=True,
    ):
        [offer] = shop.downloads.offers(person)
        assert offer.entitlement["order_id"] == order_id
        assert offer.file in DEMO_FILES and offer.size_bytes == len(DEMO_FILES[offer.file])
        assert shop.downloads.open(person, offer.token).name == offer.file
    seeded_right = shop.downloads.offers(open_people[0])[0].entitlement
    assert seeded_right["until"] == to_millis(at) + timedelta(seconds=2, days=365)

    # The export shows them as it shows a normal order (ids and times aside).
    def export(person: Customer, order_id: str) -> Any:
        return masked(shop.erasure.export(person.subject), names_of(person, order_id, product, staff_id))

    assert export(open_people[0], open_ids[0]) == export(normal_open, open_id)
    assert export(done_people[0], done_ids[0]) == export(normal_done, done_id)


def test_seeded_orders_go_on_like_normal_ones(shop: Shop) -> None:
    product, staff_id = shop.products[FEED], tokens.new_id("acc")
    normal = customer()
    done_id = normal_order(shop, normal, product, staff_id)
    at = datetime.now(UTC)
    opened, completed = customer(), customer()
    [open_id] = seed_open_orders(shop.db, [buyer_of(opened)], product, at)
    [seeded_done_id] = seed_completed_orders(shop.db, [buyer_of(completed)], product, at, staff_id=staff_id)

    # Staff complete a seeded paid order: it ends as a normal completed one, and as a seeded one.
    shop.staff.move(staff_id, open_id, "delivered")
    moved = shop.staff.move(staff_id, open_id, "completed")
    assert moved["blocked"] is True
    expected = stored(shop, normal, done_id, product, staff_id)
    assert stored(shop, opened, open_id, product, staff_id) == expected
    assert stored(shop, completed, seeded_done_id, product, staff_id) == expected
    [offer] = shop.downloads.offers(opened)  # a subscription: its term of 12 months
    assert offer.entitlement["until"] == to_millis(at) + timedelta(seconds=2, days=31 * 12)

    # The retention sweep finds all three when their time is over, and leaves the same.
    later = datetime(at.year + 9, 1, 1, tzinfo=UTC)
    assert shop.retention.sweep(later) == {"orders": 3, "supplier_handoffs": 0}
    expected = stored(shop, normal, done_id, product, staff_id)
    assert expected["orders"] == expected["order_steps"] == expected["queues"] == []
    assert stored(shop, opened, open_id, product, staff_id) == expected
    assert stored(shop, completed, seeded_done_id, product, staff_id) == expected


def test_physical_and_inactive_products_are_refused(shop: Shop) -> None:
    buyers = [buyer_of(customer())]
    with pytest.raises(ValueError, match="physical"):
        seed_open_orders(shop.db, buyers, shop.products["LETHE-KEY-01"], datetime.now(UTC))
    with pytest.raises(ValueError, match="inactive"):
        seed_completed_orders(
            shop.db, buyers, {**shop.products[ANALYZER], "active": False}, datetime.now(UTC)
        )
    assert shop.db.orders.count_documents({}) == 0


def test_an_erasure_drops_the_email_address_that_older_orders_hold(shop: Shop) -> None:
    """Orders no longer hold the customer's e-mail address (issue 14); those written before
    do, and an erasure replaces each by itself without it: the completed one at once, the
    open one too (nothing needs it), and what staff and accounting read is unchanged."""
    product, staff_id = shop.products[ANALYZER], tokens.new_id("acc")
    person, other = customer(), customer()
    done_id = normal_order(shop, person, product, staff_id)
    open_id = normal_order(shop, person, product)
    others_id = normal_order(shop, other, product)
    for who, order_id in ((person, done_id), (person, open_id), (other, others_id)):
        assert "email" not in shop.db.orders.find_one({"_id": order_id})
        shop.db.orders.update_one({"_id": order_id}, {"$set": {"email": who.email}})  # as before
    held_before = shop.retention.read_blocked(staff_id, done_id, "audit")
    held_before.pop("email")
    held_before["billing"].pop("phone")  # the contacts of a blocked order go too

    request_id = f"pr_{uuid.uuid4().hex}"
    deferred = shop.erasure.erase(PrivacyEvent("erasure", request_id, person.subject))
    assert deferred.outcome == "deferred"
    everything = "\n".join(str(d) for name in shop.db.list_collection_names() for d in shop.db[name].find())
    assert person.email not in everything.lower()
    assert shop.db.orders.find_one({"_id": others_id})["email"] == other.email  # only the person's
    assert shop.retention.read_blocked(staff_id, done_id, "audit") == held_before
    assert shop.db.order_contacts.find_one({"_id": done_id}) is None
    assert shop.db.order_contacts.find_one({"_id": open_id}) is not None  # kept until fulfilled
    assert shop.erasure.erase(PrivacyEvent("erasure", request_id, person.subject)) == deferred  # a repeat

    shop.staff.move(staff_id, open_id, "delivered")
    shop.staff.move(staff_id, open_id, "completed")  # closes the last open order: the wait ends
    assert shop.db.privacy_receipts_sent.find_one({"_id": f"{request_id}/erasure/done"}) is not None
    assert shop.db.orders.count_documents({"_id": {"$in": [done_id, open_id]}}) == 2
    everything = "\n".join(str(d) for name in shop.db.list_collection_names() for d in shop.db[name].find())
    assert person.email not in everything.lower()
