"""The shop through the gateway (issue 6).

Real gateway, identity, consent, shop and newsletter (API and worker each),
store, broker and SMTP sink, and the fakes of what is outside Lethe: the
payment provider's sandbox and the supplier (tools/fakes/), started by
``tools/stack.py`` like the rest of the infrastructure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import grpc
import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe.common.v1 import subject_pb2
from lethe.shop.v1.shop_pb2_grpc import ShopServiceStub
from lethe_common import signing
from lethe_common.events.outbox import Outbox
from lethe_common.events.publisher import EventPublisher
from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_shop.models import handoff_id
from lethe_shop.order_book import OrderBook
from lethe_shop.payment import SandboxProvider
from lethe_shop.repository import ShopRepository
from lethe_shop.retention import Retention
from lethe_testing import Browser, Stack, start_stack, stop_stack, unique, wait_for
from lethe_testing.bus import EventTap
from lethe_testing.maildir import mail_text, mails_to, token_in, wait_for_mail

PASSWORD = "copper kettle marmalade 9"
CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
PHONE = "+49 30 5550199"
NOTE = "ring twice, side entrance"
SEEN: list[str] = [CARD, DECLINED_CARD, PHONE, NOTE]  # none may reach a log


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("sh")
    running = start_stack(
        run,
        tmp_path_factory.mktemp("logs"),
        IDENTITY_ADMIN_EMAILS=f"clerk-{run}@staff.example",
        SHOP_SWEEP_INTERVAL_SECONDS="1",
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def shop_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["shop"].db_name]


@pytest.fixture(scope="module")
def clerk(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"clerk-{stack.run_id}@staff.example", PASSWORD, name="Cleo Clerk")
    yield browser
    browser.close()


def customer(stack: Stack, name: str = "Grace Hopper") -> tuple[Browser, dict[str, Any]]:
    email = f"{unique('c')}-{stack.run_id}@buyer.example".lower()
    SEEN.append(email)
    browser = Browser(stack.gateway_url)
    return browser, browser.sign_up(email, PASSWORD, name=name)


def products(browser: Browser) -> dict[str, dict[str, Any]]:
    listed = browser.get("/api/v1/products")
    assert listed.status_code == 200, listed.text
    return {p["sku"]: p for p in listed.json()}


def payment_token(card: str = CARD) -> str:
    """What the browser gets from the provider for the card; Lethe never sees the card."""
    reply = httpx.post(
        f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens",
        json={"card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def address(name: str, **extra: str) -> dict[str, str]:
    return {
        "name": name,
        "company": "Analytical Engines GmbH",
        "street": "Hauptstraße 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        **extra,
    }


def order_body(lines: list[dict[str, Any]], physical: bool = True, card: str = CARD) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lines": lines,
        "billing": address("Grace Hopper", phone=PHONE, vat_id="DE123456789"),
        "payment_token": payment_token(card),
    }
    if physical:
        body["delivery"] = address("Grace Hopper", phone=PHONE)
        body["delivery_note"] = NOTE
    return body


def place(browser: Browser, body: dict[str, Any], key: str = "") -> Any:
    return browser.post(
        "/api/v1/orders", json=body, headers={"Idempotency-Key": key or f"key-{uuid.uuid4().hex}"}
    )


def paid_order(browser: Browser, lines: list[dict[str, Any]], physical: bool = True) -> str:
    placed = place(browser, order_body(lines, physical))
    assert placed.status_code == 201, placed.text
    order_id = str(placed.json()["id"])
    wait_for(
        lambda: browser.get(f"/api/v1/orders/{order_id}").json()["status"] == "paid",
        15,
        what="the provider's notification to mark the order paid",
    )
    return order_id


def move(clerk: Browser, order_id: str, *statuses: str) -> dict[str, Any]:
    reply: dict[str, Any] = {}
    for status in statuses:
        moved = clerk.post(f"/api/v1/admin/orders/{order_id}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
        reply = moved.json()
    return reply


def supplier_received(order_id: str) -> dict[str, Any] | None:
    reply = httpx.get(
        f"{os.environ['SHOP_SUPPLIER_URL']}/v1/deliveries/{order_id}",
        headers={"Authorization": f"Bearer {os.environ['SHOP_SUPPLIER_API_KEY']}"},
    )
    return dict(reply.json()) if reply.status_code == 200 else None


def staff_ids(clerk: Browser, status: str = "") -> list[str]:
    listed = clerk.get("/api/v1/admin/orders", params={"status": status} if status else {})
    assert listed.status_code == 200, listed.text
    return [o["id"] for o in listed.json()]


def retention_of(db: Database) -> Retention:
    """The worker's retention sweep, run by the test at a time of its choosing."""
    repo = ShopRepository(db, Outbox(EventPublisher("amqp://unused"), db, 1))
    return Retention(repo, OrderBook(repo, SandboxProvider("http://unused", "k", "s", 1.0)))


def everything_in(db: Database) -> str:
    return "\n".join(str(doc) for name in db.list_collection_names() for doc in db[name].find())


def test_an_order_is_paid_handed_to_the_supplier_completed_blocked_and_swept(
    stack: Stack, clerk: Browser, shop_db: Database, channels: dict[str, grpc.Channel]
) -> None:
    browser, me = customer(stack)
    catalogue = products(browser)
    key, analyzer = catalogue["LETHE-KEY-01"], catalogue["LETHE-ANALYZER-32"]
    order_id = paid_order(browser, [{"product_id": key["id"], "quantity": 2}, {"product_id": analyzer["id"]}])
    order = browser.get(f"/api/v1/orders/{order_id}").json()
    net = 2 * key["price_cents"] + analyzer["price_cents"]
    vat = round(2 * key["price_cents"] * 0.19) + round(analyzer["price_cents"] * 0.19)
    assert order["totals"] == {
        "currency": "EUR",
        "net_cents": net,
        "vat_cents": vat,
        "gross_cents": net + vat,
    }
    assert order["payment"]["provider"] == "sandbox"
    assert order["payment"]["reference"].startswith("ch_")

    received = wait_for(lambda: supplier_received(order_id), 15, what="the supplier hand-off")
    assert received == {
        "reference": order_id,
        "recipient": {
            "name": "Grace Hopper",
            "company": "Analytical Engines GmbH",
            "street": "Hauptstraße 1",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
        },
        "items": [{"sku": "LETHE-KEY-01", "name": key["name"], "quantity": 2}],
    }

    assert order_id in staff_ids(clerk)
    completed = move(clerk, order_id, "shipped", "delivered", "completed")
    year = datetime.now(UTC).year
    assert completed["blocked"] is True
    assert completed["retain_until"] == f"{year + 8}-12-31T23:59:59+00:00"
    assert order_id not in staff_ids(clerk) + staff_ids(clerk, "completed")
    assert order_id not in [o["id"] for o in browser.get("/api/v1/orders").json()]
    assert browser.get(f"/api/v1/orders/{order_id}").status_code == 404
    assert clerk.get(f"/api/v1/admin/legal-hold/orders/{order_id}").status_code == 422

    held = clerk.get(f"/api/v1/admin/legal-hold/orders/{order_id}", params={"reason": "tax audit 2026"})
    assert held.status_code == 200, held.text
    assert held.json()["retain_until"] == completed["retain_until"]
    reads = clerk.get("/api/v1/admin/legal-hold/reads").json()
    assert any(r["order_id"] == order_id and r["reason"] == "tax audit 2026" for r in reads)
    assert (
        browser.get(f"/api/v1/admin/legal-hold/orders/{order_id}", params={"reason": "curious"}).status_code
        == 403
    )

    exported = ShopServiceStub(channels["shop"]).ExportSubjectData(
        subject_pb2.ExportSubjectDataRequest(subject=subject_pb2.Subject(account_id=me["id"])), timeout=10
    )
    handoffs = json.loads(exported.data_json)["supplier_handoffs"]
    assert [(h["order_id"], h["recipient"]) for h in handoffs] == [
        (order_id, "Sandbox Logistics (fake supplier)")
    ]
    assert "items" in handoffs[0]["fields"] and "recipient.phone" not in handoffs[0]["fields"]
    assert any("supplier" in r for r in exported.recipients)

    stored = everything_in(shop_db)
    assert CARD not in stored and CARD[-4:] + "'" not in stored
    handoff = shop_db.supplier_handoffs.find_one({"_id": handoff_id(order_id)})
    assert handoff is not None and handoff["recipient"]

    retention = retention_of(shop_db)
    letters_until = datetime(year + 6, 12, 31, 23, 59, 59, tzinfo=UTC)
    retain_until = datetime(year + 8, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert handoff["retain_until"].replace(tzinfo=UTC) == letters_until
    retention.sweep(now=letters_until - timedelta(days=1))
    assert shop_db.supplier_handoffs.find_one({"_id": handoff_id(order_id)}) is not None
    retention.sweep(now=letters_until + timedelta(seconds=1))
    assert shop_db.supplier_handoffs.find_one({"_id": handoff_id(order_id)}) is None
    retention.sweep(now=retain_until - timedelta(days=1))
    assert shop_db.orders.find_one({"_id": order_id}) is not None
    deleted = retention.sweep(now=retain_until + timedelta(seconds=1))
    assert deleted["orders"] >= 1
    assert shop_db.orders.find_one({"_id": order_id}) is None
    assert shop_db.order_steps.count_documents({"_id": under(order_id)}) == 0
    audit = shop_db.retention_audit.find_one({"at": retain_until + timedelta(seconds=1)})
    assert audit is not None and set(audit) == {"_id", "at", "deleted"}
    assert set(audit["deleted"]) == {"orders", "supplier_handoffs"}
    assert all(isinstance(count, int) for count in audit["deleted"].values())
    assert me["email"] not in str(audit) and order_id not in str(audit)


def test_prices_come_from_the_catalogue_and_bad_orders_are_refused(stack: Stack) -> None:
    browser, _ = customer(stack)
    manual = products(browser)["LETHE-MANUAL"]
    body = order_body([{"product_id": manual["id"], "quantity": 3, "unit_cents": 1, "gross_cents": 3}])
    body["totals"] = {"currency": "EUR", "gross_cents": 3}
    key = f"key-{uuid.uuid4().hex}"
    first = place(browser, body, key)
    assert first.status_code == 201, first.text
    assert first.json()["lines"][0]["unit_cents"] == manual["price_cents"] == 2900
    assert first.json()["totals"] == {
        "currency": "EUR",
        "net_cents": 8700,
        "vat_cents": 609,
        "gross_cents": 9309,
    }
    again = place(browser, {**body, "payment_token": payment_token()}, key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert [o["id"] for o in browser.get("/api/v1/orders").json()] == [first.json()["id"]]
    other = place(browser, order_body([{"product_id": manual["id"], "quantity": 1}]), key)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"

    unknown = place(browser, order_body([{"product_id": f"prd_{uuid.uuid4().hex}"}]))
    assert unknown.status_code == 422
    assert "not in the catalogue" in unknown.json()["error"]["message"]
    for quantity in (-1, 0):
        refused = place(browser, order_body([{"product_id": manual["id"], "quantity": quantity}]))
        assert refused.status_code == 422, refused.text
    no_delivery = order_body([{"product_id": manual["id"]}], physical=False)
    assert place(browser, no_delivery).status_code == 422
    assert (
        browser.post("/api/v1/orders", json=order_body([{"product_id": manual["id"]}])).status_code == 422
    )  # no Idempotency-Key

    declined = place(browser, order_body([{"product_id": manual["id"]}], card=DECLINED_CARD))
    assert declined.status_code == 402, declined.text
    used = place(browser, {**order_body([{"product_id": manual["id"]}]), "payment_token": "tok_" + "0" * 24})
    assert used.status_code == 422
    assert len(browser.get("/api/v1/orders").json()) == 1

    anonymous = Browser(stack.gateway_url)
    assert place(anonymous, order_body([{"product_id": manual["id"]}])).status_code == 401


def test_after_a_declined_card_the_same_key_pays_with_a_good_one(stack: Stack, shop_db: Database) -> None:
    """Issue 13: a declined attempt holds no order, so the customer who fixes their card
    pays under the same Idempotency-Key; the declined token is declined again."""
    browser, me = customer(stack)
    manual = products(browser)["LETHE-MANUAL"]
    key = f"checkout-{uuid.uuid4().hex}"
    body = order_body([{"product_id": manual["id"]}], card=DECLINED_CARD)
    for _ in range(2):  # the declined token, and its network retry
        refused = place(browser, body, key)
        assert refused.status_code == 402, refused.text
        assert refused.json()["error"]["code"] == "payment_declined"
        assert browser.get("/api/v1/orders").json() == []
        assert shop_db.orders.count_documents({"account_id": me["id"]}) == 0

    good = payment_token()
    placed = place(browser, {**body, "payment_token": good}, key)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    paid = wait_for(
        lambda: (o := browser.get(f"/api/v1/orders/{order_id}").json())["status"] == "paid" and o,
        15,
        what="the provider's notification to mark it paid",
    )
    assert paid["payment"]["status"] == "succeeded"
    assert [h["status"] for h in paid["history"]] == ["placed", "paid"]
    charge = httpx.get(
        f"{os.environ['SHOP_PAYMENT_URL']}/v1/charges/{paid['payment']['reference']}",
        headers={"Authorization": f"Bearer {os.environ['SHOP_PAYMENT_API_KEY']}"},
    )
    assert charge.status_code == 200, charge.text
    assert (charge.json()["status"], charge.json()["reference"]) == ("succeeded", order_id)
    assert charge.json()["amount"] == paid["totals"]["gross_cents"]

    again = place(browser, {**body, "payment_token": payment_token()}, key)  # kept: replayed
    assert again.status_code == 201 and again.json()["id"] == order_id
    assert again.json()["status"] == "paid"
    assert [o["id"] for o in browser.get("/api/v1/orders").json()] == [order_id]
    assert [o["_id"] for o in shop_db.orders.find({"account_id": me["id"]})] == [order_id]


def test_customers_reach_only_their_own_orders_and_downloads(stack: Stack) -> None:
    buyer, _ = customer(stack)
    other, _ = customer(stack, name="Alan Turing")
    analyzer = products(buyer)["LETHE-ANALYZER-32"]
    order_id = paid_order(buyer, [{"product_id": analyzer["id"]}], physical=False)
    offers = wait_for(lambda: buyer.get("/api/v1/downloads").json(), 15, what="the download right")
    assert [o["file"] for o in offers] == analyzer["files"]
    fetched = buyer.get(offers[0]["url"])
    assert fetched.status_code == 200, fetched.text
    folder = Path(os.environ["SHOP_DOWNLOADS_DIR"])
    assert fetched.content == (folder / analyzer["files"][0]).read_bytes()
    assert "attachment" in fetched.headers["content-disposition"]

    assert other.get(f"/api/v1/orders/{order_id}").status_code == 404
    assert other.get("/api/v1/orders").json() == []
    assert other.get("/api/v1/downloads").json() == []
    assert other.get(offers[0]["url"]).status_code == 404
    assert Browser(stack.gateway_url).get(offers[0]["url"]).status_code == 401

    token = offers[0]["url"].split("token=", 1)[1]
    entitlement_id, index, _ = token.split(".")[:3]
    key = signing.derive_key(os.environ["LETHE_SUBJECT_PEPPER"], "shop-download")
    past = str(int((datetime.now(UTC) - timedelta(minutes=1)).timestamp()))
    expired = signing.sign(key, "download", [entitlement_id, index, past])
    gone = buyer.get(f"/api/v1/downloads/file?token={expired}")
    assert gone.status_code == 410 and "expired" in gone.json()["error"]["message"]
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert buyer.get(f"/api/v1/downloads/file?token={altered}").status_code == 422


def test_an_erasure_during_an_open_order_waits_and_then_completes(
    stack: Stack, clerk: Browser, shop_db: Database
) -> None:
    browser, me = customer(stack)
    key = products(browser)["LETHE-KEY-01"]
    cart = browser.request("PUT", "/api/v1/cart", json={"lines": [{"product_id": key["id"]}]})
    assert cart.status_code == 200 and cart.json()["totals"]["net_cents"] == key["price_cents"]
    assert shop_db.carts.count_documents({"_id": me["id"]}) == 1
    order_id = paid_order(browser, [{"product_id": key["id"]}])
    opened = browser.post("/api/v1/me/erasure", json={})
    assert opened.status_code == 202, opened.text
    request_id, token = opened.json()["request"]["id"], opened.json()["follow_token"]

    def shop_receipt(outcome: str) -> dict[str, Any] | None:
        state = (
            Browser(stack.gateway_url)
            .get(f"/api/v1/privacy-requests/{request_id}", params={"token": token})
            .json()
        )
        return next(
            (r for r in state["receipts"] if r["service"] == "shop" and r["outcome"] == outcome), None
        )

    def sent(outcome: str) -> dict[str, Any] | None:
        """The receipt as this shop sent it. (Other test stacks on the same broker get the
        same erasure event and answer it too, "done: no order held"; consent keeps the
        first receipt per service, so its copy may be theirs.)"""
        doc = shop_db.privacy_receipts_sent.find_one({"_id": f"{request_id}/erasure/{outcome}"})
        return dict(doc["receipt"]) if doc else None

    wait_for(lambda: shop_receipt("deferred"), 20, what="the shop's deferred receipt")
    deferred = sent("deferred")
    assert deferred is not None and "17(3)(b)" in deferred["note"] + " ".join(deferred["kept"])
    assert sent("done") is None
    assert shop_db.carts.count_documents({"_id": me["id"]}) == 0
    assert shop_db.order_contacts.find_one({"_id": order_id})["delivery_phone"] == PHONE

    move(clerk, order_id, "shipped", "delivered", "completed")
    done = wait_for(lambda: sent("done"), 20, what="the shop's follow-up receipt")
    assert str(datetime.now(UTC).year + 8) in done["blocked_until"]
    wait_for(
        lambda: (
            Browser(stack.gateway_url)
            .get(f"/api/v1/privacy-requests/{request_id}", params={"token": token})
            .json()["status"]
            == "complete"
        ),
        20,
        what="the request to complete",
    )
    held = clerk.get(f"/api/v1/admin/legal-hold/orders/{order_id}", params={"reason": "erasure check"})
    assert held.status_code == 200, held.text
    stored = held.json()
    assert stored["blocked"] and "phone" not in stored["delivery"]
    assert "phone" not in stored["billing"] and not stored["delivery_note"]
    assert stored["delivery"]["street"] == "Hauptstraße 1"  # kept for accounting
    assert shop_db.order_contacts.find_one({"_id": order_id}) is None


def test_a_restriction_keeps_orders_out_of_staff_lists_until_lifted(stack: Stack, clerk: Browser) -> None:
    browser, _ = customer(stack)
    manual = products(browser)["LETHE-MANUAL"]
    order_id = paid_order(browser, [{"product_id": manual["id"]}])
    assert order_id in staff_ids(clerk)
    assert browser.post("/api/v1/me/restriction", json={}).status_code in (200, 202)
    wait_for(lambda: order_id not in staff_ids(clerk), 20, what="the order to leave staff lists")
    blocked = clerk.post(f"/api/v1/admin/orders/{order_id}/status", json={"status": "shipped"})
    assert blocked.status_code == 409
    assert browser.delete("/api/v1/me/restriction").status_code in (200, 202)
    wait_for(lambda: order_id in staff_ids(clerk), 20, what="the order to come back")


def test_staff_routes_need_the_admin_role_and_products_are_checked(stack: Stack, clerk: Browser) -> None:
    browser, _ = customer(stack)
    assert browser.get("/api/v1/admin/orders").status_code == 403
    assert Browser(stack.gateway_url).get("/api/v1/admin/orders").status_code == 401
    sku = f"T-{uuid.uuid4().hex[:8].upper()}"
    created = clerk.post(
        "/api/v1/admin/products",
        json={"sku": sku, "name": "Test cable", "kind": "physical", "price_cents": 999},
    )
    assert created.status_code == 201, created.text
    assert (
        clerk.post(
            "/api/v1/admin/products", json={"sku": sku, "name": "Again", "kind": "physical", "price_cents": 1}
        ).status_code
        == 409
    )
    assert (
        clerk.post(
            "/api/v1/admin/products",
            json={
                "sku": f"{sku}-D",
                "name": "No file",
                "kind": "download",
                "price_cents": 1,
                "files": ["../../etc/passwd"],
            },
        ).status_code
        == 422
    )
    product_id = created.json()["id"]
    hidden = clerk.request("PATCH", f"/api/v1/admin/products/{product_id}", json={"active": False})
    assert hidden.status_code == 200 and hidden.json()["active"] is False
    assert sku not in products(browser)
    assert place(browser, order_body([{"product_id": product_id}])).status_code == 422


def test_staff_lists_come_in_pages_newest_first(stack: Stack, clerk: Browser) -> None:
    browser, _ = customer(stack)
    manual = products(browser)["LETHE-MANUAL"]
    mine = [paid_order(browser, [{"product_id": manual["id"]}]) for _ in range(3)]
    seen: list[str] = []
    url = "/api/v1/admin/orders?status=paid&limit=2"
    while url:
        listed = clerk.get(url)
        assert listed.status_code == 200, listed.text
        assert len(listed.json()) <= 2
        seen += [o["id"] for o in listed.json()]
        link = listed.headers.get("link", "")
        url = link[1 : link.index(">")] if link else ""
    assert len(seen) == len(set(seen))
    assert [order_id for order_id in seen if order_id in mine] == mine[::-1]
    junk = clerk.get("/api/v1/admin/orders", params={"page_token": "not-ours"})
    assert junk.status_code == 422
    reads = clerk.get("/api/v1/admin/legal-hold/reads", params={"limit": 1})
    assert reads.status_code == 200 and len(reads.json()) <= 1


def test_the_payment_notification_needs_the_providers_signature(stack: Stack) -> None:
    body = json.dumps(
        {
            "type": "charge.succeeded",
            "charge": {"id": "ch_" + "1" * 24, "status": "succeeded", "reference": "ord_" + "2" * 32},
        }
    )
    forged = httpx.post(
        f"{stack.gateway_url}/api/v1/payments/notifications",
        content=body,
        headers={"Sandbox-Signature": "t=1,v1=00"},
    )
    assert forged.status_code == 422


def test_no_card_number_phone_or_address_in_any_log(stack: Stack) -> None:
    logs = "".join(process.log() for process in stack.processes())
    assert logs
    for value in SEEN:
        assert value not in logs


def hits(db: Database, *needles: str) -> set[tuple[str, str, str]]:
    """(collection, _id, path) of every key or value at any depth of any document of ``db``
    that holds one of ``needles`` (case-insensitive)."""
    wanted = [n.lower() for n in needles]
    found: set[tuple[str, str, str]] = set()

    def walk(collection: str, doc_id: str, path: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                inner = f"{path}.{k}" if path else str(k)
                if any(n in str(k).lower() for n in wanted):
                    found.add((collection, doc_id, f"{inner} (key)"))
                walk(collection, doc_id, inner, v)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(collection, doc_id, f"{path}[{i}]", v)
        elif any(n in str(value).lower() for n in wanted):
            found.add((collection, doc_id, path))

    for name in db.list_collection_names():
        for doc in db[name].find():
            walk(name, str(doc["_id"]), "", doc)
    return found


CLOSED = (
    "closed order(s) (completed, or cancelled after payment): billing and delivery address (with the name)"
)


def test_an_erasure_leaves_nothing_of_the_person_that_its_receipts_do_not_declare(
    stack: Stack, clerk: Browser, shop_db: Database
) -> None:
    """Issue 14: a completed and an open order, then an erasure. Every collection of the
    shop is searched for the person's e-mail address, name and phone: after the deferred
    receipt only the orders' addresses (the completed one's blocked, the open one's kept
    until fulfilled) and the open order's phones remain; after the open order completes,
    only the blocked orders' addresses, which the receipt declares with the date they go."""
    name = f"Augusta Byron {uuid.uuid4().hex[:8]}"
    phone = f"+49 30 {uuid.uuid4().int % 10**8:08d}"
    SEEN.append(phone)
    browser, me = customer(stack, name=name)
    email = str(me["email"])
    key = products(browser)["LETHE-KEY-01"]

    def placed() -> str:
        body = {
            "lines": [{"product_id": key["id"]}],
            "billing": address(name, phone=phone),
            "delivery": address(name, phone=phone),
            "delivery_note": NOTE,
            "payment_token": payment_token(),
        }
        reply = place(browser, body)
        assert reply.status_code == 201, reply.text
        order_id = str(reply.json()["id"])
        wait_for(
            lambda: browser.get(f"/api/v1/orders/{order_id}").json()["status"] == "paid",
            15,
            what="the order to be paid",
        )
        return order_id

    done_id, open_id = placed(), placed()
    move(clerk, done_id, "shipped", "delivered", "completed")
    assert ("order_contacts", done_id, "delivery_phone") in hits(shop_db, name, phone)  # it finds
    opened = browser.post("/api/v1/me/erasure", json={})
    assert opened.status_code == 202, opened.text
    request_id = opened.json()["request"]["id"]

    def sent(outcome: str) -> dict[str, Any] | None:
        doc = shop_db.privacy_receipts_sent.find_one({"_id": f"{request_id}/erasure/{outcome}"})
        return dict(doc["receipt"]) if doc else None

    addresses = {
        ("orders", order_id, f"{part}.name")
        for order_id in (done_id, open_id)
        for part in ("billing", "delivery")
    }
    deferred = wait_for(lambda: sent("deferred"), 20, what="the shop's deferred receipt")
    assert hits(shop_db, email) == set()
    assert hits(shop_db, name, phone) == addresses | {
        ("order_contacts", open_id, "billing_phone"),
        ("order_contacts", open_id, "delivery_phone"),
    }
    # ... each declared: the open order's addresses and phones until fulfilled, the completed
    # one's addresses blocked until its retention ends.
    kept = " ".join(deferred["kept"])
    assert "open orders" in kept and "phone numbers" in kept and "addresses" in kept and "17(3)(b)" in kept
    assert f"1 {CLOSED}" in deferred["blocked"][0]
    assert str(datetime.now(UTC).year + 8) in deferred["blocked_until"]
    assert "e-mail address" in " ".join(deferred["deleted"])

    move(clerk, open_id, "shipped", "delivered", "completed")
    done = wait_for(lambda: sent("done"), 20, what="the shop's follow-up receipt")
    assert hits(shop_db, email) == set()
    assert hits(shop_db, name, phone) == addresses
    assert f"2 {CLOSED}" in done["blocked"][0]
    assert str(datetime.now(UTC).year + 8) in done["blocked_until"]
    assert "HGB" in " ".join(done["kept"])


def verify_command(stack: Stack, request_id: str, staff_id: str) -> subprocess.CompletedProcess[str]:
    """``tools/verify_erasure.py``, as an operator runs it against this stack."""
    env = {**os.environ, "CONSENT_GRPC_ADDR": stack.backends["consent"].grpc_addr}
    script = Path(__file__).parents[1] / "tools" / "verify_erasure.py"
    return subprocess.run(
        [sys.executable, str(script), "--staff", staff_id, request_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )


def followed(stack: Stack, request_id: str, token: str) -> dict[str, Any]:
    reply = Browser(stack.gateway_url).get(f"/api/v1/privacy-requests/{request_id}", params={"token": token})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_one_person_in_every_service_is_exported_erased_and_the_erasure_proven(
    stack: Stack, clerk: Browser, shop_db: Database, mongo_client: MongoClient
) -> None:
    """Issue 14, the whole matrix for one person: an account with a phone, consents, a
    newsletter subscription, a completed and an open order and a contact request. The export
    holds every service's part; the erasure's receipts come from every service; once the open
    order completes, the proof of erasure runs by itself and finds only what the shop's
    receipt declares kept. A planted copy of the address and a log line with the name make
    staff's next run fail, naming both places."""
    name = f"Ada Lovelace {uuid.uuid4().hex[:8]}"
    phone = f"+49 30 {uuid.uuid4().int % 10**8:08d}"
    SEEN.append(phone)
    browser, me = customer(stack, name=name)
    email = str(me["email"])
    assert browser.request("PATCH", "/api/v1/me", json={"phone": phone}).status_code == 200
    newsletter = browser.current_version("newsletter")
    assert browser.post("/api/v1/me/newsletter", json={"consent_version": newsletter}).status_code == 202
    contact = {
        "name": name,
        "email": email,
        "phone": phone,
        "message": "Please call me back",
        "kind": "callback",
    }
    assert browser.post("/api/v1/contact", json=contact).status_code == 202
    key = products(browser)["LETHE-KEY-01"]
    body = {
        "lines": [{"product_id": key["id"]}],
        "billing": address(name, phone=phone),
        "delivery": address(name, phone=phone),
    }
    done_id = paid_order(browser, [{"product_id": key["id"]}])
    placed = place(browser, {**body, "payment_token": payment_token()})
    assert placed.status_code == 201, placed.text
    open_id = str(placed.json()["id"])
    move(clerk, done_id, "shipped", "delivered", "completed")

    exported = browser.get("/api/v1/me/data-export")
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert document["complete"] is True
    parts = {part["service"]: part for part in document["services"]}
    assert set(parts) == {"identity", "consent", "shop", "newsletter", "analytics"}
    for part in parts.values():
        assert part["purposes"] and part["lawful_bases"] and part["retention"], part["service"]
    assert any("payment provider" in r for r in parts["shop"]["recipients"])
    text = json.dumps(document)
    assert email in text and open_id in text and done_id in text and phone in text

    opened = browser.post("/api/v1/me/erasure", json={})
    assert opened.status_code == 202, opened.text
    request_id, token = opened.json()["request"]["id"], opened.json()["follow_token"]
    deferred = wait_for(
        lambda: (r := followed(stack, request_id, token))["status"] == "deferred" and r,
        30,
        what="every receipt, the shop's deferred",
    )
    every = {"identity", "consent", "shop", "newsletter", "analytics"}
    assert {r["service"] for r in deferred["receipts"]} == every
    again = Browser(stack.gateway_url).post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert again.status_code == 401
    assert deferred.get("verification") is None
    newsletter_db = mongo_client[stack.backends["newsletter"].db_name]
    key = subject_key(stack.gateway.env["LETHE_SUBJECT_PEPPER"], email)
    assert newsletter_db["suppression"].find_one({"_id": key}) is not None

    move(clerk, open_id, "shipped", "delivered", "completed")
    complete = wait_for(
        lambda: (
            (r := followed(stack, request_id, token))["status"] == "complete" and r.get("verification") and r
        ),
        60,
        what="the erasure to complete and its proof to run",
    )
    proof = complete["verification"]
    assert proof["outcome"] == "passed", "\n".join(
        sorted({f"{f['service']} {f['source']} {f['collection']} {f['what']}" for f in proof["failures"]})
    )
    assert proof["failures"] == [] and proof["unanswered"] == []
    assert proof["documents_searched"] > 0 and proof["log_lines_searched"] > 0
    retained = {(t["service"], t["collection"]) for t in proof["retained"]}
    assert ("shop", "orders") in retained
    assert {t["what"] for t in proof["retained"] if t["collection"] == "orders"} >= {"name"}
    assert all(t["until"] for t in proof["retained"])

    by_command = verify_command(stack, request_id, clerk.get("/api/v1/me").json()["id"])
    assert by_command.returncode == 0 and f"request {request_id}: passed" in by_command.stdout

    # What nobody declared fails it: an address in a collection, the name in a log line.
    shop_db["stray_notes"].insert_one({"_id": "n1", "note": {"deep": [f"write to {email.upper()}"]}})
    log_file = stack.backends["shop"].worker.log_path
    with log_file.open("a") as log:
        log.write(f"a careless line about {name}\n")
    try:
        rerun = clerk.post(f"/api/v1/admin/privacy-requests/{request_id}/verification")
        assert rerun.status_code == 200, rerun.text
        failed = rerun.json()["verification"]
        assert failed["outcome"] == "failed"
        places = {(f["service"], f["source"], f["collection"], f["what"]) for f in failed["failures"]}
        assert ("shop", "store", "stray_notes", "e-mail address") in places
        assert ("logs", "log", log_file.name, "name") in places
        assert "n1/note.deep.0" in " ".join(f["place"] for f in failed["failures"])
        assert followed(stack, request_id, token)["verification"]["outcome"] == "failed"
        by_command = verify_command(stack, request_id, clerk.get("/api/v1/me").json()["id"])
        assert by_command.returncode == 1 and "FAILURE: shop store stray_notes/n1/" in by_command.stdout
    finally:
        shop_db["stray_notes"].drop()
    unknown = clerk.post("/api/v1/admin/privacy-requests/pr_" + "f" * 32 + "/verification")
    assert unknown.status_code == 404, unknown.text
    assert clerk.post("/api/v1/admin/privacy-requests/nonsense/verification").status_code == 422
    customer_try = browser.post(f"/api/v1/admin/privacy-requests/{request_id}/verification")
    assert customer_try.status_code in (401, 403)


def test_withdrawing_the_account_consent_erases_the_account_and_keeps_orders_blocked(
    stack: Stack, clerk: Browser, mongo_client: MongoClient
) -> None:
    """SPEC §3: the account consent's withdrawal is an erasure of the account. The person
    can no longer log in, their newsletter ends with the address suppressed, their completed
    order stays blocked for accounting, and the proof of erasure passes."""
    browser, me = customer(stack, name=f"Emmy Noether {uuid.uuid4().hex[:6]}")
    email = str(me["email"])
    newsletter = browser.current_version("newsletter")
    assert browser.post("/api/v1/me/newsletter", json={"consent_version": newsletter}).status_code == 202
    order_id = paid_order(browser, [{"product_id": products(browser)["LETHE-KEY-01"]["id"]}])
    move(clerk, order_id, "shipped", "delivered", "completed")

    withdrawn = browser.request("DELETE", "/api/v1/me/consents/account")
    assert withdrawn.status_code == 200, withdrawn.text
    request_id = withdrawn.json()["erasure_request_id"]
    assert request_id and request_id.startswith("pr_")

    def verified() -> dict[str, Any] | None:
        listed = clerk.get("/api/v1/admin/privacy-requests", params={"kind": "erasure", "status": "complete"})
        assert listed.status_code == 200, listed.text
        mine = [r for r in listed.json() if r["id"] == request_id]
        return mine[0] if mine and mine[0].get("verification") else None

    done = wait_for(verified, 60, what="the erasure the withdrawal opened, and its proof")
    assert done["reason"] == "account consent withdrawn"
    assert done["verification"]["outcome"] == "passed", done["verification"]["failures"]
    assert {r["service"] for r in done["receipts"]} == {
        "identity",
        "consent",
        "shop",
        "newsletter",
        "analytics",
    }
    again = Browser(stack.gateway_url).post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert again.status_code == 401
    key = subject_key(stack.gateway.env["LETHE_SUBJECT_PEPPER"], email)
    newsletter_db = mongo_client[stack.backends["newsletter"].db_name]
    assert newsletter_db["suppression"].find_one({"_id": key}) is not None
    held = clerk.get(f"/api/v1/admin/legal-hold/orders/{order_id}", params={"reason": "erasure check"})
    assert held.status_code == 200, held.text
    assert held.json()["blocked"] is True and held.json()["status"] == "completed"
    assert order_id not in staff_ids(clerk)


def test_an_erasure_under_a_new_address_covers_what_the_old_one_held(
    stack: Stack, clerk: Browser, mongo_client: MongoClient, amqp_url: str
) -> None:
    """Issue 18: as A a person subscribes to the newsletter (before logging in, so it is held
    under A's key alone), asks for a callback, grants a consent and orders; then changes to B
    and asks, as B, to be forgotten. The export as B already holds what A left; every service's
    receipt covers A's data; the suppression list holds both keys; the proof of erasure looks
    under both keys (a planted copy of A's key fails it) and otherwise passes."""
    name = f"Mary Somerville {uuid.uuid4().hex[:8]}"
    browser, me = customer(stack, name=name)
    old = str(me["email"])
    new = f"{unique('moved')}-{stack.run_id}@elsewhere.example".lower()
    SEEN.append(new)
    pepper = stack.gateway.env["LETHE_SUBJECT_PEPPER"]
    old_key, new_key = subject_key(pepper, old), subject_key(pepper, new)

    anonymous = Browser(stack.gateway_url)
    version = anonymous.current_version("newsletter")
    subscribing = {"email": old, "name": name, "consent_version": version}
    assert anonymous.post("/api/v1/newsletter/subscriptions", json=subscribing).status_code == 202
    found = re.search(r"token=([A-Za-z0-9_.%-]+)", mail_text(wait_for_mail(old, "newsletter-confirmation")))
    assert found is not None
    confirmed = anonymous.post("/api/v1/newsletter/confirm", json={"token": unquote(found[1])})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "active", confirmed.text
    contact = {"name": name, "email": old, "message": "Please call me back", "kind": "callback"}
    contact["phone"] = PHONE
    assert anonymous.post("/api/v1/contact", json=contact).status_code == 202
    analytics = {"purpose": "analytics", "version": browser.current_version("analytics")}
    granted = browser.post("/api/v1/me/consents", json=analytics)
    assert granted.status_code == 201, granted.text
    order_id = paid_order(browser, [{"product_id": products(browser)["LETHE-KEY-01"]["id"]}])
    move(clerk, order_id, "shipped", "delivered", "completed")

    changed = browser.request("PATCH", "/api/v1/me", json={"email": new})
    assert changed.status_code == 200, changed.text
    token = token_in(wait_for_mail(new, "verification"))
    with EventTap(amqp_url, "identity", "account.email_changed") as tap:
        switched = browser.post("/api/v1/accounts/verify", json={"token": token})
        assert switched.status_code == 200 and switched.json()["email"] == new, switched.text
        bodies = wait_for(tap.drain, 20, what="account.email_changed")
    mine = [b for b in bodies if b["payload"]["account_id"] == me["id"]]  # type: ignore[index]
    assert [b["payload"] for b in mine] == [
        {"account_id": me["id"], "old_subject_key": old_key, "new_subject_key": new_key}
    ]
    assert "@" not in json.dumps(mine), "an address in the event"

    # The subscription stays with the address that confirmed it: nothing asks B to confirm.
    assert mails_to(new, kind="newsletter-confirmation") == []

    def newsletter_part() -> dict[str, Any]:
        exported = browser.get("/api/v1/me/data-export")
        assert exported.status_code == 200, exported.text
        parts = {part["service"]: part["data"] for part in exported.json()["services"]}
        assert "Please call me back" in json.dumps(parts["identity"])
        return dict(parts["newsletter"])

    subscriptions = newsletter_part()["subscriptions"]
    assert [(s["email"], s["status"], s["restricted"]) for s in subscriptions] == [(old, "active", False)]

    def restriction(method: str) -> None:
        opened = browser.request(method, "/api/v1/me/restriction", json={} if method == "POST" else None)
        assert opened.status_code == 202, opened.text
        request_id, follow = opened.json()["request"]["id"], opened.json()["follow_token"]
        wait_for(lambda: followed(stack, request_id, follow)["status"] == "complete", 30, what=method)

    restriction("POST")  # as B: the subscription made as A is restricted too
    assert [s["restricted"] for s in newsletter_part()["subscriptions"]] == [True]
    restriction("DELETE")
    assert [s["restricted"] for s in newsletter_part()["subscriptions"]] == [False]

    with EventTap(amqp_url, "consent", "privacy.erasure_requested") as tap:
        opened = browser.post("/api/v1/me/erasure", json={})
        assert opened.status_code == 202, opened.text
        request_id, follow = opened.json()["request"]["id"], opened.json()["follow_token"]
        requested = wait_for(tap.drain, 20, what="privacy.erasure_requested")
    asked = [b for b in requested if b["payload"]["request_id"] == request_id]
    assert [(b["subject_key"], b["payload"]["former_subject_keys"]) for b in asked] == [(new_key, [old_key])]
    complete = wait_for(
        lambda: (
            (r := followed(stack, request_id, follow))["status"] == "complete" and r.get("verification") and r
        ),
        60,
        what="the erasure as B to complete and its proof to run",
    )
    notes = {r["service"]: r["note"] for r in complete["receipts"]}
    assert "1 subscription(s) deleted" in notes["newsletter"], notes
    assert "1 contact_requests" in notes["identity"], notes
    assert complete["verification"]["outcome"] == "passed", complete["verification"]["failures"]

    newsletter_db = mongo_client[stack.backends["newsletter"].db_name]
    for key in (old_key, new_key):
        assert newsletter_db["suppression"].find_one({"_id": key}) is not None
    for service in ("identity", "consent", "newsletter"):
        assert hits(mongo_client[stack.backends[service].db_name], old, name) == set(), service

    newsletter_db["stray_notes"].insert_one({"_id": "k1", "held_for": old_key})
    try:
        rerun = clerk.post(f"/api/v1/admin/privacy-requests/{request_id}/verification")
        assert rerun.status_code == 200, rerun.text
        places = {(f["service"], f["collection"]) for f in rerun.json()["verification"]["failures"]}
        assert ("newsletter", "stray_notes") in places, "the proof did not look under the old key"
    finally:
        newsletter_db["stray_notes"].drop()
